#pragma once

// The operator bank's implementation: hosted wallets and their class limits, durable intents,
// the token index, funding and exchange (bank.cpp, index.cpp, funding.cpp).

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bank/limits.hpp"
#include "bank/offline_desk.hpp"
#include "bank/reservations.hpp"
#include "bank/types.hpp"
#include "core/codec.hpp"
#include "platform/pg.hpp"
#include "rpc/wire.hpp"
#include "settlement/client.hpp"

namespace cbdc::bank {

auto migrations() -> std::vector<pg::migration>;

struct bank_config {
  std::string db_url;
  std::string settle_spec{"tcp://127.0.0.1:7100"};  ///< a settlement::cluster spec
  limits_config limits{default_limits()};
  int utc_offset_minutes{480};  ///< the bank's calendar day for daily limits (China: +8 h)
  std::string settle_pub;       ///< settlement's PUB endpoint; empty: balances from settlement
  /// The other banks ("ID=ENDPOINT", or an endpoint alone), asked whether a payee they host may
  /// receive a payment.
  std::vector<std::string> peers;
  /// The FX dealers ("ID=ENDPOINT") the bank asks for quotes when its wallets pay across the
  /// border (a wallet talks to nobody but its bank).
  std::vector<std::string> dealers;
  /// The central bank's registration centre (a cbdc-issuer), where the bank registers every
  /// wallet before hosting it; empty: none (a bank alone, in tests).
  std::string issuer_endpoint;
  /// Dual-offline payments: the bank's certificate from the central bank (none: it certifies
  /// no devices).
  offline_config offline;
  /// How far a customer's signed request may be from the bank's clock (a replay window).
  std::int64_t customer_window_ms{60'000};
  /// The node's identity: CURVE on its socket (wallets pass as customers) and towards
  /// settlement, its PUB socket and the other banks.
  socket_options net;
};

/// A wallet payment that passed the bank's checks and is on its way to settlement. Until it is
/// finished, its amount counts against the payer's day and towards the payee's balance.
struct pending_payment {
  signed_tx tx;
  std::string wallet_id;
  std::int64_t day{0};
  std::int64_t amount_minor{0};
  public_key payee;
  std::optional<std::string> payee_hex;  ///< when the payee is hosted here
  bool reserved{false};   ///< false for a repeat of a payment already in flight (counted once)
  bool durable{false};    ///< its intent is in bank.intent (see commit_durable)
  std::uint64_t hold{0};  ///< its reservation's number, when reserved
  int attempts{0};
  /// A payment that the limits refuse but that settlement holds as settled (a resend): its
  /// receipt, answered as already_settled instead of the limit's refusal.
  std::optional<settlement::receipt> settled_before;
};

/// An operator bank hosting wallets: it enforces the wallet-class limits on every payment
/// before settlement sees it. Not thread-safe: the bank serves requests one at a time.
class bank {
 public:
  static auto open(bank_config config, key_pair vault) -> result<std::unique_ptr<bank>>;

  /// Hosts a wallet for owner. A sub-wallet names its parent (hosted here) and its cap.
  /// Errors: bad_request (already hosted, cap without parent), unknown_wallet (parent).
  auto open_wallet(const public_key& owner, wallet_class cls, wallet_kind kind,
                   std::optional<std::string> parent_id = std::nullopt,
                   std::optional<std::int64_t> sub_cap_minor = std::nullopt)
      -> result<wallet_record>;
  auto find_wallet(const public_key& owner) -> result<wallet_record>;
  /// Onboards many new wallets (no parent) in one database transaction: the records in the
  /// order given. A key hosted already with the same class and kind is answered with its record
  /// (safe to retry); with another class or kind it is refused (bad_request). Unlike
  /// open_wallet it does not look for tokens the keys already hold.
  auto open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners,
                    wallet_kind kind) -> result<std::vector<wallet_record>>;

