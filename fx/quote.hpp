#pragma once

// FX quotes in integer amounts: rates as integer ratios, pricing with a spread, the PvP
// transaction that executes a quote and its check.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/codec.hpp"
#include "core/money.hpp"
#include "rpc/wire.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::fx {

/// A mid rate as a ratio of integers: 1 unit of the pay currency buys num/den units of the
/// receive currency. Every currency on the bridge has two decimals, so the ratio holds between
/// minor units as well. Used by a dealer to price a quote; a quote then fixes both amounts.
struct rate {
  std::int64_t num{1};
  std::int64_t den{1};
  [[nodiscard]] auto inverse() const -> rate { return rate{den, num}; }
};

/// Parses a decimal rate such as "1.0870" (at most 8 decimals, positive). Errors: parse_error.
auto parse_rate(std::string_view text) -> result<rate>;

/// Basis points: 10,000 = 100%.
inline constexpr std::int64_t k_bp = 10'000;

/// A dealer's two-way price for `size` of the base currency: what it pays in the quote
/// currency for it (bid) and what it asks (ask). Indicative; firm prices are quotes.
struct two_way {
  std::string dealer_id;
  money size{0, currency::cny};
  currency quote_cur{currency::hkd};
  std::int64_t bid_minor{0};
  std::int64_t ask_minor{0};
  std::int64_t expires_at_us{0};
};

/// The amounts of a quote: what the payer pays, what the payee receives, and what the payer
/// would pay for that at the mid rate (the spread paid is pay - mid_pay).
struct priced {
  std::int64_t pay_minor{0};
  std::int64_t receive_minor{0};
  std::int64_t mid_pay_minor{0};
};

/// Prices a fixed amount received: the payer pays receive / mid marked up by spread_bp, rounded
/// up to the minor unit. Errors: amount_invalid (not positive, overflow, or rounds to nothing).
auto price_receive(rate mid, std::int64_t spread_bp, std::int64_t receive_minor) -> result<priced>;
/// Prices a fixed amount paid: the payee receives pay x mid marked down by spread_bp, rounded
/// down. Errors: amount_invalid.
auto price_pay(rate mid, std::int64_t spread_bp, std::int64_t pay_minor) -> result<priced>;

/// A dealer's firm quote.
struct quote {
  std::string quote_id;
  std::string dealer_id;
  std::string payer_bank;
  public_key dealer;  ///< receives the pay leg; owns dealer_inputs
  money pay{0, currency::cny};
  money receive{0, currency::hkd};
  std::int64_t mid_pay_minor{0};
  std::int64_t expires_at_us{0};
  std::vector<hash256> dealer_inputs;  ///< tokens of the receive currency, reserved until expiry
  std::int64_t dealer_change_minor{0};

  [[nodiscard]] auto spread_minor() const -> std::int64_t { return pay.minor() - mid_pay_minor; }
};

/// "1 CNY = 1.087000 HKD": the rate the quote's two amounts imply, six decimals, for people.
auto rate_text(const quote& q) -> std::string;

auto to_wire(const quote& q) -> wire::FxQuote;
/// Checks every field. Errors: malformed, unknown_currency, amount_invalid.
auto quote_from_wire(const wire::FxQuote& msg) -> result<quote>;

/// Builds the payment-versus-payment transaction of a quote: the payer's tokens (unspent, of
/// the pay currency) pay q.pay to the dealer, the dealer's quoted inputs pay q.receive to the
/// payee, each side gets its change back. Signed by the payer only: the dealer signs after its
/// checks. Errors: insufficient_funds, too_large, profile_mismatch.
auto build_pvp(const quote& q, const key_pair& payer,
               const std::vector<settlement::token_info>& unspent, const public_key& payee,
               std::uint64_t nonce) -> result<signed_tx>;

/// The dealer's side of a PvP transaction must be exactly the quote's: its inputs among the
/// transaction's (the others checked against the registry separately), and of the outputs to the
/// dealer's key exactly q.pay and the change. Errors: bad_request naming the difference.
auto check_dealer_legs(const quote& q, const transaction& tx) -> status;

/// Of several answers to one request for quote, the best for the payer: the smallest payment
/// for the same amount received, or the largest amount received for the same payment. Errors:
/// no_quote when none is a quote (the first refusal's detail kept).
auto best_quote(const std::vector<result<quote>>& answers, bool fixed_pay) -> result<quote>;

}  // namespace cbdc::fx
