#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/codec.hpp"
#include "core/queue.hpp"
#include "settlement/receipt.hpp"
#include "settlement/store.hpp"

namespace cbdc::settlement {

struct engine_config {
  profile prof{profile::ed25519};
  /// The issuer key of each currency this shard accepts issuance and redemption for.
  std::map<currency, public_key> issuers;
  std::uint32_t shard{0};
  std::size_t max_batch{2000};         ///< transactions per database transaction, at most
  int batch_wait_ms{2};                ///< how long a batch waits to fill after its first arrival
  std::size_t queue_capacity{50'000};  ///< pending transactions before "overloaded"
  unsigned verify_threads{0};          ///< signature workers; 0 = one per core
};

/// Checks what can be checked without the registry, signatures included: profile,
/// amounts, repeated inputs, the shape of each kind. Pure; safe from any thread.
auto check_stateless(const signed_tx& tx, const engine_config& config) -> status;

/// The settlement pipeline: verify workers -> batcher -> one PostgreSQL transaction per batch
/// -> receipts, sent only after COMMIT returned. The unspent set lives in memory, reloaded from
/// PostgreSQL at start.
class engine {
 public:
  using done_fn = std::function<void(const receipt&)>;
  /// Called after each committed batch with the accepted transactions (for notifications).
  using settled_fn = std::function<void(const std::vector<const signed_tx*>&, const receipt&)>;

  /// Loads the unspent set and starts the threads. Errors from the store.
  static auto start(engine_config config, std::unique_ptr<store> db, settled_fn on_settled = {})
      -> result<std::unique_ptr<engine>>;
  ~engine();
  engine(const engine&) = delete;
  auto operator=(const engine&) -> engine& = delete;

  /// Queues a transaction; done is called exactly once, from an engine thread, with the
  /// receipt (overloaded at once when the queue is full).
  void submit(signed_tx tx, std::string client_request_id, done_fn done);

  [[nodiscard]] auto unspent_count() const -> std::size_t { return m_unspent_count.load(); }
  void stop();

 private:
  struct pending {
    signed_tx tx;
    std::string client_request_id;
    done_fn done;
    status verified{ok_status()};
  };

  engine(engine_config config, std::unique_ptr<store> db, settled_fn on_settled);
  void verify_loop();
  void batch_loop();
  void settle_batch(std::vector<pending>& batch);
  auto check_against_registry(pending& p, std::unordered_map<hash256, token_info>& spent_here,
                              std::vector<token_info>& inputs) -> receipt;

  engine_config m_config;
  std::unique_ptr<store> m_db;
  settled_fn m_on_settled;
  bounded_queue<pending> m_incoming;
  bounded_queue<pending> m_verified;
  std::unordered_map<hash256, token_info> m_unspent;  // only the batch thread touches it
  std::atomic<std::size_t> m_unspent_count{0};
  std::uint64_t m_batch_seq{0};
  std::vector<std::thread> m_verifiers;
  std::thread m_batcher;
  std::atomic<bool> m_stopped{false};
};

}  // namespace cbdc::settlement
