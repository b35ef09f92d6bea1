// Reservations of amounts on their way into hosted wallets, against their balance caps.
#include "bank/reservations.hpp"

#include "core/assert.hpp"
#include "core/money.hpp"

namespace cbdc::bank {

auto incoming_reservations::reserve(const hash256& id, const std::string& payee,
                                    std::int64_t amount, std::int64_t expires_us) -> status {
  CBDC_ASSERT(amount > 0);
  const auto key = std::make_pair(id, payee);
  if (m_by_id.contains(key)) {
    return ok_status();
  }
  const auto held = held_for(payee);
  auto after = checked_add(held, amount);
  if (!after) {
    return error{status_code::amount_invalid, "payments on their way would pass 2^63-1"};
  }
  m_by_payee[payee] = *after;
  m_by_id.emplace(key, entry{amount, expires_us});
  if (expires_us != k_no_deadline) {
    m_deadlines.emplace(expires_us, id);
  }
  return ok_status();
}

void incoming_reservations::release(const hash256& id) {
  auto it = m_by_id.lower_bound(std::make_pair(id, std::string{}));
  while (it != m_by_id.end() && it->first.first == id) {
    const auto held = m_by_payee.find(it->first.second);
    CBDC_ASSERT(held != m_by_payee.end() && held->second >= it->second.amount);
    held->second -= it->second.amount;
    if (held->second == 0) {
      m_by_payee.erase(held);
    }
    it = m_by_id.erase(it);  // its deadline entry, if any, finds nothing when it comes
  }
}

void incoming_reservations::expire(std::int64_t now_us) {
  while (!m_deadlines.empty() && m_deadlines.begin()->first <= now_us) {
    const auto [deadline, id] = *m_deadlines.begin();
    m_deadlines.erase(m_deadlines.begin());
    const auto it = m_by_id.lower_bound(std::make_pair(id, std::string{}));
    if (it != m_by_id.end() && it->first.first == id && it->second.expires_us == deadline) {
      release(id);
    }
  }
}

auto incoming_reservations::held_for(const std::string& payee) const -> std::int64_t {
  const auto it = m_by_payee.find(payee);
  return it == m_by_payee.end() ? 0 : it->second;
}

}  // namespace cbdc::bank
