#pragma once

// A request server whose requests run one at a time on a worker thread, with delayed tasks.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "platform/queue.hpp"
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
  ~serial_server();
  serial_server(const serial_server&) = delete;
  auto operator=(const serial_server&) -> serial_server& = delete;

  /// Starts the worker and binds. Errors: unavailable.
  auto start() -> status;
  /// Stops taking requests and tasks, and waits for the worker (tasks posted later are
  /// dropped). Idempotent; the destructor calls it.
  void close();
  /// Queues a request from inside the process (a notification, say) whose answer is dropped;
  /// false when the queue is full, the request then left as it was (to offer again).
  auto post(wire::Envelope& request) -> bool;
  /// Runs fn on the worker, in turn with the requests, whatever the queue holds (it completes
  /// work already admitted); from any thread.
  void post_task(task fn);
  /// The same after delay_ms (a retry's back-off), without holding up the worker meanwhile.
  void post_task_after(int delay_ms, task fn);
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server.endpoint(); }

 private:
  struct job {
    wire::Envelope request;
    peer from;
    rpc_server::reply_fn reply;
    task fn;  ///< set for a task instead of a request
  };
  struct timed {
    std::chrono::steady_clock::time_point due;
    task fn;
  };
  deferring_handler m_handler;
  bounded_queue<job> m_jobs;
  std::mutex m_timer_mutex;
  std::condition_variable m_timer_cv;
  std::vector<timed> m_timed;
  bool m_stopping{false};
  std::thread m_timer;
  std::thread m_worker;
  rpc_server m_server;
  std::shared_ptr<void> m_depth_gauge;  ///< /metrics: the queue's depth while serving
};

}  // namespace cbdc
