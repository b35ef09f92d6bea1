#pragma once

// The client of cbdc-issuer (what a bank or a dealer asks its central bank). Core and rpc only.

#include <string>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "core/money.hpp"
#include "issuer/interface.hpp"
#include "issuer/types.hpp"
#include "rpc/transport.hpp"

namespace cbdc::issuer {

/// A client of cbdc-issuer.
class client final : public interface {
 public:
  explicit client(std::string endpoint, socket_options opts = {});
  auto mint(const std::string& bank_id, money amount, const std::string& request_id)
      -> result<mint_result> override;
  auto redeem(const std::string& bank_id, const signed_tx& tx, const std::string& request_id)
      -> result<redeem_result> override;
  auto reserve(const std::string& bank_id) -> result<reserve_balance> override;
  auto clear_cross_border(const std::string& clearance_id, const std::string& bank_id, money amount,
                          currency to, const hash256& tx_id) -> status override;
  auto release_cross_border(const std::string& clearance_id) -> status override;
  /// The calling bank registers wallets it is about to host (at most 10,000 at once).
  auto register_wallets(const std::string& bank_id,
                        const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
      -> status override;

 private:
  rpc_client m_rpc;
};

}  // namespace cbdc::issuer
