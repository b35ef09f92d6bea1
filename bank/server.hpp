#pragma once

// cbdc-bank's server: the role table (the trust boundary) and the bank behind a ROUTER socket,
// with its worker, its flushes, its peers and dealers, and the listener of settlement's
// notifications.

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bank/bank.hpp"
#include "fx/client.hpp"
#include "issuer/client.hpp"
#include "platform/bounded_map.hpp"
#include "rpc/customer_auth.hpp"
#include "rpc/serial_server.hpp"

namespace cbdc::bank {

/// Who may send what to a bank (docs/protocol.md#roles): its wallets (customers) and the POS
/// pay and read; the other banks ask CanReceive; funding and onboarding come from the bank's
/// own operator only (checked by the service); settled batches never come from the wire.
auto bank_roles() -> role_table;

/// The bank behind a ROUTER socket (cbdc-bank serve); requests run one at a time on a worker.
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
  /// Sends a checked payment to settlement once its intent is durable (see flush).
  void submit(pending_payment p, const rpc_server::reply_fn& reply);
  /// Writes, in one durable database transaction, the intents of the payments submitted and
  /// the records of those settled since the last flush; then sends the first and answers the
  /// second. Run by a task queued behind the requests waiting for the worker (queue_flush).
  void flush();
  void queue_flush();
  /// Sends a payment whose intent is durable; the answer comes back as a task on the worker.
  void send(pending_payment p, const rpc_server::reply_fn& reply);
  /// Sends again the payments a crash left in flight (nobody waits for their answers).
  void recover();
  /// Asks the other banks, from peer `next` on (or the one known to host it), whether the
  /// payee may receive the payment; then submits it, or answers the refusal.
  void ask_peer(pending_payment p, const rpc_server::reply_fn& reply, std::size_t next);
  /// Runs the bank's catch-up with settlement on the worker, again every second until it works.
  void catch_up();
  /// Reads from settlement the batches that notifications skipped (bank::fill_gaps), again
  /// every k_gap_wait_ms until it works.
  void fill_gaps();
  static constexpr int k_gap_wait_ms = 500;
  /// At most this many tokens in one ListUnspent answer (as one settlement shard answers).
  static constexpr std::uint32_t k_max_listed = 10'000;
  void listen(const std::string& pub_endpoint, currency cur, const socket_options& net);
  /// Takes settlement's answer (or a refusal) for a payment. A settled one is answered once its
  /// record for the day is durable (see flush).
  void finish(const pending_payment& p, result<settlement::receipt> answer,
              const rpc_server::reply_fn& reply);
  /// A wallet's cross-border payment, through the bank's dealers: the best quote for the bank
  /// (the quote is the bank's; the wallet pays), its execution and its decline.
  auto quote(const wire::RequestQuote& r) -> wire::Envelope;
  auto execute_quote(const wire::ExecuteQuote& e) -> wire::Envelope;
  auto decline_quote(const wire::DeclineQuote& d) -> wire::Envelope;

  /// A customer's request, checked: its wallet signed it (Pay and ExecuteQuote carry the
  /// payment's own signatures instead), and a request about a wallet is about the signer's.
  auto check_customer(const wire::Envelope& request, const peer& from) -> status;

  /// Registers wallets at the registration centre before hosting them (ok without one).
  auto register_at_centre(const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
      -> status;

  std::unique_ptr<bank> m_bank;
  std::unique_ptr<issuer::client> m_registry;  ///< the registration centre, when configured
  customer_verifier m_customers;
  std::string m_name;  ///< this bank's node name (its bank id), whose operators may fund
  std::vector<std::unique_ptr<rpc_client>> m_peers;
  std::unordered_map<std::string, std::size_t> m_peer_ids;  ///< peer's bank id -> peer
  /// Caches of what peers answered (a miss asks the peers again).
  static constexpr std::size_t k_payees_remembered = 100'000;
  bounded_map<std::string, std::size_t> m_payee_home{k_payees_remembered};  ///< key hex -> peer
  bounded_map<std::string, bool> m_uncapped{k_payees_remembered};           ///< payees with no cap
  std::vector<std::unique_ptr<fx::client>> m_dealers;
  static constexpr std::size_t k_quotes_remembered = 10'000;
  bounded_map<std::string, fx::interface*> m_quote_dealer{k_quotes_remembered};  ///< by quote id
  std::unique_ptr<serial_server> m_server;
  std::vector<std::pair<rpc_server::reply_fn, settlement::receipt>> m_unanswered;  ///< see flush
  std::vector<std::pair<pending_payment, rpc_server::reply_fn>> m_unsent;          ///< see flush
  bool m_flush_queued{false};
  bool m_gaps_queued{false};
  std::atomic<bool> m_stop{false};
  std::thread m_listener;
};

}  // namespace cbdc::bank
