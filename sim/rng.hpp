#pragma once

// Seeded, stateless randomness for the simulator: every draw a function of (seed, stream, index).

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>

#include "core/assert.hpp"

namespace cbdc::sim {

__extension__ using uint128 = unsigned __int128;

/// SplitMix64 step: mixes a counter into a well-spread 64-bit value (seeding, hashing indexes).
constexpr auto splitmix64(std::uint64_t& state) -> std::uint64_t {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

/// A stateless hash of (seed, stream, index): the same inputs give the same value everywhere.
constexpr auto mix(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) -> std::uint64_t {
  std::uint64_t s = seed ^ (stream * 0xd1342543de82ef95ULL);
  s = splitmix64(s) ^ index;
  return splitmix64(s);
}

/// xoshiro256** with our own mapping to ranges and distributions, so that a seed gives the same
/// numbers with any standard library (std::*_distribution differ between implementations).
class rng {
 public:
  rng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t s = mix(seed, stream, 0x5eed);
    for (auto& word : m_s) {
      word = splitmix64(s);
    }
  }

  auto next() -> std::uint64_t {
    const std::uint64_t result = rotl(m_s[1] * 5, 7) * 9;
    const std::uint64_t t = m_s[1] << 17U;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45);
    return result;
  }

  /// Uniform in [0, n), n > 0, without modulo bias (Lemire's multiply-and-reject).
  auto below(std::uint64_t n) -> std::uint64_t {
    CBDC_ASSERT(n > 0);
    for (;;) {
      const auto m = static_cast<uint128>(next()) * n;
      const auto low = static_cast<std::uint64_t>(m);
      if (low >= n || low >= (-n % n)) {
        return static_cast<std::uint64_t>(m >> 64U);
      }
    }
  }

  /// Uniform in [0, 1) with 53 random bits.
  auto unit() -> double { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }

  /// Standard normal (Box-Muller; the second value is dropped to keep the stream simple).
  auto normal() -> double {
    const double u1 = 1.0 - unit();  // (0, 1]
    const double u2 = unit();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  /// Poisson with a small mean (Knuth's product of uniforms).
  auto poisson(double mean) -> std::uint32_t {
    const double limit = std::exp(-mean);
    std::uint32_t k = 0;
    double p = unit();
    while (p > limit) {
      ++k;
      p *= unit();
    }
    return k;
  }

  /// An index drawn by a cumulative weight table (ascending, last entry the total).
  auto pick(std::span<const double> cumulative) -> std::size_t {
    CBDC_ASSERT(!cumulative.empty() && cumulative.back() > 0);
    const double x = unit() * cumulative.back();
    std::size_t lo = 0;
    std::size_t hi = cumulative.size() - 1;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (x < cumulative[mid]) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

 private:
  static constexpr auto rotl(std::uint64_t x, int k) -> std::uint64_t {
    return (x << static_cast<unsigned>(k)) | (x >> static_cast<unsigned>(64 - k));
  }
  std::array<std::uint64_t, 4> m_s{};
};

}  // namespace cbdc::sim
