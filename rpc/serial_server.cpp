// A request server whose requests run one at a time on a worker thread, with delayed tasks.
#include "rpc/serial_server.hpp"

#include "platform/metrics.hpp"

#include <algorithm>

namespace cbdc {

serial_server::serial_server(std::string endpoint, handler on_request, role_table roles,
                             socket_options opts, std::size_t queue_capacity)
    : serial_server(std::move(endpoint),
                    deferring_handler{[fn = std::move(on_request)](const wire::Envelope& req,
                                                                   const peer& from,
                                                                   const rpc_server::reply_fn&) {
                      return std::optional<wire::Envelope>{fn(req, from)};
                    }},
                    std::move(roles), std::move(opts), queue_capacity) {}

serial_server::serial_server(std::string endpoint, deferring_handler on_request, role_table roles,
                             socket_options opts, std::size_t queue_capacity)
    : m_handler(std::move(on_request)),
      m_jobs(queue_capacity),
      m_server(
          std::move(endpoint),
          [this](wire::Envelope&& req, const peer& from, const rpc_server::reply_fn& reply) {
            job j{std::move(req), from, reply, {}};
            if (!m_jobs.try_push(j)) {
              reply(error_envelope(0, error{status_code::overloaded, "the request queue is full"}));
            }
          },
          std::move(roles), std::move(opts)) {}

serial_server::~serial_server() {
  close();
}

void serial_server::close() {
  m_depth_gauge.reset();
  m_server.stop();
  {
    std::lock_guard lock(m_timer_mutex);
    m_stopping = true;
  }
  m_timer_cv.notify_all();
  if (m_timer.joinable()) {
    m_timer.join();
  }
  m_jobs.close();
  if (m_worker.joinable()) {
    m_worker.join();
  }
}

auto serial_server::start() -> status {
  m_worker = std::thread([this] {
    while (auto j = m_jobs.pop()) {
      if (j->fn) {
        j->fn();
      } else if (auto answer = m_handler(j->request, j->from, j->reply)) {
        j->reply(*answer);
      }
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
      post_task(std::move(fn));
      lock.lock();
    }
  });
  auto bound = m_server.start();
  if (bound) {
    auto& m = metrics::registry::global();
    m.describe("cbdc_serial_queue_depth", metrics::kind::gauge,
               "Requests and tasks waiting for a service's worker (bank, issuer, dealer)");
    m_depth_gauge = m.gauge_fn("cbdc_serial_queue_depth", {{"endpoint", m_server.endpoint()}},
                               [this] { return static_cast<double>(m_jobs.depth()); });
  }
  return bound;
}

auto serial_server::post(wire::Envelope& request) -> bool {
  job j{std::move(request), peer{}, [](const wire::Envelope&) {}, {}};
  if (m_jobs.try_push(j)) {
    return true;
  }
  request = std::move(j.request);
  return false;
}

void serial_server::post_task(task fn) {
  job j{{}, {}, {}, std::move(fn)};
  (void)m_jobs.push_always(j);  // refused only while stopping
}

void serial_server::post_task_after(int delay_ms, task fn) {
  {
    std::lock_guard lock(m_timer_mutex);
    m_timed.push_back(timed{std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms),
                            std::move(fn)});
  }
  m_timer_cv.notify_all();
}

}  // namespace cbdc
