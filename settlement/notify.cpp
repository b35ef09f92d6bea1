// Settlement's notifications for subscribers: topics and the SUB side.
#include "settlement/notify.hpp"

#include <zmq.hpp>

#include "rpc/transport.hpp"

namespace cbdc::settlement {

auto settled_topic(currency cur, const public_key& owner) -> std::string {
  return std::string{currency_code(cur)} + ":" + owner.hex();
}

auto all_topic(currency cur) -> std::string {
  return "all:" + std::string{currency_code(cur)};
}

subscriber::subscriber(const std::string& endpoint, const std::vector<std::string>& prefixes,
                       const socket_options& opts)
    : m_socket(std::make_unique<zmq::socket_t>(shared_context(), zmq::socket_type::sub)) {
  m_socket->set(zmq::sockopt::rcvhwm, 100'000);
  m_socket->set(zmq::sockopt::linger, 0);
  for (const auto& p : prefixes) {
    m_socket->set(zmq::sockopt::subscribe, p);
  }
  if (apply_curve_client(*m_socket, opts, endpoint)) {
    m_socket->connect(endpoint);
  }
}

subscriber::~subscriber() = default;

auto subscriber::next(int timeout_ms) -> std::optional<wire::TxSettled> {
  m_socket->set(zmq::sockopt::rcvtimeo, timeout_ms);
  zmq::message_t topic;
  zmq::message_t payload;
  if (!m_socket->recv(topic) || !m_socket->recv(payload)) {
    return std::nullopt;
  }
  wire::TxSettled msg;
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return std::nullopt;
  }
  return msg;
}

}  // namespace cbdc::settlement