  /// A hosted wallet's payment: checks the payer's per-payment and daily caps and, when the
  /// payee is hosted here, its balance cap; then settles it and records it for the day.
  /// Errors: unknown_wallet (payer not hosted here), bad_request (not a payment by one wallet),
  /// the limits' statuses, and settlement's refusals (as the receipt's status).
  auto pay(const signed_tx& tx, std::int64_t now_us) -> result<settlement::receipt>;
  /// pay() in two steps, so that the bank can check the next payment while settlement works on
  /// this one: begin checks (counting payments still in flight) and reserves; finish takes
  /// settlement's answer, records a settled payment for the day and releases the reservation.
  auto pay_begin(const signed_tx& tx, std::int64_t now_us) -> result<pending_payment>;
  /// The payments whose intents a crash left behind, loaded at open with their reservations,
  /// to be sent to settlement again (each settles, answers already_settled, or is refused) and
  /// finished as any other. Taken once.
  auto take_recovered() -> std::vector<pending_payment>;
  /// A settled payment's record for the day is written by the next commit_durable() (the
  /// payer's day total counts it at once).
  auto pay_finish(const pending_payment& p, result<settlement::receipt> answer)
      -> result<settlement::receipt>;
  /// In one durable database transaction: the records of the payments finished since the last
  /// call (the service answers those payments after it returned), the intents of the begun
  /// payments given (bank.intent; a payment must not be sent before its intent is written),
  /// and the removal of the intents of payments recorded or finished without a record. On
  /// failure everything stays for the next call.
  auto commit_durable(const std::vector<const pending_payment*>& intents) -> status;
  [[nodiscard]] auto settlement_client() -> settlement::client& { return m_settle; }

  /// Whether a hosted wallet may receive amount within its balance cap (movements on their way
  /// to it included), for another bank's payer. With the payment's transaction id, a capped
  /// wallet's room is reserved under it (once) until the payment is indexed here or
  /// k_can_receive_ttl_us passes. Errors: unknown_wallet (not hosted here), balance_limit;
  /// `capped` tells whether the wallet has a cap at all.
  auto can_receive(const public_key& owner, std::int64_t amount_minor, bool& capped,
                   const std::optional<hash256>& tx_id = std::nullopt, std::int64_t now_us = 0)
      -> status;
  static constexpr std::int64_t k_can_receive_ttl_us = 30'000'000;
  /// Whether a payment's payee key is a point of its curve (a token to any other key could never
  /// be spent). Settlement does not check: it takes payments from the operators that do.
  auto payee_on_curve(const public_key& payee) -> bool;

  /// Moves amount from the bank's vault into a hosted wallet, within its balance cap (the bank's
  /// own funding, with no deposit behind it).
  auto fund(const public_key& wallet_owner, money amount) -> result<settlement::receipt>;
  /// The same for many hosted wallets in one transaction from the vault (a bank paying out red
  /// envelopes): outputs in the order given, change last. Once per request id: the signed
  /// transaction is recorded before it is sent, and a retry sends it again. Errors as fund's,
  /// too_large past the output limit, bad_request (request id reused for other pay-outs).
  auto fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
      -> result<settlement::receipt>;

  /// Credits a customer's deposit account (money arriving from outside), once per request id.
  auto credit_deposit(const public_key& owner, money amount, const std::string& request_id)
      -> status;
  /// Exchange, deposit to e-CNY: debits the deposit account and pays the wallet from the vault,
  /// within its class's balance cap. Idempotent per request id. Errors: unknown_wallet,
  /// insufficient_funds (deposit), balance_limit, bad_request, settlement's refusals.
  auto exchange_to_ecny(const public_key& owner, money amount, const std::string& request_id)
      -> result<settlement::receipt>;
  /// Exchange, e-CNY to deposit: tx is the wallet's payment to the vault; once settled, its
  /// amount is credited to the deposit account, once. Errors: unknown_wallet, bad_request.
  auto exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
      -> result<settlement::receipt>;
  auto deposit_balance(const public_key& owner) -> result<std::int64_t>;

  /// The wallet's balance in the bank's currency: from the bank's own index when it follows
  /// settlement's notifications, else asked of settlement.
  auto balance(const public_key& owner) -> result<std::int64_t>;
  /// A hosted wallet's unspent tokens in the bank's currency, largest first, at most `limit`:
  /// from the index when the bank follows settlement's notifications (so that a payment asks
  /// settlement nothing before it is submitted), else asked of settlement. The index has a
  /// payment's change as soon as settlement answers it, and a payment in from another bank once
  /// its notification is indexed. Errors: unknown_wallet.
  auto unspent(const public_key& owner, std::size_t limit)
      -> result<std::vector<settlement::token_info>>;

