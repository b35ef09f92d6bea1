// The generator: a scenario's trace as a pure function of its seed.
#include "sim/generate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "sim/rng.hpp"

namespace cbdc::sim {

namespace {

// Streams of the seed: each attribute draws from its own, so adding one never shifts another.
enum stream : std::uint64_t {
  s_class = 1,
  s_region = 2,
  s_bank = 3,
  s_active = 4,
  s_merchant_bank = 5,
  s_wallet = 1'000,
};

auto unit_of(std::uint64_t seed, std::uint64_t s, std::uint64_t index) -> double {
  return static_cast<double>(mix(seed, s, index) >> 11U) * 0x1.0p-53;
}

auto pick_unit(const std::vector<double>& cdf, double u) -> std::size_t {
  const double x = u * cdf.back();
  return static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), x) - cdf.begin());
}

/// The simulated hours of the period with their weights (time-of-day and weekday curves).
struct clock_curve {
  std::vector<double> cdf;  ///< per simulated hour

  explicit clock_curve(const scenario& sc) {
    namespace chr = std::chrono;
    const std::int64_t period_hours = (sc.duration_s + 3599) / 3600;
    double total = 0;
    for (std::int64_t h = 0; h < period_hours; ++h) {
      const chr::sys_seconds local{chr::seconds{sc.start_unix_s + h * 3600} +
                                   chr::minutes{sc.utc_offset_minutes}};
      const auto midnight = chr::floor<chr::days>(local);
      const auto hour = static_cast<std::size_t>(chr::floor<chr::hours>(local - midnight).count());
      const chr::weekday wd{midnight};
      const auto& curve = wd == chr::Saturday || wd == chr::Sunday ? sc.weekend : sc.weekday;
      const double inside =
          static_cast<double>(std::min<std::int64_t>(3600, sc.duration_s - h * 3600)) / 3600.0;
      total += curve.at(hour) * inside;
      cdf.push_back(total);
    }
    if (total <= 0) {  // the period falls on hours of zero weight only: spread evenly
      for (std::size_t h = 0; h < cdf.size(); ++h) {
        cdf[h] = static_cast<double>(h + 1);
      }
    }
  }

  auto draw(rng& r, std::int64_t duration_s) const -> std::int64_t {
    const auto hour = static_cast<std::int64_t>(r.pick(cdf));
    const std::int64_t span_us = std::min<std::int64_t>(3600, duration_s - hour * 3600) * 1'000'000;
    // Payments at 1 us or later: a top-up at the start always comes first.
    return std::max<std::int64_t>(
        1, hour * 3'600'000'000LL + static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(
                                        std::max<std::int64_t>(1, span_us)))));
  }
};

}  // namespace

auto cumulative(const std::vector<double>& weights) -> std::vector<double> {
  std::vector<double> out;
  double total = 0;
  for (double w : weights) {
    total += w;
    out.push_back(total);
  }
  return out;
}

population::population(const scenario& sc) : m_seed(sc.seed) {
  m_class_cdf = cumulative({sc.wallets.class_weights.begin(), sc.wallets.class_weights.end()});
  std::vector<double> w;
  for (const auto& r : sc.regions) {
    w.push_back(r.weight);
  }
  m_region_cdf = cumulative(w);
  w.clear();
  for (const auto& b : sc.banks) {
    w.push_back(b.weight);
  }
  m_bank_cdf = cumulative(w);
  std::uint32_t at = 0;
  for (const auto& c : sc.categories) {
    m_offsets.push_back(at);
    at += c.merchants;
  }
  m_offsets.push_back(at);
}

