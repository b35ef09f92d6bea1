// Cross-border scenarios (mBridge-style): reading a scenario and its plan (the transactions,
// the model of the dealers' pricing and every bank's balances, issuance). The run is
// bridge_run.cpp (in the world of sim/world.hpp), its report bridge_report.cpp.
#include "sim/bridge.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "sim/bridge_detail.hpp"
#include "sim/rng.hpp"
#include "sim/toml_reader.hpp"

namespace cbdc::sim::bridge {
namespace {

__extension__ using i128 = __int128;

// The bridge's business day, local time: transactions between 09:00 and 17:00, sweeps at 17:00.
constexpr std::int64_t k_day_s = 86'400;
constexpr std::int64_t k_hour_s = 3600;
constexpr std::int64_t k_opens_s = 9 * k_hour_s;
constexpr std::uint64_t k_business_s = 8U * k_hour_s;
constexpr std::int64_t k_sweep_s = 17 * k_hour_s;

auto read_currency(reader& r, const std::string& key) -> currency {
  const auto text = r.text(key);
  auto cur = parse_currency(text);
  if (!cur) {
    r.fail(r.node(key).source(), key, "names no currency on the bridge: " + text);
  }
  return *cur;
}

auto read_pair(reader& r, const std::string& key, const std::string& text)
    -> std::pair<currency, currency> {
  const auto slash = text.find('/');
  auto a = parse_currency(text.substr(0, slash));
  auto b = slash == std::string::npos ? result<currency>{error{status_code::parse_error, ""}}
                                      : parse_currency(text.substr(slash + 1));
  if (!a || !b || *a == *b) {
    r.fail(r.node(key).source(), key,
           "wants pairs of two currencies like \"CNY/HKD\", not " + text);
  }
  return {*a, *b};
}

auto read_usd_cents(reader& r, const std::string& key) -> std::int64_t {
  return r.amount(key, currency::usd);
}

auto read(const toml::table& root, const std::string& origin) -> scenario {
  scenario sc;
  reader top{root, origin, ""};
  sc.name = top.text("name");
  sc.seed = static_cast<std::uint64_t>(top.integer("seed", 0, INT64_MAX));
  const auto start = top.local_time("start");
  sc.start_unix_s = start.first;
  sc.utc_offset_minutes = start.second;
  {
    auto b = top.table("bridge");
    sc.shards = static_cast<std::uint32_t>(b.integer("shards", 1, 8));
    sc.issue_usd_cents = read_usd_cents(b, "issue_usd");
    if (b.has("sweep_daily")) {
      const auto& n = b.node("sweep_daily");
      if (!n.is_boolean()) {
        b.fail(n.source(), "sweep_daily", "must be true or false");
      }
      sc.sweep_daily = *n.value<bool>();
    }
    {
      auto usd = b.table("usd");
      for (const auto& [k, v] : *root["bridge"]["usd"].as_table()) {
        const std::string key{k.str()};
        auto cur = parse_currency(key);
        auto r = fx::parse_rate(usd.text(key));
        if (!cur || !r) {
          usd.fail(v.source(), key, "wants CUR = \"decimal USD per unit\"");
        }
        sc.usd[*cur] = *r;
      }
      usd.finish();
    }
    {
      auto rates = b.table("rates");
      for (const auto& [k, v] : *root["bridge"]["rates"].as_table()) {
        const std::string key{k.str()};
        const auto pair = read_pair(rates, key, key);
        auto r = fx::parse_rate(rates.text(key));
        if (!r) {
          rates.fail(v.source(), key, "wants \"PAY/RECEIVE\" = \"decimal\"");
        }
        sc.mid[pair] = *r;
        sc.mid[{pair.second, pair.first}] = r->inverse();
        sc.mid_texts.push_back(key + "=" + rates.text(key));
      }
      rates.finish();
    }
    b.finish();
  }
  std::set<currency> on_bridge;
  for (auto& c : top.tables("central_bank")) {
    central_bank_spec spec;
    spec.cur = read_currency(c, "currency");
    spec.name = c.text("name");
    spec.corridor_cap_minor = c.has("corridor_cap") ? c.amount("corridor_cap", spec.cur) : 0;
    spec.bank_cap_minor = c.has("bank_cap") ? c.amount("bank_cap", spec.cur) : 0;
    if (!on_bridge.insert(spec.cur).second) {
      c.fail(c.node("currency").source(), "currency", "has a central bank already");
    }
    if (!sc.usd.contains(spec.cur)) {
      c.fail(c.node("currency").source(), "currency", "has no [bridge.usd] value");
    }
    sc.central_banks.push_back(spec);
    c.finish();
  }
  std::set<std::string> ids;
  for (auto& b : top.tables("bank")) {
    bank_spec spec;
    spec.id = b.text("id");
    if (spec.id.empty() || spec.id.size() > 32 ||
        spec.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos ||
        !ids.insert(spec.id).second) {
      b.fail(b.node("id").source(), "id", "must be 1-32 of a-z, 0-9 and '-', once");
    }
    spec.home = read_currency(b, "home");
    if (!on_bridge.contains(spec.home)) {
      b.fail(b.node("home").source(), "home", "has no [[central_bank]]");
    }
    if (b.has("dealer")) {
      auto d = b.table("dealer");
      spec.dealer = true;
      spec.spread_bp = d.integer("spread_bp", 0, 999);
      const auto& n = d.node("licensed");
      const auto* arr = n.as_array();
      if (arr == nullptr || arr->empty()) {
        d.fail(n.source(), "licensed",
               "must list the dealer's currencies, like [\"HKD\", \"CNY\"]");
      }
      for (const auto& item : *arr) {
        auto cur = parse_currency(item.value<std::string>().value_or(""));
        if (!cur || !on_bridge.contains(*cur)) {
          d.fail(n.source(), "licensed", "names a currency without a [[central_bank]]");
        }
        spec.licensed.push_back(*cur);
      }
      d.finish();
    }
    sc.banks.push_back(spec);
    b.finish();
  }
  for (auto& p : top.tables("phase")) {
    phase_spec spec;
    spec.name = p.text("name");
    spec.start_day = p.integer("start_day", 0, 3650);
    spec.days = p.integer("days", 1, 3650);
    spec.transactions = static_cast<std::uint32_t>(p.integer("transactions", 1, 1'000'000));
    spec.fx_share = p.number("fx_share", 0, 1);
    spec.median_usd_cents = read_usd_cents(p, "median_usd");
    spec.spread = p.number("spread", 0, 3);
    const auto& n = p.node("corridors");
    const auto* arr = n.as_array();
    if (arr == nullptr || arr->empty()) {
      p.fail(n.source(), "corridors", "must list corridors like [\"HKD/CNY\", \"CNY/HKD\"]");
    }
    for (const auto& item : *arr) {
      const auto pair = read_pair(p, "corridors", item.value<std::string>().value_or(""));
      if (!on_bridge.contains(pair.first) || !on_bridge.contains(pair.second) ||
          !sc.mid.contains(pair)) {
        p.fail(n.source(), "corridors", "names a corridor without central banks or a rate");
      }
      spec.corridors.push_back(pair);
    }
    sc.phases.push_back(spec);
    p.finish();
  }
  if (top.has("published")) {
    auto p = top.table("published");
    sc.published.given = true;
    sc.published.transactions = static_cast<std::uint32_t>(p.integer("transactions", 0, 1'000'000));
    sc.published.settled_usd_cents = read_usd_cents(p, "settled_usd");
    sc.published.issued_usd_cents = read_usd_cents(p, "issued_usd");
    sc.published.tolerance_pct = p.number("tolerance_pct", 0, 100);
    sc.published.source = p.text("source");
    p.finish();
  }
  top.finish();
  return sc;
}

/// The dealers that quote pay -> receive, best first (lowest spread, then listed first).
auto dealers_for(const scenario& sc, currency pay, currency receive) -> std::vector<std::uint32_t> {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < sc.banks.size(); ++i) {
    const auto& b = sc.banks[i];
    const auto has = [&](currency c) {
      return std::find(b.licensed.begin(), b.licensed.end(), c) != b.licensed.end();
    };
    if (b.dealer && has(pay) && has(receive)) {
      out.push_back(i);
    }
  }
  std::stable_sort(out.begin(), out.end(), [&](std::uint32_t a, std::uint32_t b) {
    return sc.banks[a].spread_bp < sc.banks[b].spread_bp;
  });
  return out;
}

auto from_usd_cents(const scenario& sc, currency cur, std::int64_t cents) -> std::int64_t {
  const auto& r = sc.usd.at(cur);  // 1 minor unit = num/den US cents
  return static_cast<std::int64_t>(i128{cents} * r.den / r.num);
}

}  // namespace