  /// Takes one settled-transaction notification into the index: outputs to hosted wallets,
  /// and spends of indexed tokens. Idempotent.
  auto index(const wire::TxSettled& settled) -> status;
  /// The same for many notifications in one database transaction.
  auto index_many(const wire::SettledBatch& batch) -> status;
  /// Takes into the index what settlement settled while the bank was not listening: every
  /// shard's batches after the last one indexed (bank.follow), less a margin, read again and
  /// indexed (idempotent). The service runs it first at start; balances then equal
  /// settlement's. Without settle_pub (balances from settlement) it does nothing.
  auto catch_up() -> status;
  /// Whether the notifications indexed since the last fill_gaps() skipped batches of a shard
  /// (a batch number more than one past the last seen), or could not be taken.
  [[nodiscard]] auto has_gaps() const -> bool { return !m_gaps.empty(); }
  /// Reads the skipped batches from settlement and indexes them (idempotent: a gap that was
  /// only a batch with nothing in this currency costs one small read). A gap not filled stays.
  auto fill_gaps() -> status;
  /// Brings a wallet's index up to date from settlement's list of its unspent tokens (after a
  /// registration, or notifications missed while the bank was down).
  auto reconcile(const public_key& owner) -> status;

  /// The wallet's most recent payments and receipts, newest first, at most `limit`.
  auto history(const public_key& owner, std::size_t limit) -> result<std::vector<history_entry>>;
  [[nodiscard]] auto cur() const -> currency { return m_config.limits.cur; }
  [[nodiscard]] auto vault_key() const -> const public_key& { return m_vault.pub(); }

 private:
  bank(bank_config config, key_pair vault, std::unique_ptr<pqxx::connection> conn,
       const settlement::cluster& where);
  /// A hosted wallet as the bank keeps it in memory: the bank is the only writer of its wallets
  /// and payments, so the database is read once, at open.
  struct hosted_wallet {
    wallet_kind kind{wallet_kind::personal};
    wallet_class cls{wallet_class::iv};
    std::optional<std::string> parent_id;
    std::optional<std::int64_t> sub_cap_minor;
    std::int64_t day{-1};           ///< the latest local day it paid on
    std::int64_t day_minor{0};      ///< what it paid that day (settled payments)
    std::int64_t balance_minor{0};  ///< its unspent tokens in the index (see m_live)
    std::unordered_set<const std::string*> live{};  ///< those tokens: their keys in m_live
  };
  /// An unspent token of a hosted wallet, as the index has it.
  struct live_token {
    hosted_wallet* owner{nullptr};  ///< its entry in m_wallets (nodes there never move)
    std::int64_t amount_minor{0};
    hash256 created_by;
    /// Spent by a payment that settlement answered as settled, before the notification of
    /// that payment is indexed (which then marks it spent in the database, and removes it).
    bool answered_spent{false};
  };
  struct payment_record {
    hash256 tx_id;
    std::string key;  ///< the payer's, as in m_wallets
    std::string wallet_id;
    std::int64_t day{0};
    std::int64_t amount_minor{0};
    bool counted{false};  ///< in the payer's day total already
  };
  auto load() -> status;
  /// What a wallet payment pays and to whom. Errors: bad_request, currency_mismatch, malformed.
  struct payment_parts {
    std::int64_t amount_minor{0};
    public_key payee;
  };
  auto parts_of(const signed_tx& tx) -> result<payment_parts>;
  /// Reserves a checked payment's amounts (the payer's day, a payee here), as in flight.
  auto reserve(pending_payment& p) -> status;
  /// The receipt of a payment settlement holds as settled, if it does (asked when the limits
  /// refuse a payment: a resend of a settled one is answered with its receipt).
  auto settled_before(const hash256& tx_id) -> std::optional<settlement::receipt>;
  auto record_of(const public_key& owner, const hosted_wallet& w) const -> wallet_record;
  auto spent_on_day(const std::string& key, std::int64_t day) -> result<std::int64_t>;
  /// Adds a settled payment to its payer's day total in memory.
  void count_payment(const std::string& key, std::int64_t day, std::int64_t amount_minor);
  /// Makes a token live (once) or no longer live, with its owner's balance.
  void token_live(std::string raw_id, hosted_wallet& owner, std::int64_t amount_minor,
                  const hash256& created_by);
  void token_spent(const std::string& raw_id);
  /// Takes a token that a settled payment spent out of its owner's balance and tokens; it stays
  /// in m_live until the payment's notification is indexed.
  void token_answered_spent(const std::string& raw_id);
  auto receiving_check(const public_key& payee, payment_check& check) -> status;
  /// Whether hosted payee has room for amount more under its balance cap, counting what is on
  /// its way to it and `also` (other parts of the same request). Errors: unknown_wallet,
  /// balance_limit, amount_invalid.
  auto room_for(const public_key& payee, std::int64_t amount, std::int64_t also = 0) -> status;
  /// A movement into hosted wallets answered by settlement: settled, its outputs count in their
  /// owners' balances at once (before the notification is indexed, which then adds nothing);
  /// either way its reservations are given back.
  void settle_incoming(const signed_tx& stx, const result<settlement::receipt>& answer);
  /// Gives back the reservations of the transactions of an indexed batch of notifications.
  void release_indexed(const wire::SettledBatch& batch);
  /// Writes how far the index follows each shard (bank.follow), never backwards.
  void save_followed(pqxx::transaction_base& tx);
  /// Whether a wallet's balance is capped at all (by its class or as a sub-wallet).
  [[nodiscard]] auto has_balance_cap(const wallet_record& w) const -> bool;

