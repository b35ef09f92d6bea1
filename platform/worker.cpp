// One thread that runs tasks in order, with delayed tasks.
#include "platform/worker.hpp"

#include <algorithm>

namespace cbdc {

void worker::start() {
  m_thread = std::thread([this] {
    while (auto fn = m_tasks.pop()) {
      (*fn)();
    }
  });
  m_timer = std::thread([this] {
    std::unique_lock lock(m_timer_mutex);
    while (!m_stopping) {
      if (m_timed.empty()) {
        m_timer_cv.wait(lock);
        continue;
      }
      const auto next =
          std::min_element(m_timed.begin(), m_timed.end(),
                           [](const timed& a, const timed& b) { return a.due < b.due; });
      if (next->due > std::chrono::steady_clock::now()) {
        // A copy: wait_until holds its deadline by reference while the lock is released, and a
        // task posted meanwhile may move m_timed's elements (ASan caught it reading freed
        // memory).
        const auto due = next->due;
        m_timer_cv.wait_until(lock, due);
        continue;
      }
      auto fn = std::move(next->fn);
      m_timed.erase(next);
      lock.unlock();
      post(std::move(fn));
      lock.lock();
    }
  });
}

void worker::close() {
  {
    std::lock_guard lock(m_timer_mutex);
    m_stopping = true;
  }
  m_timer_cv.notify_all();
  if (m_timer.joinable()) {
    m_timer.join();
  }
  m_tasks.close();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

auto worker::try_post(task& fn) -> bool {
  return m_tasks.try_push(fn);
}

void worker::post(task fn) {
  (void)m_tasks.push_always(fn);  // refused only once closed
}

void worker::post_after(int delay_ms, task fn) {
  {
    std::lock_guard lock(m_timer_mutex);
    m_timed.push_back(timed{std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms),
                            std::move(fn)});
  }
  m_timer_cv.notify_all();
}

}  // namespace cbdc
