// Key seeds for tests: a seed of 32 equal bytes, so a test names its keys by one byte.
#pragma once

#include <array>
#include <cstdint>

namespace cbdc::test {

inline auto seed_of(std::uint8_t b) -> std::array<std::uint8_t, 32> {
  std::array<std::uint8_t, 32> s{};
  s.fill(b);
  return s;
}

}  // namespace cbdc::test
