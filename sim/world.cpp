// The world: the services of a simulation started as real processes.
#include "sim/world.hpp"

#include "platform/pg.hpp"

namespace cbdc::sim {

namespace {

auto tool(const world_config& c, const std::string& folder, const std::string& name)
    -> std::string {
  return (c.bin_dir / folder / name).string();
}

/// Runs a setup command; its output becomes the error when it fails.

constexpr int k_start_timeout_ms = 30'000;

}  // namespace

auto world::start(const scenario& sc, const world_config& config,
                  const std::vector<std::int64_t>& issuance) -> result<std::unique_ptr<world>> {
  std::unique_ptr<world> w(new world());
  w->m_sc = sc;
  w->m_config = config;
  std::filesystem::create_directories(config.work_dir);
  const auto ep = [&](int offset) {
    return "tcp://127.0.0.1:" + std::to_string(config.base_port + offset);
  };
  w->m_settle_ep = ep(0);
  w->m_pub_ep = ep(1);
  w->m_issuer_ep = ep(2);
  auto settle_db = pg::fresh_database(config.pg_url, config.db_prefix + "_settle");
  auto issuer_db = pg::fresh_database(config.pg_url, config.db_prefix + "_issuer");
  if (!settle_db || !issuer_db) {
    return settle_db ? issuer_db.err() : settle_db.err();
  }
  w->m_settle_db = *settle_db;
  w->m_issuer_db = *issuer_db;
  const std::string cur{currency_code(sc.cur)};

  w->m_issuer_key_path = (config.work_dir / "issuer.key").string();
  std::filesystem::remove(w->m_issuer_key_path);
  auto key =
      run_checked({tool(config, "issuer", "cbdc-issuer"), "keygen", "--key", w->m_issuer_key_path});
  if (!key) {
    return key.err();
  }
  w->m_issuer_key = *key;
  // Every node's identity, before any starts: the nodes file is every server's allow-list.
  w->m_roster = std::make_unique<node_roster>(config.work_dir / "nodes");
  const auto enrol = [&](const std::string& name, role r, std::vector<std::string> eps) {
    return w->m_roster->add(name, r, std::move(eps));
  };
  auto enrolled = enrol(k_settle_node, role::shard, {w->m_settle_ep, w->m_pub_ep});
  enrolled = enrolled ? enrol(k_issuer_node, role::issuer, {w->m_issuer_ep}) : enrolled;
  for (std::size_t b = 0; b < sc.banks.size() && enrolled; ++b) {
    enrolled = enrol(sc.banks[b].id, role::bank, {ep(10 + static_cast<int>(b))});
    // The simulator onboards and funds wallets as each bank's operator.
    enrolled = enrolled ? enrol(sc.banks[b].id + "/sim", role::operator_, {}) : enrolled;
  }
  if (!enrolled) {
    return enrolled.err();
  }
  for (const auto& bank : sc.banks) {
    auto security = w->m_roster->security(bank.id + "/sim");
    if (!security) {
      return security.err();
    }
    socket_options opts;
    opts.security = *security;
    w->m_bank_client_opts.push_back(opts);
  }
  if (auto s = w->start_settlement(); !s) {
    return s.err();
  }
  w->m_issuer = std::make_unique<child>(
      w->with_node(k_issuer_node, {tool(config, "issuer", "cbdc-issuer"), "serve", "--db",
                                   w->m_issuer_db, "--key", w->m_issuer_key_path, "--currency", cur,
                                   "--bind", w->m_issuer_ep, "--settle", w->m_settle_ep}),
      (config.work_dir / "issuer.log").string());
  if (!w->m_issuer->wait_for_output("listening", k_start_timeout_ms)) {
    return error{status_code::unavailable, "cbdc-issuer did not start: " + w->m_issuer->log()};
  }

  for (std::size_t b = 0; b < sc.banks.size(); ++b) {
    const auto& id = sc.banks[b].id;
    const auto dir = (config.work_dir / ("bank-" + id)).string();
    std::filesystem::remove_all(dir);
    auto vault = run_checked({tool(config, "bank", "cbdc-bank"), "init", "--dir", dir});
    if (!vault) {
      return vault.err();
    }
    const std::string bank_tool = tool(config, "bank", "cbdc-bank");
    const std::string issuer_tool = tool(config, "issuer", "cbdc-issuer");
    const std::string amount = money{issuance.at(b), sc.cur}.format();
    for (const auto& step : std::vector<std::vector<std::string>>{
             {issuer_tool, "add-bank", "--db", w->m_issuer_db, "--key", w->m_issuer_key_path,
              "--bank-id", id, "--vault-key", *vault},
             {issuer_tool, "deposit", "--db", w->m_issuer_db, "--key", w->m_issuer_key_path,
              "--bank-id", id, "--amount", amount, "--request-id", "sim-reserve-" + id},
             w->with_node(
                 id, {bank_tool, "mint", "--dir", dir, "--issuer", w->m_issuer_ep, "--bank-id", id,
                      "--amount", amount, "--request-id", "sim-mint-" + id})}) {
      if (issuance.at(b) == 0 && step.at(1) != "add-bank") {
        continue;
      }
      if (auto done = run_checked(step); !done) {
        return done.err();
      }
    }
    auto bank_db = pg::fresh_database(config.pg_url, config.db_prefix + "_bank_" + id);
    if (!bank_db) {
      return bank_db.err();
    }
    w->m_bank_eps.push_back(ep(10 + static_cast<int>(b)));
    auto argv = w->with_node(id, {bank_tool, "serve", "--dir", dir, "--db", *bank_db, "--bind",
                                  w->m_bank_eps.back(), "--settle", w->m_settle_ep, "--settle-pub",
                                  w->m_pub_ep, "--registry", w->m_issuer_ep});
    for (std::size_t other = 0; other < sc.banks.size(); ++other) {
      if (other != b) {  // each bank asks the others about the payees they host
        argv.emplace_back("--peer");
        argv.push_back(sc.banks[other].id + "=" + ep(10 + static_cast<int>(other)));
      }
    }
    w->m_bank_procs.push_back(bank_process{std::move(argv), *bank_db, dir, 0});
    w->m_banks.emplace_back();
    if (auto started = w->start_bank(b); !started) {
      return started.err();
    }
  }
  return w;
}

auto world::start_bank(std::size_t b) -> status {
  auto& p = m_bank_procs.at(b);
  const auto& id = m_sc.banks.at(b).id;
  // A log per start: bank-ID.log, then bank-ID-2.log after a restart.
  ++p.starts;
  const std::string log =
      "bank-" + id + (p.starts == 1 ? std::string{} : "-" + std::to_string(p.starts)) + ".log";
  m_banks.at(b) = std::make_unique<child>(p.argv, (m_config.work_dir / log).string());
  if (!m_banks.at(b)->wait_for_output("listening", k_start_timeout_ms)) {
    return error{status_code::unavailable,
                 "cbdc-bank " + id + " did not start: " + m_banks.at(b)->log()};
  }
  return ok_status();
}

auto world::kill_and_restart_bank(std::size_t b) -> status {
  m_banks.at(b)->kill_hard();
  m_banks.at(b).reset();
  return start_bank(b);
}

auto world::bank_audit(std::size_t b) -> run_result {
  const auto& p = m_bank_procs.at(b);
  return run(with_node(m_sc.banks.at(b).id, {tool(m_config, "bank", "cbdc-bank"), "audit", "--dir",
                                             p.dir, "--db", p.db, "--settle", m_settle_ep}));
}

world::~world() {
  for (auto& b : m_banks) {
    b.reset();
  }
  m_issuer.reset();
  m_settle.reset();
}

auto world::with_node(const std::string& name, std::vector<std::string> argv) const
    -> std::vector<std::string> {
  for (auto& flag : m_roster->flags(name)) {
    argv.push_back(std::move(flag));
  }
  return argv;
}

auto world::start_settlement() -> status {
  auto argv =
      with_node(k_settle_node, {tool(m_config, "settlement", "cbdc-settle"), "serve", "--db",
                                m_settle_db, "--bind", m_settle_ep, "--pub", m_pub_ep, "--issuer",
                                std::string{currency_code(m_sc.cur)} + "=" + m_issuer_key,
                                // Batches that wait a little longer to fill: fewer commits for the
                                // same payments (the replay keeps hundreds in flight).
                                "--batch-ms", "10"});
  if (m_sc.failures.slow_commit_ms > 0) {
    argv.emplace_back("--slow-commit-ms");
    argv.push_back(std::to_string(m_sc.failures.slow_commit_ms));
  }
  // A log per start: settle.log, then settle-2.log after a restart.
  ++m_settle_starts;
  const std::string log =
      m_settle_starts == 1 ? "settle.log" : "settle-" + std::to_string(m_settle_starts) + ".log";
  m_settle = std::make_unique<child>(argv, (m_config.work_dir / log).string());
  if (!m_settle->wait_for_output("listening", k_start_timeout_ms)) {
    return error{status_code::unavailable, "cbdc-settle did not start: " + m_settle->log()};
  }
  return ok_status();
}

auto world::kill_and_restart_settlement() -> status {
  m_settle->kill_hard();
  m_settle.reset();
  return start_settlement();
}

auto world::issuer_audit() -> run_result {
  return run(
      with_node(k_issuer_node, {tool(m_config, "issuer", "cbdc-issuer"), "audit", "--db",
                                m_issuer_db, "--key", m_issuer_key_path, "--settle", m_settle_ep,
                                "--currency", std::string{currency_code(m_sc.cur)}}));
}

}  // namespace cbdc::sim
