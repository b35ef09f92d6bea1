#pragma once

// The signed statements of dual-offline payments: the central bank certifies a bank's key, the
// bank certifies a device (its limits and expiry), vouches for a settled token a device holds,
// and lists the devices it revoked. Each is signed over its canonical bytes, which start with
// a tag naming the statement so that one can never be read as another.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/money.hpp"

namespace cbdc::offline {

/// A device's offline risk limits, in minor units of its bank's currency.
struct limits {
  std::int64_t balance_cap_minor{0};
  std::int64_t payment_cap_minor{0};
  std::uint32_t max_payments{0};  ///< between two syncs
  std::int64_t max_offline_s{0};  ///< since the last sync
  friend auto operator==(const limits&, const limits&) -> bool = default;
};

/// The central bank's certificate of a bank's offline key.
struct bank_cert {
  std::string bank_id;
  public_key bank_key;
  currency cur{currency::cny};
  std::int64_t expires_s{0};
  bytes sig;
  [[nodiscard]] auto signed_bytes() const -> bytes;
};

/// A bank's certificate of a device.
struct device_cert {
  public_key device;
  std::string bank_id;
  std::uint8_t wallet_class{4};
  offline::limits limits;
  std::int64_t expires_s{0};
  bytes sig;
  [[nodiscard]] auto signed_bytes() const -> bytes;
};

/// A bank's word that a token owned by a device settled: where every offline chain starts.
struct voucher {
  hash256 token_id;
  currency cur{currency::cny};
  std::int64_t amount_minor{0};
  public_key owner;
  std::string bank_id;
  bytes sig;
  [[nodiscard]] auto signed_bytes() const -> bytes;
};

/// The devices a bank revoked, as of issued_s.
struct revocation_list {
  std::string bank_id;
  std::int64_t issued_s{0};
  std::vector<public_key> devices;
  bytes sig;
  [[nodiscard]] auto signed_bytes() const -> bytes;
};

/// The payer's secure element vouching for its state when it signed payment tx_id.
struct attestation {
  hash256 tx_id;
  std::uint64_t counter{0};
  std::int64_t synced_s{0};
  std::uint32_t payments_since_sync{0};
  bytes sig;
  [[nodiscard]] auto signed_bytes() const -> bytes;
};

auto certify_bank(const key_pair& central_bank, std::string bank_id, const public_key& bank_key,
                  currency cur, std::int64_t expires_s) -> bank_cert;
auto certify_device(const key_pair& bank, std::string bank_id, const public_key& device,
                    std::uint8_t wallet_class, const limits& l, std::int64_t expires_s)
    -> device_cert;
auto vouch(const key_pair& bank, std::string bank_id, const hash256& token_id, money amount,
           const public_key& owner) -> voucher;
auto revoke(const key_pair& bank, std::string bank_id, std::vector<public_key> devices,
            std::int64_t issued_s) -> revocation_list;

/// The offline limits a bank gives a device of each wallet class (docs/offline.md says where
/// they come from). Errors: bad_request (a class outside 1..4).
auto default_limits(std::uint8_t wallet_class) -> result<limits>;

/// A bank's own offline policy: each limit given replaces the class default.
struct limit_policy {
  std::optional<std::int64_t> balance_cap_minor;
  std::optional<std::int64_t> payment_cap_minor;
  std::optional<std::uint32_t> max_payments;
  std::optional<std::int64_t> max_offline_s;
  /// Every limit given is positive.
  [[nodiscard]] auto valid() const -> bool;
  /// A class's limits under the policy. Errors: bad_request (a class outside 1..4).
  [[nodiscard]] auto limits_for(std::uint8_t wallet_class) const -> result<limits>;
};

}  // namespace cbdc::offline
