#pragma once

// Receipts, token records and supply totals, and their wire messages.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "core/status.hpp"
#include "rpc/wire.hpp"

namespace cbdc::settlement {

/// Settlement's answer to a submitted transaction. status ok: committed durably in batch
/// batch_seq of shard; already_settled: the same transaction had been, and the fields are the
/// first settlement's; anything else: refused, nothing changed.
struct receipt {
  status_code status{status_code::ok};
  std::string detail;
  hash256 tx_id;
  std::uint32_t shard{0};
  std::uint64_t batch_seq{0};
  std::int64_t settled_at_us{0};

  /// The transaction settled (ok, or already_settled by an earlier send).
  [[nodiscard]] auto settled() const -> bool { return is_settled(status); }
};

auto to_wire(const receipt& r) -> wire::Receipt;
/// A receipt, or a refusal before settlement answered (its status and detail), as a receipt.
auto to_wire(const result<receipt>& r) -> wire::Receipt;
auto receipt_from_wire(const wire::Receipt& msg) -> receipt;

/// A token as the registry knows it.
struct token_info {
  hash256 token_id;
  currency cur{currency::cny};
  std::int64_t amount_minor{0};
  public_key owner;
  hash256 created_by;
  bool spent{false};
  hash256 spent_by;
};

/// Orders tokens as ListUnspent answers them, the largest first and then by id, and keeps the
/// first `limit` (a shard and a bank's index list alike).
void order_as_listed(std::vector<token_info>& tokens, std::size_t limit);

/// What settlement holds of one currency: issued and redeemed since the start, unspent now.
struct supply_totals {
  std::int64_t issued_minor{0};
  std::int64_t redeemed_minor{0};
  std::int64_t unspent_minor{0};
};

auto to_wire(const token_info& t) -> wire::TokenStatus;
auto token_from_wire(const wire::TokenStatus& msg) -> result<token_info>;

}  // namespace cbdc::settlement
