#pragma once

// The report: JSON summary, CSV series and the HTML page with its charts.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/money.hpp"
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

/// For people: digits grouped by thousands ("1,234,567"; "-12,345.67 CNY").
auto grouped(std::int64_t n) -> std::string;
auto grouped(const money& m) -> std::string;
/// The integer part of a decimal number in text, grouped by thousands.
auto group_digits(std::string number) -> std::string;

/// Gnuplot's y axis from zero to past `max` in about five steps of 1, 2 or 5 times a power of
/// ten, each label grouped by thousands: for every bar chart of every report.
auto zero_based_y(double max) -> std::string;

/// The q-quantile (nearest rank) of microsecond figures sorted ascending, in milliseconds; 0
/// when there are none.
auto percentile_ms(const std::vector<std::int64_t>& sorted_us, double q) -> double;

/// v with exactly `decimals` decimals, for reports (figures that are not money).
auto fixed_text(double v, int decimals) -> std::string;

auto figures_of(const scenario& sc, const trace& t, const replay_result& r) -> run_figures;

/// Writes summary.json, timeseries.csv, hourly.csv and report.html (charts by gnuplot, inlined
/// as SVG) into out_dir. Errors: io_error; unavailable when gnuplot fails.
auto write_report(const scenario& sc, const trace& t, const replay_result& r,
                  const std::filesystem::path& out_dir) -> result<run_figures>;

}  // namespace cbdc::sim
