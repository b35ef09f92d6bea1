// The percentile helper of reports and benchmarks.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "platform/stats.hpp"

using cbdc::nearest_rank;

TEST_CASE("nearest_rank: the smallest figure with at least q of them at or below it",
          "[platform]") {
  const std::vector<std::int64_t> ten{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(nearest_rank(ten, 0.5) == 5);
  CHECK(nearest_rank(ten, 0.51) == 6);
  CHECK(nearest_rank(ten, 0.99) == 10);
  CHECK(nearest_rank(ten, 1.0) == 10);
  CHECK(nearest_rank(ten, 0.0) == 1);  // below the first rank: the smallest
  // p99 of 1,000 figures is the 990th, not the 989th that (n - 1) * 0.99 picks.
  std::vector<std::int64_t> thousand;
  for (std::int64_t i = 1; i <= 1000; ++i) {
    thousand.push_back(i);
  }
  CHECK(nearest_rank(thousand, 0.99) == 990);
  CHECK(nearest_rank(thousand, 0.999) == 999);
  CHECK(nearest_rank(std::vector<std::int64_t>{}, 0.5) == 0);
  CHECK(nearest_rank(std::vector<double>{2.5}, 0.99) == 2.5);
}
