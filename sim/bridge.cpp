// Cross-border scenarios (mBridge-style): reading, generating, running and reporting them.
#include "sim/bridge.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "fx/client.hpp"
#include "issuer/client.hpp"
#include "issuer/issuer.hpp"
#include "platform/pg.hpp"
#include "platform/process.hpp"
#include "sim/report.hpp"
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

auto code(currency cur) -> std::string {
  return std::string{currency_code(cur)};
}

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

auto domestic(const bank_spec& b, currency cur) -> bool {
  return b.home == cur ||
         (b.dealer && std::find(b.licensed.begin(), b.licensed.end(), cur) != b.licensed.end());
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

// ---- the run ----

namespace {

constexpr int k_start_timeout_ms = 30'000;

struct outcome {
  status_code status{status_code::ok};
  std::string detail;
  std::string dealer_id;
  std::int64_t pay_minor{0};
  std::int64_t receive_minor{0};
  std::int64_t mid_pay_minor{0};
  std::int64_t latency_us{0};  ///< request for quote to settlement's receipt
  bool cross_shard{false};
  hash256 tx_id;
};

auto usd_text(std::int64_t cents) -> std::string {
  return grouped(money{cents, currency::usd});
}

/// The bridge's services as real processes; stopped on destruction.
class services {
 public:
  services(const scenario& sc, const run_config& config) : m_sc(sc), m_config(config) {}
  ~services() {
    m_dealers.clear();
    while (!m_children.empty()) {
      m_children.pop_back();
    }
  }
  services(const services&) = delete;
  auto operator=(const services&) -> services& = delete;

  /// Starts everything; each bank's reserve at its central bank is credited with its
  /// issuance while the bank is registered there.
  auto start(const std::map<std::pair<std::uint32_t, currency>, std::int64_t>& issuance) -> status {
    std::filesystem::create_directories(m_config.work_dir);
    const auto ep = [&](int offset) {
      return "tcp://127.0.0.1:" + std::to_string(m_config.base_port + offset);
    };
    const auto tool = [&](const std::string& folder, const std::string& name) {
      return (m_config.bin_dir / folder / name).string();
    };
    const auto fresh = [&](const std::string& suffix) {
      return pg::fresh_database(m_config.pg_url, m_config.db_prefix + "_" + suffix);
    };
    // Every node's identity first: the nodes file is every server's allow-list. The simulator
    // plays the banks (each with its own node key) and an auditor reading settlement.
    m_roster = std::make_unique<node_roster>(m_config.work_dir / "nodes");
    {
      std::vector<std::pair<std::string, std::pair<role, std::vector<std::string>>>> nodes;
      for (std::uint32_t i = 0; i < m_sc.shards; ++i) {
        nodes.push_back({"settle-" + std::to_string(i), {role::shard, {ep(static_cast<int>(i))}}});
      }
      nodes.push_back({"coordinator", {role::coordinator, {ep(9)}}});
      for (std::size_t c = 0; c < m_sc.central_banks.size(); ++c) {
        nodes.push_back({"cb-" + code(m_sc.central_banks[c].cur),
                         {role::issuer, {ep(10 + static_cast<int>(c))}}});
      }
      for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
        const auto& bank = m_sc.banks[b];
        nodes.push_back({bank.id, bank.dealer ? std::pair{role::dealer,
                                                          std::vector{ep(30 + static_cast<int>(b))}}
                                              : std::pair{role::bank, std::vector<std::string>{}}});
      }
      nodes.push_back({k_auditor, {role::operator_, {}}});
      for (auto& [name, what] : nodes) {
        if (auto added = m_roster->add(name, what.first, std::move(what.second)); !added) {
          return added;
        }
      }
    }
    // Central banks' keys first: settlement needs them.
    std::vector<std::string> issuer_args;
    for (const auto& cb : m_sc.central_banks) {
      const auto key = key_pair::from_seed(profile::ed25519,
                                           indexed_seed(static_cast<std::uint64_t>(cb.cur), 0xc8));
      const auto path = m_config.work_dir / ("issuer-" + code(cb.cur) + ".key");
      if (auto saved = key.save(path); !saved) {
        return saved;
      }
      m_issuer_keys.push_back(path.string());
      issuer_args.emplace_back("--issuer");
      issuer_args.push_back(code(cb.cur) + "=" + key.pub().hex());
    }
    // Settlement: shards, and a coordinator when there are several.
    std::string shard_list;
    for (std::uint32_t i = 0; i < m_sc.shards; ++i) {
      shard_list += (i == 0 ? "" : ",") + ep(static_cast<int>(i));
    }
    m_settle_spec = shard_list;
    if (m_sc.shards > 1) {
      m_settle_spec += "@" + ep(9);
      auto db = fresh("coord");
      if (!db) {
        return db.err();
      }
      std::vector<std::string> argv{tool("settlement", "cbdc-settle"),
                                    "coordinate",
                                    "--db",
                                    *db,
                                    "--bind",
                                    ep(9),
                                    "--shard-endpoints",
                                    shard_list};
      argv.insert(argv.end(), issuer_args.begin(), issuer_args.end());
      with_node("coordinator", argv);
      if (auto s = spawn(argv, "coordinator"); !s) {
        return s;
      }
    }
    for (std::uint32_t i = 0; i < m_sc.shards; ++i) {
      auto db = fresh("settle_" + std::to_string(i));
      if (!db) {
        return db.err();
      }
      std::vector<std::string> argv{tool("settlement", "cbdc-settle"),
                                    "serve",
                                    "--db",
                                    *db,
                                    "--bind",
                                    ep(static_cast<int>(i))};
      if (m_sc.shards > 1) {
        argv.insert(argv.end(), {"--shard", std::to_string(i), "--shards",
                                 std::to_string(m_sc.shards), "--coordinator", ep(9)});
      }
      argv.insert(argv.end(), issuer_args.begin(), issuer_args.end());
      with_node("settle-" + std::to_string(i), argv);
      if (auto s = spawn(argv, "settle-" + std::to_string(i)); !s) {
        return s;
      }
    }
    // Bank keys: derived from the seed and index; dealers' written for cbdc-fx.
    for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
      m_bank_keys.push_back(key_pair::from_seed(profile::ed25519, indexed_seed(b, 0xba)));
    }
    // Central banks: every bank registered (domestic or foreign), caps from the scenario.
    for (std::size_t c = 0; c < m_sc.central_banks.size(); ++c) {
      const auto& cb = m_sc.central_banks[c];
      auto db = fresh("issuer_" + std::string{currency_code(cb.cur)});
      if (!db) {
        return db.err();
      }
      m_issuer_dbs.push_back(*db);
      issuer::issuer_config ic;
      ic.db_url = *db;
      ic.cur = cb.cur;
      ic.settle_endpoint = m_settle_spec;
      auto key = key_pair::load(m_issuer_keys[c]);
      if (!key) {
        return key.err();
      }
      auto iss = issuer::issuer::open(ic, *key);
      if (!iss) {
        return iss.err();
      }
      for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
        if (auto added = (*iss)->add_bank(m_sc.banks[b].id, m_bank_keys[b].pub(),
                                          domestic(m_sc.banks[b], cb.cur));
            !added) {
          return added;
        }
        if (const auto it = issuance.find({b, cb.cur}); it != issuance.end()) {
          const auto& id = m_sc.banks[b].id;
          if (auto credited =
                  (*iss)->deposit(id, money{it->second, cb.cur}, "bridge-reserve-" + id);
              !credited) {
            return credited;
          }
        }
      }
      m_issuer_eps.push_back(ep(10 + static_cast<int>(c)));
      std::vector<std::string> argv{tool("issuer", "cbdc-issuer"),
                                    "serve",
                                    "--db",
                                    *db,
                                    "--key",
                                    m_issuer_keys[c],
                                    "--currency",
                                    code(cb.cur),
                                    "--bind",
                                    m_issuer_eps.back(),
                                    "--settle",
                                    m_settle_spec};
      for (const auto& other : m_sc.central_banks) {
        if (other.cur != cb.cur && cb.corridor_cap_minor > 0) {
          argv.insert(argv.end(),
                      {"--corridor-cap", code(other.cur) + "=" +
                                             money{cb.corridor_cap_minor, cb.cur}.format_amount()});
        }
      }
      for (const auto& b : m_sc.banks) {
        if (cb.bank_cap_minor > 0) {
          argv.insert(argv.end(), {"--bank-cap",
                                   b.id + "=" + money{cb.bank_cap_minor, cb.cur}.format_amount()});
        }
      }
      with_node("cb-" + code(cb.cur), argv);
      if (auto s = spawn(argv, "issuer-" + code(cb.cur)); !s) {
        return s;
      }
    }
    // Dealers.
    for (std::uint32_t b = 0; b < m_sc.banks.size(); ++b) {
      const auto& bank = m_sc.banks[b];
      if (!bank.dealer) {
        continue;
      }
      const auto dir = m_config.work_dir / ("dealer-" + bank.id);
      std::filesystem::create_directories(dir);
      if (auto saved = m_bank_keys[b].save(dir / "vault.key"); !saved) {
        return saved;
      }
      auto db = fresh("fx_" + bank.id);
      if (!db) {
        return db.err();
      }
      const auto endpoint = ep(30 + static_cast<int>(b));
      std::vector<std::string> argv{tool("fx", "cbdc-fx"),
                                    "serve",
                                    "--dir",
                                    dir.string(),
                                    "--dealer-id",
                                    bank.id,
                                    "--db",
                                    *db,
                                    "--bind",
                                    endpoint,
                                    "--settle",
                                    m_settle_spec,
                                    "--spread-bp",
                                    std::to_string(bank.spread_bp)};
      for (const auto& r : m_sc.mid_texts) {  // the pairs of its licensed currencies
        const auto pay = parse_currency(r.substr(0, 3));
        const auto receive = parse_currency(r.substr(4, 3));
        const auto licensed = [&](const result<currency>& c) {
          return c &&
                 std::find(bank.licensed.begin(), bank.licensed.end(), *c) != bank.licensed.end();
        };
        if (licensed(pay) && licensed(receive)) {
          argv.insert(argv.end(), {"--rate", r});
        }
      }
      for (std::size_t c = 0; c < m_sc.central_banks.size(); ++c) {
        argv.insert(argv.end(),
                    {"--central-bank", code(m_sc.central_banks[c].cur) + "=" + m_issuer_eps[c]});
      }
      with_node(bank.id, argv);
      if (auto s = spawn(argv, "fx-" + bank.id); !s) {
        return s;
      }
      m_dealer_eps.push_back(endpoint);
    }
    return ok_status();
  }

  /// The simulator acting as node `name` (a bank, or the auditor).
  auto as_node(const std::string& name) -> result<socket_options> {
    auto security = m_roster->security(name);
    if (!security) {
      return security.err();
    }
    socket_options opts;
    opts.security = *security;
    return opts;
  }

  [[nodiscard]] auto settle_spec() const -> const std::string& { return m_settle_spec; }
  [[nodiscard]] auto bank_key(std::uint32_t b) const -> const key_pair& { return m_bank_keys[b]; }
  [[nodiscard]] auto issuer_endpoint(std::size_t c) const -> const std::string& {
    return m_issuer_eps[c];
  }
  /// Every dealer, as bank b asks them (its own identity: a quote is for the bank that asks).
  auto dealers(std::uint32_t b) -> result<std::vector<fx::interface*>> {
    auto& clients = m_dealers[b];
    if (clients.empty()) {
      auto opts = as_node(m_sc.banks.at(b).id);
      if (!opts) {
        return opts.err();
      }
      for (const auto& ep : m_dealer_eps) {
        clients.push_back(std::make_unique<fx::client>(ep, *opts));
      }
    }
    std::vector<fx::interface*> out;
    for (auto& d : clients) {
      out.push_back(d.get());
    }
    return out;
  }
  /// `cbdc-issuer audit` of central bank c against settlement.
  auto issuer_audit(std::size_t c) -> run_result {
    std::vector<std::string> argv{(m_config.bin_dir / "issuer" / "cbdc-issuer").string(),
                                  "audit",
                                  "--db",
                                  m_issuer_dbs[c],
                                  "--key",
                                  m_issuer_keys[c],
                                  "--settle",
                                  m_settle_spec,
                                  "--currency",
                                  code(m_sc.central_banks[c].cur)};
    with_node("cb-" + code(m_sc.central_banks[c].cur), argv);
    return cbdc::run(argv);
  }
  static constexpr const char* k_auditor = "bridge/auditor";

 private:
  void with_node(const std::string& name, std::vector<std::string>& argv) const {
    for (auto& flag : m_roster->flags(name)) {
      argv.push_back(std::move(flag));
    }
  }
  auto spawn(const std::vector<std::string>& argv, const std::string& name) -> status {
    m_children.push_back(
        std::make_unique<child>(argv, (m_config.work_dir / (name + ".log")).string()));
    if (!m_children.back()->wait_for_output("listening", k_start_timeout_ms)) {
      return error{status_code::unavailable, name + " did not start: " + m_children.back()->log()};
    }
    return ok_status();
  }

  const scenario& m_sc;
  run_config m_config;
  std::string m_settle_spec;
  std::vector<std::string> m_issuer_keys;
  std::vector<std::string> m_issuer_dbs;
  std::vector<std::string> m_issuer_eps;
  std::vector<key_pair> m_bank_keys;
  std::vector<std::string> m_dealer_eps;
  std::map<std::uint32_t, std::vector<std::unique_ptr<fx::client>>> m_dealers;  ///< by payer
  std::unique_ptr<node_roster> m_roster;
  std::vector<std::unique_ptr<child>> m_children;  ///< stopped in reverse order of start
};