auto population::wallet_class(std::uint32_t wallet) const -> std::uint8_t {
  return static_cast<std::uint8_t>(1 + pick_unit(m_class_cdf, unit_of(m_seed, s_class, wallet)));
}
auto population::wallet_region(std::uint32_t wallet) const -> std::uint16_t {
  return static_cast<std::uint16_t>(pick_unit(m_region_cdf, unit_of(m_seed, s_region, wallet)));
}
auto population::wallet_bank(std::uint32_t wallet) const -> std::uint16_t {
  return static_cast<std::uint16_t>(pick_unit(m_bank_cdf, unit_of(m_seed, s_bank, wallet)));
}
auto population::merchant_bank(std::uint32_t merchant) const -> std::uint16_t {
  return static_cast<std::uint16_t>(
      pick_unit(m_bank_cdf, unit_of(m_seed, s_merchant_bank, merchant)));
}
auto population::merchant_category(std::uint32_t merchant) const -> std::uint8_t {
  const auto it = std::upper_bound(m_offsets.begin(), m_offsets.end(), merchant);
  return static_cast<std::uint8_t>(it - m_offsets.begin() - 1);
}

auto generate(const scenario& sc) -> result<trace> {
  if (sc.wallets.count > k_no_merchant || sc.merchant_count() >= k_no_merchant) {
    return error{status_code::bad_request, "at most 4,294,967,294 wallets and merchants"};
  }
  if (sc.categories.size() > 255 || sc.banks.size() > 65'535 || sc.regions.size() > 65'535) {
    return error{status_code::bad_request, "at most 255 categories, 65,535 banks and regions"};
  }
  const population pop(sc);
  const clock_curve curve(sc);
  std::vector<double> cat_weights;
  for (const auto& c : sc.categories) {
    cat_weights.push_back(c.weight);
  }
  const auto cat_cdf = cumulative(cat_weights);
  const auto& offsets = pop.category_offsets();

  trace t;
  t.scenario_text = sc.source;
  t.scenario_origin = sc.name;
  t.seed = sc.seed;
  std::vector<std::int64_t> times;
  for (std::uint64_t i = 0; i < sc.wallets.count; ++i) {
    const auto w = static_cast<std::uint32_t>(i);
    if (unit_of(sc.seed, s_active, w) >= sc.wallets.active_share) {
      continue;
    }
    rng r(sc.seed, s_wallet + i);
    const std::uint32_t payments = 1 + r.poisson(sc.wallets.extra_payments);
    times.clear();
    for (std::uint32_t k = 0; k < payments; ++k) {
      times.push_back(curve.draw(r, sc.duration_s));
    }
    std::sort(times.begin(), times.end());
    event base;
    base.wallet = w;
    base.wallet_class = pop.wallet_class(w);
    base.region = pop.wallet_region(w);
    base.bank = pop.wallet_bank(w);

    event topup = base;
    topup.kind = event_kind::topup;
    topup.amount_minor = sc.wallets.topup_minor;
    topup.at_us = sc.wallets.topup_at_start
                      ? 0
                      : std::max<std::int64_t>(
                            0, times.front() - 1 - static_cast<std::int64_t>(r.below(600'000'000)));
    t.events.push_back(topup);

    std::int64_t balance = sc.wallets.topup_minor;
    for (std::uint32_t k = 0; k < payments && balance > 0; ++k) {
      const auto c = r.pick(cat_cdf);
      const auto& cat = sc.categories[c];
      event pay = base;
      pay.kind = event_kind::payment;
      pay.at_us = times[k];
      pay.category = static_cast<std::uint8_t>(c);
      pay.merchant = offsets[c] + static_cast<std::uint32_t>(r.below(cat.merchants));
      pay.payee_bank = pop.merchant_bank(pay.merchant);
      const double drawn =
          static_cast<double>(cat.median_minor) * std::exp(cat.spread * r.normal());
      std::int64_t amount = std::max<std::int64_t>(1, std::llround(std::min(drawn, 1e15)));
      if (k + 1 == payments && r.unit() < sc.wallets.spend_rest) {
        amount = balance;
      }
      pay.amount_minor = std::min(amount, balance);
      balance -= pay.amount_minor;
      t.events.push_back(pay);
    }
  }
  // Time order; a wallet's own events keep their order (top-up first, then its payments).
  std::stable_sort(t.events.begin(), t.events.end(),
                   [](const event& a, const event& b) { return a.at_us < b.at_us; });
  return t;
}

}  // namespace cbdc::sim
