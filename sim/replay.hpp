#pragma once

// The driver: a trace replayed through the services at a chosen speed.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "core/status.hpp"
#include "sim/offline.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"
#include "sim/world.hpp"

namespace cbdc::sim {

struct replay_config {
  world_config world;
  double speed{0};  ///< 0: as fast as possible; else simulated seconds per wall second
  /// Requests in flight over all banks, at most; 0: 32 per bank (a bank answers one request at
  /// a time, so more only wait in its queue).
  std::size_t window{0};
  bool progress_bar{false};  ///< redraw one line (a terminal); else a plain line every 5 s
  int request_timeout_ms{60'000};
};

/// What became of one event of the trace.
struct outcome {
  status_code status{status_code::timeout};  ///< final: ok, or the typed refusal
  std::int64_t latency_us{0};                ///< first send to the final answer
  std::int64_t answered_us{0};  ///< wall time of the final answer since the replay began
  std::uint32_t attempts{0};
  hash256 tx_id;
  bool done{false};
};

/// The auditor's findings: every check with what it counted; passed when none failed.
struct audit_report {
  std::vector<std::string> checks;       ///< "name: detail" of each check that passed
  std::vector<std::string> problems;     ///< one line per violation
  std::string issuer_audit;              ///< cbdc-issuer audit's report
  std::vector<std::string> bank_audits;  ///< each bank's cbdc-bank audit report, in bank order
  [[nodiscard]] auto passed() const -> bool { return problems.empty(); }
};

/// Faults the replay injected, and what the system answered to them.
struct injected_faults {
  std::int64_t settlement_killed_at_us{-1};  ///< wall time since the replay began; -1: never
  std::int64_t settlement_back_after_us{0};
  std::int64_t bank_killed_at_us{-1};  ///< the same for the killed bank
  std::int64_t bank_back_after_us{0};
  std::string killed_bank;
  std::uint64_t dropped{0};
  std::uint64_t duplicated{0};
  std::map<std::string, std::uint64_t> duplicate_answers;  ///< status -> count
  std::uint64_t retries{0};
  int slow_commit_ms{0};
};

struct replay_result {
  std::vector<outcome> outcomes;  ///< one per trace event, same order
  std::int64_t setup_us{0};       ///< starting the services, issuance, onboarding
  std::int64_t replay_us{0};      ///< from the first event sent to the last answer
  injected_faults faults;
  audit_report audit;
  offline_figures offline;  ///< an offline scenario's devices (given: false otherwise)
};

/// Sets the world up and drives every event of the trace through it: top-ups as the banks'
/// batched pay-outs, payments through the payer's bank (which checks the class limits) into
/// settlement; a wallet's next event waits for the answer to its previous one. Then audits.
/// Errors: the world failing to start; refusals are outcomes, not errors.
auto replay(const trace& t, const scenario& sc, const replay_config& config)
    -> result<replay_result>;

/// A simulated wallet's or merchant's key: a pure function of the seed, the role and the index.
auto sim_key(std::uint64_t seed, bool merchant, std::uint32_t index) -> key_pair;
/// The same for any role ("device", "merchant device").
auto sim_role_key(std::uint64_t seed, const std::string& role, std::uint32_t index) -> key_pair;

}  // namespace cbdc::sim
