// cbdc-bank's server: the role table, start and stop, the customer's signature check, and the
// answer to each request (the payment path continues in pipeline.cpp, notifications in
// listener.cpp, quotes in dealers.cpp).
#include "bank/server.hpp"

#include <chrono>
#include <cstdio>
#include <utility>

#include "bank/detail.hpp"
#include "core/clock.hpp"
#include "platform/log.hpp"
#include "settlement/notify.hpp"

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
                    }};
}

auto server::start(const bank_config& config, key_pair vault, std::string endpoint)
    -> result<std::unique_ptr<server>> {
  std::unique_ptr<server> s(new server());
  auto b = bank::open(config, std::move(vault));
  if (!b) {
    return b.err();
  }
  s->m_bank = std::move(*b);
  if (config.customer_window_ms <= 0) {
    return error{status_code::bad_request, "the customers' request window must be positive"};
  }
  s->m_customers = customer_verifier(config.customer_window_ms * 1000);
  if (config.net.security) {
    const auto self = config.net.security->self();
    if (!self || self->r != role::bank) {
      return error{status_code::key_error,
                   "the nodes file lists no bank with this bank's node key"};
    }
    s->m_name = self->name;
  }
  for (const auto& peer : config.peers) {
    const auto eq = peer.find('=');
    const bool named = eq != std::string::npos && peer.find("://") > eq;
    if (named) {
      s->m_peer_ids[peer.substr(0, eq)] = s->m_peers.size();
    }
    s->m_peers.push_back(
        std::make_unique<rpc_client>(named ? peer.substr(eq + 1) : peer, config.net));
  }
  if (!config.issuer_endpoint.empty()) {
    s->m_registry = std::make_unique<issuer::client>(config.issuer_endpoint, config.net);
  }
  for (const auto& spec : config.dealers) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) {
      return error{status_code::bad_request, "--dealer wants ID=ENDPOINT, got " + spec};
    }
    s->m_dealers.push_back(std::make_unique<fx::client>(spec.substr(eq + 1), config.net));
  }
  auto net = config.net;
  net.admit_customers = true;
  s->m_server = std::make_unique<serial_server>(
      std::move(endpoint),
      serial_server::deferring_handler{[raw = s.get()](const wire::Envelope& req, const peer& from,
                                                       const rpc_server::reply_fn& reply) {
        return raw->answer(req, from, reply);
      }},
      bank_roles(), net);
  // The first job: the index catches up on what settled while the bank was down, before any
  // request is answered (the notifications that arrive meanwhile queue behind it).
  s->m_server->post_task([raw = s.get()] { raw->catch_up(); });
  s->m_server->post_task([raw = s.get()] { raw->recover(); });
  if (auto bound = s->m_server->start(); !bound) {
    return bound.err();
  }
  if (!config.settle_pub.empty()) {
    s->m_listener = std::thread([raw = s.get(), pub = config.settle_pub, cur = config.limits.cur,
                                 net = config.net] { raw->listen(pub, cur, net); });
  }
  return s;
}

server::~server() {
  m_stop = true;
  if (m_listener.joinable()) {
    m_listener.join();
  }
  // Worker first (tasks posted after this are dropped), then the bank and its settlement
  // client, whose last callbacks post into the closed server.
  if (m_server) {
    m_server->close();
  }
  m_peers.clear();
  m_bank.reset();
  m_server.reset();
}

