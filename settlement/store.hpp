#pragma once

// A shard's PostgreSQL store: migrations, batches committed in one transaction, two-phase
// commit, and the queries.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/codec.hpp"
#include "platform/pg.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::settlement {

auto migrations() -> std::vector<pg::migration>;

/// One accepted transaction, ready to be written: the whole of it on a single-shard
/// deployment, or this shard's part of a cross-shard one.
struct commit_item {
  const signed_tx* tx{nullptr};
  std::string client_request_id;
  /// The input tokens on this shard, as the registry had them.
  std::vector<token_info> inputs;
  /// The indices of the outputs that live on this shard.
  std::vector<std::uint32_t> outputs;
};

/// Every output index of a transaction.
auto all_outputs(const signed_tx& tx) -> std::vector<std::uint32_t>;

/// What settlement keeps in PostgreSQL (schema "settlement"). Not thread-safe: one store per
/// thread, each with its own connection. Errors are typed: db_error, unavailable.
class store {
 public:
  static auto open(const std::string& url) -> result<std::unique_ptr<store>>;

  /// Applies the migrations of sql/settlement/.
  auto migrate() -> result<int>;

  /// Calls fn for every unspent token; for the registry's reload at start.
  auto load_unspent(const std::function<void(token_info&&)>& fn) -> status;
  /// The highest batch number committed so far (0 when none).
  auto last_batch_seq() -> result<std::uint64_t>;

  /// Writes one batch in one database transaction and returns once COMMIT has returned:
  /// transactions, new tokens, spent marks and supply totals. Every input must be unspent in
  /// the database; if one is not, nothing is written and the error is internal.
  auto commit_batch(std::uint64_t batch_seq, std::int64_t settled_at_us,
                    const std::vector<commit_item>& items) -> status;

  /// Writes one item in its own database transaction and PREPARE TRANSACTION gid: durable,
  /// invisible, and holding its rows until finish_prepared.
  auto prepare(const std::string& gid, std::uint64_t batch_seq, std::int64_t settled_at_us,
               const commit_item& item) -> status;
  /// COMMIT PREPARED (commit) or ROLLBACK PREPARED gid. not_found when no such gid is prepared.
  auto finish_prepared(const std::string& gid, bool commit) -> status;
  /// The gids of this database's prepared transactions.
  auto list_prepared() -> result<std::vector<std::string>>;

  /// The receipt of a settled transaction (not_found when never settled).
  auto find_tx(const hash256& id, std::uint32_t shard) -> result<std::pair<receipt, std::string>>;
  /// The transactions of the batches after `after`, in order, whole batches of about `limit`
  /// transactions in all (at least one batch): each receipt with the wire SignedTx. `more` is
  /// set when later batches follow. No batch is numbered above `last_seq` (the engine's
  /// last_batch_seq): the read looks at a window of batches after `after`, widened until it
  /// holds a page or reaches last_seq, so that a page costs what it returns, not the table
  /// (the BRIN index on batch_seq finds a window; it cannot order the whole table).
  struct settled_page {
    std::vector<std::pair<receipt, std::string>> txs;
    std::uint64_t through_batch_seq{0};
    bool more{false};
  };
  auto settled_since(std::uint64_t after, std::size_t limit, std::uint32_t shard,
                     std::uint64_t last_seq) -> result<settled_page>;
  auto find_token(const hash256& id) -> result<token_info>;

  auto supply(currency cur) -> result<supply_totals>;

  auto connection() -> pqxx::connection& { return *m_conn; }

 private:
  store(std::string url, std::unique_ptr<pqxx::connection> conn)
      : m_url(std::move(url)), m_conn(std::move(conn)) {}
  /// The connection, opened again first when it was lost (a restarted server, a cut link):
  /// throws pqxx::broken_connection while the server cannot be reached.
  auto conn() -> pqxx::connection&;
  static auto page_of(const pqxx::result& rows, std::size_t take, std::uint32_t shard, bool more)
      -> settled_page;
  std::string m_url;
  std::unique_ptr<pqxx::connection> m_conn;
};

}  // namespace cbdc::settlement
