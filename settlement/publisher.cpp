// Settlement's notifications: each committed batch published on the PUB socket.
#include "settlement/publisher.hpp"

#include <set>
#include <zmq.hpp>

#include "core/assert.hpp"

namespace cbdc::settlement {

publisher::publisher(std::string endpoint, socket_options opts)
    : m_endpoint(std::move(endpoint)), m_opts(std::move(opts)) {
  m_opts.handshake_roles = k_subscribers;
}
publisher::~publisher() = default;

auto publisher::start() -> status {
  auto sock = std::make_unique<zmq::socket_t>(shared_context(), zmq::socket_type::pub);
  sock->set(zmq::sockopt::sndhwm, 100'000);
  sock->set(zmq::sockopt::linger, 0);
  try {
    apply_curve_server(*sock, m_opts);
    sock->bind(m_endpoint);
  } catch (const zmq::error_t& e) {
    return error{status_code::unavailable, "cannot bind " + m_endpoint + ": " + e.what()};
  }
  m_endpoint = sock->get(zmq::sockopt::last_endpoint);
  m_socket = std::move(sock);
  return ok_status();
}

auto settled_message(const signed_tx& stx, const receipt& batch) -> wire::TxSettled {
  wire::TxSettled msg;
  msg.set_tx_id(id_to_wire(stx.id));
  msg.set_kind(static_cast<std::uint32_t>(stx.tx.kind));
  msg.set_shard(batch.shard);
  msg.set_batch_seq(batch.batch_seq);
  msg.set_settled_at_us(batch.settled_at_us);
  for (std::uint32_t i = 0; i < stx.tx.outputs.size(); ++i) {
    const auto& out = stx.tx.outputs[i];
    *msg.add_outputs() = to_wire(token_info{token_id_of(stx.tx.prof, stx.id, i),
                                            out.cur,
                                            out.amount_minor,
                                            out.owner,
                                            stx.id,
                                            false,
                                            {}});
  }
  for (const auto& in : stx.tx.inputs) {
    msg.add_spent(id_to_wire(in));
  }
  return msg;
}

void publisher::publish(const std::vector<const signed_tx*>& txs, const receipt& batch) {
  CBDC_ASSERT(m_socket != nullptr);
  for (const auto* stx : txs) {
    const auto msg = settled_message(*stx, batch);
    std::set<std::string> topics;
    std::set<std::string> everything;  // one copy per currency for subscribers of it all
    for (const auto& out : stx->tx.outputs) {
      topics.insert(settled_topic(out.cur, out.owner));
      everything.insert(all_topic(out.cur));
    }
    if (topics.empty()) {
      topics.insert("redeem:");
      everything.insert(k_all_redeemed_topic);
    }
    topics.merge(everything);
    const auto payload = msg.SerializeAsString();
    for (const auto& topic : topics) {
      // PUB never blocks; past the high-water mark a slow subscriber misses messages and
      // catches up with queries.
      (void)m_socket->send(zmq::buffer(topic),
                           zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      (void)m_socket->send(zmq::buffer(payload), zmq::send_flags::dontwait);
    }
  }
}

}  // namespace cbdc::settlement
