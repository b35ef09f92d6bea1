#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/queue.hpp"
#include "core/transport.hpp"

namespace cbdc {

/// A request server whose requests run one at a time, in arrival order, on one worker thread:
/// for a service whose state is not thread-safe (a bank, an issuer). A full queue answers
/// overloaded.
class serial_server {
 public:
  using handler = std::function<wire::Envelope(const wire::Envelope&)>;

  serial_server(std::string endpoint, handler on_request, std::size_t queue_capacity = 10'000);
  ~serial_server();
  serial_server(const serial_server&) = delete;
  auto operator=(const serial_server&) -> serial_server& = delete;

  /// Starts the worker and binds. Errors: unavailable.
  auto start() -> status;
  /// Queues a request from inside the process (a notification, say) whose answer is dropped;
  /// false when the queue is full.
  auto post(wire::Envelope request) -> bool;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server.endpoint(); }

 private:
  struct job {
    wire::Envelope request;
    rpc_server::reply_fn reply;
  };
  handler m_handler;
  bounded_queue<job> m_jobs;
  std::thread m_worker;
  rpc_server m_server;
};

}  // namespace cbdc
