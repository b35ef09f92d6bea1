#pragma once

// The world: the services of a simulation started as real processes, for every kind of
// scenario. Settlement's shards (and their coordinator when there are several), a cbdc-issuer
// per central bank, a cbdc-bank per bank that hosts wallets, a cbdc-fx per dealer; each on its
// own fresh database, each node with its own key in one nodes file.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "core/money.hpp"
#include "offline/cert.hpp"
#include "platform/process.hpp"
#include "rpc/auth.hpp"
#include "rpc/transport.hpp"

namespace cbdc::sim {

struct world_config {
  std::filesystem::path bin_dir;   ///< the build folder holding settlement/, issuer/, bank/, fx/
  std::filesystem::path work_dir;  ///< keys and logs of the services
  std::string pg_url;              ///< a database on the cluster; each service gets its own
  std::string db_prefix{"cbdc_sim"};
  int base_port{17300};  ///< the services take consecutive loopback ports from here
};

/// What a world runs. A scenario's plan says it (sim/replay.cpp, sim/bridge_run.cpp).
struct world_spec {
  std::uint32_t shards{1};
  int batch_ms{0};  ///< settlement's batch window; 0: its default
  int slow_commit_ms{0};

  struct central_bank {
    currency cur{currency::cny};
    std::int64_t corridor_cap_minor{0};  ///< daily, per destination currency; 0: none
    std::int64_t bank_cap_minor{0};      ///< daily, per paying bank; 0: none
  };
  std::vector<central_bank> central_banks;

  struct bank {
    std::string id;
    currency home{currency::cny};
    /// A cbdc-bank process hosting wallets (the simulator then acts as its operator,
    /// "<id>/sim"); else the simulator plays the bank itself, with the bank's node key.
    bool hosted{false};
    /// A cbdc-fx process quoting and executing PvP from the bank's vault.
    bool dealer{false};
    std::int64_t spread_bp{0};
    std::vector<currency> licensed;  ///< a dealer's currencies: domestic at their central banks
    /// A hosted bank that certifies devices for dual-offline payments (its home central bank
    /// certifies its key: cbdc-issuer certify-bank, cbdc-bank --offline-cert).
    bool offline{false};
    cbdc::offline::limit_policy offline_limits;  ///< cbdc-bank --offline-balance-cap and the others
    /// Credited to the bank's reserve at each currency's central bank, then minted into its
    /// vault, before the world is handed over.
    std::map<currency, std::int64_t> issuance;
  };
  std::vector<bank> banks;
  std::vector<std::string> rates;  ///< dealers' mid rates, "CNY/HKD=1.0870" (cbdc-fx --rate)
};

/// Whether bank b is domestic at the central bank of cur: its home currency, or a dealer's
/// licensed one. A foreign bank is registered --foreign there.
auto domestic(const world_spec::bank& b, currency cur) -> bool;

/// The services of a simulation, each a real process. Stopped on destruction. The central
/// banks' and banks' vault keys are test keys derived from their currency and index (the same
/// every run); every node's transport key is fresh.
class world {
 public:
  /// Starts everything, registers every bank at every central bank (domestic or foreign),
  /// credits each bank's reserve with its issuance and mints it into the bank's vault.
  /// Errors: bad_request (a spec cbdc-bank cannot run), unavailable (a service did not start),
  /// db_error, and the issuer's refusals.
  static auto start(const world_spec& spec, const world_config& config)
      -> result<std::unique_ptr<world>>;
  ~world();
  world(const world&) = delete;
  auto operator=(const world&) -> world& = delete;

