#pragma once

// One thread that runs tasks in the order they come, with delayed tasks: the home of a service
// whose state is not thread-safe (a bank, an issuer, a dealer).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "platform/queue.hpp"

namespace cbdc {

/// Tasks run one at a time, in order, on one thread. The queue is bounded for work that may be
/// refused (a request: try_post), unbounded for work that completes what was admitted (post).
class worker {
 public:
  using task = std::function<void()>;
  explicit worker(std::size_t capacity = 10'000) : m_tasks(capacity) {}
  ~worker() { close(); }
  worker(const worker&) = delete;
  auto operator=(const worker&) -> worker& = delete;

  /// Starts the thread and the timer; tasks posted before wait for it.
  void start();
  /// Stops taking tasks (and delayed ones), runs those already queued, and joins. Idempotent.
  void close();
  /// Queues fn unless the queue is full or closed (fn is then left as it was).
  auto try_post(task& fn) -> bool;
  /// Queues fn whatever the queue holds (dropped once closed); from any thread.
  void post(task fn);
  /// Queues fn after delay_ms (a retry's back-off) without holding up the worker meanwhile.
  void post_after(int delay_ms, task fn);
  /// Whether the caller is this worker's thread.
  [[nodiscard]] auto on_worker() const -> bool {
    return std::this_thread::get_id() == m_thread.get_id();
  }
  /// Tasks waiting now (a metrics gauge).
  [[nodiscard]] auto depth() -> std::size_t { return m_tasks.depth(); }

 private:
  struct timed {
    std::chrono::steady_clock::time_point due;
    task fn;
  };
  bounded_queue<task> m_tasks;
  std::mutex m_timer_mutex;
  std::condition_variable m_timer_cv;
  std::vector<timed> m_timed;
  bool m_stopping{false};
  std::thread m_timer;
  std::thread m_thread;
};

}  // namespace cbdc
