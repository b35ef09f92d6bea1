// The bank's ZeroMQ client: a wallet's, a till's or an operator's requests to its bank, signed
// by the wallet where a customer sends them.
#include "bank/client.hpp"

#include "bank/offline_wire.hpp"
#include "core/clock.hpp"
#include "offline/messages.hpp"
#include "rpc/customer_auth.hpp"

namespace cbdc::bank {

client::client(std::string endpoint, socket_options opts)
    : m_rpc(std::move(endpoint), std::move(opts)) {}

auto client::call(wire::Envelope request) -> result<wire::Envelope> {
  if (m_signer) {
    sign_customer_request(request, *m_signer, unix_now_us());
  }
  return m_rpc.call(std::move(request));
}

auto client::open_wallet(const public_key& owner, wallet_class cls, bool merchant,
                         const std::string& parent_id, std::int64_t sub_cap_minor)
    -> result<std::string> {
  wire::Envelope req;
  auto* m = req.mutable_open_wallet();
  m->set_owner(bytes_to_wire(owner.encode()));
  m->set_wallet_class(static_cast<std::uint32_t>(cls));
  m->set_merchant(merchant);
  m->set_parent_id(parent_id);
  m->set_sub_cap_minor(sub_cap_minor);
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kWalletInfo);
  if (!answer) {
    return answer.err();
  }
  return answer->wallet_info().wallet_id();
}

auto client::wallet_info(const public_key& owner) -> result<wallet_record> {
  wire::Envelope req;
  req.mutable_get_wallet()->set_owner(bytes_to_wire(owner.encode()));
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kWalletInfo);
  if (!answer) {
    return answer.err();
  }
  const auto& w = answer->wallet_info();
  if (w.wallet_class() < 1 || w.wallet_class() > 4) {
    return error{status_code::malformed, "wallet class out of range"};
  }
  wallet_record out;
  out.wallet_id = w.wallet_id();
  out.owner = owner;
  out.cls = static_cast<wallet_class>(w.wallet_class());
  out.kind = w.merchant() ? wallet_kind::merchant : wallet_kind::personal;
  return out;
}

auto client::receipt_of(result<wire::Envelope> answer) -> result<settlement::receipt> {
  auto env = expect_payload(std::move(answer), wire::Envelope::kReceipt);
  if (!env) {
    return env.err();
  }
  return settled_or_error(settlement::receipt_from_wire(env->receipt()));
}

void client::pay_async(const signed_tx& tx, const std::string& payee_bank, receipt_fn done) {
  wire::Envelope req;
  *req.mutable_pay()->mutable_tx() = to_wire(tx);
  req.mutable_pay()->set_payee_bank(payee_bank);
  // A payment carries its own signatures: it is not signed as a customer's request.
  m_rpc.call_async(std::move(req), [done = std::move(done)](result<wire::Envelope> answer) {
    done(receipt_of(std::move(answer)));
  });
}

auto client::issue_device(const public_key& owner, const public_key& device)
    -> result<device_issued> {
  wire::Envelope req;
  req.mutable_issue_device()->set_owner(bytes_to_wire(owner.encode()));
  req.mutable_issue_device()->set_device_key(bytes_to_wire(device.encode()));
  auto answer = expect_payload(call(std::move(req)), wire::Envelope::kDeviceIssued);
  return answer ? issued_from_wire(*answer) : result<device_issued>{answer.err()};
}

void client::load_device_async(const signed_tx& tx, loaded_fn done) {
  wire::Envelope req;
  *req.mutable_load_device()->mutable_tx() = to_wire(tx);
  // Signed by the wallet, as a payment is.
  m_rpc.call_async(std::move(req), [done = std::move(done)](result<wire::Envelope> answer) {
    auto env = expect_payload(std::move(answer), wire::Envelope::kDeviceLoaded);
    done(env ? loaded_from_wire(*env) : result<device_loaded>{env.err()});
  });
}

void client::submit_offline_async(const offline_batch& batch, submitted_fn done) {
  wire::Envelope req;
  auto* m = req.mutable_submit_offline();
  for (const auto& tx : batch.txs) {
    *m->add_txs() = to_wire(tx);
  }
  for (const auto& c : batch.certs) {
    offline::write(*m->add_certs(), c);
  }
  for (const auto& b : batch.banks) {
    offline::write(*m->add_banks(), b);
  }
  // Each transfer carries its device's signature: the request is not a customer's.
  m_rpc.call_async(std::move(req), [done = std::move(done)](result<wire::Envelope> answer) {
    auto env = expect_payload(std::move(answer), wire::Envelope::kOfflineSubmitted);
    done(env ? submitted_from_wire(*env) : result<offline_submitted>{env.err()});
  });
}

void client::revocations_async(std::function<void(result<revocation_sync>)> done) {
  wire::Envelope req;
  req.mutable_get_revocations();
  m_rpc.call_async(std::move(req), [done = std::move(done)](result<wire::Envelope> answer) {
    auto env = expect_payload(std::move(answer), wire::Envelope::kRevocations);
    done(env ? revocations_from_wire(*env) : result<revocation_sync>{env.err()});
  });
}

auto client::revocations() -> result<revocation_sync> {
  wire::Envelope req;
  req.mutable_get_revocations();
  auto answer = expect_payload(m_rpc.call(std::move(req)), wire::Envelope::kRevocations);
  return answer ? revocations_from_wire(*answer) : result<revocation_sync>{answer.err()};
}

