// The world: the services of a simulation started as real processes (sim/world.hpp).
#include "sim/world.hpp"

#include <algorithm>

#include "issuer/client.hpp"
#include "payment/vault.hpp"
#include "platform/pg.hpp"

namespace cbdc::sim {

namespace {

constexpr int k_start_timeout_ms = 30'000;

auto code(currency cur) -> std::string {
  return std::string{currency_code(cur)};
}

auto central_bank_node(currency cur) -> std::string {
  return "cb-" + code(cur);
}

auto operator_node(const std::string& bank) -> std::string {
  return bank + "/sim";
}

}  // namespace

auto domestic(const world_spec::bank& b, currency cur) -> bool {
  return b.home == cur ||
         (b.dealer && std::find(b.licensed.begin(), b.licensed.end(), cur) != b.licensed.end());
}

auto world::start(const world_spec& spec, const world_config& config)
    -> result<std::unique_ptr<world>> {
  const bool hosting = std::any_of(spec.banks.begin(), spec.banks.end(),
                                   [](const world_spec::bank& b) { return b.hosted; });
  for (const auto& b : spec.banks) {
    if (b.hosted && (b.dealer || b.home != currency::cny)) {
      return error{status_code::bad_request,
                   "bank " + b.id + ": cbdc-bank hosts CNY wallets and is not a dealer"};
    }
  }
  if (hosting && spec.shards != 1) {
    return error{status_code::bad_request,
                 "banks hosting wallets follow one shard's notifications: shards = 1"};
  }
  if (spec.shards == 0 || spec.central_banks.empty()) {
    return error{status_code::bad_request, "a world needs a shard and a central bank"};
  }
  std::unique_ptr<world> w(new world());
  w->m_spec = spec;
  w->m_config = config;
  std::filesystem::create_directories(config.work_dir);

  // Every node's identity and endpoint before any starts: the nodes file is every server's
  // allow-list. The simulator plays the banks that run no process, acts as each hosted bank's
  // operator, and reads settlement as the auditor.
  w->m_roster = std::make_unique<node_roster>(config.work_dir / "nodes");
  std::vector<std::pair<std::string, std::pair<role, std::vector<std::string>>>> nodes;
  for (std::uint32_t i = 0; i < spec.shards; ++i) {
    auto& shard = w->m_shards.emplace_back();
    shard.log = spec.shards == 1 ? "settle" : "settle-" + std::to_string(i);
    shard.endpoint = w->next_endpoint();
    std::vector<std::string> eps{shard.endpoint};
    if (hosting) {
      w->m_pub_ep = w->next_endpoint();
      eps.push_back(w->m_pub_ep);
    }
    nodes.push_back({shard.log, {role::shard, eps}});
    w->m_settle_spec += (i == 0 ? "" : ",") + shard.endpoint;
  }
  if (spec.shards > 1) {
    w->m_coordinator.log = "coordinator";
    w->m_coordinator.endpoint = w->next_endpoint();
    w->m_settle_spec += "@" + w->m_coordinator.endpoint;
    nodes.push_back({"coordinator", {role::coordinator, {w->m_coordinator.endpoint}}});
  }
  for (const auto& cb : spec.central_banks) {
    auto& issuer = w->m_issuers.emplace_back();
    issuer.log = "issuer-" + code(cb.cur);
    issuer.endpoint = w->next_endpoint();
    nodes.push_back({central_bank_node(cb.cur), {role::issuer, {issuer.endpoint}}});
  }
  for (std::uint32_t b = 0; b < spec.banks.size(); ++b) {
    const auto& bank = spec.banks[b];
    auto& state =
        w->m_banks.emplace_back(key_pair::from_seed(profile::ed25519, indexed_seed(b, 0xba)));
    state.log = (bank.dealer ? "dealer-" : "bank-") + bank.id;
    state.dir = (config.work_dir / state.log).string();
    if (bank.hosted || bank.dealer) {
      state.endpoint = w->next_endpoint();
    }
    nodes.push_back(
        {bank.id,
         {bank.dealer ? role::dealer : role::bank,
          state.endpoint.empty() ? std::vector<std::string>{} : std::vector{state.endpoint}}});
    if (bank.hosted) {
      nodes.push_back({operator_node(bank.id), {role::operator_, {}}});
    }
  }
  nodes.push_back({k_auditor, {role::operator_, {}}});
  for (auto& [name, what] : nodes) {
    if (auto added = w->m_roster->add(name, what.first, std::move(what.second)); !added) {
      return added.err();
    }
  }

  // The central banks' keys first: settlement checks issuance against them.
  std::vector<std::string> issuer_args;
  for (const auto& cb : spec.central_banks) {
    const auto key = key_pair::from_seed(profile::ed25519,
                                         indexed_seed(static_cast<std::uint64_t>(cb.cur), 0xc8));
    const auto path = config.work_dir / ("issuer-" + code(cb.cur) + ".key");
    if (auto saved = key.save(path); !saved) {
      return saved.err();
    }
    w->m_issuer_key_paths.push_back(path.string());
    w->m_issuer_pub_hex.push_back(key.pub().hex());
    issuer_args.emplace_back("--issuer");
    issuer_args.push_back(code(cb.cur) + "=" + key.pub().hex());
  }
  auto started = w->start_settlement(issuer_args);
  started = started ? w->start_issuers() : started;
  started = started ? w->start_banks() : started;
  started = started ? w->mint() : started;
  if (!started) {
    return started.err();
  }
  return w;
}

auto world::start_settlement(const std::vector<std::string>& issuer_args) -> status {
  if (m_spec.shards > 1) {
    auto db = fresh_db("coord");
    if (!db) {
      return db.err();
    }
    m_coordinator.db = *db;
    std::string shard_list = m_settle_spec.substr(0, m_settle_spec.find('@'));
    auto argv = with_node("coordinator",
                          {tool("settlement", "cbdc-settle"), "coordinate", "--db", *db, "--bind",
                           m_coordinator.endpoint, "--shard-endpoints", shard_list});
    argv.insert(argv.end(), issuer_args.begin(), issuer_args.end());
    m_coordinator.argv = std::move(argv);
    if (auto s = launch(m_coordinator); !s) {
      return s;
    }
  }
  for (std::uint32_t i = 0; i < m_spec.shards; ++i) {
    auto& shard = m_shards[i];
    auto db = fresh_db(m_spec.shards == 1 ? "settle" : "settle_" + std::to_string(i));
    if (!db) {
      return db.err();
    }
    shard.db = *db;
    std::vector<std::string> argv{
        tool("settlement", "cbdc-settle"), "serve", "--db", *db, "--bind", shard.endpoint};
    if (!m_pub_ep.empty()) {
      argv.insert(argv.end(), {"--pub", m_pub_ep});
    }
    if (m_spec.shards > 1) {
      argv.insert(argv.end(),
                  {"--shard", std::to_string(i), "--shards", std::to_string(m_spec.shards),
                   "--coordinator", m_coordinator.endpoint});
    }
    if (m_spec.batch_ms > 0) {
      argv.insert(argv.end(), {"--batch-ms", std::to_string(m_spec.batch_ms)});
    }
    if (m_spec.slow_commit_ms > 0) {
      argv.insert(argv.end(), {"--slow-commit-ms", std::to_string(m_spec.slow_commit_ms)});
    }
    argv.insert(argv.end(), issuer_args.begin(), issuer_args.end());
    shard.argv = with_node(shard.log, std::move(argv));
    if (auto s = launch(shard); !s) {
      return s;
    }
  }
  return ok_status();
}

auto world::start_issuers() -> status {
  for (std::size_t c = 0; c < m_spec.central_banks.size(); ++c) {
    const auto& cb = m_spec.central_banks[c];
    auto& issuer = m_issuers[c];
    auto db = fresh_db("issuer_" + code(cb.cur));
    if (!db) {
      return db.err();
    }
    issuer.db = *db;
    const auto cur = code(cb.cur);
    const std::vector<std::string> with_key{
        tool("issuer", "cbdc-issuer"), "--db",       *db, "--key",
        m_issuer_key_paths[c],         "--currency", cur};
    const auto command = [&](const char* name) {
      auto argv = with_key;
      argv.insert(argv.begin() + 1, name);
      return argv;
    };
    // Every bank registered through cbdc-issuer's own commands: one add-bank for the banks
    // domestic here and one for the foreign ones; then one deposit crediting each reserve.
    for (const bool home : {true, false}) {
      auto add = command("add-bank");
      const auto without_banks = add.size();
      for (std::size_t b = 0; b < m_spec.banks.size(); ++b) {
        if (domestic(m_spec.banks[b], cb.cur) == home) {
          add.emplace_back("--bank");
          add.push_back(m_spec.banks[b].id + "=" + m_banks[b].key.pub().hex());
        }
      }
      if (add.size() == without_banks) {
        continue;  // none of this kind
      }
      if (!home) {
        add.emplace_back("--foreign");
      }
      if (auto added = run_checked(add); !added) {
        return added.err();
      }
    }
    for (const auto& bank : m_spec.banks) {  // banks of dual-offline payments: their keys
      if (bank.offline && bank.home == cb.cur) {
        auto certify = command("certify-bank");
        certify.insert(certify.end(),
                       {"--bank-id", bank.id, "-o",
                        (m_config.work_dir / ("offline-" + bank.id + ".cert")).string()});
        if (auto certified = run_checked(certify); !certified) {
          return certified.err();
        }
      }
    }
    auto deposit = command("deposit");
    deposit.insert(deposit.end(), {"--request-id", "sim-reserve-" + cur});
    const auto without_credits = deposit.size();
    for (const auto& bank : m_spec.banks) {
      if (const auto it = bank.issuance.find(cb.cur); it != bank.issuance.end() && it->second > 0) {
        deposit.emplace_back("--credit");
        deposit.push_back(bank.id + "=" + money{it->second, cb.cur}.format());
      }
    }
    if (deposit.size() > without_credits) {
      if (auto credited = run_checked(deposit); !credited) {
        return credited.err();
      }
    }
    auto argv = command("serve");
    argv.insert(argv.end(), {"--bind", issuer.endpoint, "--settle", m_settle_spec});
    for (const auto& other : m_spec.central_banks) {
      if (other.cur != cb.cur && cb.corridor_cap_minor > 0) {
        argv.insert(argv.end(),
                    {"--corridor-cap",
                     code(other.cur) + "=" + money{cb.corridor_cap_minor, cb.cur}.format_amount()});
      }
    }
    for (const auto& b : m_spec.banks) {
      if (cb.bank_cap_minor > 0) {
        argv.insert(argv.end(),
                    {"--bank-cap", b.id + "=" + money{cb.bank_cap_minor, cb.cur}.format_amount()});
      }
    }
    issuer.argv = with_node(central_bank_node(cb.cur), std::move(argv));
    if (auto s = launch(issuer); !s) {
      return s;
    }
  }
  return ok_status();
}

auto world::start_banks() -> status {
  for (std::size_t b = 0; b < m_spec.banks.size(); ++b) {
    const auto& bank = m_spec.banks[b];
    if (!bank.hosted && !bank.dealer) {
      continue;  // played by the simulator
    }
    auto& state = m_banks[b];
    std::filesystem::remove_all(state.dir);
    std::filesystem::create_directories(state.dir);
    if (auto saved = state.key.save(payment::vault_key_path(state.dir)); !saved) {
      return saved;
    }
    auto db = fresh_db((bank.hosted ? "bank_" : "fx_") + bank.id);
    if (!db) {
      return db.err();
    }
    state.db = *db;
    auto argv = bank.hosted ? bank_argv(b) : dealer_argv(b);
    if (!argv) {
      return argv.err();
    }
    state.argv = with_node(bank.id, std::move(*argv));
    if (auto s = launch(state); !s) {
      return s;
    }
  }
  return ok_status();
}

auto world::bank_argv(std::size_t b) const -> result<std::vector<std::string>> {
  const auto& bank = m_spec.banks[b];
  const auto& state = m_banks[b];
  std::size_t home = 0;
  while (m_spec.central_banks[home].cur != bank.home) {
    if (++home == m_spec.central_banks.size()) {
      return error{status_code::bad_request, "bank " + bank.id + ": no central bank of its home"};
    }
  }
  std::vector<std::string> argv{tool("bank", "cbdc-bank"),
                                "serve",
                                "--dir",
                                state.dir,
                                "--db",
                                state.db,
                                "--bind",
                                state.endpoint,
                                "--settle",
                                m_settle_spec,
                                "--settle-pub",
                                m_pub_ep,
                                "--registry",
                                m_issuers[home].endpoint};
  if (bank.offline) {
    argv.insert(argv.end(),
                {"--offline-cert", (m_config.work_dir / ("offline-" + bank.id + ".cert")).string(),
                 "--central-bank-key", m_issuer_pub_hex[home]});
    const auto& l = bank.offline_limits;
    if (l.balance_cap_minor) {
      argv.insert(argv.end(), {"--offline-balance-cap",
                               money{*l.balance_cap_minor, bank.home}.format_amount()});
    }
    if (l.payment_cap_minor) {
      argv.insert(argv.end(), {"--offline-payment-cap",
                               money{*l.payment_cap_minor, bank.home}.format_amount()});
    }
    if (l.max_payments) {
      argv.insert(argv.end(), {"--offline-max-payments", std::to_string(*l.max_payments)});
    }
    if (l.max_offline_s) {  // whole hours, at least one
      argv.insert(argv.end(), {"--offline-max-hours",
                               std::to_string(std::max<std::int64_t>(1, *l.max_offline_s / 3600))});
    }
  }
  for (std::size_t other = 0; other < m_spec.banks.size(); ++other) {
    if (other != b && m_spec.banks[other].hosted) {  // each asks the others about their payees
      argv.emplace_back("--peer");
      argv.push_back(m_spec.banks[other].id + "=" + m_banks[other].endpoint);
    }
  }
  return argv;
}

auto world::dealer_argv(std::size_t b) const -> result<std::vector<std::string>> {
  const auto& bank = m_spec.banks[b];
  const auto& state = m_banks[b];
  std::vector<std::string> argv{tool("fx", "cbdc-fx"),
                                "serve",
                                "--dir",
                                state.dir,
                                "--dealer-id",
                                bank.id,
                                "--db",
                                state.db,
                                "--bind",
                                state.endpoint,
                                "--settle",
                                m_settle_spec,
                                "--spread-bp",
                                std::to_string(bank.spread_bp)};
  const auto licensed = [&](const result<currency>& c) {
    return c && std::find(bank.licensed.begin(), bank.licensed.end(), *c) != bank.licensed.end();
  };
  for (const auto& r : m_spec.rates) {  // the pairs of its licensed currencies
    if (licensed(parse_currency(r.substr(0, 3))) && licensed(parse_currency(r.substr(4, 3)))) {
      argv.insert(argv.end(), {"--rate", r});
    }
  }
  for (std::size_t c = 0; c < m_spec.central_banks.size(); ++c) {
    argv.insert(argv.end(), {"--central-bank",
                             code(m_spec.central_banks[c].cur) + "=" + m_issuers[c].endpoint});
  }
  return argv;
}

auto world::mint() -> status {
  for (const auto& bank : m_spec.banks) {
    auto as_bank = as_node(bank.id);
    if (!as_bank) {
      return as_bank.err();
    }
    for (const auto& [cur, amount] : bank.issuance) {
      if (amount <= 0) {
        continue;
      }
      std::size_t c = 0;
      while (m_spec.central_banks[c].cur != cur) {
        if (++c == m_spec.central_banks.size()) {
          return error{status_code::bad_request, "bank " + bank.id + ": issuance in " + code(cur) +
                                                     ", which no central bank issues"};
        }
      }
      issuer::client cb(m_issuers[c].endpoint, *as_bank);
      auto minted = cb.mint(bank.id, money{amount, cur}, "sim-mint-" + bank.id + "-" + code(cur));
      if (!minted) {
        return error{minted.code(), "mint to " + bank.id + ": " + minted.err().message};
      }
    }
  }
  return ok_status();
}

auto world::launch(process& p) -> status {
  ++p.starts;
  const auto log = p.log + (p.starts == 1 ? std::string{} : "-" + std::to_string(p.starts));
  p.running = std::make_unique<child>(p.argv, (m_config.work_dir / (log + ".log")).string());
  if (!p.running->wait_for_output("listening", k_start_timeout_ms)) {
    return error{status_code::unavailable, p.log + " did not start: " + p.running->log()};
  }
  return ok_status();
}

auto world::dealer_endpoints() const -> std::vector<std::string> {
  std::vector<std::string> out;
  for (std::size_t b = 0; b < m_spec.banks.size(); ++b) {
    if (m_spec.banks[b].dealer) {
      out.push_back(m_banks[b].endpoint);
    }
  }
  return out;
}

auto world::as_node(const std::string& name) const -> result<socket_options> {
  auto security = m_roster->security(name);
  if (!security) {
    return security.err();
  }
  socket_options opts;
  opts.security = *security;
  return opts;
}

auto world::as_operator_of(std::size_t b) const -> result<socket_options> {
  return as_node(operator_node(m_spec.banks.at(b).id));
}

auto world::kill_and_restart_settlement(std::uint32_t shard) -> status {
  auto& p = m_shards.at(shard);
  p.running->kill_hard();
  p.running.reset();
  return launch(p);
}

auto world::kill_and_restart_bank(std::size_t b) -> status {
  auto& p = m_banks.at(b);
  p.running->kill_hard();
  p.running.reset();
  return launch(p);
}

auto world::issuer_audit(std::size_t c) -> run_result {
  const auto cur = m_spec.central_banks.at(c).cur;
  return run(
      with_node(central_bank_node(cur),
                {tool("issuer", "cbdc-issuer"), "audit", "--db", m_issuers.at(c).db, "--key",
                 m_issuer_key_paths.at(c), "--settle", m_settle_spec, "--currency", code(cur)}));
}

auto world::bank_audit(std::size_t b) -> run_result {
  const auto& p = m_banks.at(b);
  return run(with_node(m_spec.banks.at(b).id, {tool("bank", "cbdc-bank"), "audit", "--dir", p.dir,
                                               "--db", p.db, "--settle", m_settle_spec}));
}

world::~world() {
  // In reverse order of start: dealers and banks, issuers, shards, the coordinator.
  for (auto it = m_banks.rbegin(); it != m_banks.rend(); ++it) {
    it->running.reset();
  }
  for (auto it = m_issuers.rbegin(); it != m_issuers.rend(); ++it) {
    it->running.reset();
  }
  for (auto it = m_shards.rbegin(); it != m_shards.rend(); ++it) {
    it->running.reset();
  }
  m_coordinator.running.reset();
}

auto world::tool(const std::string& folder, const std::string& name) const -> std::string {
  return (m_config.bin_dir / folder / name).string();
}

auto world::next_endpoint() -> std::string {
  return "tcp://127.0.0.1:" + std::to_string(m_config.base_port + m_next_port++);
}

auto world::fresh_db(const std::string& suffix) const -> result<std::string> {
  return pg::fresh_database(m_config.pg_url, m_config.db_prefix + "_" + suffix);
}

auto world::with_node(const std::string& name, std::vector<std::string> argv) const
    -> std::vector<std::string> {
  for (auto& flag : m_roster->flags(name)) {
    argv.push_back(std::move(flag));
  }
  return argv;
}

}  // namespace cbdc::sim
