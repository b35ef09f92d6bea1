#pragma once

// cbdc-issuer's server: the role table (the trust boundary) and the issuer behind a ROUTER
// socket.

#include <memory>
#include <string>

#include "issuer/issuer.hpp"
#include "rpc/serial_server.hpp"

namespace cbdc::issuer {

/// Who may send what to a central bank (docs/protocol.md#roles): mints, redemptions and
/// reserve queries from banks (each for itself), clearances and their releases from dealers
/// (each for its own quotes).
auto issuer_roles() -> role_table;

/// The issuer behind a ROUTER socket; requests run one at a time on a worker thread.
class server {
 public:
  static auto start(issuer_config config, key_pair key) -> result<std::unique_ptr<server>>;
  ~server();
  server(const server&) = delete;
  auto operator=(const server&) -> server& = delete;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }

 private:
  server() = default;
  auto answer(const wire::Envelope& request, const peer& from) -> wire::Envelope;

  std::unique_ptr<issuer> m_issuer;
  std::unique_ptr<serial_server> m_server;
};

}  // namespace cbdc::issuer