auto server::answer(const wire::Envelope& request, const peer& from,
                    const rpc_server::reply_fn& reply) -> std::optional<wire::Envelope> {
  if (auto checked = check_customer(request, from); !checked) {
    return error_envelope(0, checked.err());
  }
  // Funding from the vault and onboarding are the bank's own operator's.
  const auto operator_only = [&]() -> status {
    if (from.operates(m_name)) {
      return ok_status();
    }
    return error{status_code::not_authorized, payload_name(request) + " at " + m_name +
                                                  " is for its operator; " + from.describe() +
                                                  " sent it"};
  };
  switch (request.payload_case()) {
    case wire::Envelope::kGetWallet: {
      wire::Envelope answer;
      auto* info = answer.mutable_wallet_info();
      auto owner = key_from_wire(request.get_wallet().owner());
      auto found = owner ? m_bank->find_wallet(*owner) : result<wallet_record>{owner.err()};
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
    case wire::Envelope::kOpenWallet: {
      const auto& m = request.open_wallet();
      wire::Envelope answer;
      auto* info = answer.mutable_wallet_info();
      auto owner = key_from_wire(m.owner());
      if (!owner || m.wallet_class() < 1 || m.wallet_class() > 4) {
        info->set_status(static_cast<std::uint32_t>(status_code::malformed));
        info->set_detail(owner ? "wallet class must be 1..4" : owner.err().message);
        return answer;
      }
      // A customer opens an anonymous class IV wallet; a higher class (after KYC) and
      // sub-wallets are the operator's decision.
      const bool anonymous =
          m.wallet_class() == static_cast<std::uint32_t>(wallet_class::iv) && m.parent_id().empty();
      if (auto allowed = anonymous ? ok_status() : operator_only(); !allowed) {
        info->set_status(static_cast<std::uint32_t>(allowed.code()));
        info->set_detail(allowed.err().message +
                         " (a customer opens a class IV wallet; the operator sets another class)");
        return answer;
      }
      if (auto registered = register_at_centre({{*owner, m.wallet_class()}}); !registered) {
        info->set_status(static_cast<std::uint32_t>(registered.code()));
        info->set_detail(registered.err().message);
        return answer;
      }
      auto opened = m_bank->open_wallet(
          *owner, static_cast<wallet_class>(m.wallet_class()),
          m.merchant() ? wallet_kind::merchant : wallet_kind::personal,
          m.parent_id().empty() ? std::nullopt : std::optional<std::string>{m.parent_id()},
          m.parent_id().empty() ? std::nullopt : std::optional<std::int64_t>{m.sub_cap_minor()});
      info->set_status(static_cast<std::uint32_t>(opened.code()));
      if (opened) {
        (void)m_bank->reconcile(*owner);
        info->set_wallet_id(opened->wallet_id);
        info->set_wallet_class(static_cast<std::uint32_t>(opened->cls));
        info->set_merchant(opened->kind == wallet_kind::merchant);
      } else {
        info->set_detail(opened.err().message);
      }
      return answer;
    }
    case wire::Envelope::kPay: {
      auto tx = from_wire(request.pay().tx());
      if (!tx) {
        return receipt_answer(tx.err());
      }
      // The payment's own signatures are its proof: checked before it holds any allowance.
      for (const auto& sig : tx->sigs) {
        if (!verify(sig.signer, tx->body, sig.sig)) {
          return receipt_answer(
              error{status_code::bad_signature, "a signature of the payment does not verify"});
        }
      }
      auto begun = m_bank->pay_begin(*tx, unix_now_us());
      if (!begun) {
        return receipt_answer(begun.err());
      }
      if (begun->settled_before) {  // a resend of a settled payment: its receipt
        auto receipt = *begun->settled_before;
        finish(*begun, std::move(receipt), reply);
        return std::nullopt;
      }
      // Settlement answers later; meanwhile the worker checks the next requests. A payee at
      // another bank is first checked there (its balance cap).
      if (!begun->payee_hex && !m_peers.empty() && !m_uncapped.contains(begun->payee.hex())) {
        // The payee's bank as its payment request names it is asked first (then, should it not
        // host the payee, every peer in turn).
        const auto hinted = m_peer_ids.find(request.pay().payee_bank());
        if (hinted != m_peer_ids.end()) {
          m_payee_home.put_if_absent(begun->payee.hex(), hinted->second);
        }
        ask_peer(std::move(*begun), reply, 0);
      } else {
        submit(std::move(*begun), reply);
      }
      return std::nullopt;
    }
    case wire::Envelope::kCanReceive: {
      const auto& m = request.can_receive();
      wire::Envelope answer;
      auto* verdict = answer.mutable_receive_verdict();
      auto owner = key_from_wire(m.owner());
      auto cur = currency_from_wire(m.currency());
      status checked = ok_status();
      bool capped = true;
      if (!owner || !cur) {
        checked = error{status_code::malformed, "bad owner or currency"};
      } else if (*cur != m_bank->cur()) {
        checked =
            error{status_code::currency_mismatch, "this bank's wallets hold another currency"};
      } else if (!m.tx_id().empty() && !id_from_wire(m.tx_id())) {
        checked = error{status_code::malformed, "a tx_id has 32 bytes"};
      } else {
        std::optional<hash256> id;
        if (!m.tx_id().empty()) {
          id = *id_from_wire(m.tx_id());
        }
        checked = m_bank->can_receive(*owner, m.amount_minor(), capped, id, unix_now_us());
      }
      verdict->set_status(static_cast<std::uint32_t>(checked.code()));
      verdict->set_capped(capped);
      if (!checked) {
        verdict->set_detail(checked.err().message);
      }
      return answer;
    }
    case wire::Envelope::kFund: {
      if (auto allowed = operator_only(); !allowed) {
        return receipt_answer(allowed.err());
      }
      auto owner = key_from_wire(request.fund().owner());
      auto cur = currency_from_wire(request.fund().currency());
      if (!owner || !cur) {
        return receipt_answer(error{status_code::malformed, "bad owner or currency"});
      }
      return receipt_answer(m_bank->fund(*owner, money{request.fund().amount_minor(), *cur}));
    }
    case wire::Envelope::kOpenWallets: {
      const auto& m = request.open_wallets();
      wire::Envelope answer;
      auto* opened = answer.mutable_wallets_opened();
      std::vector<std::pair<public_key, wallet_class>> owners;
      auto refuse = [&](status_code code, const std::string& why) {
        opened->set_status(static_cast<std::uint32_t>(code));
        opened->set_detail(why);
        return answer;
      };
      if (auto allowed = operator_only(); !allowed) {
        return refuse(allowed.code(), allowed.err().message);
      }
      if (m.owners_size() != m.wallet_classes_size() || m.owners_size() > 10'000) {
        return refuse(status_code::malformed, "one class per owner, at most 10,000 owners");
      }
      for (int i = 0; i < m.owners_size(); ++i) {
        auto owner = key_from_wire(m.owners(i));
        if (!owner || m.wallet_classes(i) < 1 || m.wallet_classes(i) > 4) {
          return refuse(status_code::malformed,
                        owner ? "wallet class must be 1..4" : owner.err().message);
        }
        owners.emplace_back(*owner, static_cast<wallet_class>(m.wallet_classes(i)));
      }
      std::vector<std::pair<public_key, std::uint32_t>> at_centre;
      at_centre.reserve(owners.size());
      for (const auto& [key, cls] : owners) {
        at_centre.emplace_back(key, static_cast<std::uint32_t>(cls));
      }
      if (auto registered = register_at_centre(at_centre); !registered) {
        return refuse(registered.code(), registered.err().message);
      }
      auto records = m_bank->open_wallets(
          owners, m.merchant() ? wallet_kind::merchant : wallet_kind::personal);
      if (!records) {
        return refuse(records.code(), records.err().message);
      }
      opened->set_status(static_cast<std::uint32_t>(status_code::ok));
      for (const auto& r : *records) {
        opened->add_wallet_ids(r.wallet_id);
      }
      return answer;
    }
    case wire::Envelope::kFundMany: {
      const auto& m = request.fund_many();
      if (auto allowed = operator_only(); !allowed) {
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
      return receipt_answer(m_bank->fund_many(payouts, m.request_id()));
    }
    case wire::Envelope::kGetBalance: {
      wire::Envelope answer;
      auto* b = answer.mutable_balance();
      auto owner = key_from_wire(request.get_balance().owner());
      auto held = owner ? m_bank->balance(*owner) : result<std::int64_t>{owner.err()};
      b->set_status(static_cast<std::uint32_t>(held.code()));
      if (held) {
        b->set_amount_minor(*held);
        b->set_currency(static_cast<std::uint32_t>(m_bank->cur()));
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
            m_bank->exchange_to_ecny(*owner, money{x.amount_minor(), *cur}, x.request_id()));
      }
      auto tx = from_wire(x.tx());
      if (!tx) {
        return receipt_answer(tx.err());
      }
      return receipt_answer(m_bank->exchange_to_deposit(*tx, x.request_id()));
    }
    case wire::Envelope::kGetBankInfo: {
      wire::Envelope answer;
      answer.mutable_bank_info()->set_status(0);
      answer.mutable_bank_info()->set_vault(bytes_to_wire(m_bank->vault_key().encode()));
      answer.mutable_bank_info()->set_currency(static_cast<std::uint32_t>(m_bank->cur()));
      return answer;
    }
    case wire::Envelope::kGetHistory: {
      wire::Envelope answer;
      auto* h = answer.mutable_history();
      auto owner = key_from_wire(request.get_history().owner());
      constexpr std::uint32_t k_max_entries = 1000;
      const auto asked = request.get_history().limit();
      auto entries =
          owner
              ? m_bank->history(*owner, asked == 0 || asked > k_max_entries ? k_max_entries : asked)
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
      // A hosted wallet's tokens, from the bank's index: the payment that follows is the only
      // request of it that reaches settlement.
      const auto asked = request.list_unspent().limit();
      const auto limit = (asked == 0 || asked > k_max_listed) ? k_max_listed : asked;
      auto tokens = owner ? m_bank->unspent(*owner, limit)
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
    case wire::Envelope::kRequestQuote: return quote(request.request_quote());
    case wire::Envelope::kExecuteQuote: return execute_quote(request.execute_quote());
    case wire::Envelope::kDeclineQuote: return decline_quote(request.decline_quote());
    case wire::Envelope::kSettledBatch: {
      // (Indexed where it lies: a copy of a thousand notifications costs more than the index.)
      if (auto indexed = m_bank->index_many(request.settled_batch()); !indexed) {
        logging::error("index: {}", to_string(indexed.err()));
      }
      if (m_bank->has_gaps() && !m_gaps_queued) {
        // A little later: a notification that is only late arrives meanwhile.
        m_gaps_queued = true;
        m_server->post_task_after(k_gap_wait_ms, [this] { fill_gaps(); });
      }
      return {};
    }
    default:
      CBDC_ASSERT(false);  // the role table admits nothing else
      return {};
  }
}

auto server::register_at_centre(const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
    -> status {
  if (!m_registry || wallets.empty()) {
    return ok_status();
  }
  return m_registry->register_wallets(m_name, wallets);
}

auto server::check_customer(const wire::Envelope& request, const peer& from) -> status {
  using E = wire::Envelope;
  if (!from.authenticated || from.r != role::customer) {
    return ok_status();  // a node (or the process itself): its key is its proof
  }
  const auto payload = request.payload_case();
  if (payload == E::kPay || payload == E::kExecuteQuote || payload == E::kGetBankInfo) {
    return ok_status();  // signed payments; the vault key is public
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
    case E::kExchange:
      owner = request.exchange().to_ecny() ? &request.exchange().owner() : nullptr;
      break;
    default: break;
  }
  if (owner != nullptr && *owner != bytes_to_wire(signer->encode())) {
    return error{status_code::not_authorized,
                 "a wallet's request is about itself: the signer is not the wallet named"};
  }
  if (payload != E::kOpenWallet && !m_bank->find_wallet(*signer)) {
    return error{status_code::unknown_wallet, "the signing wallet is not hosted here"};
  }
  return ok_status();
}

}  // namespace cbdc::bank
