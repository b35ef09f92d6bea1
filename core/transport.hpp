#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.hpp"
#include "core/wire.hpp"

namespace zmq {
class context_t;
}

namespace cbdc {

/// Socket limits shared by servers and clients.
struct socket_options {
  int high_water_mark = 100'000;  ///< messages queued per peer before ZeroMQ drops or blocks
  int timeout_ms = 10'000;        ///< a client's per-request deadline
  int reconnect_ivl_ms = 100;
};

/// One ZeroMQ context per process; sockets are made from it.
auto shared_context() -> zmq::context_t&;

/// An asynchronous request server on a ROUTER socket. The handler runs on the server's I/O
/// thread and must not block; it answers through `reply`, which may be called later from any
/// thread exactly once. Replies are handed back to the I/O thread through a queue and an
/// eventfd, so a slow request never holds up others.
class rpc_server {
 public:
  using reply_fn = std::function<void(wire::Envelope)>;
  using handler = std::function<void(wire::Envelope&& request, reply_fn reply)>;

  rpc_server(std::string endpoint, handler on_request, socket_options opts = {});
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
