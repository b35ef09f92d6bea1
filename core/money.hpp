#pragma once

// Money in integer minor units of a currency, never floating point: currencies, parsing and
// formatting amounts, overflow-checked sums.

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace cbdc {

/// The currencies on the bridge. All have two decimal places (minor units: fen, cents, satang,
/// fils, halalas). The numeric values are the wire values.
enum class currency : std::uint8_t { cny = 1, hkd = 2, thb = 3, aed = 4, sar = 5, usd = 6 };
/// Every currency, in the order of their values.
inline constexpr std::array k_all_currencies{currency::cny, currency::hkd, currency::thb,
                                             currency::aed, currency::sar, currency::usd};

/// The ISO 4217 code, e.g. "CNY".
auto currency_code(currency cur) -> std::string_view;
/// Parses an ISO 4217 code (upper case) of a currency we know.
auto parse_currency(std::string_view code) -> result<currency>;
/// Checks a wire value.
auto currency_from_wire(std::uint32_t value) -> result<currency>;
/// Decimal places of a currency.
constexpr auto currency_scale(currency /*cur*/) -> int {
  return 2;
}

/// An amount of one currency in integer minor units. Arithmetic is overflow checked and
/// refuses to mix currencies; there is no floating point anywhere.
class money {
 public:
  constexpr money(std::int64_t amount_minor, currency cur) : m_minor(amount_minor), m_cur(cur) {}

  [[nodiscard]] constexpr auto minor() const -> std::int64_t { return m_minor; }
  [[nodiscard]] constexpr auto cur() const -> currency { return m_cur; }

  [[nodiscard]] auto add(money other) const -> result<money>;
  [[nodiscard]] auto sub(money other) const -> result<money>;
  /// Compares amounts of the same currency; mixed currencies are an error.
  [[nodiscard]] auto compare(money other) const -> result<std::strong_ordering>;

  /// "12.34 CNY"; negative amounts as "-0.50 CNY".
  [[nodiscard]] auto format() const -> std::string;
  /// "12.34" without the currency.
  [[nodiscard]] auto format_amount() const -> std::string;

  friend constexpr auto operator==(money, money) -> bool = default;

 private:
  std::int64_t m_minor;
  currency m_cur;
};

/// Parses "12.34 CNY". At most the currency's scale of decimals; no exponent, no separators.
auto parse_money(std::string_view text) -> result<money>;
/// Parses "12.34" in the given currency.
auto parse_amount(std::string_view text, currency cur) -> result<money>;

/// Overflow-checked int64 addition, the building block of every sum of money.
auto checked_add(std::int64_t a, std::int64_t b) -> result<std::int64_t>;
/// a + b, or 2^63-1 past it (a non-negative b): for totals checked against caps, where the top
/// refuses.
auto saturating_add(std::int64_t a, std::int64_t b) -> std::int64_t;

}  // namespace cbdc
