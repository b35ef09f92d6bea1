// Money in integer minor units: currencies, parsing and formatting amounts, checked sums.
#include "core/money.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace cbdc {
namespace {

struct currency_entry {
  currency cur;
  std::string_view code;
};

constexpr std::array k_currencies{
    currency_entry{currency::cny, "CNY"}, currency_entry{currency::hkd, "HKD"},
    currency_entry{currency::thb, "THB"}, currency_entry{currency::aed, "AED"},
    currency_entry{currency::sar, "SAR"}, currency_entry{currency::usd, "USD"},
};

static_assert(k_currencies.size() == k_all_currencies.size(), "a currency without its code");

}  // namespace

auto currency_code(currency cur) -> std::string_view {
  for (const auto& entry : k_currencies) {
    if (entry.cur == cur) {
      return entry.code;
    }
  }
  CBDC_ASSERT(false && "currency value outside the enum");
  return {};
}

auto parse_currency(std::string_view code) -> result<currency> {
  for (const auto& entry : k_currencies) {
    if (entry.code == code) {
      return entry.cur;
    }
  }
  return error{status_code::unknown_currency, "unknown currency '" + std::string{code} + "'"};
}

auto currency_from_wire(std::uint32_t value) -> result<currency> {
  for (const auto& entry : k_currencies) {
    if (static_cast<std::uint32_t>(entry.cur) == value) {
      return entry.cur;
    }
  }
  return error{status_code::unknown_currency, "unknown currency number " + std::to_string(value)};
}

auto checked_add(std::int64_t a, std::int64_t b) -> result<std::int64_t> {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return error{status_code::overflow, "amount overflows 64 bits"};
  }
  return sum;
}

auto saturating_add(std::int64_t a, std::int64_t b) -> std::int64_t {
  auto sum = checked_add(a, b);
  if (sum) {
    return *sum;
  }
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

auto money::add(money other) const -> result<money> {
  if (other.m_cur != m_cur) {
    return error{status_code::currency_mismatch, std::string{currency_code(m_cur)} + " + " +
                                                     std::string{currency_code(other.m_cur)}};
  }
  auto sum = checked_add(m_minor, other.m_minor);
  if (!sum) {
    return sum.err();
  }
  return money{*sum, m_cur};
}

auto money::sub(money other) const -> result<money> {
  if (other.m_cur != m_cur) {
    return error{status_code::currency_mismatch, std::string{currency_code(m_cur)} + " - " +
                                                     std::string{currency_code(other.m_cur)}};
  }
  std::int64_t diff = 0;
  if (__builtin_sub_overflow(m_minor, other.m_minor, &diff)) {
    return error{status_code::overflow, "amount overflows 64 bits"};
  }
  return money{diff, m_cur};
}

auto money::compare(money other) const -> result<std::strong_ordering> {
  if (other.m_cur != m_cur) {
    return error{status_code::currency_mismatch, "cannot compare " +
                                                     std::string{currency_code(m_cur)} + " with " +
                                                     std::string{currency_code(other.m_cur)}};
  }
  return m_minor <=> other.m_minor;
}

auto money::format_amount() const -> std::string {
  const int scale = currency_scale(m_cur);
  // Work in unsigned magnitude so that INT64_MIN formats too.
  const bool negative = m_minor < 0;
  const std::uint64_t magnitude =
      negative ? (~static_cast<std::uint64_t>(m_minor) + 1U) : static_cast<std::uint64_t>(m_minor);
  std::uint64_t divisor = 1;
  for (int i = 0; i < scale; ++i) {
    divisor *= 10U;
  }
  std::string frac = std::to_string(magnitude % divisor);
  frac.insert(0, static_cast<std::size_t>(scale) - frac.size(), '0');
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / divisor);
  if (scale > 0) {
    out += '.';
    out += frac;
  }
  return out;
}

auto money::format() const -> std::string {
  return format_amount() + " " + std::string{currency_code(m_cur)};
}

auto parse_amount(std::string_view text, currency cur) -> result<money> {
  const auto bad = [&](const char* why) {
    return error{status_code::parse_error,
                 "bad amount '" + std::string{text} + "': " + std::string{why}};
  };
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && rest.front() == '-') {
    negative = true;
    rest.remove_prefix(1);
  }
  if (rest.empty()) {
    return bad("no digits");
  }
  const int scale = currency_scale(cur);
  // Accumulate as a negative number so that the most negative amount parses exactly.
  std::int64_t acc = 0;
  int decimals = -1;  // -1 until the point is seen
  bool any_digit = false;
  for (const char c : rest) {
    if (c == '.') {
      if (decimals >= 0) {
        return bad("two decimal points");
      }
      decimals = 0;
      continue;
    }
    if (c < '0' || c > '9') {
      return bad("not a decimal number");
    }
    if (decimals >= 0 && ++decimals > scale) {
      return bad("too many decimal places");
    }
    any_digit = true;
    if (__builtin_mul_overflow(acc, std::int64_t{10}, &acc) ||
        __builtin_sub_overflow(acc, std::int64_t{c - '0'}, &acc)) {
      return error{status_code::overflow, "amount '" + std::string{text} + "' is too large"};
    }
  }
  if (!any_digit || decimals == 0) {
    return bad("digits must follow the point");
  }
  for (int i = std::max(decimals, 0); i < scale; ++i) {
    if (__builtin_mul_overflow(acc, std::int64_t{10}, &acc)) {
      return error{status_code::overflow, "amount '" + std::string{text} + "' is too large"};
    }
  }
  if (!negative) {
    if (acc == std::numeric_limits<std::int64_t>::min()) {
      return error{status_code::overflow, "amount '" + std::string{text} + "' is too large"};
    }
    acc = -acc;
  }
  return money{acc, cur};
}

auto parse_money(std::string_view text) -> result<money> {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) {
    return error{status_code::parse_error,
                 "bad money '" + std::string{text} + "': expected '<amount> <CURRENCY>'"};
  }
  auto cur = parse_currency(text.substr(space + 1));
  if (!cur) {
    return cur.err();
  }
  return parse_amount(text.substr(0, space), *cur);
}

}  // namespace cbdc
