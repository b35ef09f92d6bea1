#pragma once

// `cbdc-issuer audit`: the central bank's books against settlement's.

#include <cstdint>
#include <string>
#include <vector>

#include "issuer/issuer.hpp"
#include "settlement/client.hpp"

namespace cbdc::issuer {

/// What `cbdc-issuer audit` checks, per currency: settlement's issued - redeemed == its
/// unspent supply; settlement's issued total == what this issuer minted; the reserve ledger
/// balances, no bank's reserve or backing is negative, the e-CNY outstanding in the ledger
/// equals settlement's issued - redeemed, and no released clearance's payment settled.
struct audit_report {
  currency cur{currency::cny};
  std::int64_t minted_minor{0};
  std::int64_t ledger_outstanding_minor{0};
  std::int64_t issued_minor{0};
  std::int64_t redeemed_minor{0};
  std::int64_t unspent_minor{0};
  std::vector<std::string> problems;
  [[nodiscard]] auto passed() const -> bool { return problems.empty(); }
};

auto audit(issuer& iss, settlement::interface& settle, currency cur) -> result<audit_report>;

}  // namespace cbdc::issuer
