#pragma once

// The coordinator: cross-shard transactions by PostgreSQL two-phase commit, its decision logged
// durably first, in-doubt transactions resolved after a crash.

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "platform/queue.hpp"
#include "rpc/transport.hpp"
#include "settlement/engine.hpp"

namespace cbdc::settlement {

auto coordinator_migrations() -> std::vector<pg::migration>;

struct coordinator_config {
  std::string db_url;
  std::string endpoint{"tcp://127.0.0.1:7150"};
  std::vector<std::string> shard_endpoints;  ///< shard i at index i
  engine_config rules;                       ///< profile and issuers; shard_count is set here
  unsigned workers{4};                       ///< transactions in two-phase commit at once
  /// Test hook: "prepare" stops the process after every shard prepared and before the decision
  /// is logged; "decision" after the decision is logged and before any shard is told.
  std::string crash_after;
  /// The node's identity: CURVE towards the shards and on its own socket.
  socket_options net;
};

/// Who may send what to the coordinator: cross-shard payments from operator nodes, and the
/// shards' questions about in-doubt transactions.
auto coordinator_roles() -> role_table;

/// Commits transactions that span shards with PostgreSQL's two-phase commit: log the intent,
/// PREPARE on every shard, check value and signatures over all inputs, log the decision
/// durably, then COMMIT PREPARED (or ROLLBACK PREPARED) everywhere. Its log makes every crash
/// resolve to all or nothing: shards ask it about in-doubt transactions when they restart, and
/// it carries out every logged decision again when it restarts.
class coordinator {
 public:
  static auto start(coordinator_config config) -> result<std::unique_ptr<coordinator>>;
  ~coordinator();
  coordinator(const coordinator&) = delete;
  auto operator=(const coordinator&) -> coordinator& = delete;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }

 private:
  struct job {
    wire::Envelope request;
    rpc_server::reply_fn reply;
  };
  explicit coordinator(coordinator_config config);
  void work();
  void redrive_loop();
  auto settle(pqxx::connection& db, const signed_tx& tx) -> receipt;
  /// Sends the decision to the shards until each has carried it out (bounded), then marks done.
  auto carry_out(pqxx::connection& db, const std::string& gid,
                 const std::vector<std::uint32_t>& shards, bool commit) -> bool;
  auto decision_of(pqxx::connection& db, const std::string& gid) -> wire::Envelope;

  coordinator_config m_config;
  std::vector<std::unique_ptr<rpc_client>> m_shards;
  bounded_queue<job> m_jobs;
  std::mutex m_in_flight_mutex;
  std::set<hash256> m_in_flight;  // transactions under two-phase commit now
  std::vector<std::thread> m_workers;
  std::thread m_redriver;
  std::atomic<bool> m_stop{false};
  std::unique_ptr<rpc_server> m_server;
};

}  // namespace cbdc::settlement
