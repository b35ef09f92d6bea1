#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/replay.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"

namespace cbdc::sim {

/// The figures of a run as the report gives them.
struct run_figures {
  std::uint64_t wallets_active{0};     ///< wallets whose top-up settled
  std::uint64_t payments{0};           ///< payments settled
  std::uint64_t failed{0};             ///< events refused in the end
  std::int64_t volume_minor{0};        ///< paid by settled payments
  double payments_per_s{0};            ///< settled payments per second of replay
  std::array<double, 4> latency_ms{};  ///< p50, p95, p99, p99.9 of settled payments
  /// Against the scenario's published figures: one line each, and whether all are in tolerance.
  std::vector<std::string> published_lines;
  bool published_ok{true};
};

/// v with exactly `decimals` decimals, for reports (figures that are not money).
auto fixed_text(double v, int decimals) -> std::string;

auto figures_of(const scenario& sc, const trace& t, const replay_result& r) -> run_figures;

/// Writes summary.json, timeseries.csv, hourly.csv and report.html (charts by gnuplot, inlined
/// as SVG) into out_dir. Errors: io_error; unavailable when gnuplot fails.
auto write_report(const scenario& sc, const trace& t, const replay_result& r,
                  const std::filesystem::path& out_dir) -> result<run_figures>;

}  // namespace cbdc::sim