auto client::can_receive(const public_key& owner, money amount, const std::optional<hash256>& tx_id)
    -> result<bool> {
  wire::Envelope req;
  auto* m = req.mutable_can_receive();
  m->set_owner(bytes_to_wire(owner.encode()));
  m->set_amount_minor(amount.minor());
  m->set_currency(static_cast<std::uint32_t>(amount.cur()));
  if (tx_id) {
    m->set_tx_id(id_to_wire(*tx_id));
  }
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kReceiveVerdict);
  if (!answer) {
    return answer.err();
  }
  return answer->receive_verdict().capped();
}

auto client::fund(const public_key& owner, money amount) -> result<settlement::receipt> {
  wire::Envelope req;
  req.mutable_fund()->set_owner(bytes_to_wire(owner.encode()));
  req.mutable_fund()->set_amount_minor(amount.minor());
  req.mutable_fund()->set_currency(static_cast<std::uint32_t>(amount.cur()));
  return receipt_of(call(std::move(req)));
}

auto client::open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners,
                          bool merchant) -> result<std::vector<std::string>> {
  wire::Envelope req;
  auto* m = req.mutable_open_wallets();
  for (const auto& [owner, cls] : owners) {
    m->add_owners(bytes_to_wire(owner.encode()));
    m->add_wallet_classes(static_cast<std::uint32_t>(cls));
  }
  m->set_merchant(merchant);
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kWalletsOpened);
  if (!answer) {
    return answer.err();
  }
  const auto& ids = answer->wallets_opened().wallet_ids();
  return std::vector<std::string>(ids.begin(), ids.end());
}

auto client::fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
    -> result<settlement::receipt> {
  wire::Envelope req;
  auto* m = req.mutable_fund_many();
  m->set_request_id(request_id);
  for (const auto& p : payouts) {
    m->add_owners(bytes_to_wire(p.owner.encode()));
    m->add_amounts_minor(p.amount_minor);
    m->set_currency(static_cast<std::uint32_t>(p.cur));
  }
  return receipt_of(call(std::move(req)));
}

auto client::exchange_to_ecny(const public_key& owner, money amount, const std::string& request_id)
    -> result<settlement::receipt> {
  wire::Envelope req;
  auto* x = req.mutable_exchange();
  x->set_owner(bytes_to_wire(owner.encode()));
  x->set_amount_minor(amount.minor());
  x->set_currency(static_cast<std::uint32_t>(amount.cur()));
  x->set_to_ecny(true);
  x->set_request_id(request_id);
  return receipt_of(call(std::move(req)));
}

auto client::exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
    -> result<settlement::receipt> {
  wire::Envelope req;
  auto* x = req.mutable_exchange();
  *x->mutable_tx() = to_wire(tx);
  x->set_request_id(request_id);
  return receipt_of(call(std::move(req)));
}

auto client::vault_key() -> result<public_key> {
  wire::Envelope req;
  req.mutable_get_bank_info();
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kBankInfo);
  if (!answer) {
    return answer.err();
  }
  return key_from_wire(answer->bank_info().vault());
}

auto client::history(const public_key& owner, std::uint32_t limit)
    -> result<std::vector<history_entry>> {
  wire::Envelope req;
  req.mutable_get_history()->set_owner(bytes_to_wire(owner.encode()));
  req.mutable_get_history()->set_limit(limit);
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kHistory);
  if (!answer) {
    return answer.err();
  }
  std::vector<history_entry> out;
  for (const auto& e : answer->history().entries()) {
    auto id = id_from_wire(e.tx_id());
    if (!id) {
      return id.err();
    }
    out.push_back(history_entry{e.at_us(), e.amount_minor(), *id});
  }
  return out;
}

auto client::balance(const public_key& owner) -> result<money> {
  wire::Envelope req;
  req.mutable_get_balance()->set_owner(bytes_to_wire(owner.encode()));
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kBalance);
  if (!answer) {
    return answer.err();
  }
  auto cur = currency_from_wire(answer->balance().currency());
  if (!cur) {
    return cur.err();
  }
  return money{answer->balance().amount_minor(), *cur};
}

auto client::list_unspent(const public_key& owner, std::uint32_t limit)
    -> result<std::vector<settlement::token_info>> {
  wire::Envelope req;
  req.mutable_list_unspent()->set_owner(bytes_to_wire(owner.encode()));
  req.mutable_list_unspent()->set_limit(limit);
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kUnspentList);
  if (!answer) {
    return answer.err();
  }
  std::vector<settlement::token_info> out;
  for (const auto& t : answer->unspent_list().tokens()) {
    auto info = settlement::token_from_wire(t);
    if (!info) {
      return info.err();
    }
    out.push_back(std::move(*info));
  }
  return out;
}

auto client::request_quote(currency pay, currency receive, std::int64_t amount_minor,
                           bool fixed_pay) -> result<fx::quote> {
  wire::Envelope req;
  auto* r = req.mutable_request_quote();
  r->set_pay_currency(static_cast<std::uint32_t>(pay));
  r->set_receive_currency(static_cast<std::uint32_t>(receive));
  r->set_amount_minor(amount_minor);
  r->set_fixed_pay(fixed_pay);
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kFxQuote);
  if (!answer) {
    return answer.err();
  }
  return fx::quote_from_wire(answer->fx_quote());
}

auto client::execute_quote(const std::string& quote_id, const signed_tx& tx)
    -> result<settlement::receipt> {
  wire::Envelope req;
  req.mutable_execute_quote()->set_quote_id(quote_id);
  *req.mutable_execute_quote()->mutable_tx() = to_wire(tx);
  return receipt_of(call(std::move(req)));
}

auto client::decline_quote(const std::string& quote_id) -> status {
  wire::Envelope req;
  req.mutable_decline_quote()->set_quote_id(quote_id);
  auto answer = expect_ok(call(std::move(req)), wire::Envelope::kQuoteDeclined);
  if (!answer) {
    return answer.err();
  }
  return ok_status();
}

}  // namespace cbdc::bank
