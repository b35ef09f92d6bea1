#pragma once

#include <memory>
#include <string>
#include <thread>

#include "rpc/transport.hpp"
#include "settlement/engine.hpp"
#include "settlement/publisher.hpp"

namespace cbdc::settlement {

struct server_config {
  std::string db_url;
  std::string endpoint{"tcp://127.0.0.1:7100"};
  /// Where settled transactions are published; empty: no notifications.
  std::string pub_endpoint;
  engine_config engine;
  std::size_t query_queue{10'000};  ///< pending queries before "overloaded"
  /// The node's identity (CURVE on the request and PUB sockets and towards the coordinator).
  socket_options net;
};

/// Who may send what to a shard (docs/protocol.md#roles): payments and queries from operator
/// nodes, the two-phase-commit messages from the coordinator only.
auto shard_roles() -> role_table;

/// The most keys one GetBalances asks about.
constexpr std::size_t k_max_balances = 10'000;

/// The settlement daemon's body: the engine and a query worker behind one ROUTER socket.
class server {
 public:
  /// Migrates the schema, reloads the unspent set, binds. Errors: unavailable, db_error.
  static auto start(server_config config) -> result<std::unique_ptr<server>>;
  ~server();
  server(const server&) = delete;
  auto operator=(const server&) -> server& = delete;

  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }
  [[nodiscard]] auto engine_ref() -> engine& { return *m_engine; }
  /// The bound PUB endpoint, empty when notifications are off.
  [[nodiscard]] auto pub_endpoint() const -> std::string {
    return m_publisher ? m_publisher->endpoint() : std::string{};
  }

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
  std::unique_ptr<store> m_query_db;
  std::unique_ptr<publisher> m_publisher;
  std::unique_ptr<engine> m_engine;
  bounded_queue<query> m_queries;
  std::thread m_query_thread;
  std::unique_ptr<rpc_server> m_server;
};

}  // namespace cbdc::settlement
