#pragma once

// The server side of settlement's notifications: the message of a settled transaction and the
// PUB socket that announces each committed batch.

#include <memory>
#include <string>
#include <vector>

#include "core/codec.hpp"
#include "rpc/transport.hpp"
#include "rpc/wire.hpp"
#include "settlement/notify.hpp"
#include "settlement/receipt.hpp"

namespace zmq {
class socket_t;
}

namespace cbdc::settlement {

/// The notification of a settled transaction in a batch (as published, and as a bank catching up
/// reads it).
auto settled_message(const signed_tx& stx, const receipt& batch) -> wire::TxSettled;

/// Publishes settled transactions on a PUB socket. Used from one thread only (the batcher's).
/// With authentication on, only operator nodes and tills (k_subscribers) may subscribe.
class publisher {
 public:
  explicit publisher(std::string endpoint, socket_options opts = {});
  ~publisher();
  publisher(const publisher&) = delete;
  auto operator=(const publisher&) -> publisher& = delete;

  /// Binds. Errors: unavailable.
  auto start() -> status;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_endpoint; }
  /// Announces each transaction of a committed batch (at most once per topic per transaction).
  void publish(const std::vector<const signed_tx*>& txs, const receipt& batch);

 private:
  std::string m_endpoint;
  socket_options m_opts;
  std::unique_ptr<zmq::socket_t> m_socket;
};

}  // namespace cbdc::settlement
