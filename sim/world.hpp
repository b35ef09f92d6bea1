#pragma once

// The world: the services of a simulation started as real processes.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "platform/process.hpp"
#include "rpc/auth.hpp"
#include "rpc/transport.hpp"
#include "sim/scenario.hpp"

namespace cbdc::sim {

struct world_config {
  std::filesystem::path bin_dir;   ///< the build folder holding settlement/, issuer/, bank/
  std::filesystem::path work_dir;  ///< keys and logs of the services
  std::string pg_url;              ///< a database on the cluster; each service gets its own
  std::string db_prefix{"cbdc_sim"};
  int base_port{17300};
};

/// The services of a simulation, each a real process: cbdc-settle, the currency's cbdc-issuer
/// and one cbdc-bank per scenario bank, each on its own fresh database. Stopped on destruction.
class world {
 public:
  /// Starts the services, registers the banks with the issuer, credits each bank's reserve with
  /// `issuance[b]` and mints it into the bank's vault. Errors: unavailable (a service did not
  /// start), db_error, and the issuer's refusals.
  static auto start(const scenario& sc, const world_config& config,
                    const std::vector<std::int64_t>& issuance) -> result<std::unique_ptr<world>>;
  ~world();
  world(const world&) = delete;
  auto operator=(const world&) -> world& = delete;

  [[nodiscard]] auto settle_endpoint() const -> const std::string& { return m_settle_ep; }
  [[nodiscard]] auto bank_endpoints() const -> const std::vector<std::string>& {
    return m_bank_eps;
  }
  [[nodiscard]] auto settle_db() const -> const std::string& { return m_settle_db; }
  /// The simulator's identity towards bank b: that bank's operator ("<bank>/sim").
  [[nodiscard]] auto bank_client_options(std::size_t b) const -> const socket_options& {
    return m_bank_client_opts.at(b);
  }

  /// Fault injection: SIGKILL cbdc-settle, then start it again on the same database.
  auto kill_and_restart_settlement() -> status;
  /// Fault injection: SIGKILL bank b's cbdc-bank, then start it again on its database.
  auto kill_and_restart_bank(std::size_t b) -> status;
  /// `cbdc-issuer audit` against the running settlement: its exit code and report.
  auto issuer_audit() -> run_result;
  /// `cbdc-bank audit` of bank b against settlement, as that bank: its exit code and report.
  auto bank_audit(std::size_t b) -> run_result;

 private:
  world() = default;
  auto start_settlement() -> status;
  auto start_bank(std::size_t b) -> status;
  /// argv with the node's --node-key and --nodes.
  [[nodiscard]] auto with_node(const std::string& name, std::vector<std::string> argv) const
      -> std::vector<std::string>;
  static constexpr const char* k_settle_node = "settle";
  static constexpr const char* k_issuer_node = "central-bank";

  scenario m_sc;
  world_config m_config;
  std::string m_settle_ep;
  std::string m_pub_ep;
  std::string m_issuer_ep;
  std::string m_settle_db;
  std::string m_issuer_db;
  std::string m_issuer_key_path;
  std::string m_issuer_key;
  std::vector<std::string> m_bank_eps;
  std::unique_ptr<child> m_settle;
  int m_settle_starts{0};
  std::unique_ptr<child> m_issuer;
  std::vector<std::unique_ptr<child>> m_banks;
  struct bank_process {
    std::vector<std::string> argv;  ///< cbdc-bank serve ...
    std::string db;
    std::string dir;
    int starts{0};
  };
  std::vector<bank_process> m_bank_procs;
  std::unique_ptr<node_roster> m_roster;  ///< every node's key and the nodes file
  std::vector<socket_options> m_bank_client_opts;
};

}  // namespace cbdc::sim
