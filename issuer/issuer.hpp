#pragma once

// The central bank node's implementation: its reserve ledger in PostgreSQL, minting and
// redemption through settlement, cross-border clearance and the registration centre.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.hpp"
#include "core/money.hpp"
#include "issuer/interface.hpp"
#include "issuer/types.hpp"
#include "offline/cert.hpp"
#include "platform/pg.hpp"
#include "settlement/client.hpp"

namespace cbdc::issuer {

auto migrations() -> std::vector<pg::migration>;

/// Basis points: 10,000 = 100%.
inline constexpr std::int64_t k_full_reserve_bp = 10'000;

/// The reserve a mint of amount_minor sets aside at ratio_bp, rounded up. Overflow is an error.
auto backing_for(std::int64_t amount_minor, std::int64_t ratio_bp) -> result<std::int64_t>;

/// The central bank's controls on cross-border payments that pay its currency away (DESIGN.md
/// section 7). Amounts are in the issuer's currency, per calendar day (UTC + offset).
struct cross_border_controls {
  std::set<currency> permitted;                         ///< destinations; empty: every one
  std::map<currency, std::int64_t> corridor_cap_minor;  ///< per destination currency
  std::map<std::string, std::int64_t> bank_cap_minor;   ///< per paying bank, all corridors
  int utc_offset_minutes{0};
};

struct issuer_config {
  std::string db_url;
  currency cur{currency::cny};
  /// The share of each mint the bank's reserve must cover, in basis points (10,000 = 100%;
  /// e-CNY moved to partial reserve on 2026-01-01, so a deployment may set less).
  std::int64_t reserve_ratio_bp{k_full_reserve_bp};
  std::string settle_endpoint{"tcp://127.0.0.1:7100"};  ///< a settlement::cluster spec
  std::string endpoint{"tcp://127.0.0.1:7200"};
  cross_border_controls controls;
  /// The node's identity: CURVE on its socket and towards settlement.
  socket_options net;
};

/// The central bank of one currency: knows its operator banks and mints to their vaults.
/// Not thread-safe; the server runs it on one worker thread.
class issuer final : public interface {
 public:
  static auto open(issuer_config config, key_pair key) -> result<std::unique_ptr<issuer>>;

  /// Registers an operator bank and its vault key. domestic=false records a foreign bank,
  /// which may hold this currency but not ask for issuance.
  auto add_bank(const std::string& bank_id, const public_key& vault, bool domestic,
                std::optional<std::int64_t> quota_minor = std::nullopt) -> status;

  /// Credits a bank's reserve account (funds arriving from outside), once per request id.
  /// Errors: unknown_bank, amount_invalid, bad_request.
  auto deposit(const std::string& bank_id, money amount, const std::string& request_id) -> status;
  /// The central bank's certificate of a domestic bank's vault key for dual-offline payments
  /// (docs/offline.md), valid until expires_s. Errors: unknown_bank, not_domestic.
  auto certify_bank(const std::string& bank_id, std::int64_t expires_s)
      -> result<offline::bank_cert>;

  /// The bank's reserve, backing and issued balances from the ledger. Errors: unknown_bank.
  auto reserve(const std::string& bank_id) -> result<reserve_balance> override;

  /// Redeems e-CNY: tx must be a redemption of tokens held by the bank's vault, signed by the
  /// vault key. The issuer co-signs and settles it, then releases the backing into the bank's
  /// reserve. Idempotent per request id. Errors: unknown_bank, not_domestic, bad_request,
  /// currency_mismatch, and settlement's refusals.
  auto redeem(const std::string& bank_id, const signed_tx& tx, const std::string& request_id)
      -> result<redeem_result> override;

  /// Issues amount to the bank's vault. Idempotent per request id: the same id returns the
  /// first result; the same id with other content is bad_request. Errors: unknown_bank,
  /// not_domestic, amount_invalid, currency_mismatch, and settlement's refusals.
  auto mint(const std::string& bank_id, money amount, const std::string& request_id)
      -> result<mint_result> override;

  /// Clears a cross-border payment of amount (this currency) by bank_id into `to`, before the
  /// dealer signs it: the corridor must be permitted and the day's cleared total stay within the
  /// corridor's and the bank's caps (a total exactly at a cap is allowed). Once per clearance id:
  /// a retry answers the first decision. Errors: unknown_bank, currency_mismatch, bad_request,
  /// amount_invalid, not_permitted, corridor_cap_exceeded, bank_cap_exceeded. tx_id is the PvP
  /// transaction cleared; the same clearance id for another transaction is bad_request.
  auto clear_cross_border(const std::string& clearance_id, const std::string& bank_id, money amount,
                          currency to, const hash256& tx_id, std::int64_t now_us) -> status;
  /// The same at the issuer's clock now.
  auto clear_cross_border(const std::string& clearance_id, const std::string& bank_id, money amount,
                          currency to, const hash256& tx_id) -> status override;
  /// Gives a clearance's amount back to the day's caps (its payment was refused). Idempotent;
  /// an unknown id is not_found; a clearance whose transaction settlement holds as settled is
  /// not_permitted (its amount stays counted); settlement not answering is its error.
  auto release_cross_border(const std::string& clearance_id) -> status override;
  /// Released clearances with their transactions, for the audit to check none of them settled.
  auto released_clearances() -> result<std::vector<std::pair<std::string, hash256>>>;

  /// The registration centre: bank_id hosts these wallet keys (encoded) with these classes. All
  /// or nothing, idempotent, a class change allowed. Errors: unknown_bank, hosted_elsewhere
  /// (a key registered at another bank), malformed.
  auto register_wallets(const std::string& bank_id,
                        const std::vector<std::pair<bytes, std::uint32_t>>& wallets) -> status;
  /// The same with decoded keys.
  auto register_wallets(const std::string& bank_id,
                        const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
      -> status override;
  /// The bank hosting a wallet key. Errors: not_found.
  auto wallet_bank(const bytes& owner) -> result<std::string>;

  /// Total minted (settled) in this currency, from the issuer's own records.
  auto minted_total() -> result<std::int64_t>;

  /// The ledger's view for the audit: the sum of every entry (0 when every movement balances),
  /// e-CNY outstanding from settled movements, and the banks whose reserve or backing is
  /// negative or whose issued balance disagrees with their settled mints and redemptions.
  struct ledger_check {
    std::int64_t entries_sum{0};
    std::int64_t outstanding_minor{0};
    std::vector<std::string> problems;
  };
  auto check_ledger() -> result<ledger_check>;

 private:
  issuer(issuer_config config, key_pair key, std::unique_ptr<pqxx::connection> conn,
         const settlement::cluster& where);
  auto record_redemption(const std::string& bank_id, const signed_tx& tx, std::int64_t amount,
                         const std::string& request_id) -> status;
  issuer_config m_config;
  key_pair m_key;
  std::unique_ptr<pqxx::connection> m_conn;
  settlement::client m_settle;
};

}  // namespace cbdc::issuer
