#pragma once

// cbdc-fx's server: the role table (the trust boundary) and the dealer behind a ROUTER socket.

#include <memory>
#include <string>

#include "fx/dealer.hpp"
#include "rpc/serial_server.hpp"

namespace cbdc::fx {

/// Who may send what to a dealer (docs/protocol.md#roles): quotes, executions and declines
/// from banks (each for its own quotes), two-way prices from any node.
auto dealer_roles() -> role_table;

/// The dealer behind a ROUTER socket (RequestQuote -> FxQuote, ExecuteQuote -> Receipt).
class server {
 public:
  static auto start(dealer_config config, key_pair key) -> result<std::unique_ptr<server>>;
  ~server();
  server(const server&) = delete;
  auto operator=(const server&) -> server& = delete;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }

 private:
  server() = default;
  auto answer(const wire::Envelope& request, const peer& from) -> wire::Envelope;
  std::unique_ptr<dealer> m_dealer;
  std::unique_ptr<serial_server> m_server;
};

}  // namespace cbdc::fx
