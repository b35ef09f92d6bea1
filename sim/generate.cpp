// The generator: a scenario's trace as a pure function of its seed.
#include "sim/generate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

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
  s_offline = 6,
  s_compromised = 7,
  s_merchant_region = 8,
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

population::population(const scenario& sc)
    : m_seed(sc.seed), m_compromised_share(sc.offline.compromised_share) {
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
auto population::merchant_region(std::uint32_t merchant) const -> std::uint16_t {
  return static_cast<std::uint16_t>(
      pick_unit(m_region_cdf, unit_of(m_seed, s_merchant_region, merchant)));
}
auto population::compromised(std::uint32_t wallet) const -> bool {
  return unit_of(m_seed, s_compromised, wallet) < m_compromised_share;
}
auto population::merchant_category(std::uint32_t merchant) const -> std::uint8_t {
  const auto it = std::upper_bound(m_offsets.begin(), m_offsets.end(), merchant);
  return static_cast<std::uint8_t>(it - m_offsets.begin() - 1);
}

auto has_signal(const scenario& sc, std::uint16_t region, std::int64_t t_s) -> bool {
  return std::none_of(sc.offline.outages.begin(), sc.offline.outages.end(),
                      [&](const outage_spec& o) {
                        return (o.region < 0 || o.region == region) && t_s >= o.from_s &&
                               t_s < o.from_s + o.duration_s;
                      });
}

namespace {

/// The first sync time at or after t_us when the region has signal; the end at the latest.
auto next_sync_us(const scenario& sc, std::uint16_t region, std::int64_t t_us) -> std::int64_t {
  const std::int64_t every_us = sc.offline.sync_every_s * 1'000'000;
  const std::int64_t end_us = sc.duration_s * 1'000'000;
  for (std::int64_t at = ((t_us + every_us - 1) / every_us) * every_us; at < end_us;
       at += every_us) {
    if (at > t_us && has_signal(sc, region, at / 1'000'000)) {
      return at;
    }
  }
  return end_us;
}

/// The offline scenario's merchant devices: a sync at every sync time with signal from the
/// merchant's first offline payment on, and one at the end.
void merchant_syncs(const scenario& sc, const population& pop, trace& t) {
  std::map<std::uint32_t, std::int64_t> first;  // merchant -> first offline payment
  for (const auto& e : t.events) {
    if (e.kind == event_kind::offline_payment) {
      auto [it, fresh] = first.try_emplace(e.merchant, e.at_us);
      it->second = std::min(it->second, e.at_us);
    }
  }
  const std::int64_t end_us = sc.duration_s * 1'000'000;
  for (const auto& [merchant, from] : first) {
    event sync;
    sync.kind = event_kind::sync;
    sync.wallet = k_no_merchant;
    sync.merchant = merchant;
    sync.wallet_class = 1;
    sync.region = pop.merchant_region(merchant);
    sync.bank = pop.merchant_bank(merchant);
    sync.payee_bank = sync.bank;
    for (auto at = next_sync_us(sc, sync.region, from); at < end_us;
         at = next_sync_us(sc, sync.region, at)) {
      sync.at_us = at;
      t.events.push_back(sync);
    }
    sync.at_us = end_us;
    t.events.push_back(sync);
  }
}

}  // namespace

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
    std::int64_t on_device = 0;
    const bool offline = sc.offline.given;
    if (offline) {
      event load = topup;
      load.kind = event_kind::load;
      load.amount_minor = std::min(sc.offline.load_minor, balance);
      on_device = load.amount_minor;
      balance -= on_device;
      t.events.push_back(load);
    }
    std::int64_t synced_until = -1;  // the last sync time this wallet's device has
    for (std::uint32_t k = 0; k < payments && (balance > 0 || on_device > 0); ++k) {
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
      const bool rest = k + 1 == payments && r.unit() < sc.wallets.spend_rest;
      if (offline && on_device > 0 &&
          unit_of(sc.seed, s_offline, (std::uint64_t{w} << 8U) | (k & 0xffU)) < sc.offline.share) {
        // No signal here: the device pays, at most what the payer knows it holds.
        pay.kind = event_kind::offline_payment;
        pay.amount_minor = std::min(rest ? on_device : amount, on_device);
        on_device -= pay.amount_minor;
        t.events.push_back(pay);
        const auto sync_at = next_sync_us(sc, base.region, pay.at_us);
        if (sync_at != synced_until) {
          event sync = base;
          sync.kind = event_kind::sync;
          sync.at_us = sync_at;
          t.events.push_back(sync);
          synced_until = sync_at;
        }
        continue;
      }
      if (balance <= 0) {
        continue;
      }
      pay.amount_minor = std::min(rest ? balance : amount, balance);
      balance -= pay.amount_minor;
      t.events.push_back(pay);
    }
    if (offline && synced_until != sc.duration_s * 1'000'000) {
      event sync = base;  // the end: every device back online, its float unloaded
      sync.kind = event_kind::sync;
      sync.at_us = sc.duration_s * 1'000'000;
      t.events.push_back(sync);
    }
  }
  if (sc.offline.given) {
    merchant_syncs(sc, pop, t);
  }
  // Time order; a wallet's own events keep their order (top-up first, then its payments).
  std::stable_sort(t.events.begin(), t.events.end(),
                   [](const event& a, const event& b) { return a.at_us < b.at_us; });
  return t;
}

}  // namespace cbdc::sim