  bank_config m_config;
  key_pair m_vault;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> m_pending_out;  ///< (wallet, day)
  incoming_reservations m_incoming;  ///< amounts on their way in
  /// A payment in flight's reservation against its payer's day.
  struct hold {
    std::uint64_t id{0};
    std::string wallet_id;
    std::int64_t day{0};
    std::int64_t amount_minor{0};
  };
  std::map<hash256, hold> m_pending_tx;  ///< payments in flight, by transaction id
  std::uint64_t m_last_hold{0};
  std::set<std::uint64_t> m_released_holds;  ///< given back before their payment's own answer
  /// Gives back a payment's hold (its day's amount in flight, its payee's reservation).
  void release_hold(const signed_tx& tx, const result<settlement::receipt>& answer);
  std::unordered_map<std::string, hosted_wallet> m_wallets;  ///< by encoded owner key
  /// Payee keys at other banks found to be points of their curve (bounded; cleared when full).
  std::unordered_set<std::string> m_valid_payees;
  std::vector<payment_record> m_unrecorded;  ///< see commit_durable
  std::vector<hash256> m_intents_done;       ///< finished without a record: intents to remove
  std::vector<pending_payment> m_recovered;  ///< see take_recovered
  std::int64_t m_loaded_from_day{0};  ///< day totals before this day are in the database only
  /// The index's unspent tokens by raw token id: notifications about nothing here skip the
  /// database, and every hosted wallet's balance is the sum of its live tokens.
  std::unordered_map<std::string, live_token> m_live;
  /// The last batch of each shard whose notifications the index has taken.
  std::map<std::uint32_t, std::uint64_t> m_followed;
  /// Batches of a shard after `after` and before `before` that notifications skipped.
  struct gap {
    std::uint32_t shard{0};
    std::uint64_t after{0};
    std::uint64_t before{0};
  };
  std::vector<gap> m_gaps;
  /// A batch of a shard that arrived late: the gaps it begins shrink (and go when empty).
  void close_gaps(std::uint32_t shard, std::uint64_t seq);
  bool m_filling{false};  ///< indexing what settlement was asked for: no gaps to look for
  std::optional<std::vector<settlement::token_info>> m_vault_cache;  ///< see fund_many
  std::unique_ptr<pqxx::connection> m_conn;
  settlement::client m_settle;
};

}  // namespace cbdc::bank
