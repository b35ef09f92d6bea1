#pragma once

// ZeroMQ transport: ROUTER servers and DEALER clients with CURVE, limits on every socket, role
// checks before a handler runs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.hpp"
#include "rpc/auth.hpp"
#include "rpc/wire.hpp"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace cbdc {

/// Socket limits shared by servers and clients.
struct socket_options {
  int high_water_mark = 100'000;  ///< messages queued per peer before ZeroMQ drops or blocks
  int timeout_ms = 10'000;        ///< a client's per-request deadline
  int reconnect_ivl_ms = 100;
  /// The process's node identity and directory: CURVE on every socket made with these options
  /// when set. Off (null) only in benches and in-process tests that ask for it.
  std::shared_ptr<node_security> security;
  /// A server: keys not in the directory still pass the handshake, as customers (a bank's
  /// wallets; their requests prove themselves by their signatures).
  bool admit_customers = false;
  /// A server: only nodes of these roles pass the handshake (a PUB socket, where no request
  /// can be refused later); any listed node when unset.
  std::optional<role_set> handshake_roles;
  /// A client: the server's public key; when unset, the directory's entry for the endpoint.
  std::optional<curve_key> server_key;
};

/// Which roles may send each request type of one service: the table docs/protocol.md
/// reproduces. A server checks it before its handler sees the request.
class role_table {
 public:
  using rule = std::pair<wire::Envelope::PayloadCase, role_set>;
  role_table(std::string service, std::initializer_list<rule> rules);
  /// ok; not_authorized naming the roles the request needs; malformed, listing what the
  /// service answers, for a request type it does not answer.
  [[nodiscard]] auto check(const wire::Envelope& request, const peer& from) const -> status;
  [[nodiscard]] auto service() const -> const std::string& { return m_service; }

 private:
  std::string m_service;
  std::vector<rule> m_rules;
};

/// The request's payload field name ("submit_tx"), for metrics and errors.
auto payload_name(const wire::Envelope& request) -> std::string;

/// One ZeroMQ context per process; sockets are made from it.
auto shared_context() -> zmq::context_t&;

/// Makes sock a CURVE server checked by the process's ZAP handler (before bind), when
/// opts.security is set; nothing otherwise.
void apply_curve_server(zmq::socket_t& sock, const socket_options& opts);
/// Makes sock a CURVE client of the server at endpoint (before connect), when opts.security
/// is set. Errors: not_authorized when no key is known for the endpoint.
auto apply_curve_client(zmq::socket_t& sock, const socket_options& opts,
                        const std::string& endpoint) -> status;
/// Who sent a message received on a socket made by apply_curve_server: the peer its key
/// authenticates as now; an unauthenticated peer when CURVE is off. Errors: not_authorized (a
/// key since removed from the directory).
auto identify_sender(const void* message, const socket_options& opts) -> result<peer>;

/// An asynchronous request server on a ROUTER socket. The handler runs on the server's I/O
/// thread and must not block; it answers through `reply`, which may be called later from any
/// thread exactly once. Replies are handed back to the I/O thread through a queue and an
/// eventfd, so a slow request never holds up others.
class rpc_server {
 public:
  using reply_fn = std::function<void(wire::Envelope)>;
  using handler =
      std::function<void(wire::Envelope&& request, const peer& from, const reply_fn& reply)>;

  /// The handler sees only requests that `roles` admits from their caller.
  rpc_server(std::string endpoint, handler on_request, role_table roles, socket_options opts = {});
  ~rpc_server();
  rpc_server(const rpc_server&) = delete;
  auto operator=(const rpc_server&) -> rpc_server& = delete;

  /// Binds and starts the I/O thread. Errors: unavailable (cannot bind).
  auto start() -> status;
  void stop();
  /// The bound endpoint, with the real port when bound to port 0 ("tcp://127.0.0.1:0").
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_endpoint; }

 private:
  struct outbox;
  void run();

  std::string m_endpoint;
  handler m_handler;
  role_table m_roles;
  socket_options m_opts;
  std::shared_ptr<outbox> m_outbox;
  std::unique_ptr<void, void (*)(void*)> m_socket;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

/// A DEALER client with many requests in flight. Each request gets a fresh request id and a
/// deadline; answers are matched by id. Callbacks run on the client's I/O thread.
class rpc_client {
 public:
  using callback = std::function<void(result<wire::Envelope>)>;

  explicit rpc_client(std::string endpoint, socket_options opts = {});
  ~rpc_client();
  rpc_client(const rpc_client&) = delete;
  auto operator=(const rpc_client&) -> rpc_client& = delete;

  /// Sends request (its request_id and version are set here); cb gets the answer, or
  /// timeout after the deadline.
  void call_async(wire::Envelope request, callback cb);
  /// Sends and waits for the answer.
  auto call(wire::Envelope request) -> result<wire::Envelope>;

  [[nodiscard]] auto endpoint() const -> const std::string& { return m_endpoint; }

 private:
  struct state;
  void run();

  std::string m_endpoint;
  socket_options m_opts;
  std::shared_ptr<state> m_state;
  std::thread m_thread;
};

}  // namespace cbdc
