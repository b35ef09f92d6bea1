#pragma once

// Reservations of amounts on their way into hosted wallets, against their balance caps.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/ids.hpp"
#include "core/status.hpp"

namespace cbdc::bank {

/// Amounts on their way into hosted wallets, each under the id of the transaction that moves
/// it, counted against the payee's balance cap from before the transaction goes to settlement
/// until it is in the payee's balance (settled and counted), refused, or past its deadline (a
/// peer bank's CanReceive whose payment never came). Not thread-safe: the bank's worker owns it.
class incoming_reservations {
 public:
  static constexpr std::int64_t k_no_deadline = INT64_MAX;

  /// Reserves amount for payee (an encoded key) under id, until release or expires_us. The same
  /// id and payee again reserve nothing more (a reservation is used once); one transaction may
  /// reserve for several payees (a pay-out). Errors: amount_invalid when the payee's reserved
  /// total would pass 2^63-1.
  auto reserve(const hash256& id, const std::string& payee, std::int64_t amount,
               std::int64_t expires_us = k_no_deadline) -> status;
  /// Gives back what id reserved (its movement settled and is counted, or was refused). None is
  /// fine.
  void release(const hash256& id);
  /// Releases every reservation whose deadline has passed.
  void expire(std::int64_t now_us);
  /// What is reserved on its way to payee.
  [[nodiscard]] auto held_for(const std::string& payee) const -> std::int64_t;
  [[nodiscard]] auto size() const -> std::size_t { return m_by_id.size(); }
  /// Whether id holds a reservation for payee.
  [[nodiscard]] auto holds(const hash256& id, const std::string& payee) const -> bool {
    return m_by_id.contains(std::make_pair(id, payee));
  }

 private:
  struct entry {
    std::int64_t amount{0};
    std::int64_t expires_us{k_no_deadline};
  };
  std::map<std::pair<hash256, std::string>, entry> m_by_id;  ///< (id, payee)
  std::unordered_map<std::string, std::int64_t> m_by_payee;
  std::multimap<std::int64_t, hash256> m_deadlines;  ///< the finite ones
};

}  // namespace cbdc::bank
