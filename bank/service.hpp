#pragma once

// The bank in process (bank::interface): its wallets and their limits (bank::bank), the
// payment's way through the payee's bank and settlement with its durable intent, the other
// banks, the FX dealers, the registration centre and the listener of settlement's
// notifications, all run on one worker thread. cbdc-bank's server answers the wire with it;
// tests and tools may hold it directly.

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bank/bank.hpp"
#include "bank/interface.hpp"
#include "fx/client.hpp"
#include "issuer/client.hpp"
#include "platform/bounded_map.hpp"
#include "platform/worker.hpp"

namespace cbdc::bank {

class service final : public interface {
 public:
  /// Opens the bank, starts its worker (which first catches up with settlement and sends again
  /// the payments a crash left in flight) and its listener of settlement's notifications.
  static auto start(const bank_config& config, key_pair vault) -> result<std::unique_ptr<service>>;
  ~service() override;
  service(const service&) = delete;
  auto operator=(const service&) -> service& = delete;

  /// The worker every request runs on. A call from another thread waits for its turn there;
  /// cbdc-bank's server runs its requests on it, so that they run in order without a hop. On
  /// the worker, a payment is asked with pay_async only: pay would wait for an answer that the
  /// same thread has yet to produce.
  [[nodiscard]] auto runs_on() -> worker& { return m_worker; }
  /// This bank's node name (its bank id; empty without authentication): its operators fund.
  [[nodiscard]] auto name() const -> const std::string& { return m_name; }
  [[nodiscard]] auto cur() const -> currency { return m_bank->cur(); }
  /// Whether owner is a wallet of this bank (the server's check of a customer's signer).
  auto hosts(const public_key& owner) -> bool;

  auto open_wallet(const public_key& owner, wallet_class cls, bool merchant,
                   const std::string& parent_id = {}, std::int64_t sub_cap_minor = 0)
      -> result<std::string> override;
  auto wallet_info(const public_key& owner) -> result<wallet_record> override;
  void pay_async(const signed_tx& tx, const std::string& payee_bank, receipt_fn done) override;
  auto can_receive(const public_key& owner, money amount, const std::optional<hash256>& tx_id)
      -> result<bool> override;
  auto balance(const public_key& owner) -> result<money> override;
  auto history(const public_key& owner, std::uint32_t limit)
      -> result<std::vector<history_entry>> override;
  auto list_unspent(const public_key& owner, std::uint32_t limit = 0)
      -> result<std::vector<settlement::token_info>> override;
  auto vault_key() -> result<public_key> override;
  auto exchange_to_ecny(const public_key& owner, money amount, const std::string& request_id)
      -> result<settlement::receipt> override;
  auto exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
      -> result<settlement::receipt> override;
  auto fund(const public_key& owner, money amount) -> result<settlement::receipt> override;
  auto open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners, bool merchant)
      -> result<std::vector<std::string>> override;
  auto fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
      -> result<settlement::receipt> override;
  auto request_quote(currency pay, currency receive, std::int64_t amount_minor, bool fixed_pay)
      -> result<fx::quote> override;
  auto execute_quote(const std::string& quote_id, const signed_tx& tx)
      -> result<settlement::receipt> override;
  auto decline_quote(const std::string& quote_id) -> status override;
  auto issue_device(const public_key& owner, const public_key& device)
      -> result<device_issued> override;
  void load_device_async(const signed_tx& tx, loaded_fn done) override;
  void submit_offline_async(const offline_batch& batch, submitted_fn done) override;
  auto revocations() -> result<revocation_sync> override;
  /// Another bank's revocation list (pushed when it revokes a device). Errors:
  /// certificate_invalid, not_permitted (this bank takes part in no offline scheme).
  auto take_revocations(const offline::revocation_list& list, const offline::bank_cert& cert)
      -> status;
  /// Another bank's report of a double spend: when the device is this bank's, it is revoked and
  /// the new list pushed to the other banks. Errors: bad_request (not a double spend).
  auto take_double_spend(const signed_tx& settled, const signed_tx& refused) -> status;
  /// At most this many offline transfers in one SubmitOffline.
  static constexpr std::size_t k_max_offline_batch = cbdc::bank::k_max_offline_batch;

  /// At most this many tokens in one list_unspent answer (as one settlement shard answers).
  static constexpr std::uint32_t k_max_listed = 10'000;
  /// At most this many lines in one history answer.
  static constexpr std::uint32_t k_max_history = 1000;

