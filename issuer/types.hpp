#pragma once

// What the issuer answers, as its client and its implementation both see it.

#include <cstdint>
#include <vector>

#include "core/ids.hpp"

namespace cbdc::issuer {

struct mint_result {
  hash256 tx_id;
  std::vector<hash256> token_ids;
  bool already{false};  ///< the request id had been answered before
};

struct redeem_result {
  hash256 tx_id;
  std::int64_t amount_minor{0};
  bool already{false};
};

/// A bank's position at the central bank, in minor units.
struct reserve_balance {
  std::int64_t reserve_minor{0};  ///< free reserve
  std::int64_t backing_minor{0};  ///< reserve set aside to back issued e-CNY
  std::int64_t issued_minor{0};   ///< e-CNY issued to the bank and not redeemed
};

}  // namespace cbdc::issuer
