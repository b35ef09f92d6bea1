// The simulator's model: what each event of a trace should be answered, the banks' wallet-class
// limits applied to the model's own running totals (the same rules as the bank's, computed
// independently of any database). A device's load is a payment to it, within its balance cap.
// The auditor compares the answers with it.
#include "sim/model.hpp"

#include <unordered_map>

#include "bank/limits.hpp"
#include "core/clock.hpp"
#include "offline/cert.hpp"

namespace cbdc::sim {

auto expected_statuses(const trace& t, const scenario& sc) -> std::vector<status_code> {
  const auto limits = bank::default_limits();
  std::vector<status_code> out(t.events.size(), status_code::ok);
  std::unordered_map<std::uint64_t, std::int64_t> spent;  // (wallet, day) -> settled today
  std::unordered_map<std::uint32_t, std::int64_t> balance;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    if (e.kind == event_kind::topup) {
      balance[e.wallet] += e.amount_minor;
      continue;
    }
    if (is_offline(e.kind)) {
      continue;  // between devices: the offline auditor's (sim/offline.hpp)
    }
    const auto day = local_day((sc.start_unix_s * 1'000'000) + e.at_us, sc.utc_offset_minutes);
    auto& today = spent[(std::uint64_t{e.wallet} << 24U) ^ static_cast<std::uint64_t>(day)];
    bank::payment_check check;
    check.payer_class = static_cast<bank::wallet_class>(e.wallet_class);
    check.amount_minor = e.amount_minor;
    check.payer_spent_today_minor = today;
    const auto device_cap = sc.offline.limits.limits_for(e.wallet_class);
    if (e.amount_minor > balance[e.wallet]) {
      out[i] = status_code::insufficient_funds;
    } else if (e.kind == event_kind::load && device_cap &&
               e.amount_minor > device_cap->balance_cap_minor) {
      out[i] = status_code::offline_balance_cap;  // a device is loaded once, from empty
    } else if (auto allowed = check_payment(limits, check); !allowed) {
      out[i] = allowed.code();
    } else {
      today += e.amount_minor;
      balance[e.wallet] -= e.amount_minor;
    }
  }
  return out;
}

}  // namespace cbdc::sim
