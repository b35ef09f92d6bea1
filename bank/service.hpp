#pragma once

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
#include "core/customer_auth.hpp"
#include "core/serial_server.hpp"
#include "fx/dealer.hpp"
#include "issuer/issuer.hpp"

namespace cbdc::bank {

/// Who may send what to a bank (docs/protocol.md#roles): its wallets (customers) and the POS
/// pay and read; the other banks ask CanReceive; funding and onboarding come from the bank's
/// own operator only (checked by the service); settled batches never come from the wire.
auto bank_roles() -> role_table;

/// The bank behind a ROUTER socket (cbdc-bank serve); requests run one at a time on a worker.
class service {
 public:
  static auto start(const bank_config& config, key_pair vault, std::string endpoint)
      -> result<std::unique_ptr<service>>;
  ~service();
  service(const service&) = delete;
  auto operator=(const service&) -> service& = delete;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }

 private:
  service() = default;
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
  std::unordered_map<std::string, std::size_t> m_peer_ids;    ///< peer's bank id -> peer
  std::unordered_map<std::string, std::size_t> m_payee_home;  ///< payee key hex -> peer
  std::unordered_set<std::string> m_uncapped;  ///< payees at peers with no balance cap
  std::vector<std::unique_ptr<fx::client>> m_dealers;
  std::map<std::string, fx::client*> m_quote_dealer;  ///< open quotes' dealers, by quote id
  std::deque<std::string> m_quote_order;              ///< oldest first, to bound the map
  std::unique_ptr<serial_server> m_server;
  std::vector<std::pair<rpc_server::reply_fn, settlement::receipt>> m_unanswered;  ///< see flush
  std::vector<std::pair<pending_payment, rpc_server::reply_fn>> m_unsent;          ///< see flush
  bool m_flush_queued{false};
  bool m_gaps_queued{false};
  std::atomic<bool> m_stop{false};
  std::thread m_listener;
};

/// A client of cbdc-bank: what a wallet asks its bank.
class client {
 public:
  explicit client(std::string endpoint, socket_options opts = {});
  /// Signs every request with the wallet's key from now on (a customer's proof, which the bank
  /// asks of every request but a payment's).
  void sign_as(const key_pair& wallet) { m_signer = wallet; }
  auto open_wallet(const public_key& owner, wallet_class cls, bool merchant,
                   const std::string& parent_id = {}, std::int64_t sub_cap_minor = 0)
      -> result<std::string>;
  /// The payment's receipt; limit refusals come back as errors naming the limit. payee_bank:
  /// the payee's bank id when the payee's payment request names it (asked first).
  auto pay(const signed_tx& tx, const std::string& payee_bank = {}) -> result<settlement::receipt>;
  auto fund(const public_key& owner, money amount) -> result<settlement::receipt>;
  /// Onboards many new wallets at once; their wallet ids in the order given.
  auto open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners, bool merchant)
      -> result<std::vector<std::string>>;
  /// Pays many hosted wallets from the vault in one transaction (outputs in this order), once
  /// per request id.
  auto fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
      -> result<settlement::receipt>;
  auto balance(const public_key& owner) -> result<money>;
  /// The hosted wallet's record. Errors: unknown_wallet.
  auto wallet_info(const public_key& owner) -> result<wallet_record>;
  /// The bank's vault key (to pay it when exchanging e-CNY back to a deposit).
  auto vault_key() -> result<public_key>;
  auto exchange_to_ecny(const public_key& owner, money amount, const std::string& request_id)
      -> result<settlement::receipt>;
  auto exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
      -> result<settlement::receipt>;
  auto history(const public_key& owner, std::uint32_t limit) -> result<std::vector<history_entry>>;
  /// A hosted wallet's unspent tokens (what it may spend), largest first.
  auto list_unspent(const public_key& owner) -> result<std::vector<settlement::token_info>>;
  /// The best quote the bank's dealers give for paying `amount_minor` of receive (or, with
  /// fixed_pay, paying that much of pay). Errors: no_quote and the dealers' refusals.
  auto request_quote(currency pay, currency receive, std::int64_t amount_minor, bool fixed_pay)
      -> result<fx::quote>;
  /// Has the quote's dealer execute the wallet's signed PvP transaction.
  auto execute_quote(const std::string& quote_id, const signed_tx& tx)
      -> result<settlement::receipt>;
  auto decline_quote(const std::string& quote_id) -> status;

 private:
  auto receipt_of(result<wire::Envelope> answer) -> result<settlement::receipt>;
  /// Signs (when sign_as was called) and sends.
  auto call(wire::Envelope request) -> result<wire::Envelope>;
  rpc_client m_rpc;
  std::optional<key_pair> m_signer;
};

}  // namespace cbdc::bank