struct corridor_figures {
  std::uint32_t count{0};
  std::uint32_t failed{0};
  std::int64_t volume_usd_cents{0};
  std::int64_t spread_usd_cents{0};
  std::uint32_t cross_shard{0};
  std::vector<std::int64_t> latencies_us;
};

}  // namespace

auto run(const scenario& sc, const plan& p, const run_config& config,
         const std::filesystem::path& out_dir) -> int {
  using clock = std::chrono::steady_clock;
  const auto us_since = [](clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t).count();
  };
  std::filesystem::create_directories(out_dir);
  const auto setup_start = clock::now();
  services svc(sc, config);
  if (auto started = svc.start(p.issuance); !started) {
    std::fprintf(stderr, "cbdc-sim: %s\n", to_string(started.err()).c_str());
    return 1;
  }
  auto auditor = svc.as_node(services::k_auditor);
  if (!auditor) {
    std::fprintf(stderr, "cbdc-sim: %s\n", to_string(auditor.err()).c_str());
    return 1;
  }
  settlement::client settle(*settlement::cluster::parse(svc.settle_spec()), *auditor);
  std::vector<std::string> problems;
  std::vector<std::string> checks;
  // Issuance: each bank's central bank mints its share (against the reserve start() credited).
  std::int64_t issued_usd = 0;
  std::map<currency, std::int64_t> issued_by_cur;
  for (const auto& [slot, amount] : p.issuance) {
    const auto& [b, cur] = slot;
    std::size_t c = 0;
    while (sc.central_banks[c].cur != cur) {
      ++c;
    }
    auto as_bank = svc.as_node(sc.banks[b].id);
    if (!as_bank) {
      std::fprintf(stderr, "cbdc-sim: %s\n", to_string(as_bank.err()).c_str());
      return 1;
    }
    issuer::client cb(svc.issuer_endpoint(c), *as_bank);
    const money m{amount, cur};
    auto minted = cb.mint(sc.banks[b].id, m, "bridge-mint-" + sc.banks[b].id);
    if (!minted) {
      std::fprintf(stderr, "cbdc-sim: mint to %s: %s\n", sc.banks[b].id.c_str(),
                   to_string(minted.err()).c_str());
      return 1;
    }
    issued_usd += usd_cents(sc, cur, amount);
    issued_by_cur[cur] += amount;
  }
  const auto setup_us = us_since(setup_start);

  // The plan, one transaction at a time, as the pilot's banks did.
  std::map<std::pair<std::uint32_t, currency>, std::int64_t> model;
  for (const auto& [slot, amount] : p.issuance) {
    model[slot] += amount;
  }
  std::vector<outcome> outcomes;
  std::uint32_t mismatched = 0;
  const auto replay_start = clock::now();
  for (const auto& t : p.txs) {
    outcome o;
    const auto t0 = clock::now();
    const auto& payer = svc.bank_key(t.payer);
    auto dealers = svc.dealers(t.payer);
    auto best = !dealers ? result<fx::best_offer>{dealers.err()}
                         : fx::request_best_quote(*dealers, sc.banks[t.payer].id, t.pay, t.receive,
                                                  t.amount_minor, t.fixed_pay);
    result<settlement::receipt> receipt = error{status_code::internal, "not sent"};
    if (best) {
      const auto& q = best->q;
      o.dealer_id = q.dealer_id;
      o.pay_minor = q.pay.minor();
      o.receive_minor = q.receive.minor();
      o.mid_pay_minor = q.mid_pay_minor;
      if (q.dealer_id != sc.banks[t.dealer].id || q.pay.minor() != t.expect.pay_minor ||
          q.receive.minor() != t.expect.receive_minor) {
        ++mismatched;
      }
      auto unspent = settle.list_unspent(payer.pub());
      auto tx = unspent ? fx::build_pvp(q, payer, *unspent, svc.bank_key(t.payee).pub(), t.seq + 1)
                        : result<signed_tx>{unspent.err()};
      if (tx) {
        o.tx_id = tx->id;
        o.cross_shard = shards_of(tx->tx, tx->id, settle.shard_count()).size() > 1;
        receipt = best->dealer->execute(q.quote_id, *tx);
      } else {
        receipt = tx.err();
      }
    } else {
      receipt = best.err();
    }
    o.latency_us = us_since(t0);
    if (receipt) {
      model[{t.payer, t.pay}] -= o.pay_minor;
      std::uint32_t dealer_index = 0;
      while (sc.banks[dealer_index].id != o.dealer_id) {
        ++dealer_index;
      }
      model[{dealer_index, t.pay}] += o.pay_minor;
      model[{dealer_index, t.receive}] -= o.receive_minor;
      model[{t.payee, t.receive}] += o.receive_minor;
    } else {
      o.status = receipt.code();
      o.detail = receipt.err().message;
    }
    outcomes.push_back(o);
  }
  const auto replay_us = us_since(replay_start);

  // The audit.
  std::uint32_t settled = 0;
  std::uint32_t missing = 0;
  for (const auto& o : outcomes) {
    if (o.status == status_code::ok) {
      ++settled;
      if (auto found = settle.get_tx(o.tx_id); !found) {
        ++missing;
      }
    }
  }
  if (missing > 0) {
    problems.push_back(std::to_string(missing) + " acknowledged transactions not in settlement");
  } else {
    checks.push_back("all " + std::to_string(settled) + " acknowledged transactions in settlement");
  }
  if (mismatched > 0) {
    problems.push_back(std::to_string(mismatched) +
                       " quotes differ from the model's dealer or amounts");
  } else {
    checks.push_back("every quote came from the model's dealer with the model's amounts");
  }
  std::uint32_t wrong_balances = 0;
  for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
    auto unspent = settle.list_unspent(svc.bank_key(b).pub());
    std::map<currency, std::int64_t> held;
    for (const auto& tok : unspent ? *unspent : std::vector<settlement::token_info>{}) {
      held[tok.cur] += tok.amount_minor;
    }
    for (const auto& cb : sc.central_banks) {
      const auto it = model.find({b, cb.cur});
      const auto want = it == model.end() ? 0 : it->second;
      if (!unspent || held[cb.cur] != want) {
        ++wrong_balances;
        problems.push_back(sc.banks[b].id + " holds " + grouped(money{held[cb.cur], cb.cur}) +
                           ", the model " + grouped(money{want, cb.cur}));
      }
    }
  }
  if (wrong_balances == 0) {
    checks.push_back("every bank's balance in every currency matches the model");
  }
  if (sc.sweep_daily) {
    std::uint32_t foreign_left = 0;
    for (std::uint32_t b = 0; b < sc.banks.size(); ++b) {
      for (const auto& cb : sc.central_banks) {
        const auto it = model.find({b, cb.cur});
        if (!sc.banks[b].dealer && cb.cur != sc.banks[b].home && it != model.end() &&
            it->second != 0) {
          ++foreign_left;
        }
      }
    }
    if (foreign_left > 0) {
      problems.push_back(std::to_string(foreign_left) +
                         " foreign balances left after the end-of-day sweep");
    } else {
      checks.push_back("after the last end-of-day sweep every bank holds only its home currency");
    }
  }
  for (std::size_t c = 0; c < sc.central_banks.size(); ++c) {
    const auto cur = sc.central_banks[c].cur;
    auto supply = settle.supply(cur);
    if (!supply || supply->issued_minor - supply->redeemed_minor != supply->unspent_minor ||
        supply->issued_minor != issued_by_cur[cur]) {
      problems.push_back(code(cur) + ": issued - redeemed != unspent, or issued != minted");
    } else {
      checks.push_back(code(cur) + ": issued " + grouped(money{supply->issued_minor, cur}) +
                       " - redeemed == unspent");
    }
    auto audit = svc.issuer_audit(c);
    if (audit.exit_code != 0) {
      problems.push_back("cbdc-issuer audit " + code(cur) + " failed: " + audit.out);
    } else {
      checks.push_back("cbdc-issuer audit " + code(cur) + " PASS");
    }
  }

  // Figures.
  std::map<std::string, corridor_figures> corridors;
  std::map<std::string, corridor_figures> phases;
  std::map<std::string, std::uint32_t> failures;
  std::int64_t settled_usd = 0;
  std::int64_t spread_usd = 0;
  std::uint32_t counted = 0;  // payments and FX deals: what the pilot counted (sweeps apart)
  std::vector<std::int64_t> latencies;
  for (std::size_t i = 0; i < p.txs.size(); ++i) {
    const auto& t = p.txs[i];
    const auto& o = outcomes[i];
    const auto name = code(t.pay) + "->" + code(t.receive);
    for (auto* f :
         {&corridors[name], &phases[t.kind == tx_kind::sweep ? std::string{"end-of-day sweeps"}
                                                             : sc.phases[t.phase].name]}) {
      if (o.status != status_code::ok) {
        ++f->failed;
        continue;
      }
      ++f->count;
      f->volume_usd_cents += usd_cents(sc, t.pay, o.pay_minor);
      f->spread_usd_cents += usd_cents(sc, t.pay, o.pay_minor - o.mid_pay_minor);
      f->cross_shard += o.cross_shard ? 1 : 0;
      f->latencies_us.push_back(o.latency_us);
    }
    if (o.status != status_code::ok) {
      ++failures[std::string{to_string(o.status)}];
      continue;
    }
    latencies.push_back(o.latency_us);
    if (t.kind != tx_kind::sweep) {
      ++counted;
      settled_usd += usd_cents(sc, t.pay, o.pay_minor);
      spread_usd += usd_cents(sc, t.pay, o.pay_minor - o.mid_pay_minor);
    }
  }
  std::vector<std::string> published_lines;
  bool published_ok = true;
  if (sc.published.given) {
    const auto over = [&](const std::string& what, std::int64_t got, std::int64_t want) {
      const double dev = 100.0 * static_cast<double>(got - want) / static_cast<double>(want);
      const bool in = got >= want && dev <= sc.published.tolerance_pct;
      published_ok = published_ok && in;
      published_lines.push_back(what + ": run " + usd_text(got) + ", published over " +
                                usd_text(want) + " (+" + fixed_text(dev, 2) + "%, " +
                                (in ? "within" : "OUTSIDE") + " 0 to +" +
                                fixed_text(sc.published.tolerance_pct, 1) + "%)");
    };
    const bool count_ok = counted == sc.published.transactions;
    published_ok = count_ok;
    published_lines.push_back("payment and FX PvP transactions: run " + std::to_string(counted) +
                              ", published " + std::to_string(sc.published.transactions) +
                              (count_ok ? " (equal)" : " (DIFFERENT)"));
    over("settled (USD)", settled_usd, sc.published.settled_usd_cents);
    over("issued onto the bridge (USD)", issued_usd, sc.published.issued_usd_cents);
  }
  const bool passed = problems.empty();
  for (auto& [name, f] : corridors) {
    std::sort(f.latencies_us.begin(), f.latencies_us.end());
  }
  for (auto& [name, f] : phases) {
    std::sort(f.latencies_us.begin(), f.latencies_us.end());
  }
  std::sort(latencies.begin(), latencies.end());

  // Report files.
  {
    std::ofstream csv(out_dir / "transactions.csv", std::ios::trunc);
    csv << "seq,phase,kind,payer,payee,pay_currency,pay_minor,receive_currency,receive_minor,"
           "dealer,spread_minor,status,cross_shard,settle_ms,tx_id\n";
    for (std::size_t i = 0; i < p.txs.size(); ++i) {
      const auto& t = p.txs[i];
      const auto& o = outcomes[i];
      csv << t.seq << ",\"" << sc.phases[t.phase].name << "\"," << kind_name(t.kind) << ','
          << sc.banks[t.payer].id << ',' << sc.banks[t.payee].id << ',' << code(t.pay) << ','
          << o.pay_minor << ',' << code(t.receive) << ',' << o.receive_minor << ',' << o.dealer_id
          << ',' << (o.pay_minor - o.mid_pay_minor) << ',' << to_string(o.status) << ','
          << (o.cross_shard ? 1 : 0) << ','
          << fixed_text(static_cast<double>(o.latency_us) / 1e3, 2) << ','
          << (o.status == status_code::ok ? o.tx_id.hex() : "") << '\n';
    }
  }
  boost::json::object corridors_json;
  {
    std::ofstream csv(out_dir / "corridors.csv", std::ios::trunc);
    csv << "corridor,transactions,failed,volume_usd,spread_paid_usd,cross_shard,settle_p50_ms,"
           "settle_max_ms\n";
    std::filesystem::create_directories(out_dir / "plots");
    std::ofstream dat(out_dir / "plots" / "corridors.dat", std::ios::trunc);
    for (const auto& [name, f] : corridors) {
      const auto p50 = percentile_ms(f.latencies_us, 0.5);
      const auto max = percentile_ms(f.latencies_us, 1.0);
      csv << name << ',' << f.count << ',' << f.failed << ','
          << money{f.volume_usd_cents, currency::usd}.format_amount() << ','
          << money{f.spread_usd_cents, currency::usd}.format_amount() << ',' << f.cross_shard << ','
          << fixed_text(p50, 1) << ',' << fixed_text(max, 1) << '\n';
      dat << '"' << name << "\" " << fixed_text(static_cast<double>(f.volume_usd_cents) / 1e8, 3)
          << ' ' << fixed_text(static_cast<double>(f.spread_usd_cents) / 100.0, 2) << ' '
          << fixed_text(p50, 1) << '\n';
      corridors_json[name] = boost::json::object{
          {"transactions", f.count},
          {"failed", f.failed},
          {"volume_usd", money{f.volume_usd_cents, currency::usd}.format_amount()},
          {"spread_paid_usd", money{f.spread_usd_cents, currency::usd}.format_amount()},
          {"cross_shard", f.cross_shard},
          {"settle_ms_p50", percentile_ms(f.latencies_us, 0.5)},
          {"settle_ms_p95", percentile_ms(f.latencies_us, 0.95)},
          {"settle_ms_max", max}};
    }
    std::ofstream lat(out_dir / "plots" / "latency.dat", std::ios::trunc);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i].status == status_code::ok) {
        lat << i << ' ' << fixed_text(static_cast<double>(outcomes[i].latency_us) / 1e3, 2) << '\n';
      }
    }
  }
  boost::json::object phases_json;
  for (const auto& [name, f] : phases) {
    phases_json[name] = boost::json::object{
        {"transactions", f.count},
        {"failed", f.failed},
        {"volume_usd", money{f.volume_usd_cents, currency::usd}.format_amount()}};
  }
  boost::json::object failures_json;
  for (const auto& [k, n] : failures) {
    failures_json[k] = n;
  }
  boost::json::array checks_json;
  for (const auto& c : checks) {
    checks_json.push_back(boost::json::string{c});
  }
  boost::json::array problems_json;
  for (const auto& pr : problems) {
    problems_json.push_back(boost::json::string{pr});
  }
  const boost::json::object summary{
      {"scenario", sc.name},
      {"seed", sc.seed},
      {"transactions", counted},
      {"sweeps", settled - counted},
      {"failed", outcomes.size() - settled},
      {"settled_usd", money{settled_usd, currency::usd}.format_amount()},
      {"issued_usd", money{issued_usd, currency::usd}.format_amount()},
      {"spread_paid_usd", money{spread_usd, currency::usd}.format_amount()},
      {"settle_ms_p50", percentile_ms(latencies, 0.5)},
      {"settle_ms_p99", percentile_ms(latencies, 0.99)},
      {"setup_s", static_cast<double>(setup_us) / 1e6},
      {"replay_s", static_cast<double>(replay_us) / 1e6},
      {"shards", sc.shards},
      {"corridors", corridors_json},
      {"phases", phases_json},
      {"failures", failures_json},
      {"audit",
       boost::json::object{
           {"passed", passed}, {"checks", checks_json}, {"problems", problems_json}}},
      {"published_ok", published_ok}};
  {
    std::ofstream out(out_dir / "summary.json", std::ios::trunc);
    out << boost::json::serialize(summary) << '\n';
  }
  {
    // Bars from zero (an axis that starts higher misleads), labels grouped by thousands.
    double volume_max_musd = 0;
    double spread_max_usd = 0;
    for (const auto& [name, f] : corridors) {
      volume_max_musd = std::max(volume_max_musd, static_cast<double>(f.volume_usd_cents) / 1e8);
      spread_max_usd = std::max(spread_max_usd, static_cast<double>(f.spread_usd_cents) / 100.0);
    }
    std::ofstream gp(out_dir / "plots" / "charts.gp", std::ios::trunc);
    gp << "set terminal svg size 760,300 dynamic font 'sans,11'\n"
       << "set grid ytics\nset style fill solid 0.8 border -1\nset boxwidth 0.7\n"
       << "set output 'volume.svg'\nset title 'Volume by corridor (USD million)'\n"
       << zero_based_y(volume_max_musd)
       << "set xtics rotate by -30\nplot 'corridors.dat' using 2:xtic(1) with boxes notitle\n"
       << "set output 'spread.svg'\nset title 'Spread paid by corridor (USD)'\n"
       << zero_based_y(spread_max_usd)
       << "plot 'corridors.dat' using 3:xtic(1) with boxes notitle\n"
       << "set autoscale y\nset ytics auto\n"
       << "set output 'latency.svg'\nset title 'Settlement time per transaction (quote to "
          "receipt)'\nset xtics norotate\nset xlabel 'transaction'\nset ylabel 'ms'\n"
       << "plot 'latency.dat' using 1:2 with points pt 7 ps 0.5 notitle\n";
  }
  const auto plotted = cbdc::run(
      {"/bin/sh", "-c", "cd '" + (out_dir / "plots").string() + "' && gnuplot charts.gp 2>&1"});
  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset='utf-8'><title>cbdc bridge run: "
       << html_escape(sc.name)
       << "</title><style>body{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;"
          "text-align:left}.pass{color:#070}.fail{color:#b00}svg{max-width:100%;height:auto}"
          "</style></head><body>\n<h1>"
       << html_escape(sc.name) << "</h1>\n<p>seed " << sc.seed << ", " << sc.central_banks.size()
       << " central banks, " << sc.banks.size() << " banks, " << sc.shards
       << " settlement shards; setup " << fixed_text(static_cast<double>(setup_us) / 1e6, 1)
       << " s, replay " << fixed_text(static_cast<double>(replay_us) / 1e6, 1) << " s.</p>\n"
       << "<table><tr><th>payment and FX PvP transactions</th><td>" << counted
       << "</td></tr><tr><th>settled</th><td>" << usd_text(settled_usd)
       << "</td></tr><tr><th>issued onto the bridge</th><td>" << usd_text(issued_usd)
       << "</td></tr><tr><th>spread paid</th><td>" << usd_text(spread_usd)
       << "</td></tr><tr><th>refused</th><td>" << outcomes.size() - settled
       << "</td></tr></table>\n";
  if (!published_lines.empty()) {
    html << "<h2>Against the published figures</h2><p>" << html_escape(sc.published.source)
         << "</p><ul>";
    for (const auto& line : published_lines) {
      html << "<li>" << html_escape(line) << "</li>";
    }
    html << "</ul>\n";
  }
  html << "<h2>Audit: <span class='" << (passed ? "pass'>PASS" : "fail'>FAIL")
       << "</span></h2><ul>";
  for (const auto& c : checks) {
    html << "<li>" << html_escape(c) << "</li>";
  }
  for (const auto& pr : problems) {
    html << "<li class='fail'>" << html_escape(pr) << "</li>";
  }
  html << "</ul>\n<h2>By corridor</h2><table><tr><th></th><th>transactions</th><th>volume</th>"
          "<th>spread paid</th><th>across shards</th><th>settlement p50 / max</th><th>refused</th>"
          "</tr>";
  for (const auto& [name, f] : corridors) {
    html << "<tr><td>" << html_escape(name) << "</td><td>" << f.count << "</td><td>"
         << usd_text(f.volume_usd_cents) << "</td><td>" << usd_text(f.spread_usd_cents)
         << "</td><td>" << f.cross_shard << "</td><td>"
         << fixed_text(percentile_ms(f.latencies_us, 0.5), 1) << " / "
         << fixed_text(percentile_ms(f.latencies_us, 1.0), 1) << " ms</td><td>" << f.failed
         << "</td></tr>";
  }
  html << "</table>\n<h2>By phase</h2><table><tr><th></th><th>transactions</th><th>volume</th>"
          "</tr>";
  for (const auto& [name, f] : phases) {
    html << "<tr><td>" << html_escape(name) << "</td><td>" << f.count << "</td><td>"
         << usd_text(f.volume_usd_cents) << "</td></tr>";
  }
  html << "</table>\n";
  if (plotted.exit_code == 0) {
    for (const auto* chart : {"volume", "spread", "latency"}) {
      std::ifstream in(out_dir / "plots" / (std::string{chart} + ".svg"));
      std::ostringstream svg;
      svg << in.rdbuf();
      const auto text = svg.str();
      if (const auto at = text.find("<svg"); at != std::string::npos) {
        html << "<div>" << text.substr(at) << "</div>\n";
      }
    }
  } else {
    html << "<p class='fail'>gnuplot failed: " << html_escape(plotted.out) << "</p>\n";
  }
  html << "</body></html>\n";
  {
    std::ofstream out(out_dir / "report.html", std::ios::trunc);
    out << html.str();
  }

  std::printf("settled %u payment and FX PvP transactions (%s), %u sweeps; %zu refused\n", counted,
              usd_text(settled_usd).c_str(), settled - counted, outcomes.size() - settled);
  std::printf("issued %s onto the bridge; spread paid %s\n", usd_text(issued_usd).c_str(),
              usd_text(spread_usd).c_str());
  for (const auto& [name, f] : corridors) {
    std::printf("  %s: %u, %s, spread %s, %u across shards, settlement p50 %.1f ms\n", name.c_str(),
                f.count, usd_text(f.volume_usd_cents).c_str(), usd_text(f.spread_usd_cents).c_str(),
                f.cross_shard, percentile_ms(f.latencies_us, 0.5));
  }
  std::printf("setup %.1f s, replay %.1f s: settlement p50 %.1f ms, p99 %.1f ms\n",
              static_cast<double>(setup_us) / 1e6, static_cast<double>(replay_us) / 1e6,
              percentile_ms(latencies, 0.5), percentile_ms(latencies, 0.99));
  for (const auto& line : published_lines) {
    std::printf("  %s\n", line.c_str());
  }
  for (const auto& c : checks) {
    std::printf("  audit: %s\n", c.c_str());
  }
  for (const auto& pr : problems) {
    std::printf("  AUDIT PROBLEM: %s\n", pr.c_str());
  }
  for (const auto& [k, n] : failures) {
    std::printf("  refused %s: %u\n", k.c_str(), n);
  }
  std::printf("audit %s\n", passed ? "PASS" : "FAIL");
  std::printf("report: %s\n", (out_dir / "report.html").c_str());
  return passed && published_ok && plotted.exit_code == 0 ? 0 : 1;
}

}  // namespace cbdc::sim::bridge
