#pragma once

// Typed status values: every expected operating error, and result<T> that carries one or a value.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/assert.hpp"

namespace cbdc {

/// Every expected operating error in the project, one value each. Settlement statuses come
/// first in precedence order; the numbers are the wire values (every .proto status field
/// carries them) and never change once released.
enum class status_code : std::uint32_t {
  ok = 0,
  already_settled = 1,
  malformed = 2,
  too_large = 3,
  profile_mismatch = 4,
  amount_invalid = 5,
  currency_mismatch = 6,
  duplicate_input = 7,
  missing_signature = 8,
  bad_signature = 9,
  input_unknown = 10,
  input_spent = 11,
  value_not_conserved = 12,
  overloaded = 13,
  not_permitted = 14,
  wrong_shard = 15,   ///< a token of the transaction lives on another shard
  input_locked = 16,  ///< an input is held by a cross-shard transaction in progress (transient)
  // core and services
  parse_error = 20,
  overflow = 21,
  unknown_currency = 22,
  not_found = 23,
  io_error = 24,
  db_error = 25,
  timeout = 26,
  unavailable = 27,
  key_error = 28,
  insufficient_funds = 29,
  not_authorized = 30,  ///< the caller's role (or identity) may not send this request
  // issuer
  unknown_bank = 40,
  not_domestic = 41,
  insufficient_reserve = 42,
  quota_exceeded = 43,
  bad_request = 44,
  // bank: wallet-class limits, each naming the limit it enforces
  unknown_wallet = 50,
  per_payment_limit = 51,
  daily_limit = 52,
  balance_limit = 53,     ///< the payee's balance would pass its class's (or sub-wallet's) cap
  request_expired = 54,   ///< a merchant's payment request is past its expiry
  hosted_elsewhere = 55,  ///< the registration centre has the wallet key at another bank
  // cross-border: FX quotes and the central banks' controls
  quote_unknown = 60,          ///< the dealer gave no such quote (or forgot it on a restart)
  quote_expired = 61,          ///< the quote is past its expiry
  corridor_cap_exceeded = 62,  ///< the corridor's daily cap at the central bank would be passed
  bank_cap_exceeded = 63,      ///< the bank's daily cross-border cap would be passed
  no_quote = 64,               ///< no dealer quotes the pair for that amount (inventory, pair)
  // dual-offline payments: what a device refuses, each naming the rule (docs/offline.md)
  certificate_invalid = 70,  ///< a certificate's signature or chain to the central bank fails
  certificate_expired = 71,  ///< a device's or bank's certificate is past its expiry
  device_revoked = 72,       ///< the device is on the revocation list as last synced
  counter_replay = 73,       ///< the payer's counter is not above the last one seen from it
  chain_invalid = 74,        ///< an offline transfer does not lead back to a settled token
  offline_balance_cap = 75,  ///< the device would hold more than its offline balance cap
  offline_payment_cap = 76,  ///< one offline payment above the per-payment cap
  offline_count_cap = 77,    ///< more offline payments since the last sync than allowed
  offline_sync_stale = 78,   ///< too long since the device last synced
  double_spend = 79,         ///< one device signed two transfers spending the same token
  internal = 99,
};

/// The stable lower-case name of a status, as printed and as used in reports.
auto to_string(status_code code) -> std::string_view;

/// True for errors that may succeed when the same request is sent again unchanged.
auto is_transient(status_code code) -> bool;

/// True for the two answers that mean a transaction settled: ok (now) and already_settled (an
/// earlier send of the same transaction).
inline auto is_settled(status_code code) -> bool {
  return code == status_code::ok || code == status_code::already_settled;
}

/// A status code with a human-readable detail.
struct error {
  status_code code{status_code::internal};
  std::string message;
};

auto to_string(const error& err) -> std::string;

/// Either a value or a typed error. A small stand-in for C++23's std::expected.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : m_v(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(error err) : m_v(std::move(err)) {   // NOLINT(google-explicit-constructor)
    CBDC_ASSERT(std::get<error>(m_v).code != status_code::ok);
  }
  result(status_code code, std::string message) : result(error{code, std::move(message)}) {}

  [[nodiscard]] auto ok() const -> bool { return std::holds_alternative<T>(m_v); }
  explicit operator bool() const { return ok(); }

  auto value() & -> T& {
    CBDC_ASSERT(ok());
    return std::get<T>(m_v);
  }
  auto value() const& -> const T& {
    CBDC_ASSERT(ok());
    return std::get<T>(m_v);
  }
  auto value() && -> T&& {
    CBDC_ASSERT(ok());
    return std::get<T>(std::move(m_v));
  }
  auto operator*() & -> T& { return value(); }
  auto operator*() const& -> const T& { return value(); }
  auto operator->() -> T* { return &value(); }
  auto operator->() const -> const T* { return &value(); }

  [[nodiscard]] auto err() const -> const error& {
    CBDC_ASSERT(!ok());
    return std::get<error>(m_v);
  }
  [[nodiscard]] auto code() const -> status_code { return ok() ? status_code::ok : err().code; }

 private:
  std::variant<T, error> m_v;
};

/// A result with no value.
struct unit {};
using status = result<unit>;

inline auto ok_status() -> status {
  return unit{};
}

}  // namespace cbdc