 private:
  service() = default;
  /// Runs fn on the worker (at once when called there) and gives its result.
  template <typename F>
  auto on_worker(F fn) -> decltype(fn()) {
    if (m_worker.on_worker()) {
      return fn();
    }
    std::promise<decltype(fn())> done;
    auto answer = done.get_future();
    m_worker.post([&] { done.set_value(fn()); });
    return answer.get();
  }

  /// The payment on the worker: its signatures, the bank's checks and reservations, then the
  /// payee's bank (ask_peer) or settlement (submit).
  void pay_now(const signed_tx& tx, const std::string& payee_bank, receipt_fn done);
  /// Sends a checked payment to settlement once its intent is durable (see flush).
  void submit(pending_payment p, receipt_fn done);
  /// Writes, in one durable database transaction, the intents of the payments submitted and
  /// the records of those settled since the last flush; then sends the first. Run by a task
  /// queued behind the requests waiting for the worker (queue_flush).
  void flush();
  void queue_flush();
  /// Sends a payment whose intent is durable; the answer comes back as a task on the worker.
  void send(pending_payment p, const receipt_fn& done);
  /// Sends again the payments a crash left in flight (nobody waits for their answers).
  void recover();
  /// Asks the other banks, from peer `next` on (or the one known to host it), whether the
  /// payee may receive the payment; then submits it, or answers the refusal.
  void ask_peer(pending_payment p, receipt_fn done, std::size_t next);
  /// Takes settlement's answer (or a refusal) for a payment and answers it; a settled one's
  /// record for the day follows in the next flush (its durable intent covers a crash meanwhile).
  void finish(const pending_payment& p, result<settlement::receipt> answer, const receipt_fn& done);
  /// Runs the bank's catch-up with settlement on the worker, again every second until it works.
  void catch_up();
  /// Reads from settlement the batches that notifications skipped (bank::fill_gaps), again
  /// every k_gap_wait_ms until it works.
  void fill_gaps();
  /// Indexes a batch of notifications the listener gathered.
  void index(const wire::SettledBatch& batch);
  static constexpr int k_gap_wait_ms = 500;
  void listen(const std::string& pub_endpoint, currency cur, const socket_options& net);
  /// The offline part (bank/offline.cpp): a load after its cap check; each offline transfer in
  /// turn; a double spend recorded, its device revoked or the other banks told.
  void load_now(const signed_tx& tx, const loaded_fn& done);
  struct reconciliation;
  void reconcile_next(const std::shared_ptr<reconciliation>& r);
  void reconciled(const std::shared_ptr<reconciliation>& r, result<settlement::receipt> answer);
  auto find_double_spend(const signed_tx& refused) -> std::optional<double_spend_found>;
  /// Whether a certified device signed tx (this bank's, or another's by the batch's
  /// certificates), and no wallet hosted here. Errors: not_authorized, not_permitted.
  auto signed_by_device(const signed_tx& tx, const offline_batch& batch) -> status;
  /// Tells every other bank: the double spend (its device's bank revokes it), or this bank's
  /// new revocation list.
  void tell_peers(const wire::Envelope& message);
  /// Pushes this bank's revocation list, as of now, to every other bank.
  void push_own_list();
  /// Registers wallets at the registration centre before hosting them (ok without one).
  auto register_at_centre(const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
      -> status;

  worker m_worker;  ///< first: destroyed last, after whatever posts to it
  std::unique_ptr<bank> m_bank;
  std::unique_ptr<issuer::client> m_registry;  ///< the registration centre, when configured
  std::string m_name;
  std::vector<std::unique_ptr<rpc_client>> m_peers;
  std::unordered_map<std::string, std::size_t> m_peer_ids;  ///< peer's bank id -> peer
  /// Caches of what peers answered (a miss asks the peers again).
  static constexpr std::size_t k_payees_remembered = 100'000;
  bounded_map<std::string, std::size_t> m_payee_home{k_payees_remembered};  ///< key hex -> peer
  bounded_map<std::string, bool> m_uncapped{k_payees_remembered};           ///< payees with no cap
  std::vector<std::unique_ptr<fx::client>> m_dealers;
  static constexpr std::size_t k_quotes_remembered = 10'000;
  bounded_map<std::string, fx::interface*> m_quote_dealer{k_quotes_remembered};  ///< by quote id
  std::vector<std::pair<pending_payment, receipt_fn>> m_unsent;                  ///< see flush
  std::unique_ptr<offline_desk> m_offline;                  ///< when the bank certifies devices
  std::unordered_map<std::string, std::int64_t> m_loading;  ///< device hex -> loads in flight
  bool m_flush_queued{false};
  bool m_gaps_queued{false};
  std::atomic<bool> m_stop{false};
  std::thread m_listener;
};

}  // namespace cbdc::bank
