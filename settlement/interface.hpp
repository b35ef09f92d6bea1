#pragma once

// Settlement as its callers hold it, whether one shard in process (settlement::shard) or the
// deployment over ZeroMQ (settlement::client, which routes by shard): typed requests in, typed
// results out. A refused transaction is a receipt with its status; an error result means no
// answer (timeout, unavailable) or a malformed request. Every request is safe to send again.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/codec.hpp"
#include "core/crypto.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::settlement {

class interface {
 public:
  using receipt_fn = std::function<void(result<receipt>)>;
  /// One page of what a shard settled after batch `after` (GetSettledSince): whole batches in
  /// order, each transaction with its signers; `more` when later batches follow.
  struct settled_page {
    std::vector<wire::TxSettled> txs;
    std::uint64_t through_batch_seq{0};
    bool more{false};
  };

  interface() = default;
  virtual ~interface() = default;
  interface(const interface&) = delete;
  auto operator=(const interface&) -> interface& = delete;

  /// Settles tx; `done` gets the receipt once it is durable (or the refusal), on another
  /// thread. A resend of a settled transaction answers already_settled with the first receipt.
  virtual void submit_async(const signed_tx& tx, const std::string& client_request_id,
                            receipt_fn done) = 0;
  /// submit_async, waiting for the answer.
  virtual auto submit(const signed_tx& tx, const std::string& client_request_id = {})
      -> result<receipt> = 0;
  /// The receipt of a settled transaction; not_found when it never settled.
  virtual auto get_tx(const hash256& id) -> result<receipt> = 0;
  /// The settled transaction itself (its memo, signers). Errors: not_found.
  virtual auto get_signed_tx(const hash256& id) -> result<signed_tx> = 0;
  /// A token, spent or not. Errors: not_found.
  virtual auto get_token(const hash256& id) -> result<token_info> = 0;
  /// A key's unspent tokens that nothing under way is spending, largest first, at most limit
  /// per shard (0: the shard's bound, 10,000).
  virtual auto list_unspent(const public_key& owner, std::uint32_t limit = 0)
      -> result<std::vector<token_info>> = 0;
  /// Issued, redeemed and unspent totals of a currency.
  virtual auto supply(currency cur) -> result<supply_totals> = 0;
  /// What each key holds unspent in cur, in the order given.
  virtual auto balances(const std::vector<public_key>& owners, currency cur)
      -> result<std::vector<std::int64_t>> = 0;
  /// One page of what `shard` settled after batch `after`, about `limit` transactions (0: the
  /// shard's bound). Errors: bad_request for a shard that is not there.
  virtual auto settled_since(std::uint32_t shard, std::uint64_t after, std::uint32_t limit = 0)
      -> result<settled_page> = 0;
  /// How many shards the deployment has (token ids are spread over them by prefix).
  [[nodiscard]] virtual auto shard_count() const -> std::uint32_t = 0;
};

/// Submits tx, resending the identical transaction (so it settles at most once) while the
/// answer is transient, at most `attempts` times with a growing pause.
auto submit_with_retry(interface& settle, const signed_tx& tx, const std::string& request_id,
                       int attempts = 5) -> result<receipt>;

}  // namespace cbdc::settlement
