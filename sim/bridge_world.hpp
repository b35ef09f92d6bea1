#pragma once

// The bridge's world: its services as real processes (settlement shards and coordinator, a
// cbdc-issuer per central bank, a cbdc-fx per dealer), each node's identity, and clients as
// the banks hold them. Internal to cbdc_sim (bridge_run.cpp).

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "fx/client.hpp"
#include "platform/pg.hpp"
#include "platform/process.hpp"
#include "rpc/auth.hpp"
#include "sim/bridge.hpp"
#include "sim/bridge_detail.hpp"

namespace cbdc::sim::bridge {

constexpr int k_start_timeout_ms = 30'000;

/// The bridge's services as real processes; stopped on destruction.
class services {
 public:
  services(const scenario& sc, const run_config& config) : m_sc(sc), m_config(config) {}
  ~services() {
    m_dealers.clear();
    while (!m_children.empty()) {
      m_children.pop_back();
    }
  }
  services(const services&) = delete;
  auto operator=(const services&) -> services& = delete;

  /// Starts everything; each bank's reserve at its central bank is credited with its
  /// issuance while the bank is registered there.
  auto start(const std::map<std::pair<std::uint32_t, currency>, std::int64_t>& issuance) -> status {
    std::filesystem::create_directories(m_config.work_dir);
    const auto ep = [&](int offset) {
      return "tcp://127.0.0.1:" + std::to_string(m_config.base_port + offset);
    };
    const auto tool = [&](const std::string& folder, const std::string& name) {
      return (m_config.bin_dir / folder / name).string();
    };
    const auto fresh = [&](const std::string& suffix) {
      return pg::fresh_database(m_config.pg_url, m_config.db_prefix + "_" + suffix);
    };
    // Every node's identity first: the nodes file is every server's allow-list. The simulator
    // plays the banks (each with its own node key) and an auditor reading settlement.
    m_roster = std::make_unique<node_roster>(m_config.work_dir / "nodes");
    {
      std::vector<std::pair<std::string, std::pair<role, std::vector<std::string>>>> nodes;
      for (std::uint32_t i = 0; i < m_sc.shards; ++i) {
        nodes.push_back({"settle-" + std::to_string(i), {role::shard, {ep(static_cast<int>(i))}}});
      }
      nodes.push_back({"coordinator", {role::coordinator, {ep(9)}}});
      for (std::size_t c = 0; c < m_sc.central_banks.size(); ++c) {
        nodes.push_back({"cb-" + code(m_sc.central_banks[c].cur),
                         {role::issuer, {ep(10 + static_cast<int>(c))}}});
      }
      for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
        const auto& bank = m_sc.banks[b];
        nodes.push_back({bank.id, bank.dealer ? std::pair{role::dealer,
                                                          std::vector{ep(30 + static_cast<int>(b))}}
                                              : std::pair{role::bank, std::vector<std::string>{}}});
      }
      nodes.push_back({k_auditor, {role::operator_, {}}});
      for (auto& [name, what] : nodes) {
        if (auto added = m_roster->add(name, what.first, std::move(what.second)); !added) {
          return added;
        }
      }
    }
    // Central banks' keys first: settlement needs them.
    std::vector<std::string> issuer_args;
    for (const auto& cb : m_sc.central_banks) {
      const auto key = key_pair::from_seed(profile::ed25519,
                                           indexed_seed(static_cast<std::uint64_t>(cb.cur), 0xc8));
      const auto path = m_config.work_dir / ("issuer-" + code(cb.cur) + ".key");
      if (auto saved = key.save(path); !saved) {
        return saved;
      }
      m_issuer_keys.push_back(path.string());
      issuer_args.emplace_back("--issuer");
      issuer_args.push_back(code(cb.cur) + "=" + key.pub().hex());
    }
    // Settlement: shards, and a coordinator when there are several.
    std::string shard_list;
    for (std::uint32_t i = 0; i < m_sc.shards; ++i) {
      shard_list += (i == 0 ? "" : ",") + ep(static_cast<int>(i));
    }
    m_settle_spec = shard_list;
    if (m_sc.shards > 1) {
      m_settle_spec += "@" + ep(9);
      auto db = fresh("coord");
      if (!db) {
        return db.err();
      }
      std::vector<std::string> argv{tool("settlement", "cbdc-settle"),
                                    "coordinate",
                                    "--db",
                                    *db,
                                    "--bind",
                                    ep(9),
                                    "--shard-endpoints",
                                    shard_list};
      argv.insert(argv.end(), issuer_args.begin(), issuer_args.end());
      with_node("coordinator", argv);
      if (auto s = spawn(argv, "coordinator"); !s) {
        return s;
      }
    }
    for (std::uint32_t i = 0; i < m_sc.shards; ++i) {
      auto db = fresh("settle_" + std::to_string(i));
      if (!db) {
        return db.err();
      }
      std::vector<std::string> argv{tool("settlement", "cbdc-settle"),
                                    "serve",
                                    "--db",
                                    *db,
                                    "--bind",
                                    ep(static_cast<int>(i))};
      if (m_sc.shards > 1) {
        argv.insert(argv.end(), {"--shard", std::to_string(i), "--shards",
                                 std::to_string(m_sc.shards), "--coordinator", ep(9)});
      }
      argv.insert(argv.end(), issuer_args.begin(), issuer_args.end());
      with_node("settle-" + std::to_string(i), argv);
      if (auto s = spawn(argv, "settle-" + std::to_string(i)); !s) {
        return s;
      }
    }
    // Bank keys: derived from the seed and index; dealers' written for cbdc-fx.
    for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
      m_bank_keys.push_back(key_pair::from_seed(profile::ed25519, indexed_seed(b, 0xba)));
    }
    // Central banks: every bank registered (domestic or foreign), caps from the scenario.
    for (std::size_t c = 0; c < m_sc.central_banks.size(); ++c) {
      const auto& cb = m_sc.central_banks[c];
      auto db = fresh("issuer_" + std::string{currency_code(cb.cur)});
      if (!db) {
        return db.err();
      }
      m_issuer_dbs.push_back(*db);
      // Each bank registered at this central bank through cbdc-issuer's own commands, one
      // add-bank for its domestic banks and one for the foreign ones; then one deposit crediting
      // the reserve of each bank it issues to.
      const auto cur = code(cb.cur);
      for (const bool home : {true, false}) {
        std::vector<std::string> add{tool("issuer", "cbdc-issuer"),
                                     "add-bank",
                                     "--db",
                                     *db,
                                     "--key",
                                     m_issuer_keys[c],
                                     "--currency",
                                     cur};
        const auto without_banks = add.size();
        for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
          if (domestic(m_sc.banks[b], cb.cur) == home) {
            add.emplace_back("--bank");
            add.push_back(m_sc.banks[b].id + "=" + m_bank_keys[b].pub().hex());
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
      std::vector<std::string> deposit{tool("issuer", "cbdc-issuer"),
                                       "deposit",
                                       "--db",
                                       *db,
                                       "--key",
                                       m_issuer_keys[c],
                                       "--currency",
                                       cur,
                                       "--request-id",
                                       "bridge-reserve"};
      const auto without_credits = deposit.size();
      for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
        if (const auto it = issuance.find({b, cb.cur}); it != issuance.end()) {
          deposit.emplace_back("--credit");
          deposit.push_back(m_sc.banks[b].id + "=" + money{it->second, cb.cur}.format());
        }
      }
      if (deposit.size() > without_credits) {
        if (auto credited = run_checked(deposit); !credited) {
          return credited.err();
        }
      }
      m_issuer_eps.push_back(ep(10 + static_cast<int>(c)));
      std::vector<std::string> argv{tool("issuer", "cbdc-issuer"),
                                    "serve",
                                    "--db",
                                    *db,
                                    "--key",
                                    m_issuer_keys[c],
                                    "--currency",
                                    code(cb.cur),
                                    "--bind",
                                    m_issuer_eps.back(),
                                    "--settle",
                                    m_settle_spec};
      for (const auto& other : m_sc.central_banks) {
        if (other.cur != cb.cur && cb.corridor_cap_minor > 0) {
          argv.insert(argv.end(),
                      {"--corridor-cap", code(other.cur) + "=" +
                                             money{cb.corridor_cap_minor, cb.cur}.format_amount()});
        }
      }
      for (const auto& b : m_sc.banks) {
        if (cb.bank_cap_minor > 0) {
          argv.insert(argv.end(), {"--bank-cap",
                                   b.id + "=" + money{cb.bank_cap_minor, cb.cur}.format_amount()});
        }
      }
      with_node("cb-" + code(cb.cur), argv);
      if (auto s = spawn(argv, "issuer-" + code(cb.cur)); !s) {
        return s;
      }
    }
    // Dealers.
    for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
      const auto& bank = m_sc.banks[b];
      if (!bank.dealer) {
        continue;
      }
      const auto dir = m_config.work_dir / ("dealer-" + bank.id);
      std::filesystem::create_directories(dir);
      if (auto saved = m_bank_keys[b].save(dir / "vault.key"); !saved) {
        return saved;
      }
      auto db = fresh("fx_" + bank.id);
      if (!db) {
        return db.err();
      }
      const auto endpoint = ep(30 + static_cast<int>(b));
      std::vector<std::string> argv{tool("fx", "cbdc-fx"),
                                    "serve",
                                    "--dir",
                                    dir.string(),
                                    "--dealer-id",
                                    bank.id,
                                    "--db",
                                    *db,
                                    "--bind",
                                    endpoint,
                                    "--settle",
                                    m_settle_spec,
                                    "--spread-bp",
                                    std::to_string(bank.spread_bp)};
      for (const auto& r : m_sc.mid_texts) {  // the pairs of its licensed currencies
        const auto pay = parse_currency(r.substr(0, 3));
        const auto receive = parse_currency(r.substr(4, 3));
        const auto licensed = [&](const result<currency>& c) {
          return c &&
                 std::find(bank.licensed.begin(), bank.licensed.end(), *c) != bank.licensed.end();
        };
        if (licensed(pay) && licensed(receive)) {
          argv.insert(argv.end(), {"--rate", r});
        }
      }
      for (std::size_t c = 0; c < m_sc.central_banks.size(); ++c) {
        argv.insert(argv.end(),
                    {"--central-bank", code(m_sc.central_banks[c].cur) + "=" + m_issuer_eps[c]});
      }
      with_node(bank.id, argv);
      if (auto s = spawn(argv, "fx-" + bank.id); !s) {
        return s;
      }
      m_dealer_eps.push_back(endpoint);
    }
    return ok_status();
  }

  /// The simulator acting as node `name` (a bank, or the auditor).
  auto as_node(const std::string& name) -> result<socket_options> {
    auto security = m_roster->security(name);
    if (!security) {
      return security.err();
    }
    socket_options opts;
    opts.security = *security;
    return opts;
  }

  [[nodiscard]] auto settle_spec() const -> const std::string& { return m_settle_spec; }
  [[nodiscard]] auto bank_key(std::uint32_t b) const -> const key_pair& { return m_bank_keys[b]; }
  [[nodiscard]] auto issuer_endpoint(std::size_t c) const -> const std::string& {
    return m_issuer_eps[c];
  }
  /// Every dealer, as bank b asks them (its own identity: a quote is for the bank that asks).
  auto dealers(std::uint32_t b) -> result<std::vector<fx::interface*>> {
    auto& clients = m_dealers[b];
    if (clients.empty()) {
      auto opts = as_node(m_sc.banks.at(b).id);
      if (!opts) {
        return opts.err();
      }
      for (const auto& ep : m_dealer_eps) {
        clients.push_back(std::make_unique<fx::client>(ep, *opts));
      }
    }
    std::vector<fx::interface*> out;
    for (auto& d : clients) {
      out.push_back(d.get());
    }
    return out;
  }
  /// `cbdc-issuer audit` of central bank c against settlement.
  auto issuer_audit(std::size_t c) -> run_result {
    std::vector<std::string> argv{(m_config.bin_dir / "issuer" / "cbdc-issuer").string(),
                                  "audit",
                                  "--db",
                                  m_issuer_dbs[c],
                                  "--key",
                                  m_issuer_keys[c],
                                  "--settle",
                                  m_settle_spec,
                                  "--currency",
                                  code(m_sc.central_banks[c].cur)};
    with_node("cb-" + code(m_sc.central_banks[c].cur), argv);
    return cbdc::run(argv);
  }
  static constexpr const char* k_auditor = "bridge/auditor";

 private:
  void with_node(const std::string& name, std::vector<std::string>& argv) const {
    for (auto& flag : m_roster->flags(name)) {
      argv.push_back(std::move(flag));
    }
  }
  auto spawn(const std::vector<std::string>& argv, const std::string& name) -> status {
    m_children.push_back(
        std::make_unique<child>(argv, (m_config.work_dir / (name + ".log")).string()));
    if (!m_children.back()->wait_for_output("listening", k_start_timeout_ms)) {
      return error{status_code::unavailable, name + " did not start: " + m_children.back()->log()};
    }
    return ok_status();
  }

  const scenario& m_sc;
  run_config m_config;
  std::string m_settle_spec;
  std::vector<std::string> m_issuer_keys;
  std::vector<std::string> m_issuer_dbs;
  std::vector<std::string> m_issuer_eps;
  std::vector<key_pair> m_bank_keys;
  std::vector<std::string> m_dealer_eps;
  std::map<std::uint32_t, std::vector<std::unique_ptr<fx::client>>> m_dealers;  ///< by payer
  std::unique_ptr<node_roster> m_roster;
  std::vector<std::unique_ptr<child>> m_children;  ///< stopped in reverse order of start
};

}  // namespace cbdc::sim::bridge
