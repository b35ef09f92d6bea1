#pragma once

// cbdc-bank's server: the role table (the trust boundary), the customer's signature check, and
// each request decoded, answered by the bank's service (bank::service) and encoded, on the
// service's worker.

#include <memory>
#include <optional>
#include <string>

#include "bank/service.hpp"
#include "rpc/customer_auth.hpp"
#include "rpc/serial_server.hpp"

namespace cbdc::bank {

/// Who may send what to a bank (docs/protocol.md#roles): its wallets (customers) and the POS
/// pay and read; the other banks ask CanReceive; funding and onboarding come from the bank's
/// own operator only (checked by the server); settled batches never come from the wire.
auto bank_roles() -> role_table;

/// The bank behind a ROUTER socket (cbdc-bank serve).
class server {
 public:
  static auto start(const bank_config& config, key_pair vault, std::string endpoint)
      -> result<std::unique_ptr<server>>;
  ~server();
  server(const server&) = delete;
  auto operator=(const server&) -> server& = delete;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }

 private:
  server() = default;
  auto answer(const wire::Envelope& request, const peer& from, const rpc_server::reply_fn& reply)
      -> std::optional<wire::Envelope>;
  /// A customer's request, checked: its wallet signed it (Pay and ExecuteQuote carry the
  /// payment's own signatures instead), and a request about a wallet is about the signer's.
  auto check_customer(const wire::Envelope& request, const peer& from) -> status;
  /// Funding from the vault, onboarding and wallets of a class above IV: the bank's own
  /// operator's.
  auto operator_only(const wire::Envelope& request, const peer& from) -> status;

  std::unique_ptr<service> m_service;
  customer_verifier m_customers;
  std::unique_ptr<serial_server> m_server;
};

}  // namespace cbdc::bank
