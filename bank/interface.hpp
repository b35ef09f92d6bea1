#pragma once

// A bank as its callers hold it, whether in process (bank::service) or over ZeroMQ
// (bank::client): what its wallets, its operator and the other banks ask of it. A payment is
// asynchronous, as the bank is: it answers once settlement has. A receipt in a result is a
// settled one (ok, or already_settled for a repeat); every refusal is an error naming its
// cause (a limit, settlement's status, a wallet that is not hosted).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bank/types.hpp"
#include "core/codec.hpp"
#include "core/crypto.hpp"
#include "core/money.hpp"
#include "fx/quote.hpp"
#include "offline/device.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::bank {

/// Dual-offline payments (docs/offline.md): a device certified for a hosted wallet, with its
/// bank's certificate and the central bank's key (the device's root of trust).
struct device_issued {
  offline::device_cert cert;
  offline::bank_cert bank;
  public_key central_bank;
};
/// A device loaded: the settled payment, and the bank's vouchers for the device's new tokens.
struct device_loaded {
  settlement::receipt receipt;
  std::vector<offline::voucher> vouchers;
};
/// A double spend found while reconciling: the transfer settlement holds, the one it refused.
struct double_spend_found {
  offline::double_spend_evidence evidence;
  signed_tx settled;
  signed_tx refused;
  std::string device_bank;  ///< the bank that certified the device
  bool revoked{false};      ///< by that bank, told by this one when it is another
};
/// What a device hands its bank back online: its offline transfers in dependency order, with
/// the certificates of the devices that signed them and of their banks.
struct offline_batch {
  std::vector<signed_tx> txs;
  std::vector<offline::device_cert> certs;
  std::vector<offline::bank_cert> banks;
};
/// Transfers in one SubmitOffline, at most (and certificates of each kind).
inline constexpr std::size_t k_max_offline_batch = 256;
/// Transfers (dependency order) as the batches a bank takes: in order, at most
/// k_max_offline_batch each, each with the certificates of its own signers only.
auto offline_batches(const std::vector<signed_tx>& txs,
                     const std::vector<offline::device_cert>& certs,
                     const std::vector<offline::bank_cert>& banks) -> std::vector<offline_batch>;
/// Offline transfers reconciled: each one's receipt or refusal (in the order given), vouchers
/// for settled tokens of this bank's devices, and the double spends found.
struct offline_submitted {
  std::vector<result<settlement::receipt>> receipts;
  std::vector<offline::voucher> vouchers;
  std::vector<double_spend_found> double_spends;
};
/// What a device syncs: every bank's latest revocation list, and the banks' certificates.
struct revocation_sync {
  std::vector<offline::revocation_list> lists;
  std::vector<offline::bank_cert> banks;
};

class interface {
 public:
  using receipt_fn = std::function<void(result<settlement::receipt>)>;
  using loaded_fn = std::function<void(result<device_loaded>)>;
  using submitted_fn = std::function<void(result<offline_submitted>)>;

  interface() = default;
  virtual ~interface() = default;
  interface(const interface&) = delete;
  auto operator=(const interface&) -> interface& = delete;

