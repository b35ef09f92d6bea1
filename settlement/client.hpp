#pragma once

// Settlement's ZeroMQ client: routes a transaction to its shard or the coordinator, asks
// queries of the shards that hold the answer.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rpc/transport.hpp"
#include "settlement/interface.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::settlement {

/// Where settlement runs: one endpoint per shard, shard 0 first, and with several shards the
/// coordinator that commits transactions spanning them.
struct cluster {
  std::vector<std::string> shards;
  std::string coordinator;
  /// "tcp://127.0.0.1:7100" (one shard) or "tcp://a,tcp://b,tcp://c@tcp://coordinator".
  static auto parse(const std::string& spec) -> result<cluster>;
};

/// Talks to settlement over ZeroMQ, routing by shard: a transaction whose tokens all live on
/// one shard goes to that shard, one spanning shards to the coordinator; queries go to the
/// shard of a token or to every shard. A refused transaction is a receipt with its status; an
/// error result means no answer (timeout, unavailable) or a malformed exchange.
class client final : public interface {
 public:
  /// A single-shard deployment at endpoint.
  explicit client(const std::string& endpoint, const socket_options& opts = {});
  explicit client(const cluster& where, const socket_options& opts = {});

  auto submit(const signed_tx& tx, const std::string& client_request_id = {})
      -> result<receipt> override;
  void submit_async(const signed_tx& tx, const std::string& client_request_id,
                    receipt_fn done) override;
  auto get_tx(const hash256& id) -> result<receipt> override;
  auto get_signed_tx(const hash256& id) -> result<signed_tx> override;
  auto get_token(const hash256& id) -> result<token_info> override;
  /// Every shard's list, one after the other.
  auto list_unspent(const public_key& owner, std::uint32_t limit = 0)
      -> result<std::vector<token_info>> override;
  using tokens_fn = std::function<void(result<std::vector<token_info>>)>;
  /// The same, answered on the client's I/O thread (the shards asked one after another).
  void list_unspent_async(const public_key& owner, tokens_fn done);
  /// Summed over the shards.
  auto supply(currency cur) -> result<supply_totals> override;
  /// Summed over the shards, asked 10,000 keys at a time.
  auto balances(const std::vector<public_key>& owners, currency cur)
      -> result<std::vector<std::int64_t>> override;
  auto settled_since(std::uint32_t shard, std::uint64_t after, std::uint32_t limit = 0)
      -> result<settled_page> override;
  [[nodiscard]] auto shard_count() const -> std::uint32_t override {
    return static_cast<std::uint32_t>(m_shards.size());
  }

 private:
  auto route(const signed_tx& tx) -> rpc_client*;
  /// The TxStatus of a settled transaction from the first shard that knows it.
  auto find_tx(const hash256& id) -> result<wire::TxStatus>;
  struct listing;
  /// Asks shard `s->next` for its part of a listing, then the next shard.
  void list_next(const std::shared_ptr<listing>& s);
  std::vector<std::unique_ptr<rpc_client>> m_shards;
  std::unique_ptr<rpc_client> m_coordinator;
};

}  // namespace cbdc::settlement
