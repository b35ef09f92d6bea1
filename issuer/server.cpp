// cbdc-issuer's server: the central bank's role table and its answers behind a ROUTER socket.
#include "issuer/server.hpp"

#include "core/clock.hpp"

namespace cbdc::issuer {

auto issuer_roles() -> role_table {
  using E = wire::Envelope;
  return role_table{"the issuer",
                    {
                        // A dealing bank is a bank too.
                        {E::kMint, {role::bank, role::dealer}},
                        {E::kRedeem, {role::bank, role::dealer}},
                        {E::kGetReserve, {role::bank, role::dealer}},
                        {E::kClearCrossBorder, {role::dealer}},
                        {E::kRegisterWallets, {role::bank}},
                    }};
}

auto server::start(issuer_config config, key_pair key) -> result<std::unique_ptr<server>> {
  std::unique_ptr<server> s(new server());
  const auto endpoint = config.endpoint;
  const auto net = config.net;
  auto iss = issuer::open(std::move(config), std::move(key));
  if (!iss) {
    return iss.err();
  }
  s->m_issuer = std::move(*iss);
  s->m_server = std::make_unique<serial_server>(
      endpoint,
      [raw = s.get()](const wire::Envelope& req, const peer& from) {
        return raw->answer(req, from);
      },
      issuer_roles(), net, 1000);
  if (auto bound = s->m_server->start(); !bound) {
    return bound.err();
  }
  return s;
}

server::~server() {
  m_server.reset();
}

auto server::answer(const wire::Envelope& request, const peer& from) -> wire::Envelope {
  if (request.payload_case() == wire::Envelope::kRedeem) {
    const auto& r = request.redeem();
    wire::Envelope answer;
    auto* out = answer.mutable_redeem_result();
    auto stx = from_wire(r.tx());
    auto caller = from.must_be(r.bank_id(), "bank_id");
    result<redeem_result> redeemed = !caller ? result<redeem_result>{caller.err()}
                                     : stx   ? m_issuer->redeem(r.bank_id(), *stx, r.request_id())
                                             : result<redeem_result>{stx.err()};
    if (redeemed) {
      out->set_status(static_cast<std::uint32_t>(redeemed->already ? status_code::already_settled
                                                                   : status_code::ok));
      out->set_tx_id(id_to_wire(redeemed->tx_id));
      out->set_amount_minor(redeemed->amount_minor);
    } else {
      out->set_status(static_cast<std::uint32_t>(redeemed.code()));
      out->set_detail(redeemed.err().message);
    }
    return answer;
  }
  if (request.payload_case() == wire::Envelope::kGetReserve) {
    wire::Envelope answer;
    auto* out = answer.mutable_reserve_balance();
    auto caller = from.must_be(request.get_reserve().bank_id(), "bank_id");
    auto bal = caller ? m_issuer->reserve(request.get_reserve().bank_id())
                      : result<reserve_balance>{caller.err()};
    out->set_status(static_cast<std::uint32_t>(bal.code()));
    if (bal) {
      out->set_reserve_minor(bal->reserve_minor);
      out->set_backing_minor(bal->backing_minor);
      out->set_issued_minor(bal->issued_minor);
    } else {
      out->set_detail(bal.err().message);
    }
    return answer;
  }
  if (request.payload_case() == wire::Envelope::kRegisterWallets) {
    const auto& r = request.register_wallets();
    wire::Envelope answer;
    auto* out = answer.mutable_wallets_registered();
    std::vector<std::pair<bytes, std::uint32_t>> wallets;
    auto done = from.must_be(r.bank_id(), "bank_id");
    if (done && r.owners_size() != r.wallet_classes_size()) {
      done = error{status_code::malformed, "one class per wallet"};
    }
    for (int i = 0; done && i < r.owners_size(); ++i) {
      wallets.emplace_back(bytes(r.owners(i).begin(), r.owners(i).end()), r.wallet_classes(i));
    }
    if (done) {
      done = m_issuer->register_wallets(r.bank_id(), wallets);
    }
    out->set_status(static_cast<std::uint32_t>(done.code()));
    if (!done) {
      out->set_detail(done.err().message);
    }
    return answer;
  }
  if (request.payload_case() == wire::Envelope::kClearCrossBorder) {
    const auto& c = request.clear_cross_border();
    wire::Envelope answer;
    auto* out = answer.mutable_clearance();
    status done = ok_status();
    // A clearance is its dealer's: its id is the dealer's quote id, "<dealer>-<random>", so
    // only that dealer clears or releases it (for the paying bank that the dealer quoted).
    if (from.authenticated && !c.clearance_id().starts_with(from.name + "-")) {
      done = error{status_code::not_authorized,
                   "clearance " + c.clearance_id() + " is not a quote of " + from.describe()};
    } else if (c.release()) {
      done = m_issuer->release_cross_border(c.clearance_id());
    } else {
      auto cur = currency_from_wire(c.currency());
      auto to = currency_from_wire(c.to_currency());
      auto tx_id = id_from_wire(c.tx_id());
      done = !cur     ? status{cur.err()}
             : !to    ? status{to.err()}
             : !tx_id ? status{tx_id.err()}
                      : m_issuer->clear_cross_border(c.clearance_id(), c.bank_id(),
                                                     money{c.amount_minor(), *cur}, *to, *tx_id,
                                                     unix_now_us());
    }
    out->set_status(static_cast<std::uint32_t>(done.code()));
    if (!done) {
      out->set_detail(done.err().message);
    }
    return answer;
  }
  CBDC_ASSERT(request.payload_case() == wire::Envelope::kMint);  // the role table's last type
  const auto& m = request.mint();
  wire::Envelope answer;
  auto* out = answer.mutable_mint_result();
  auto cur = currency_from_wire(m.currency());
  auto caller = from.must_be(m.bank_id(), "bank_id");
  result<mint_result> minted =
      !caller ? result<mint_result>{caller.err()}
      : cur   ? m_issuer->mint(m.bank_id(), money{m.amount_minor(), *cur}, m.request_id())
              : result<mint_result>{cur.err()};
  if (minted) {
    out->set_status(static_cast<std::uint32_t>(minted->already ? status_code::already_settled
                                                               : status_code::ok));
    out->set_tx_id(id_to_wire(minted->tx_id));
    for (const auto& t : minted->token_ids) {
      out->add_token_ids(id_to_wire(t));
    }
  } else {
    out->set_status(static_cast<std::uint32_t>(minted.code()));
    out->set_detail(minted.err().message);
  }
  return answer;
}

}  // namespace cbdc::issuer
