#pragma once

// A request server whose requests run one at a time on a worker thread, with delayed tasks.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "platform/worker.hpp"
#include "rpc/transport.hpp"

namespace cbdc {

/// A request server whose requests run one at a time, in arrival order, on one worker thread:
/// for a service whose state is not thread-safe (a bank, an issuer). A full queue answers
/// overloaded.
class serial_server {
 public:
  using handler = std::function<wire::Envelope(const wire::Envelope&, const peer& from)>;
  /// A handler that may answer later: it returns the answer, or nullopt after keeping `reply`
  /// to call once its work completes (say, from a task posted when another service answered).
  using deferring_handler = std::function<std::optional<wire::Envelope>(
      const wire::Envelope&, const peer& from, const rpc_server::reply_fn& reply)>;
  using task = std::function<void()>;

  /// The handler sees only what `roles` admits from the wire, and what post() hands it (from
  /// an unauthenticated peer: the process itself).
  serial_server(std::string endpoint, handler on_request, role_table roles,
                socket_options opts = {}, std::size_t queue_capacity = 10'000);
  serial_server(std::string endpoint, deferring_handler on_request, role_table roles,
                socket_options opts = {}, std::size_t queue_capacity = 10'000);
  /// Requests run on `runs_on`, a worker its owner starts and closes (a service's own: the
  /// server's handler calls the service there).
  serial_server(std::string endpoint, deferring_handler on_request, role_table roles,
                socket_options opts, worker& runs_on);
  ~serial_server();
  serial_server(const serial_server&) = delete;
  auto operator=(const serial_server&) -> serial_server& = delete;

  /// Starts the worker (its own) and binds. Errors: unavailable.
  auto start() -> status;
  /// Stops taking requests and tasks, and waits for the worker (tasks posted later are
  /// dropped). Idempotent; the destructor calls it.
  void close();
  /// Runs fn on the worker, in turn with the requests, whatever the queue holds (it completes
  /// work already admitted); from any thread.
  void post_task(task fn);
  /// The same after delay_ms (a retry's back-off), without holding up the worker meanwhile.
  void post_task_after(int delay_ms, task fn);
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server.endpoint(); }

 private:
  /// Requests run on runs_on, or on own when it is null.
  serial_server(std::string endpoint, deferring_handler on_request, role_table roles,
                socket_options opts, std::unique_ptr<worker> own, worker* runs_on = nullptr);
  /// Queues a request for the handler; false when the queue is full.
  auto admit(wire::Envelope&& request, const peer& from, const rpc_server::reply_fn& reply) -> bool;
  deferring_handler m_handler;
  std::unique_ptr<worker> m_own;  ///< unless the requests run on another's worker
  worker& m_worker;
  rpc_server m_server;
  std::shared_ptr<void> m_depth_gauge;  ///< /metrics: the queue's depth while serving
};

}  // namespace cbdc
