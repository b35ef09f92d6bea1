#pragma once

// What `cbdc-bank audit` checks of one bank against settlement, and its report.

#include <cstdint>
#include <string>
#include <vector>

#include "bank/limits.hpp"
#include "core/crypto.hpp"
#include "settlement/client.hpp"

namespace cbdc::bank {

/// What `cbdc-bank audit` checks of one bank against settlement (run it while the bank is
/// idle): every hosted wallet's balance in the bank's index equals its unspent tokens in
/// settlement and is within its cap; every payment the bank recorded settled, with that
/// amount, and every settled payment of a hosted wallet is recorded (so each day total is
/// the sum of the day's settled payments); every day total is within its class's cap; no
/// payment is left in flight.
struct audit_report {
  std::size_t wallets{0};
  std::size_t recorded_payments{0};
  std::size_t settled_payments{0};
  std::int64_t balances_minor{0};     ///< the hosted wallets' sum, as settlement holds it
  std::int64_t recorded_minor{0};     ///< the recorded payments' sum
  bool indexed{false};                ///< the bank keeps an index (follows notifications)
  std::vector<std::string> problems;  ///< the first k_max_problems, then a count
  std::size_t problem_count{0};
  [[nodiscard]] auto passed() const -> bool { return problem_count == 0; }
};

/// Audits the bank whose database is db_url (vault: its vault key, whose e-CNY-to-deposit
/// exchanges are not payments), against settlement, which it reads as the bank (GetBalances,
/// GetSettledSince). Errors: db_error, settlement's.
auto audit(const std::string& db_url, const public_key& vault, const limits_config& limits,
           settlement::interface& settle) -> result<audit_report>;

}  // namespace cbdc::bank
