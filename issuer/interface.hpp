#pragma once

// The issuer as its callers see it, whether in process (issuer::issuer) or over ZeroMQ
// (issuer::client): typed requests in, typed results out. Every request is safe to send again
// with the same ids.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/codec.hpp"
#include "core/crypto.hpp"
#include "core/money.hpp"
#include "issuer/types.hpp"

namespace cbdc::issuer {

class interface {
 public:
  interface() = default;
  virtual ~interface() = default;
  interface(const interface&) = delete;
  auto operator=(const interface&) -> interface& = delete;

  /// Issues amount to the bank's vault, once per request id. Errors: unknown_bank,
  /// not_domestic, amount_invalid, currency_mismatch, bad_request, settlement's refusals.
  virtual auto mint(const std::string& bank_id, money amount, const std::string& request_id)
      -> result<mint_result> = 0;
  /// Redeems tokens of the bank's vault (tx signed by the vault), once per request id.
  virtual auto redeem(const std::string& bank_id, const signed_tx& tx,
                      const std::string& request_id) -> result<redeem_result> = 0;
  /// The bank's reserve, backing and issued balances. Errors: unknown_bank.
  virtual auto reserve(const std::string& bank_id) -> result<reserve_balance> = 0;
  /// Clears a cross-border payment against the corridor's and the bank's caps, once per
  /// clearance id (now, by the issuer's clock).
  virtual auto clear_cross_border(const std::string& clearance_id, const std::string& bank_id,
                                  money amount, currency to, const hash256& tx_id) -> status = 0;
  /// Gives a refused payment's clearance back to the day's caps.
  virtual auto release_cross_border(const std::string& clearance_id) -> status = 0;
  /// The registration centre: bank_id hosts these wallets (key, class 1..4), all or nothing.
  virtual auto register_wallets(const std::string& bank_id,
                                const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
      -> status = 0;
};

}  // namespace cbdc::issuer
