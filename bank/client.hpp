#pragma once

// The client of cbdc-bank: what a wallet (or the POS, the bank's operator, another bank) asks a
// bank, over ZeroMQ. Core and rpc only.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bank/interface.hpp"
#include "bank/types.hpp"
#include "core/codec.hpp"
#include "core/crypto.hpp"
#include "core/money.hpp"
#include "fx/quote.hpp"
#include "rpc/transport.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::bank {

/// A client of cbdc-bank: the bank's interface over ZeroMQ.
class client final : public interface {
 public:
  explicit client(std::string endpoint, socket_options opts = {});
  /// Signs every request with the wallet's key from now on (a customer's proof, which the bank
  /// asks of every request but a payment's).
  void sign_as(const key_pair& wallet) { m_signer = wallet; }
  auto open_wallet(const public_key& owner, wallet_class cls, bool merchant,
                   const std::string& parent_id = {}, std::int64_t sub_cap_minor = 0)
      -> result<std::string> override;
  auto wallet_info(const public_key& owner) -> result<wallet_record> override;
  void pay_async(const signed_tx& tx, const std::string& payee_bank, receipt_fn done) override;
  auto issue_device(const public_key& owner, const public_key& device)
      -> result<device_issued> override;
  void load_device_async(const signed_tx& tx, loaded_fn done) override;
  void submit_offline_async(const offline_batch& batch, submitted_fn done) override;
  auto revocations() -> result<revocation_sync> override;
  /// The same, answered on the client's I/O thread.
  void revocations_async(std::function<void(result<revocation_sync>)> done);
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

 private:
  static auto receipt_of(result<wire::Envelope> answer) -> result<settlement::receipt>;
  /// Signs (when sign_as was called) and sends.
  auto call(wire::Envelope request) -> result<wire::Envelope>;
  rpc_client m_rpc;
  std::optional<key_pair> m_signer;
};

}  // namespace cbdc::bank
