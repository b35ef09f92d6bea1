#pragma once

// The generator: a scenario's population and trace as pure functions of its seed.

#include <cstdint>
#include <vector>

#include "sim/scenario.hpp"
#include "sim/trace.hpp"

namespace cbdc::sim {

/// Who lives where and banks with whom: each a pure function of the seed and an index, so that
/// twenty million wallets cost nothing until they act.
class population {
 public:
  explicit population(const scenario& sc);

  [[nodiscard]] auto wallet_class(std::uint32_t wallet) const -> std::uint8_t;
  [[nodiscard]] auto wallet_region(std::uint32_t wallet) const -> std::uint16_t;
  [[nodiscard]] auto wallet_bank(std::uint32_t wallet) const -> std::uint16_t;
  [[nodiscard]] auto merchant_bank(std::uint32_t merchant) const -> std::uint16_t;
  [[nodiscard]] auto merchant_category(std::uint32_t merchant) const -> std::uint8_t;
  [[nodiscard]] auto merchant_region(std::uint32_t merchant) const -> std::uint16_t;
  /// Whether the wallet's device is compromised (an offline scenario's compromised_share).
  [[nodiscard]] auto compromised(std::uint32_t wallet) const -> bool;
  /// The first merchant index of each category; the last entry is the merchant count.
  [[nodiscard]] auto category_offsets() const -> const std::vector<std::uint32_t>& {
    return m_offsets;
  }

 private:
  std::uint64_t m_seed;
  double m_compromised_share{0};
  std::vector<double> m_class_cdf;
  std::vector<double> m_region_cdf;
  std::vector<double> m_bank_cdf;
  std::vector<std::uint32_t> m_offsets;
};

/// Cumulative sums of weights (for rng::pick).
auto cumulative(const std::vector<double>& weights) -> std::vector<double>;

/// Whether region r has signal at simulated time t_s (no outage of the scenario covers it).
auto has_signal(const scenario& sc, std::uint16_t region, std::int64_t t_s) -> bool;

/// Generates the scenario's trace: events in time order, a pure function of the scenario. With
/// an [offline] table: each active wallet loads its device after its top-up; a share of its
/// payments goes from its device to the merchant's (at most what the device holds); a device
/// syncs at the next sync time with signal after it paid offline, a merchant's at every sync
/// time with signal from its first offline payment on; every device syncs at the end.
/// Errors: bad_request (a scenario the generator cannot honour, e.g. too many wallets).
auto generate(const scenario& sc) -> result<trace>;

}  // namespace cbdc::sim
