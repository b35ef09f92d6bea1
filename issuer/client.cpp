// The issuer's ZeroMQ client: what a bank or a dealer asks its central bank.
#include "issuer/client.hpp"

namespace cbdc::issuer {

client::client(std::string endpoint, socket_options opts)
    : m_rpc(std::move(endpoint), std::move(opts)) {}

auto client::mint(const std::string& bank_id, money amount, const std::string& request_id)
    -> result<mint_result> {
  wire::Envelope req;
  auto* m = req.mutable_mint();
  m->set_bank_id(bank_id);
  m->set_amount_minor(amount.minor());
  m->set_currency(static_cast<std::uint32_t>(amount.cur()));
  m->set_request_id(request_id);
  auto answer = expect_payload(m_rpc.call(std::move(req)), wire::Envelope::kMintResult);
  if (!answer) {
    return answer.err();
  }
  const auto& r = answer->mint_result();
  const auto code = static_cast<status_code>(r.status());
  if (!is_settled(code)) {
    return error{code, r.detail()};
  }
  mint_result out;
  out.already = code == status_code::already_settled;
  auto id = id_from_wire(r.tx_id());
  if (!id) {
    return id.err();
  }
  out.tx_id = *id;
  for (const auto& t : r.token_ids()) {
    auto tid = id_from_wire(t);
    if (!tid) {
      return tid.err();
    }
    out.token_ids.push_back(*tid);
  }
  return out;
}

auto client::redeem(const std::string& bank_id, const signed_tx& tx, const std::string& request_id)
    -> result<redeem_result> {
  wire::Envelope req;
  auto* r = req.mutable_redeem();
  r->set_bank_id(bank_id);
  *r->mutable_tx() = to_wire(tx);
  r->set_request_id(request_id);
  auto answer = expect_payload(m_rpc.call(std::move(req)), wire::Envelope::kRedeemResult);
  if (!answer) {
    return answer.err();
  }
  const auto& res = answer->redeem_result();
  const auto code = static_cast<status_code>(res.status());
  if (!is_settled(code)) {
    return error{code, res.detail()};
  }
  auto id = id_from_wire(res.tx_id());
  if (!id) {
    return id.err();
  }
  return redeem_result{*id, res.amount_minor(), code == status_code::already_settled};
}

auto client::reserve(const std::string& bank_id) -> result<reserve_balance> {
  wire::Envelope req;
  req.mutable_get_reserve()->set_bank_id(bank_id);
  auto answer = expect_ok(m_rpc.call(std::move(req)), wire::Envelope::kReserveBalance);
  if (!answer) {
    return answer.err();
  }
  const auto& b = answer->reserve_balance();
  return reserve_balance{b.reserve_minor(), b.backing_minor(), b.issued_minor()};
}

auto client::register_wallets(const std::string& bank_id,
                              const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
    -> status {
  wire::Envelope req;
  auto* r = req.mutable_register_wallets();
  r->set_bank_id(bank_id);
  for (const auto& [key, cls] : wallets) {
    r->add_owners(bytes_to_wire(key.encode()));
    r->add_wallet_classes(cls);
  }
  auto answer = expect_ok(m_rpc.call(std::move(req)), wire::Envelope::kWalletsRegistered);
  if (!answer) {
    return answer.err();
  }
  return ok_status();
}

auto client::clear_cross_border(const std::string& clearance_id, const std::string& bank_id,
                                money amount, currency to, const hash256& tx_id) -> status {
  wire::Envelope req;
  auto* c = req.mutable_clear_cross_border();
  c->set_tx_id(id_to_wire(tx_id));
  c->set_clearance_id(clearance_id);
  c->set_bank_id(bank_id);
  c->set_amount_minor(amount.minor());
  c->set_currency(static_cast<std::uint32_t>(amount.cur()));
  c->set_to_currency(static_cast<std::uint32_t>(to));
  auto answer = expect_ok(m_rpc.call(std::move(req)), wire::Envelope::kClearance);
  if (!answer) {
    return answer.err();
  }
  return ok_status();
}

auto client::release_cross_border(const std::string& clearance_id) -> status {
  wire::Envelope req;
  auto* c = req.mutable_clear_cross_border();
  c->set_clearance_id(clearance_id);
  c->set_release(true);
  auto answer = expect_ok(m_rpc.call(std::move(req)), wire::Envelope::kClearance);
  if (!answer) {
    return answer.err();
  }
  return ok_status();
}

}  // namespace cbdc::issuer
