#pragma once

// One settlement shard in process: its engine (validation, batching, durable commit, the
// two-phase-commit participant), the reader of its PostgreSQL store for queries and the
// publisher of its settled batches. It implements settlement::interface, so a test or the
// simulator holds it exactly as it would hold a client; settlement::server puts it on the wire.

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "rpc/transport.hpp"
#include "settlement/engine.hpp"
#include "settlement/interface.hpp"
#include "settlement/publisher.hpp"

namespace cbdc::settlement {

struct shard_config {
  std::string db_url;
  /// Where settled transactions are published; empty: no notifications.
  std::string pub_endpoint;
  engine_config engine;
  /// The node's identity (CURVE on the PUB socket and towards the coordinator).
  socket_options net;
};

/// The most keys one balances() asks about, and the most tokens one list_unspent() answers.
constexpr std::size_t k_max_balances = 10'000;
constexpr std::uint32_t k_max_listed = 10'000;
/// The most transactions a page of settled_since() holds (whole batches, at least one).
constexpr std::uint32_t k_settled_page = 5'000;

class shard final : public interface {
 public:
  /// Migrates the schema, reloads the unspent set, starts the engine and the publisher.
  /// Errors: unavailable, db_error.
  static auto start(shard_config config) -> result<std::unique_ptr<shard>>;
  ~shard() override;
  shard(const shard&) = delete;
  auto operator=(const shard&) -> shard& = delete;

  void submit_async(const signed_tx& tx, const std::string& client_request_id,
                    receipt_fn done) override;
  /// The same without copying the transaction (the server's, which decoded it).
  void submit_async(signed_tx&& tx, std::string client_request_id, receipt_fn done);
  auto submit(const signed_tx& tx, const std::string& client_request_id = {})
      -> result<receipt> override;
  auto get_tx(const hash256& id) -> result<receipt> override;
  auto get_signed_tx(const hash256& id) -> result<signed_tx> override;
  auto get_token(const hash256& id) -> result<token_info> override;
  auto list_unspent(const public_key& owner, std::uint32_t limit = 0)
      -> result<std::vector<token_info>> override;
  auto supply(currency cur) -> result<supply_totals> override;
  /// Errors: malformed past k_max_balances keys.
  auto balances(const std::vector<public_key>& owners, currency cur)
      -> result<std::vector<std::int64_t>> override;
  /// Errors: bad_request for another shard's number.
  auto settled_since(std::uint32_t shard_number, std::uint64_t after, std::uint32_t limit = 0)
      -> result<settled_page> override;
  [[nodiscard]] auto shard_count() const -> std::uint32_t override {
    return m_config.engine.shard_count;
  }

  /// A settled transaction with its receipt (GetTx answers both). Errors: not_found.
  auto find_tx(const hash256& id) -> result<std::pair<receipt, signed_tx>>;
  /// The two-phase-commit participant: the coordinator's Prepare and Resolve.
  void prepare(std::string gid, signed_tx tx, engine::prepared_fn done);
  void resolve(std::string gid, bool commit, engine::resolved_fn done);

  [[nodiscard]] auto number() const -> std::uint32_t { return m_config.engine.shard; }
  [[nodiscard]] auto engine_ref() -> engine& { return *m_engine; }
  /// The bound PUB endpoint, empty when notifications are off.
  [[nodiscard]] auto pub_endpoint() const -> std::string {
    return m_publisher ? m_publisher->endpoint() : std::string{};
  }

 private:
  explicit shard(shard_config config) : m_config(std::move(config)) {}

  shard_config m_config;
  std::mutex m_query_mutex;  ///< the query store is one connection
  std::unique_ptr<store> m_query_db;
  std::unique_ptr<publisher> m_publisher;
  std::unique_ptr<engine> m_engine;
};

}  // namespace cbdc::settlement
