// A request server whose requests run one at a time on a worker thread, with delayed tasks.
#include "rpc/serial_server.hpp"

#include "platform/metrics.hpp"

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
    : serial_server(std::move(endpoint), std::move(on_request), std::move(roles), std::move(opts),
                    std::make_unique<worker>(queue_capacity)) {}

serial_server::serial_server(std::string endpoint, deferring_handler on_request, role_table roles,
                             socket_options opts, worker& runs_on)
    : serial_server(std::move(endpoint), std::move(on_request), std::move(roles), std::move(opts),
                    nullptr, &runs_on) {}

serial_server::serial_server(std::string endpoint, deferring_handler on_request, role_table roles,
                             socket_options opts, std::unique_ptr<worker> own, worker* runs_on)
    : m_handler(std::move(on_request)),
      m_own(std::move(own)),
      m_worker(runs_on != nullptr ? *runs_on : *m_own),
      m_server(
          std::move(endpoint),
          [this](wire::Envelope&& req, const peer& from, const rpc_server::reply_fn& reply) {
            if (!admit(std::move(req), from, reply)) {
              reply(error_envelope(0, error{status_code::overloaded, "the request queue is full"}));
            }
          },
          std::move(roles), std::move(opts)) {}

serial_server::~serial_server() {
  close();
}

auto serial_server::admit(wire::Envelope&& request, const peer& from,
                          const rpc_server::reply_fn& reply) -> bool {
  worker::task run = [this, request = std::move(request), from, reply] {
    if (auto answer = m_handler(request, from, reply)) {
      reply(*answer);
    }
  };
  return m_worker.try_post(run);
}

void serial_server::close() {
  m_depth_gauge.reset();
  m_server.stop();
  if (m_own) {
    m_own->close();
  }
}

auto serial_server::start() -> status {
  if (m_own) {
    m_own->start();
  }
  auto bound = m_server.start();
  if (bound) {
    auto& m = metrics::registry::global();
    m.describe("cbdc_serial_queue_depth", metrics::kind::gauge,
               "Requests and tasks waiting for a service's worker (bank, issuer, dealer)");
    m_depth_gauge = m.gauge_fn("cbdc_serial_queue_depth", {{"endpoint", m_server.endpoint()}},
                               [this] { return static_cast<double>(m_worker.depth()); });
  }
  return bound;
}

void serial_server::post_task(task fn) {
  m_worker.post(std::move(fn));
}

void serial_server::post_task_after(int delay_ms, task fn) {
  m_worker.post_after(delay_ms, std::move(fn));
}

}  // namespace cbdc
