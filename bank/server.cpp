// cbdc-bank's server: the role table, start and stop, the customer's signature check, and each
// request decoded, answered by the service and encoded.
#include "bank/server.hpp"

#include "bank/detail.hpp"
#include "bank/offline_wire.hpp"
#include "core/clock.hpp"
#include "offline/messages.hpp"

namespace cbdc::bank {

using detail::receipt_answer;

auto bank_roles() -> role_table {
  using E = wire::Envelope;
  const role_set wallets{role::customer, role::pos, role::operator_, role::bank};
  const role_set operators{role::operator_, role::bank};  // the service checks whose
  return role_table{"the bank",
                    {
                        {E::kGetWallet, wallets},
                        {E::kOpenWallet, wallets},
                        {E::kPay, wallets},
                        {E::kCanReceive, {role::bank}},
                        {E::kFund, operators},
                        {E::kOpenWallets, operators},
                        {E::kFundMany, operators},
                        {E::kGetBalance, wallets},
                        {E::kExchange, wallets},
                        {E::kGetBankInfo, wallets},
                        {E::kGetHistory, wallets},
                        {E::kListUnspent, wallets},
                        {E::kRequestQuote, wallets},
                        {E::kExecuteQuote, wallets},
                        {E::kDeclineQuote, wallets},
                        {E::kIssueDevice, wallets},
                        {E::kLoadDevice, wallets},
                        {E::kSubmitOffline, wallets},
                        {E::kGetRevocations, wallets},
                        {E::kRevocationsPushed, {role::bank}},
                        {E::kDoubleSpend, {role::bank}},
                    }};
}

auto server::start(const bank_config& config, key_pair vault, std::string endpoint)
    -> result<std::unique_ptr<server>> {
  if (config.customer_window_ms <= 0) {
    return error{status_code::bad_request, "the customers' request window must be positive"};
  }
  std::unique_ptr<server> s(new server());
  auto svc = service::start(config, std::move(vault));
  if (!svc) {
    return svc.err();
  }
  s->m_service = std::move(*svc);
  s->m_customers = customer_verifier(config.customer_window_ms * 1000);
  auto net = config.net;
  net.admit_customers = true;
  s->m_server = std::make_unique<serial_server>(
      std::move(endpoint),
      serial_server::deferring_handler{[raw = s.get()](const wire::Envelope& req, const peer& from,
                                                       const rpc_server::reply_fn& reply) {
        return raw->answer(req, from, reply);
      }},
      bank_roles(), net, s->m_service->runs_on());
  if (auto bound = s->m_server->start(); !bound) {
    return bound.err();
  }
  return s;
}

server::~server() {
  // The socket first: no request reaches the service once it stops.
  if (m_server) {
    m_server->close();
  }
  m_service.reset();
  m_server.reset();
}

auto server::operator_only(const wire::Envelope& request, const peer& from) -> status {
  if (from.operates(m_service->name())) {
    return ok_status();
  }
  return error{status_code::not_authorized, payload_name(request) + " at " + m_service->name() +
                                                " is for its operator; " + from.describe() +
                                                " sent it"};
}

namespace {

/// A wallet's record (or the error) as a WalletInfo answer.
auto wallet_answer(const result<wallet_record>& found) -> wire::Envelope {
  wire::Envelope answer;
  auto* info = answer.mutable_wallet_info();
  info->set_status(static_cast<std::uint32_t>(found.code()));
  if (found) {
    info->set_wallet_id(found->wallet_id);
    info->set_wallet_class(static_cast<std::uint32_t>(found->cls));
    info->set_merchant(found->kind == wallet_kind::merchant);
  } else {
    info->set_detail(found.err().message);
  }
  return answer;
}

}  // namespace

auto server::answer(const wire::Envelope& request, const peer& from,
                    const rpc_server::reply_fn& reply) -> std::optional<wire::Envelope> {
  if (auto checked = check_customer(request, from); !checked) {
    return error_envelope(0, checked.err());
  }
  switch (request.payload_case()) {
    case wire::Envelope::kGetWallet: {
      auto owner = key_from_wire(request.get_wallet().owner());
      return wallet_answer(owner ? m_service->wallet_info(*owner)
                                 : result<wallet_record>{owner.err()});
    }
    case wire::Envelope::kOpenWallet: {
      const auto& m = request.open_wallet();
      auto owner = key_from_wire(m.owner());
      if (!owner || m.wallet_class() < 1 || m.wallet_class() > 4) {
        return wallet_answer(error{status_code::malformed,
                                   owner ? "wallet class must be 1..4" : owner.err().message});
      }
      // A customer opens an anonymous class IV wallet; a higher class (after KYC) and
      // sub-wallets are the operator's decision.
      const auto cls = static_cast<wallet_class>(m.wallet_class());
      const bool anonymous = cls == wallet_class::iv && m.parent_id().empty();
      if (auto allowed = anonymous ? ok_status() : operator_only(request, from); !allowed) {
        return wallet_answer(
            error{allowed.code(),
                  allowed.err().message +
                      " (a customer opens a class IV wallet; the operator sets another class)"});
      }
      auto opened =
          m_service->open_wallet(*owner, cls, m.merchant(), m.parent_id(), m.sub_cap_minor());
      if (!opened) {
        return wallet_answer(opened.err());
      }
      return wallet_answer(wallet_record{
          *opened, *owner, m.merchant() ? wallet_kind::merchant : wallet_kind::personal, cls,
          std::nullopt, std::nullopt});
    }
    case wire::Envelope::kPay: {
      auto tx = from_wire(request.pay().tx());
      if (!tx) {
        return receipt_answer(tx.err());
      }
      m_service->pay_async(
          *tx, request.pay().payee_bank(),
          [reply](const result<settlement::receipt>& r) { reply(receipt_answer(r)); });
      return std::nullopt;
    }
    case wire::Envelope::kCanReceive: {
      const auto& m = request.can_receive();
      wire::Envelope answer;
      auto* verdict = answer.mutable_receive_verdict();
      auto owner = key_from_wire(m.owner());
      auto cur = currency_from_wire(m.currency());
      result<bool> capped{true};
      if (!owner || !cur) {
        capped = error{status_code::malformed, "bad owner or currency"};
      } else if (!m.tx_id().empty() && !id_from_wire(m.tx_id())) {
        capped = error{status_code::malformed, "a tx_id has 32 bytes"};
      } else {
        std::optional<hash256> id;
        if (!m.tx_id().empty()) {
          id = *id_from_wire(m.tx_id());
        }
        capped = m_service->can_receive(*owner, money{m.amount_minor(), *cur}, id);
      }
      verdict->set_status(static_cast<std::uint32_t>(capped.code()));
      verdict->set_capped(!capped || *capped);
      if (!capped) {
        verdict->set_detail(capped.err().message);
      }
      return answer;
    }
    case wire::Envelope::kFund: {
      if (auto allowed = operator_only(request, from); !allowed) {
        return receipt_answer(allowed.err());
      }
      auto owner = key_from_wire(request.fund().owner());
      auto cur = currency_from_wire(request.fund().currency());
      if (!owner || !cur) {
        return receipt_answer(error{status_code::malformed, "bad owner or currency"});
      }
      return receipt_answer(m_service->fund(*owner, money{request.fund().amount_minor(), *cur}));
    }
    case wire::Envelope::kOpenWallets: {
      const auto& m = request.open_wallets();
      wire::Envelope answer;
      auto* opened = answer.mutable_wallets_opened();
      auto refuse = [&](status_code code, const std::string& why) {
        opened->set_status(static_cast<std::uint32_t>(code));
        opened->set_detail(why);
        return answer;
      };
      if (auto allowed = operator_only(request, from); !allowed) {
        return refuse(allowed.code(), allowed.err().message);
      }
      if (m.owners_size() != m.wallet_classes_size() || m.owners_size() > 10'000) {
        return refuse(status_code::malformed, "one class per owner, at most 10,000 owners");
      }
      std::vector<std::pair<public_key, wallet_class>> owners;
      for (int i = 0; i < m.owners_size(); ++i) {
        auto owner = key_from_wire(m.owners(i));
        if (!owner || m.wallet_classes(i) < 1 || m.wallet_classes(i) > 4) {
          return refuse(status_code::malformed,
                        owner ? "wallet class must be 1..4" : owner.err().message);
        }
        owners.emplace_back(*owner, static_cast<wallet_class>(m.wallet_classes(i)));
      }
      auto ids = m_service->open_wallets(owners, m.merchant());
      if (!ids) {
        return refuse(ids.code(), ids.err().message);
      }
      opened->set_status(static_cast<std::uint32_t>(status_code::ok));
      for (const auto& id : *ids) {
        opened->add_wallet_ids(id);
      }
      return answer;
    }
    case wire::Envelope::kFundMany: {
      const auto& m = request.fund_many();
      if (auto allowed = operator_only(request, from); !allowed) {
        return receipt_answer(allowed.err());
      }
      auto cur = currency_from_wire(m.currency());
      if (!cur || m.owners_size() != m.amounts_minor_size()) {
        return receipt_answer(error{status_code::malformed, "one amount per owner, a currency"});
      }
      std::vector<tx_output> payouts;
      for (int i = 0; i < m.owners_size(); ++i) {
        auto owner = key_from_wire(m.owners(i));
        if (!owner) {
          return receipt_answer(owner.err());
        }
        payouts.push_back(tx_output{*cur, m.amounts_minor(i), *owner});
      }
      return receipt_answer(m_service->fund_many(payouts, m.request_id()));
    }
    case wire::Envelope::kGetBalance: {
      wire::Envelope answer;
      auto* b = answer.mutable_balance();
      auto owner = key_from_wire(request.get_balance().owner());
      auto held = owner ? m_service->balance(*owner) : result<money>{owner.err()};
      b->set_status(static_cast<std::uint32_t>(held.code()));
      if (held) {
        b->set_amount_minor(held->minor());
        b->set_currency(static_cast<std::uint32_t>(held->cur()));
      } else {
        b->set_detail(held.err().message);
      }
      return answer;
    }
    case wire::Envelope::kExchange: {
      const auto& x = request.exchange();
      if (x.to_ecny()) {
        auto owner = key_from_wire(x.owner());
        auto cur = currency_from_wire(x.currency());
        if (!owner || !cur) {
          return receipt_answer(error{status_code::malformed, "bad owner or currency"});
        }
        return receipt_answer(
            m_service->exchange_to_ecny(*owner, money{x.amount_minor(), *cur}, x.request_id()));
      }
      auto tx = from_wire(x.tx());
      if (!tx) {
        return receipt_answer(tx.err());
      }
      return receipt_answer(m_service->exchange_to_deposit(*tx, x.request_id()));
    }
    case wire::Envelope::kGetBankInfo: {
      wire::Envelope answer;
      answer.mutable_bank_info()->set_status(0);
      answer.mutable_bank_info()->set_vault(bytes_to_wire(m_service->vault_key()->encode()));
      answer.mutable_bank_info()->set_currency(static_cast<std::uint32_t>(m_service->cur()));
      return answer;
    }
    case wire::Envelope::kGetHistory: {
      wire::Envelope answer;
      auto* h = answer.mutable_history();
      auto owner = key_from_wire(request.get_history().owner());
      auto entries = owner ? m_service->history(*owner, request.get_history().limit())
                           : result<std::vector<history_entry>>{owner.err()};
      h->set_status(static_cast<std::uint32_t>(entries.code()));
      if (!entries) {
        h->set_detail(entries.err().message);
        return answer;
      }
      for (const auto& e : *entries) {
        auto* out = h->add_entries();
        out->set_at_us(e.at_us);
        out->set_amount_minor(e.amount_minor);
        out->set_tx_id(id_to_wire(e.tx_id));
      }
      return answer;
    }
    case wire::Envelope::kListUnspent: {
      wire::Envelope answer;
      auto* list = answer.mutable_unspent_list();
      auto owner = key_from_wire(request.list_unspent().owner());
      auto tokens = owner ? m_service->list_unspent(*owner, request.list_unspent().limit())
                          : result<std::vector<settlement::token_info>>{owner.err()};
      if (!tokens) {
        return error_envelope(0, tokens.err());
      }
      list->set_status(0);
      for (const auto& t : *tokens) {
        *list->add_tokens() = settlement::to_wire(t);
      }
      return answer;
    }
    case wire::Envelope::kRequestQuote: {
      const auto& r = request.request_quote();
      wire::Envelope answer;
      auto* out = answer.mutable_fx_quote();
      auto pay = currency_from_wire(r.pay_currency());
      auto receive = currency_from_wire(r.receive_currency());
      auto best = !pay ? result<fx::quote>{pay.err()}
                  : !receive
                      ? result<fx::quote>{receive.err()}
                      : m_service->request_quote(*pay, *receive, r.amount_minor(), r.fixed_pay());
      if (!best) {
        out->set_status(static_cast<std::uint32_t>(best.code()));
        out->set_detail(best.err().message);
        return answer;
      }
      *out = fx::to_wire(*best);
      return answer;
    }
    case wire::Envelope::kExecuteQuote: {
      const auto& e = request.execute_quote();
      auto tx = from_wire(e.tx());
      if (!tx) {
        return receipt_answer(tx.err());
      }
      return receipt_answer(m_service->execute_quote(e.quote_id(), *tx));
    }
    case wire::Envelope::kDeclineQuote: {
      wire::Envelope answer;
      const auto done = m_service->decline_quote(request.decline_quote().quote_id());
      answer.mutable_quote_declined()->set_status(static_cast<std::uint32_t>(done.code()));
      if (!done) {
        answer.mutable_quote_declined()->set_detail(done.err().message);
      }
      return answer;
    }
    case wire::Envelope::kIssueDevice: {
      auto owner = key_from_wire(request.issue_device().owner());
      auto device = key_from_wire(request.issue_device().device_key());
      if (!owner || !device) {
        return to_wire(result<device_issued>{
            error{status_code::malformed, "IssueDevice: a wallet key and a device key"}});
      }
      return to_wire(m_service->issue_device(*owner, *device));
    }
    case wire::Envelope::kLoadDevice: {
      auto tx = from_wire(request.load_device().tx());
      if (!tx) {
        return to_wire(result<device_loaded>{tx.err()});
      }
      m_service->load_device_async(*tx,
                                   [reply](const result<device_loaded>& r) { reply(to_wire(r)); });
      return std::nullopt;
    }
    case wire::Envelope::kSubmitOffline: {
      const auto& m = request.submit_offline();
      if (static_cast<std::size_t>(m.txs_size()) > service::k_max_offline_batch) {
        return to_wire(result<offline_submitted>{
            error{status_code::too_large, std::to_string(m.txs_size()) + " transfers, at most " +
                                              std::to_string(service::k_max_offline_batch)}});
      }
      if (static_cast<std::size_t>(m.certs_size()) > service::k_max_offline_batch ||
          static_cast<std::size_t>(m.banks_size()) > service::k_max_offline_batch) {
        return to_wire(result<offline_submitted>{
            error{status_code::too_large, "more certificates than a batch may carry"}});
      }
      offline_batch batch;
      for (const auto& w : m.txs()) {
        auto tx = from_wire(w);
        if (!tx) {
          return to_wire(result<offline_submitted>{tx.err()});
        }
        batch.txs.push_back(std::move(*tx));
      }
      for (const auto& w : m.certs()) {
        auto c = offline::read(w);
        if (!c) {
          return to_wire(result<offline_submitted>{c.err()});
        }
        batch.certs.push_back(std::move(*c));
      }
      for (const auto& w : m.banks()) {
        auto b = offline::read(w);
        if (!b) {
          return to_wire(result<offline_submitted>{b.err()});
        }
        batch.banks.push_back(std::move(*b));
      }
      m_service->submit_offline_async(
          batch, [reply](const result<offline_submitted>& r) { reply(to_wire(r)); });
      return std::nullopt;
    }
    case wire::Envelope::kGetRevocations: return to_wire(m_service->revocations());
    case wire::Envelope::kRevocationsPushed: {
      auto list = offline::read(request.revocations_pushed().list());
      auto cert = offline::read(request.revocations_pushed().bank());
      const auto taken = !list   ? status{list.err()}
                         : !cert ? status{cert.err()}
                                 : m_service->take_revocations(*list, *cert);
      return to_wire(taken ? result<revocation_sync>{revocation_sync{}}
                           : result<revocation_sync>{taken.err()});
    }
    case wire::Envelope::kDoubleSpend: {
      auto settled = from_wire(request.double_spend().settled());
      auto refused = from_wire(request.double_spend().refused());
      const auto taken = !settled   ? status{settled.err()}
                         : !refused ? status{refused.err()}
                                    : m_service->take_double_spend(*settled, *refused);
      return to_wire(taken ? result<revocation_sync>{revocation_sync{}}
                           : result<revocation_sync>{taken.err()});
    }
    default:
      CBDC_ASSERT(false);  // the role table admits nothing else
      return {};
  }
}

auto server::check_customer(const wire::Envelope& request, const peer& from) -> status {
  using E = wire::Envelope;
  if (!from.authenticated || from.r != role::customer) {
    return ok_status();  // a node (or the process itself): its key is its proof
  }
  const auto payload = request.payload_case();
  if (payload == E::kPay || payload == E::kExecuteQuote || payload == E::kGetBankInfo ||
      payload == E::kLoadDevice || payload == E::kSubmitOffline || payload == E::kGetRevocations) {
    return ok_status();  // signed payments and transfers; the vault key and revocations are public
  }
  auto signer = m_customers.check(request, unix_now_us());
  if (!signer) {
    return signer.err();
  }
  // A wallet asks about itself only.
  const std::string* owner = nullptr;
  switch (payload) {
    case E::kGetWallet: owner = &request.get_wallet().owner(); break;
    case E::kOpenWallet: owner = &request.open_wallet().owner(); break;
    case E::kGetBalance: owner = &request.get_balance().owner(); break;
    case E::kGetHistory: owner = &request.get_history().owner(); break;
    case E::kListUnspent: owner = &request.list_unspent().owner(); break;
    case E::kIssueDevice: owner = &request.issue_device().owner(); break;
    case E::kExchange:
      owner = request.exchange().to_ecny() ? &request.exchange().owner() : nullptr;
      break;
    default: break;
  }
  if (owner != nullptr && *owner != bytes_to_wire(signer->encode())) {
    return error{status_code::not_authorized,
                 "a wallet's request is about itself: the signer is not the wallet named"};
  }
  if (payload != E::kOpenWallet && !m_service->hosts(*signer)) {
    return error{status_code::unknown_wallet, "the signing wallet is not hosted here"};
  }
  return ok_status();
}

}  // namespace cbdc::bank
