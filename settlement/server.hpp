#pragma once

// cbdc-settle's server: the role table (the trust boundary) and a shard behind a ROUTER socket.

#include <memory>
#include <string>
#include <thread>

#include "rpc/transport.hpp"
#include "settlement/shard.hpp"

namespace cbdc::settlement {

/// A shard's configuration and where its server listens.
struct server_config : shard_config {
  std::string endpoint{"tcp://127.0.0.1:7100"};
  std::size_t query_queue{10'000};  ///< pending queries before "overloaded"
};

/// Who may send what to a shard (docs/protocol.md#roles): payments and queries from operator
/// nodes, the two-phase-commit messages from the coordinator only.
auto shard_roles() -> role_table;

/// The settlement daemon's body: a shard behind one ROUTER socket. Submissions and the
/// coordinator's messages go to the shard as they come; queries wait for one query worker.
/// It decodes each request, calls the shard and encodes the answer: the checks of who may ask
/// are the role table's (rpc_server), those of what is asked the shard's.
class server {
 public:
  /// Migrates the schema, reloads the unspent set, binds. Errors: unavailable, db_error.
  static auto start(server_config config) -> result<std::unique_ptr<server>>;
  ~server();
  server(const server&) = delete;
  auto operator=(const server&) -> server& = delete;

  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }
  [[nodiscard]] auto shard_ref() -> shard& { return *m_shard; }
  [[nodiscard]] auto engine_ref() -> engine& { return m_shard->engine_ref(); }
  /// The bound PUB endpoint, empty when notifications are off.
  [[nodiscard]] auto pub_endpoint() const -> std::string { return m_shard->pub_endpoint(); }

 private:
  struct query {
    wire::Envelope request;
    rpc_server::reply_fn reply;
  };
  explicit server(server_config config);
  void handle(wire::Envelope&& request, const rpc_server::reply_fn& reply);
  void query_loop();
  auto answer_query(const wire::Envelope& request) -> wire::Envelope;

  server_config m_config;
  std::unique_ptr<shard> m_shard;
  bounded_queue<query> m_queries;
  std::thread m_query_thread;
  std::unique_ptr<rpc_server> m_server;
};

}  // namespace cbdc::settlement
