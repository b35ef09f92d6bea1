#include "core/serial_server.hpp"

namespace cbdc {

serial_server::serial_server(std::string endpoint, handler on_request, std::size_t queue_capacity)
    : m_handler(std::move(on_request)),
      m_jobs(queue_capacity),
      m_server(
          std::move(endpoint), [this](wire::Envelope&& req, const rpc_server::reply_fn& reply) {
            job j{std::move(req), reply};
            if (!m_jobs.try_push(j)) {
              reply(error_envelope(0, error{status_code::overloaded, "the request queue is full"}));
            }
          }) {}

serial_server::~serial_server() {
  m_server.stop();
  m_jobs.close();
  if (m_worker.joinable()) {
    m_worker.join();
  }
}

auto serial_server::start() -> status {
  m_worker = std::thread([this] {
    while (auto j = m_jobs.pop()) {
      j->reply(m_handler(j->request));
    }
  });
  return m_server.start();
}

auto serial_server::post(wire::Envelope request) -> bool {
  job j{std::move(request), [](const wire::Envelope&) {}};
  return m_jobs.try_push(j);
}

}  // namespace cbdc
