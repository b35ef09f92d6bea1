#pragma once

// An auditor's account of a run checked against a shard's ledger, read in bulk from the
// shard's database: the queries an auditor asks of settlement's tables live here, beside the
// schema, not in the auditor.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/status.hpp"

namespace cbdc::settlement {

/// What the ledger holds against the auditor's account.
struct ledger_findings {
  std::size_t acknowledged{0};     ///< payments the auditor saw acknowledged
  std::size_t missing{0};          ///< of them, not in the ledger
  std::size_t inputs{0};           ///< their inputs
  std::size_t not_spent_by_it{0};  ///< inputs unspent in the ledger, or spent by another tx
  std::size_t spent_twice{0};      ///< inputs that two acknowledged payments both name
  std::size_t balances{0};         ///< owners whose balance the auditor expects
  std::size_t balances_off{0};     ///< of them, whose unspent tokens sum to something else
};

/// Read-only on the ledger. The account is streamed in chunks into temporary tables of one
/// transaction (at national scale millions of payments and balances, which would otherwise sit
/// in memory beside the run's state), then checked by a few set queries. One thread.
class ledger_check {
 public:
  /// Errors: unavailable (cannot connect), db_error.
  static auto open(const std::string& db_url) -> result<std::unique_ptr<ledger_check>>;
  ~ledger_check();
  ledger_check(const ledger_check&) = delete;
  auto operator=(const ledger_check&) -> ledger_check& = delete;

  /// A payment the auditor saw acknowledged, with the tokens it spent. Errors: db_error.
  auto acknowledged(const hash256& tx, const std::vector<hash256>& inputs) -> status;
  /// An owner's balance (its unspent tokens' sum) as the auditor's model has it.
  auto expect_balance(const public_key& owner, std::int64_t minor) -> status;
  /// The findings, once the whole account is in. Errors: db_error.
  auto finish() -> result<ledger_findings>;

 private:
  struct impl;
  explicit ledger_check(std::unique_ptr<impl> i);
  std::unique_ptr<impl> m_impl;
};

}  // namespace cbdc::settlement
