#pragma once

// A bounded work queue.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace cbdc {

/// A bounded multi-producer multi-consumer queue. try_push refuses when full, so a producer
/// can answer "overloaded" instead of growing memory.
template <typename T>
class bounded_queue {
 public:
  explicit bounded_queue(std::size_t capacity) : m_capacity(capacity) {}

  /// Moves item in and returns true, or leaves it untouched and returns false when full or
  /// closed (so the caller can still answer it).
  /// Items waiting now (for a metrics gauge).
  [[nodiscard]] auto depth() -> std::size_t {
    std::lock_guard lock(m_mutex);
    return m_items.size();
  }

  auto try_push(T& item) -> bool {
    {
      std::lock_guard lock(m_mutex);
      if (m_closed || m_items.size() >= m_capacity) {
        return false;
      }
      m_items.push_back(std::move(item));
    }
    m_ready.notify_one();
    return true;
  }

  /// Moves item in past the capacity (work that must not be refused or wait, such as the
  /// completion of a request already admitted); false (item untouched) once closed.
  auto push_always(T& item) -> bool {
    {
      std::lock_guard lock(m_mutex);
      if (m_closed) {
        return false;
      }
      m_items.push_back(std::move(item));
    }
    m_ready.notify_one();
    return true;
  }

  /// Waits for room, then moves item in; false (item untouched) once closed.
  auto push_wait(T& item) -> bool {
    {
      std::unique_lock lock(m_mutex);
      m_space.wait(lock, [&] { return m_closed || m_items.size() < m_capacity; });
      if (m_closed) {
        return false;
      }
      m_items.push_back(std::move(item));
    }
    m_ready.notify_one();
    return true;
  }

  /// Waits for one item; nullopt once closed and empty.
  auto pop() -> std::optional<T> {
    std::unique_lock lock(m_mutex);
    m_ready.wait(lock, [&] { return m_closed || !m_items.empty(); });
    if (m_items.empty()) {
      return std::nullopt;
    }
    T item = std::move(m_items.front());
    m_items.pop_front();
    lock.unlock();
    m_space.notify_one();
    return item;
  }

  /// Moves up to max items into out, waiting until `deadline` for the first one and then
  /// taking what is there. Returns false once closed and empty.
  template <typename Clock, typename Dur>
  auto pop_some(std::vector<T>& out, std::size_t max, std::chrono::time_point<Clock, Dur> deadline)
      -> bool {
    std::unique_lock lock(m_mutex);
    m_ready.wait_until(lock, deadline, [&] { return m_closed || !m_items.empty(); });
    while (!m_items.empty() && out.size() < max) {
      out.push_back(std::move(m_items.front()));
      m_items.pop_front();
    }
    const bool open = !(m_closed && m_items.empty());
    lock.unlock();
    m_space.notify_all();
    return open;
  }

  void close() {
    {
      std::lock_guard lock(m_mutex);
      m_closed = true;
    }
    m_ready.notify_all();
    m_space.notify_all();
  }

  [[nodiscard]] auto size() const -> std::size_t {
    std::lock_guard lock(m_mutex);
    return m_items.size();
  }

 private:
  std::size_t m_capacity;
  mutable std::mutex m_mutex;
  std::condition_variable m_ready;
  std::condition_variable m_space;
  std::deque<T> m_items;
  bool m_closed{false};
};

}  // namespace cbdc
