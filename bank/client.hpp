#pragma once

// The client of cbdc-bank: what a wallet (or the POS, or the bank's operator) asks a bank.
// Core and rpc only.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bank/types.hpp"
#include "core/codec.hpp"
#include "core/crypto.hpp"
#include "core/money.hpp"
#include "fx/quote.hpp"
#include "rpc/transport.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::bank {

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
