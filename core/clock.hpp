#pragma once

// Wall-clock time and the calendar day that daily caps count in.

#include <chrono>
#include <cstdint>

namespace cbdc {

/// Wall-clock time in microseconds since the Unix epoch (receipts' settled_at_us).
inline auto unix_now_us() -> std::int64_t {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The calendar day (days since 1970-01-01) of a Unix time in microseconds at a UTC offset:
/// the day that daily caps and day totals count in. Times before 1970 fall on their day too.
inline auto local_day(std::int64_t unix_us, int utc_offset_minutes) -> std::int64_t {
  using namespace std::chrono;
  const sys_time<microseconds> local{microseconds{unix_us} + minutes{utc_offset_minutes}};
  return floor<days>(local).time_since_epoch().count();
}

}  // namespace cbdc
