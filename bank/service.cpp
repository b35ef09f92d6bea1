// The bank in process: start and stop, and every request but a payment's way (pipeline.cpp),
// the notifications (listener.cpp) and the quotes (dealers.cpp), each run on the worker.
#include "bank/service.hpp"

#include "core/clock.hpp"
#include "platform/log.hpp"

namespace cbdc::bank {

auto service::start(const bank_config& config, key_pair vault) -> result<std::unique_ptr<service>> {
  std::unique_ptr<service> s(new service());
  const key_pair signer = vault;  // the vault's key also signs the offline desk's statements
  auto b = bank::open(config, std::move(vault));
  if (!b) {
    return b.err();
  }
  s->m_bank = std::move(*b);
  if (config.net.security) {
    const auto self = config.net.security->self();
    if (!self || self->r != role::bank) {
      return error{status_code::key_error,
                   "the nodes file lists no bank with this bank's node key"};
    }
    s->m_name = self->name;
  }
  if (!config.offline.bank_cert_path.empty()) {
    auto desk = offline_desk::open(config.db_url, config.offline, signer, s->m_name);
    if (!desk) {
      return desk.err();
    }
    s->m_offline = std::move(*desk);
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
  // The first jobs: the index catches up on what settled while the bank was down, before any
  // request is answered (the notifications that arrive meanwhile queue behind it), and the
  // payments a crash left in flight go again.
  s->m_worker.post([raw = s.get()] { raw->catch_up(); });
  s->m_worker.post([raw = s.get()] { raw->recover(); });
  s->m_worker.start();
  if (!config.settle_pub.empty()) {
    s->m_listener = std::thread([raw = s.get(), pub = config.settle_pub, cur = config.limits.cur,
                                 net = config.net] { raw->listen(pub, cur, net); });
  }
  return s;
}

service::~service() {
  m_stop = true;
  if (m_listener.joinable()) {
    m_listener.join();
  }
  // The worker first (tasks posted after this are dropped), then the bank and its settlement
  // client, whose last callbacks post into the closed worker.
  m_worker.close();
  m_peers.clear();
  m_bank.reset();
}

auto service::hosts(const public_key& owner) -> bool {
  return on_worker([&] { return m_bank->find_wallet(owner).ok(); });
}

auto service::register_at_centre(const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
    -> status {
  if (!m_registry || wallets.empty()) {
    return ok_status();
  }
  return m_registry->register_wallets(m_name, wallets);
}

auto service::open_wallet(const public_key& owner, wallet_class cls, bool merchant,
                          const std::string& parent_id, std::int64_t sub_cap_minor)
    -> result<std::string> {
  return on_worker([&]() -> result<std::string> {
    if (auto registered = register_at_centre({{owner, static_cast<std::uint32_t>(cls)}});
        !registered) {
      return registered.err();
    }
    auto opened = m_bank->open_wallet(
        owner, cls, merchant ? wallet_kind::merchant : wallet_kind::personal,
        parent_id.empty() ? std::nullopt : std::optional<std::string>{parent_id},
        parent_id.empty() ? std::nullopt : std::optional<std::int64_t>{sub_cap_minor});
    if (!opened) {
      return opened.err();
    }
    (void)m_bank->reconcile(owner);
    return opened->wallet_id;
  });
}

auto service::wallet_info(const public_key& owner) -> result<wallet_record> {
  return on_worker([&] { return m_bank->find_wallet(owner); });
}

auto service::can_receive(const public_key& owner, money amount,
                          const std::optional<hash256>& tx_id) -> result<bool> {
  return on_worker([&]() -> result<bool> {
    if (amount.cur() != m_bank->cur()) {
      return error{status_code::currency_mismatch, "this bank's wallets hold another currency"};
    }
    bool capped = true;
    if (auto room = m_bank->can_receive(owner, amount.minor(), capped, tx_id, unix_now_us());
        !room) {
      return room.err();
    }
    return capped;
  });
}

auto service::balance(const public_key& owner) -> result<money> {
  return on_worker([&]() -> result<money> {
    auto held = m_bank->balance(owner);
    if (!held) {
      return held.err();
    }
    return money{*held, m_bank->cur()};
  });
}

auto service::history(const public_key& owner, std::uint32_t limit)
    -> result<std::vector<history_entry>> {
  return on_worker([&] {
    return m_bank->history(owner, limit == 0 || limit > k_max_history ? k_max_history : limit);
  });
}

auto service::list_unspent(const public_key& owner, std::uint32_t limit)
    -> result<std::vector<settlement::token_info>> {
  // From the bank's index: the payment that follows is the only request of it that reaches
  // settlement.
  return on_worker([&] {
    return m_bank->unspent(owner, limit == 0 || limit > k_max_listed ? k_max_listed : limit);
  });
}

auto service::vault_key() -> result<public_key> {
  return m_bank->vault_key();  // fixed at start: no need to wait for the worker
}

auto service::exchange_to_ecny(const public_key& owner, money amount, const std::string& request_id)
    -> result<settlement::receipt> {
  return on_worker(
      [&] { return settled_or_error(m_bank->exchange_to_ecny(owner, amount, request_id)); });
}

auto service::exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
    -> result<settlement::receipt> {
  return on_worker([&] { return settled_or_error(m_bank->exchange_to_deposit(tx, request_id)); });
}

auto service::fund(const public_key& owner, money amount) -> result<settlement::receipt> {
  return on_worker([&] { return settled_or_error(m_bank->fund(owner, amount)); });
}

auto service::open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners,
                           bool merchant) -> result<std::vector<std::string>> {
  return on_worker([&]() -> result<std::vector<std::string>> {
    std::vector<std::pair<public_key, std::uint32_t>> at_centre;
    at_centre.reserve(owners.size());
    for (const auto& [key, cls] : owners) {
      at_centre.emplace_back(key, static_cast<std::uint32_t>(cls));
    }
    if (auto registered = register_at_centre(at_centre); !registered) {
      return registered.err();
    }
    auto records =
        m_bank->open_wallets(owners, merchant ? wallet_kind::merchant : wallet_kind::personal);
    if (!records) {
      return records.err();
    }
    std::vector<std::string> ids;
    ids.reserve(records->size());
    for (const auto& r : *records) {
      ids.push_back(r.wallet_id);
    }
    return ids;
  });
}

auto service::fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
    -> result<settlement::receipt> {
  return on_worker([&] { return settled_or_error(m_bank->fund_many(payouts, request_id)); });
}

}  // namespace cbdc::bank
