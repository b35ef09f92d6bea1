#pragma once

// Figures of a run for people: the one percentile helper of every report and benchmark.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace cbdc {

/// The q-quantile (0 < q <= 1) of figures sorted ascending, by nearest rank: the smallest
/// figure with at least q of them at or below it. T{} when there are none.
template <typename T>
auto nearest_rank(const std::vector<T>& sorted, double q) -> T {
  if (sorted.empty()) {
    return T{};
  }
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const auto at =
      static_cast<std::size_t>(std::clamp(rank - 1.0, 0.0, static_cast<double>(sorted.size() - 1)));
  return sorted[at];
}

}  // namespace cbdc
