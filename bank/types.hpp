#pragma once

// The bank's records as its clients see them: a hosted wallet and a line of its history.

#include <cstdint>
#include <optional>
#include <string>

#include "bank/limits.hpp"
#include "core/crypto.hpp"
#include "core/ids.hpp"

namespace cbdc::bank {

enum class wallet_kind : std::uint8_t { personal, merchant };

struct wallet_record {
  std::string wallet_id;
  public_key owner;
  wallet_kind kind{wallet_kind::personal};
  wallet_class cls{wallet_class::iv};
  std::optional<std::string> parent_id;
  std::optional<std::int64_t> sub_cap_minor;
};

/// One line of a wallet's history.
struct history_entry {
  std::int64_t at_us{0};
  std::int64_t amount_minor{0};  ///< positive received, negative sent
  hash256 tx_id;
};

}  // namespace cbdc::bank
