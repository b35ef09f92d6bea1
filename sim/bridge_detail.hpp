#pragma once

// What the bridge's run (bridge_run.cpp) hands its report (bridge_report.cpp): each
// transaction's outcome and the audit's findings; and the small helpers both use. Internal to
// cbdc_sim.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "core/money.hpp"
#include "core/status.hpp"
#include "sim/bridge.hpp"
#include "sim/report.hpp"

namespace cbdc::sim::bridge {

inline auto code(currency cur) -> std::string {
  return std::string{currency_code(cur)};
}

struct outcome {
  status_code status{status_code::ok};
  std::string detail;
  std::string dealer_id;
  std::int64_t pay_minor{0};
  std::int64_t receive_minor{0};
  std::int64_t mid_pay_minor{0};
  std::int64_t latency_us{0};  ///< request for quote to settlement's receipt
  bool cross_shard{false};
  hash256 tx_id;
};

inline auto usd_text(std::int64_t cents) -> std::string {
  return grouped(money{cents, currency::usd});
}

/// A run as the report sees it: one outcome per planned transaction, in plan order, and the
/// audit's checks and problems.
struct run_record {
  std::vector<outcome> outcomes;
  std::vector<std::string> checks;
  std::vector<std::string> problems;
  std::int64_t issued_usd{0};  ///< US cents issued onto the bridge at the start
  std::int64_t setup_us{0};
  std::int64_t replay_us{0};
};

/// Writes summary.json, transactions.csv, corridors.csv and report.html (charts by gnuplot)
/// into out_dir and prints the figures. Returns the exit code: 0 when the audit passed, the
/// published figures were reproduced and the charts drawn.
auto report(const scenario& sc, const plan& p, const run_record& r,
            const std::filesystem::path& out_dir) -> int;

}  // namespace cbdc::sim::bridge
