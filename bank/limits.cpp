// Wallet classes and the checks of a payment against their caps (pure functions).
#include "bank/limits.hpp"

namespace cbdc::bank {
namespace {

constexpr std::int64_t k_yuan = 100;  // minor units per yuan

auto fmt(std::int64_t minor, currency cur) -> std::string {
  return money{minor, cur}.format();
}

}  // namespace

auto class_name(wallet_class c) -> std::string_view {
  switch (c) {
    case wallet_class::i: return "I";
    case wallet_class::ii: return "II";
    case wallet_class::iii: return "III";
    case wallet_class::iv: return "IV";
  }
  return "?";
}

auto parse_class(std::string_view text) -> result<wallet_class> {
  for (const auto c : {wallet_class::i, wallet_class::ii, wallet_class::iii, wallet_class::iv}) {
    if (text == class_name(c) || text == std::to_string(static_cast<int>(c))) {
      return c;
    }
  }
  return error{status_code::parse_error,
               "unknown wallet class '" + std::string{text} + "' (I, II, III or IV)"};
}

auto default_limits() -> limits_config {
  limits_config out;
  out.cur = currency::cny;
  out.by_class[wallet_class::i] = class_limits{};
  out.by_class[wallet_class::ii] =
      class_limits{500'000 * k_yuan, 50'000 * k_yuan, 100'000 * k_yuan};
  out.by_class[wallet_class::iii] =
      class_limits{200'000 * k_yuan, 20'000 * k_yuan, 50'000 * k_yuan};
  out.by_class[wallet_class::iv] = class_limits{10'000 * k_yuan, 2'000 * k_yuan, 5'000 * k_yuan};
  return out;
}

auto check_payment(const limits_config& limits, const payment_check& p) -> status {
  if (p.amount_minor <= 0) {
    return error{status_code::amount_invalid, "a payment must be positive"};
  }
  const auto& payer = limits.by_class.at(p.payer_class);
  const std::string payer_name = "class " + std::string{class_name(p.payer_class)} + " wallet";
  if (payer.per_payment_minor && p.amount_minor > *payer.per_payment_minor) {
    return error{status_code::per_payment_limit, "per-payment limit of a " + payer_name + " is " +
                                                     fmt(*payer.per_payment_minor, limits.cur) +
                                                     "; payment " +
                                                     fmt(p.amount_minor, limits.cur)};
  }
  if (payer.per_day_minor) {
    auto today = checked_add(p.payer_spent_today_minor, p.amount_minor);
    if (!today) {
      return today.err();
    }
    if (*today > *payer.per_day_minor) {
      return error{status_code::daily_limit, "daily limit of a " + payer_name + " is " +
                                                 fmt(*payer.per_day_minor, limits.cur) +
                                                 "; spent today " +
                                                 fmt(p.payer_spent_today_minor, limits.cur) +
                                                 ", payment " + fmt(p.amount_minor, limits.cur)};
    }
  }
  if (p.payee_class || p.payee_sub_cap_minor) {
    std::optional<std::int64_t> cap;
    std::string cap_name;
    if (p.payee_class) {
      cap = limits.by_class.at(*p.payee_class).balance_minor;
      cap_name =
          "balance cap of the payee's class " + std::string{class_name(*p.payee_class)} + " wallet";
    }
    if (p.payee_sub_cap_minor && (!cap || *p.payee_sub_cap_minor < *cap)) {
      cap = p.payee_sub_cap_minor;
      cap_name = "cap of the payee's sub-wallet";
    }
    if (cap) {
      auto after = checked_add(p.payee_balance_minor, p.amount_minor);
      if (!after) {
        return after.err();
      }
      if (*after > *cap) {
        return error{status_code::balance_limit,
                     cap_name + " is " + fmt(*cap, limits.cur) + "; it holds " +
                         fmt(p.payee_balance_minor, limits.cur) + ", payment " +
                         fmt(p.amount_minor, limits.cur)};
      }
    }
  }
  return ok_status();
}

}  // namespace cbdc::bank
