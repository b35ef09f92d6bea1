#pragma once

#include <chrono>
#include <cstdint>

namespace cbdc {

/// Wall-clock time in microseconds since the Unix epoch (receipts' settled_at_us).
inline auto unix_now_us() -> std::int64_t {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace cbdc
