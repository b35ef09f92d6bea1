// The bank's own helpers shared by the files of its implementation and its server; not a public
// header of cbdc_bank.
#pragma once

#include <string>

#include "core/crypto.hpp"
#include "core/status.hpp"
#include "rpc/wire.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::bank::detail {

/// The map key of a hosted wallet: its owner key as encoded on the wire.
inline auto key_bytes(const public_key& owner) -> std::string {
  const auto raw = owner.encode();
  return {raw.begin(), raw.end()};
}

inline auto not_hosted(const public_key& owner) -> error {
  return error{status_code::unknown_wallet, "no wallet here for key " + owner.hex().substr(0, 18)};
}

/// A token id as notifications carry it (the key of m_live).
inline auto raw_of(const hash256& id) -> std::string {
  return {reinterpret_cast<const char*>(id.data.data()), id.data.size()};
}

/// A receipt, or a refusal before settlement answered, as the answer to a wallet.
inline auto receipt_answer(const result<settlement::receipt>& r) -> wire::Envelope {
  wire::Envelope answer;
  *answer.mutable_receipt() = settlement::to_wire(r);
  return answer;
}

/// Raises a flag for the life of a scope.
class raised {
 public:
  explicit raised(bool& flag) : m_flag(flag) { m_flag = true; }
  ~raised() { m_flag = false; }
  raised(const raised&) = delete;
  raised(raised&&) = delete;
  auto operator=(const raised&) -> raised& = delete;
  auto operator=(raised&&) -> raised& = delete;

 private:
  bool& m_flag;
};

/// The prepared statement that writes a batch of notifications into the index.
inline constexpr const char* k_index_settled = "bank_index_settled";

}  // namespace cbdc::bank::detail