  /// Opens a wallet for owner; its wallet id. A customer opens a class IV wallet; another class
  /// and sub-wallets (under parent_id, with their own cap) are the operator's.
  virtual auto open_wallet(const public_key& owner, wallet_class cls, bool merchant,
                           const std::string& parent_id = {}, std::int64_t sub_cap_minor = 0)
      -> result<std::string> = 0;
  /// The hosted wallet's record. Errors: unknown_wallet.
  virtual auto wallet_info(const public_key& owner) -> result<wallet_record> = 0;
  /// Pays with a wallet's signed transaction once its class limits allow (the payee's bank is
  /// asked first when the payee is hosted elsewhere: payee_bank, from the payee's payment
  /// request, names it); `done` gets the receipt or the refusal, on another thread.
  virtual void pay_async(const signed_tx& tx, const std::string& payee_bank, receipt_fn done) = 0;
  /// pay_async, waiting for the answer.
  auto pay(const signed_tx& tx, const std::string& payee_bank = {}) -> result<settlement::receipt>;
  /// Whether owner, hosted here, may receive amount; room for the payment tx_id is kept for it
  /// a while. The answer: whether the owner's balance is capped at all. Errors: unknown_wallet,
  /// currency_mismatch, the balance cap.
  virtual auto can_receive(const public_key& owner, money amount,
                           const std::optional<hash256>& tx_id) -> result<bool> = 0;
  virtual auto balance(const public_key& owner) -> result<money> = 0;
  /// The wallet's last payments, newest first, at most limit (the bank's bound: 1,000).
  virtual auto history(const public_key& owner, std::uint32_t limit)
      -> result<std::vector<history_entry>> = 0;
  /// A hosted wallet's unspent tokens (what it may spend), largest first, at most limit (0 or
  /// above it: the bound, 10,000).
  virtual auto list_unspent(const public_key& owner, std::uint32_t limit = 0)
      -> result<std::vector<settlement::token_info>> = 0;
  /// The bank's vault key (to pay it when exchanging e-CNY back to a deposit).
  virtual auto vault_key() -> result<public_key> = 0;
  /// Deposit to e-CNY: the vault pays the wallet, once per request id.
  virtual auto exchange_to_ecny(const public_key& owner, money amount,
                                const std::string& request_id) -> result<settlement::receipt> = 0;
  /// e-CNY to deposit: the wallet's signed payment to the vault, once per request id.
  virtual auto exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
      -> result<settlement::receipt> = 0;

  /// The operator's: pays a hosted wallet from the vault.
  virtual auto fund(const public_key& owner, money amount) -> result<settlement::receipt> = 0;
  /// The operator's: onboards many new wallets at once; their wallet ids in the order given.
  virtual auto open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners,
                            bool merchant) -> result<std::vector<std::string>> = 0;
  /// The operator's: pays many hosted wallets from the vault in one transaction (outputs in
  /// this order), once per request id.
  virtual auto fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
      -> result<settlement::receipt> = 0;

  /// The best quote the bank's dealers give for paying amount_minor of receive (or, with
  /// fixed_pay, paying that much of pay). Errors: no_quote and the dealers' refusals.
  virtual auto request_quote(currency pay, currency receive, std::int64_t amount_minor,
                             bool fixed_pay) -> result<fx::quote> = 0;
  /// Has the quote's dealer execute the wallet's signed PvP transaction.
  virtual auto execute_quote(const std::string& quote_id, const signed_tx& tx)
      -> result<settlement::receipt> = 0;
  virtual auto decline_quote(const std::string& quote_id) -> status = 0;

  /// Certifies a device for a hosted wallet (its class's offline limits). Errors:
  /// not_permitted (the bank issues no devices), unknown_wallet, bad_request (another wallet's
  /// device), device_revoked.
  virtual auto issue_device(const public_key& owner, const public_key& device)
      -> result<device_issued> = 0;
  /// A hosted wallet's payment to its own device, within the device's offline balance cap
  /// (what the device holds on the ledger, plus the payment) and the wallet's class limits.
  /// Errors: not_found (not a device of this bank), device_revoked, offline_balance_cap, and
  /// pay's.
  virtual void load_device_async(const signed_tx& tx, loaded_fn done) = 0;
  auto load_device(const signed_tx& tx) -> result<device_loaded>;
  /// Offline transfers, in dependency order, sent to settlement in turn. A refusal is that
  /// transfer's, not the request's: not_authorized when no certified device signed it (a
  /// hosted wallet pays through pay(), within its limits); double_spend when its device spent
  /// the token in another transfer that settled (the device is then revoked by its bank).
  virtual void submit_offline_async(const offline_batch& batch, submitted_fn done) = 0;
  auto submit_offline(const offline_batch& batch) -> result<offline_submitted>;
  virtual auto revocations() -> result<revocation_sync> = 0;
};

/// A receipt that did not settle as the error it carries (what callers of interface see).
auto settled_or_error(result<settlement::receipt> r) -> result<settlement::receipt>;

}  // namespace cbdc::bank
