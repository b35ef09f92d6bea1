#pragma once

// Wallet classes, their configurable caps and the checks of a payment against them (pure
// functions, shared by the bank, the simulator's model and the POS).

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/money.hpp"
#include "core/status.hpp"

namespace cbdc::bank {

/// Wallet classes after the PBoC Digital Currency Institute (2021): I (in person, unlimited),
/// II (remote, bank account), III (remote, lighter checks), IV (anonymous, phone number only).
enum class wallet_class : std::uint8_t { i = 1, ii = 2, iii = 3, iv = 4 };

auto class_name(wallet_class c) -> std::string_view;  ///< "I" .. "IV"
auto parse_class(std::string_view text) -> result<wallet_class>;

/// A class's caps in minor units; nullopt is no cap.
struct class_limits {
  std::optional<std::int64_t> balance_minor;
  std::optional<std::int64_t> per_payment_minor;
  std::optional<std::int64_t> per_day_minor;
};

/// The caps of every class, in the bank's currency.
struct limits_config {
  currency cur{currency::cny};
  std::map<wallet_class, class_limits> by_class;
};

/// The defaults in CNY: class II 500,000 / 50,000 / 100,000; class IV 10,000 / 2,000 / 5,000;
/// class I unlimited; class III set between them at 200,000 / 20,000 / 50,000.
auto default_limits() -> limits_config;

/// What the bank knows when it checks one payment.
struct payment_check {
  wallet_class payer_class{wallet_class::iv};
  std::int64_t amount_minor{0};
  std::int64_t payer_spent_today_minor{0};  ///< before this payment
  /// The payee, when this bank hosts it: its class (or sub-wallet cap) and balance now.
  std::optional<wallet_class> payee_class;
  std::optional<std::int64_t> payee_sub_cap_minor;
  std::int64_t payee_balance_minor{0};
};

/// Checks a payment against the payer's per-payment and daily caps and the payee's balance
/// cap, in that order. Errors name the limit, the class and the amounts: per_payment_limit,
/// daily_limit, balance_limit; amount_invalid for a non-positive amount; overflow.
auto check_payment(const limits_config& limits, const payment_check& p) -> status;

}  // namespace cbdc::bank