auto kind_name(tx_kind k) -> std::string_view {
  switch (k) {
    case tx_kind::payment: return "payment";
    case tx_kind::fx: return "fx";
    case tx_kind::sweep: return "sweep";
  }
  return "?";
}

auto usd_cents(const scenario& sc, currency cur, std::int64_t minor) -> std::int64_t {
  const auto& r = sc.usd.at(cur);
  return static_cast<std::int64_t>(i128{minor} * r.num / r.den);
}

auto is_bridge_scenario(const std::string& text) -> bool {
  try {
    return toml::parse(text).contains("bridge");
  } catch (const toml::parse_error&) {
    return false;
  }
}

auto parse_scenario(const std::string& text, const std::string& origin) -> result<scenario> {
  return parse_strictly<scenario>(text, origin, read);
}

auto generate(const scenario& sc) -> result<plan> {
  plan out;
  // The draws of each phase's transactions, from the phase's own stream; the model below turns
  // them into payer, payee, direction and amount.
  for (std::uint32_t ph = 0; ph < sc.phases.size(); ++ph) {
    const auto& spec = sc.phases[ph];
    rng r(sc.seed, 0xb0 + ph);
    for (std::uint32_t i = 0; i < spec.transactions; ++i) {
      planned t;
      t.phase = ph;
      const auto day = spec.start_day +
                       static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(spec.days)));
      t.at_s = day * k_day_s + k_opens_s + static_cast<std::int64_t>(r.below(k_business_s));
      const auto corridor = spec.corridors[r.below(spec.corridors.size())];
      t.pay = corridor.first;
      t.receive = corridor.second;
      t.kind = r.unit() < spec.fx_share ? tx_kind::fx : tx_kind::payment;
      // A payment fixes what the beneficiary receives; an FX deal what the bank sells.
      t.fixed_pay = t.kind == tx_kind::fx;
      const double usd =
          static_cast<double>(spec.median_usd_cents) * std::exp(spec.spread * r.normal());
      t.usd_cents = std::max<std::int64_t>(100'00, static_cast<std::int64_t>(usd));
      t.payer_draw = r.next();
      t.payee_draw = r.next();
      t.direction_draw = r.unit();
      out.txs.push_back(t);
    }
  }
  std::stable_sort(out.txs.begin(), out.txs.end(),
                   [](const planned& a, const planned& b) { return a.at_s < b.at_s; });

  // The model: every bank's balance per currency as the plan goes, dealers priced as cbdc-fx
  // prices; sweeps at each day's end when the scenario asks for them.
  std::map<std::pair<std::uint32_t, currency>, std::int64_t> balance;
  std::map<std::pair<std::uint32_t, currency>, std::int64_t> lowest;
  const auto move = [&](std::uint32_t bank, currency cur, std::int64_t delta) {
    auto& b = balance[{bank, cur}];
    b += delta;
    auto& low = lowest[{bank, cur}];
    low = std::min(low, b);
  };
  const auto settle = [&](planned& t) -> status {
    if (t.kind != tx_kind::sweep) {
      // Direction: dealers skew their prices towards what rebalances their inventory, so a
      // corridor's trade goes the way that refills the dealer's shorter currency three times
      // in four.
      const auto d = dealers_for(sc, t.pay, t.receive);
      if (!d.empty()) {
        const auto value = [&](currency c) { return usd_cents(sc, c, balance[{d.front(), c}]); };
        const bool short_of_receive = value(t.receive) < value(t.pay);
        if (short_of_receive ? t.direction_draw < 0.75 : t.direction_draw < 0.25) {
          std::swap(t.pay, t.receive);
        }
      }
      const auto minor = from_usd_cents(sc, t.fixed_pay ? t.pay : t.receive, t.usd_cents);
      t.amount_minor = std::max<std::int64_t>(100, minor / 100 * 100);  // whole units
      std::vector<std::uint32_t> payees;
      for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
        if (!sc.banks[b].dealer && sc.banks[b].home == t.receive) {
          payees.push_back(b);
        }
      }
      if (payees.empty()) {
        return error{status_code::bad_request, "no bank at home in " + code(t.receive)};
      }
      t.payee = payees[t.payee_draw % payees.size()];
    }
    const auto dealers = dealers_for(sc, t.pay, t.receive);
    if (dealers.empty()) {
      return error{status_code::bad_request,
                   "no dealer for " + code(t.pay) + "/" + code(t.receive)};
    }
    t.dealer = dealers.front();
    const auto& mid = sc.mid.at({t.pay, t.receive});
    auto priced = t.fixed_pay
                      ? fx::price_pay(mid, sc.banks[t.dealer].spread_bp, t.amount_minor)
                      : fx::price_receive(mid, sc.banks[t.dealer].spread_bp, t.amount_minor);
    if (!priced) {
      return priced.err();
    }
    t.expect = *priced;
    if (t.kind != tx_kind::sweep) {
      // Of the banks that may pay in this currency (its home banks, and banks holding enough
      // of it from earlier receipts), the one with the most of it pays: banks spend the
      // liquidity they hold before asking for more. Ties go by the transaction's draw.
      std::vector<std::uint32_t> from;
      std::int64_t most = std::numeric_limits<std::int64_t>::min();
      for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
        if (sc.banks[b].dealer || (t.kind == tx_kind::payment && b == t.payee)) {
          continue;
        }
        const auto held = balance[{b, t.pay}];
        if (sc.banks[b].home != t.pay && held < priced->pay_minor) {
          continue;
        }
        if (held > most) {
          most = held;
          from.clear();
        }
        if (held == most) {
          from.push_back(b);
        }
      }
      if (from.empty()) {
        return error{status_code::bad_request, "no bank can pay " + code(t.pay)};
      }
      t.payer = from[t.payer_draw % from.size()];
      if (t.kind == tx_kind::fx) {
        t.payee = t.payer;
      }
    }
    move(t.payer, t.pay, -priced->pay_minor);
    move(t.dealer, t.pay, priced->pay_minor);
    move(t.dealer, t.receive, -priced->receive_minor);
    move(t.payee, t.receive, priced->receive_minor);
    return ok_status();
  };
  std::vector<planned> with_sweeps;
  const auto sweep = [&](std::int64_t day) -> status {
    for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
      if (sc.banks[b].dealer) {
        continue;
      }
      for (const auto& cb : sc.central_banks) {
        const auto held = balance[{b, cb.cur}];
        if (cb.cur == sc.banks[b].home || held < 100 ||
            !sc.mid.contains({cb.cur, sc.banks[b].home})) {
          continue;
        }
        planned t;
        t.kind = tx_kind::sweep;
        t.at_s = day * k_day_s + k_sweep_s;
        t.phase = with_sweeps.empty() ? 0 : with_sweeps.back().phase;
        t.payer = b;
        t.payee = b;
        t.pay = cb.cur;
        t.receive = sc.banks[b].home;
        t.fixed_pay = true;
        t.amount_minor = held;
        if (auto s = settle(t); !s) {
          return s;
        }
        with_sweeps.push_back(t);
      }
    }
    return ok_status();
  };
  for (auto& t : out.txs) {
    const auto day = t.at_s / k_day_s;
    if (sc.sweep_daily && !with_sweeps.empty() && with_sweeps.back().at_s / k_day_s < day) {
      if (auto s = sweep(with_sweeps.back().at_s / k_day_s); !s) {
        return s.err();
      }
    }
    if (auto s = settle(t); !s) {
      return s.err();
    }
    with_sweeps.push_back(t);
  }
  if (sc.sweep_daily && !with_sweeps.empty()) {
    if (auto s = sweep(with_sweeps.back().at_s / k_day_s); !s) {
      return s.err();
    }
  }
  out.txs = std::move(with_sweeps);
  for (std::uint32_t i = 0; i < out.txs.size(); ++i) {
    out.txs[i].seq = i;
  }

  // Issuance: what each bank needs at its lowest point, in whole thousands, from its own
  // central bank; then the rest of the scenario's issuance to the dealers, evenly in USD.
  std::int64_t issued_usd = 0;
  std::vector<std::pair<std::uint32_t, currency>> dealer_slots;
  for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
    for (const auto& cb : sc.central_banks) {
      const auto need = -lowest[{b, cb.cur}];
      if (need > 0 && !domestic(sc.banks[b], cb.cur)) {
        return error{status_code::bad_request, sc.banks[b].id + " would need " + code(cb.cur) +
                                                   " that its central bank cannot issue to it"};
      }
      if (need > 0) {
        const auto rounded = (need + 99'999) / 100'000 * 100'000;
        out.issuance[{b, cb.cur}] = rounded;
        issued_usd += usd_cents(sc, cb.cur, rounded);
      }
      if (sc.banks[b].dealer && domestic(sc.banks[b], cb.cur)) {
        dealer_slots.emplace_back(b, cb.cur);
      }
    }
  }
  if (issued_usd < sc.issue_usd_cents && !dealer_slots.empty()) {
    const auto each =
        (sc.issue_usd_cents - issued_usd) / static_cast<std::int64_t>(dealer_slots.size());
    for (const auto& [b, cur] : dealer_slots) {
      const auto extra = from_usd_cents(sc, cur, each) / 100'000 * 100'000;
      out.issuance[{b, cur}] += extra;
    }
  }
  return out;
}

auto write_csv(const scenario& sc, const plan& p, const std::filesystem::path& path) -> status {
  std::ofstream out(path, std::ios::trunc);
  out << "seq,at_s,phase,kind,payer,payee,pay_currency,receive_currency,fixed,amount_minor,"
         "dealer,pay_minor,receive_minor,mid_pay_minor\n";
  for (const auto& t : p.txs) {
    out << t.seq << ',' << t.at_s << ',' << '"' << sc.phases.at(t.phase).name << '"' << ','
        << kind_name(t.kind) << ',' << sc.banks[t.payer].id << ',' << sc.banks[t.payee].id << ','
        << code(t.pay) << ',' << code(t.receive) << ',' << (t.fixed_pay ? "pay" : "receive") << ','
        << t.amount_minor << ',' << sc.banks[t.dealer].id << ',' << t.expect.pay_minor << ','
        << t.expect.receive_minor << ',' << t.expect.mid_pay_minor << '\n';
  }
  if (!out) {
    return error{status_code::io_error, "cannot write " + path.string()};
  }
  return ok_status();
}

}  // namespace cbdc::sim::bridge