  /// Settlement as its clients name it: the shards' endpoints, and "@coordinator" when several.
  [[nodiscard]] auto settle_spec() const -> const std::string& { return m_settle_spec; }
  /// The database of shard i (the auditor reads it through settlement's ledger reader).
  [[nodiscard]] auto settle_db(std::uint32_t shard = 0) const -> const std::string& {
    return m_shards.at(shard).db;
  }
  [[nodiscard]] auto issuer_endpoint(std::size_t central_bank) const -> const std::string& {
    return m_issuers.at(central_bank).endpoint;
  }
  /// Bank b's cbdc-bank endpoint (empty when the simulator plays bank b).
  [[nodiscard]] auto bank_endpoint(std::size_t b) const -> const std::string& {
    return m_banks.at(b).endpoint;
  }
  [[nodiscard]] auto dealer_endpoints() const -> std::vector<std::string>;
  /// Bank b's vault key (held by the simulator for a bank it plays).
  [[nodiscard]] auto bank_key(std::size_t b) const -> const key_pair& { return m_banks.at(b).key; }
  /// The simulator acting as a node: a bank it plays, "<bank>/sim" (a hosted bank's operator)
  /// or "auditor" (an operator reading settlement).
  auto as_node(const std::string& name) const -> result<socket_options>;
  /// The simulator as hosted bank b's operator ("<id>/sim"): it onboards and funds wallets.
  auto as_operator_of(std::size_t b) const -> result<socket_options>;
  static constexpr const char* k_auditor = "auditor";

  /// Fault injection: SIGKILL shard i's cbdc-settle, then start it again on the same database.
  auto kill_and_restart_settlement(std::uint32_t shard = 0) -> status;
  /// Fault injection: SIGKILL bank b's cbdc-bank, then start it again on its database.
  auto kill_and_restart_bank(std::size_t b) -> status;
  /// `cbdc-issuer audit` of central bank c against settlement: its exit code and report.
  auto issuer_audit(std::size_t c) -> run_result;
  /// `cbdc-bank audit` of hosted bank b against settlement, as that bank.
  auto bank_audit(std::size_t b) -> run_result;

 private:
  /// A service's process: how to start it again, and where it logs.
  struct process {
    std::string log;  ///< LOG.log, then LOG-2.log after a restart, ...
    std::vector<std::string> argv;
    std::string db;
    std::string endpoint;
    std::unique_ptr<child> running;
    int starts{0};
  };
  struct bank_state : process {
    explicit bank_state(key_pair k) : key(std::move(k)) {}
    key_pair key;
    std::string dir;
  };

  world() = default;
  auto start_settlement(const std::vector<std::string>& issuer_args) -> status;
  auto start_issuers() -> status;
  /// Starts a cbdc-bank for each hosted bank and a cbdc-fx for each dealer.
  auto start_banks() -> status;
  [[nodiscard]] auto bank_argv(std::size_t b) const -> result<std::vector<std::string>>;
  [[nodiscard]] auto dealer_argv(std::size_t b) const -> result<std::vector<std::string>>;
  auto mint() -> status;
  /// (Re)starts p and waits for it to say it is listening.
  auto launch(process& p) -> status;
  [[nodiscard]] auto tool(const std::string& folder, const std::string& name) const -> std::string;
  auto next_endpoint() -> std::string;
  auto fresh_db(const std::string& suffix) const -> result<std::string>;
  /// argv with the node's --node-key and --nodes.
  [[nodiscard]] auto with_node(const std::string& name, std::vector<std::string> argv) const
      -> std::vector<std::string>;

  world_spec m_spec;
  world_config m_config;
  int m_next_port{0};
  std::string m_settle_spec;
  std::string m_pub_ep;  ///< shard 0's notifications (one shard, with hosted banks)
  process m_coordinator;
  std::vector<process> m_shards;
  std::vector<process> m_issuers;  ///< one per central bank, in spec order
  std::vector<std::string> m_issuer_key_paths;
  std::vector<std::string> m_issuer_pub_hex;
  std::vector<bank_state> m_banks;  ///< one per bank, in spec order
  std::vector<process> m_dealers;
  std::unique_ptr<node_roster> m_roster;  ///< every node's key and the nodes file
};

}  // namespace cbdc::sim
