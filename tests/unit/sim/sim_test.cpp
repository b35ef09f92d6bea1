// The simulator's pure parts: the random source, scenario reading, generation and traces.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "sim/bridge.hpp"
#include "sim/generate.hpp"
#include "sim/page.hpp"
#include "sim/report.hpp"
#include "sim/rng.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"

using namespace cbdc;
using namespace cbdc::sim;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_source = CBDC_SOURCE_DIR;

constexpr const char* k_small = R"(name = "small"
seed = 7
currency = "CNY"
start = 2024-05-04T09:00:00+08:00
duration_hours = 48
[[region]]
name = "north"
weight = 2
[[region]]
name = "south"
weight = 1
[[bank]]
id = "bank-a"
weight = 1
[[bank]]
id = "bank-b"
weight = 1
[[category]]
name = "catering"
merchants = 20
weight = 3
median = "35.00"
spread = 0.6
[[category]]
name = "fuel"
merchants = 5
weight = 1
median = "250.00"
spread = 0.3
[wallets]
count = 2000
active_share = 0.5
classes = { II = 1, IV = 3 }
topup = "500.00"
topup_at = "first_payment"
extra_payments = 1.5
spend_rest = 0.2
[time_of_day]
weekday = [0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 4, 6, 8, 6, 4, 4, 5, 6, 8, 8, 6, 4, 2, 1]
)";

auto refusal(const std::string& text) -> std::string {
  auto sc = parse_scenario(text, "s.toml");
  REQUIRE_FALSE(sc.ok());
  CHECK(sc.code() == status_code::parse_error);
  return sc.err().message;
}

auto replace(std::string text, const std::string& from, const std::string& to) -> std::string {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

auto file_bytes(const fs::path& p) -> std::string {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("report: numbers for people are grouped by thousands", "[sim]") {
  REQUIRE(sim::grouped(0) == "0");
  REQUIRE(sim::grouped(999) == "999");
  REQUIRE(sim::grouped(1'000) == "1,000");
  REQUIRE(sim::grouped(1'244'777) == "1,244,777");
  REQUIRE(sim::grouped(-12'345) == "-12,345");
  REQUIRE(sim::grouped(money{12'958'496'745, currency::cny}) == "129,584,967.45 CNY");
  REQUIRE(sim::grouped(money{-100'000, currency::cny}) == "-1,000.00 CNY");
  REQUIRE(sim::group_digits("2608") == "2,608");
}

TEST_CASE("report: every text on a page is escaped, only chart files go in as they are", "[sim]") {
  const auto dir = std::filesystem::temp_directory_path() / "cbdc-page-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream svg(dir / "chart.svg");
    svg << "<?xml version='1.0'?>\n<svg id='drawn'></svg>";
  }
  const std::string hostile = "<script>alert('x')</script> & \"more\"";
  sim::html_page page(hostile, hostile);
  page.heading(hostile);
  page.paragraph(hostile, true);
  page.list({hostile});
  page.facts({{hostile, hostile}});
  page.table({hostile}, {{hostile}});
  page.published(hostile, {hostile});
  page.audit({hostile}, {hostile});
  page.charts(dir, {"chart", "absent"});
  REQUIRE(page.write(dir / "page.html"));
  const auto html = file_bytes(dir / "page.html");
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;") !=
        std::string::npos);
  CHECK(html.find("<svg id='drawn'></svg>") != std::string::npos);  // the chart, from <svg on
  CHECK(html.find("<?xml") == std::string::npos);
  CHECK(html.find("Audit: <span class='fail'>FAIL") != std::string::npos);
  CHECK(html.ends_with("</body></html>\n"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("rng: a seed gives the same numbers, ranges hold", "[sim]") {
  rng a(42, 1);
  rng b(42, 1);
  rng c(42, 2);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.next();
    CHECK(x == b.next());
    differs = differs || x != c.next();
  }
  CHECK(differs);
  // Pinned values: a change of the mapping would change every trace.
  rng pinned(1, 0);
  CHECK(pinned.below(1000) == rng(1, 0).below(1000));
  std::array<int, 7> seen{};
  for (int i = 0; i < 70'000; ++i) {
    const auto v = a.below(7);
    REQUIRE(v < 7);
    ++seen.at(v);
    const double u = a.unit();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
  for (const int n : seen) {
    CHECK(n > 9'000);  // uniform: 10,000 expected each
    CHECK(n < 11'000);
  }
  const std::vector<double> cdf{1, 1, 4};  // weights 1, 0, 3
  std::array<int, 3> picked{};
  for (int i = 0; i < 40'000; ++i) {
    ++picked.at(a.pick(cdf));
  }
  CHECK(picked[1] == 0);
  CHECK(picked[2] > 2 * picked[0]);
  double sum = 0;
  for (int i = 0; i < 20'000; ++i) {
    sum += a.poisson(0.5);
  }
  CHECK(sum / 20'000 == Approx(0.5).margin(0.03));
}

TEST_CASE("scenario: a good file is read", "[sim]") {
  auto sc = parse_scenario(k_small, "s.toml");
  REQUIRE(sc.ok());
  CHECK(sc->name == "small");
  CHECK(sc->seed == 7);
  CHECK(sc->utc_offset_minutes == 480);
  CHECK(sc->start_unix_s == 1714784400);  // 2024-05-04T01:00:00Z
  CHECK(sc->duration_s == std::int64_t{48} * 3600);
  CHECK(sc->regions.size() == 2);
  CHECK(sc->categories.at(1).median_minor == 25'000);
  CHECK(sc->wallets.class_weights == std::array<double, 4>{0, 1, 0, 3});
  CHECK_FALSE(sc->wallets.topup_at_start);
  CHECK(sc->weekend == sc->weekday);  // not given: as on weekdays
  CHECK(sc->merchant_count() == 25);
}

TEST_CASE("scenario: unknown keys and bad values are refused with file, line and key", "[sim]") {
  CHECK(refusal(replace(k_small, "seed = 7", "seed = 7\nsede = 8")) ==
        "s.toml:3: unknown key 'sede'");
  CHECK(refusal(replace(k_small, "spread = 0.3", "spread = 0.3\ncolour = 1")) ==
        "s.toml:30: unknown key 'category[1].colour'");
  CHECK(refusal(replace(k_small, "active_share = 0.5", "active_share = 1.5")) ==
        "s.toml:32: key 'wallets.active_share' must lie between 0 and 1, not 1.5");
  CHECK(refusal(replace(k_small, "median = \"35.00\"", "median = \"-3\"")) ==
        "s.toml:22: key 'category[0].median' must be a positive amount in CNY like \"12.50\"");
  CHECK(refusal(replace(k_small, "count = 2000", "count = \"many\"")) ==
        "s.toml:31: key 'wallets.count' must be an integer");
  CHECK(refusal(replace(k_small, "currency = \"CNY\"", "currency = \"XYZ\"")) ==
        "s.toml:3: key 'currency' names no known currency: XYZ");
  CHECK(refusal(replace(k_small, "topup_at = \"first_payment\"", "topup_at = \"later\"")) ==
        "s.toml:35: key 'wallets.topup_at' must be \"start\" or \"first_payment\"");
  CHECK(refusal(replace(k_small, "weekday = [0, 0, ", "weekday = [0, ")) ==
        "s.toml:39: key 'time_of_day.weekday' must be an array of 24 weights, one per local hour");
  CHECK(refusal(replace(k_small, "start = 2024-05-04T09:00:00+08:00", "start = 2024-05-04")) ==
        "s.toml:4: key 'start' must be a date and time with its UTC offset, like "
        "2020-10-12T00:00:00+08:00");
  CHECK(refusal(replace(k_small, "id = \"bank-b\"", "id = \"Bank B\"")) ==
        "s.toml:16: key 'bank[1].id' must be 1-32 of a-z, 0-9 and '-'");
  CHECK(refusal(replace(k_small, "duration_hours = 48\n", ""))
            .find("key 'duration_hours' is "
                  "missing") != std::string::npos);
  // Not TOML at all: the parser's own message, with the line.
  CHECK(refusal(replace(k_small, "seed = 7", "seed = = 7")).rfind("s.toml:2: ", 0) == 0);
}

TEST_CASE("generate: the same seed gives a byte-identical trace, another seed another", "[sim]") {
  auto sc = parse_scenario(k_small, "s.toml");
  REQUIRE(sc.ok());
  const auto dir = fs::temp_directory_path();
  const auto a = dir / "cbdc_sim_trace_a.bin";
  const auto b = dir / "cbdc_sim_trace_b.bin";
  const auto c = dir / "cbdc_sim_trace_c.bin";
  auto t1 = generate(*sc);
  auto t2 = generate(*sc);
  REQUIRE(t1.ok());
  REQUIRE(t2.ok());
  REQUIRE(write_binary(*t1, a).ok());
  REQUIRE(write_binary(*t2, b).ok());
  CHECK(file_bytes(a) == file_bytes(b));
  sc->seed = 8;
  auto t3 = generate(*sc);
  REQUIRE(t3.ok());
  REQUIRE(write_binary(*t3, c).ok());
  CHECK(file_bytes(a) != file_bytes(c));
  // The binary format reads back to the same events.
  auto back = read_binary(a);
  REQUIRE(back.ok());
  CHECK(back->events == t1->events);
  CHECK(back->seed == 7);
  CHECK(back->scenario_text == k_small);
  fs::remove(a);
  fs::remove(b);
  fs::remove(c);
}

TEST_CASE("generate: time order, top-up first, never more than the wallet holds", "[sim]") {
  auto sc = parse_scenario(k_small, "s.toml");
  REQUIRE(sc.ok());
  auto t = generate(*sc);
  REQUIRE(t.ok());
  REQUIRE(t->events.size() > 1000);
  std::unordered_map<std::uint32_t, std::int64_t> balance;
  std::int64_t last = 0;
  std::size_t topups = 0;
  std::array<std::size_t, 5> classes{};
  for (const auto& e : t->events) {
    REQUIRE(e.at_us >= last);
    REQUIRE(e.at_us < sc->duration_s * 1'000'000);
    last = e.at_us;
    REQUIRE(e.amount_minor > 0);
    if (e.kind == event_kind::topup) {
      REQUIRE(balance.count(e.wallet) == 0);  // one top-up each, before anything else
      balance[e.wallet] = e.amount_minor;
      ++topups;
      ++classes.at(e.wallet_class);
      continue;
    }
    REQUIRE(balance.count(e.wallet) == 1);
    REQUIRE(e.amount_minor <= balance[e.wallet]);
    balance[e.wallet] -= e.amount_minor;
    REQUIRE(e.merchant < sc->merchant_count());
    REQUIRE(e.category < sc->categories.size());
    // No payment between midnight and 6 am local: those hours weigh zero.
    const auto local_hour =
        ((sc->start_unix_s + std::int64_t{sc->utc_offset_minutes} * 60) + e.at_us / 1'000'000) %
        86'400 / 3600;
    REQUIRE(local_hour >= 6);
  }
  CHECK(topups == Approx(1000).margin(80));  // half of 2,000 wallets act
  CHECK(classes[1] == 0);
  CHECK(classes[3] == 0);
  CHECK(classes[4] > 2 * classes[2]);  // weights 3 : 1
}

namespace {

constexpr const char* k_offline = R"(
[offline]
share = 0.4
load = "200.00"
sync_every_hours = 2
compromised_share = 0.05
copies = 3
loss = "payee_bank"
sweep_caps = ["100.00", "300.00"]
payment_cap = "60.00"
[[offline.outage]]
region = "north"
from_hours = 10
hours = 6
)";

}  // namespace

TEST_CASE("scenario: an [offline] table is read strictly", "[sim][offline]") {
  const std::string text = std::string{k_small} + k_offline;
  auto sc = parse_scenario(text, "s.toml");
  REQUIRE(sc.ok());
  const auto& o = sc->offline;
  CHECK(o.given);
  CHECK(o.share == 0.4);
  CHECK(o.load_minor == 20'000);
  CHECK(o.sync_every_s == 7'200);
  CHECK(o.copies == 3);
  CHECK(o.loss == "payee_bank");
  CHECK(o.sweep_caps_minor == std::vector<std::int64_t>{10'000, 30'000});
  CHECK(o.limits.payment_cap_minor == 6'000);
  CHECK_FALSE(o.limits.balance_cap_minor.has_value());
  REQUIRE(o.outages.size() == 1);
  CHECK(o.outages[0].region == 0);
  CHECK(o.outages[0].from_s == 36'000);
  CHECK(o.outages[0].duration_s == 21'600);
  CHECK(refusal(replace(text, "region = \"north\"", "region = \"east\""))
            .find("key 'offline.outage[0].region' names none of the scenario's regions") !=
        std::string::npos);
  CHECK(refusal(replace(text, "loss = \"payee_bank\"", "loss = \"nobody\""))
            .find("key 'offline.loss' must be") != std::string::npos);
  CHECK(refusal(replace(text, "copies = 3", "copies = 1")).find("key 'offline.copies'") !=
        std::string::npos);
  CHECK(refusal(replace(text, "sweep_caps = [\"100.00\", \"300.00\"]", "sweep_caps = [\"0\"]"))
            .find("key 'offline.sweep_caps' must be an array") != std::string::npos);
  CHECK(refusal(replace(text, "share = 0.4", "share = 0.4\nshare_of = 1"))
            .find("unknown key 'offline.share_of'") != std::string::npos);
}

TEST_CASE("generate: offline payments, loads and syncs as the scenario says", "[sim][offline]") {
  auto sc = parse_scenario(std::string{k_small} + k_offline, "s.toml");
  REQUIRE(sc.ok());
  auto t = generate(*sc);
  REQUIRE(t.ok());
  auto online = parse_scenario(k_small, "s.toml");
  REQUIRE(online.ok());
  auto plain = generate(*online);
  REQUIRE(plain.ok());
  const population pop(*sc);
  const auto end_us = sc->duration_s * 1'000'000;
  std::unordered_map<std::uint32_t, std::int64_t> on_device;
  std::unordered_map<std::uint32_t, std::int64_t> pending;  // wallet -> offline payment time
  std::set<std::uint32_t> final_sync;
  std::size_t offline = 0;
  std::size_t payments = 0;
  std::size_t compromised = 0;
  std::int64_t last = 0;
  for (const auto& e : t->events) {
    REQUIRE(e.at_us >= last);
    last = e.at_us;
    switch (e.kind) {
      case event_kind::load:
        REQUIRE(e.amount_minor == 20'000);  // the top-up (500.00) covers it
        on_device[e.wallet] = e.amount_minor;
        compromised += pop.compromised(e.wallet) ? 1U : 0U;
        break;
      case event_kind::offline_payment:
        ++offline;
        REQUIRE(e.amount_minor <= on_device.at(e.wallet));  // never more than it holds
        on_device[e.wallet] -= e.amount_minor;
        pending.try_emplace(e.wallet, e.at_us);
        break;
      case event_kind::sync: {
        REQUIRE(e.amount_minor == 0);
        REQUIRE(e.at_us % 7'200'000'000 == 0);  // a multiple of sync_every_hours, or the end
        // No sync from the north during its outage (hours 10 to 16).
        const bool north_dark = e.at_us >= 36'000'000'000 && e.at_us < 57'600'000'000;
        REQUIRE(!(north_dark && e.region == 0));
        if (e.wallet != k_no_merchant) {
          pending.erase(e.wallet);
          if (e.at_us == end_us) {
            REQUIRE(final_sync.insert(e.wallet).second);
          }
        }
        break;
      }
      case event_kind::payment: ++payments; break;
      case event_kind::topup: break;
    }
  }
  CHECK(pending.empty());                        // every device that paid offline synced after it
  CHECK(final_sync.size() == on_device.size());  // every device reconnects at the end
  CHECK(offline > 0);
  const double share = static_cast<double>(offline) / static_cast<double>(offline + payments);
  CHECK(share == Approx(0.4).margin(0.08));
  CHECK(compromised == Approx(0.05 * static_cast<double>(on_device.size())).margin(15));
  // The same wallets act with or without the offline table: it draws from streams of its own.
  std::size_t topups = 0;
  for (const auto& e : plain->events) {
    topups += e.kind == event_kind::topup ? 1 : 0;
  }
  CHECK(topups == on_device.size());
}

TEST_CASE("trace: a damaged file is refused", "[sim]") {
  auto sc = parse_scenario(k_small, "s.toml");
  REQUIRE(sc.ok());
  auto t = generate(*sc);
  REQUIRE(t.ok());
  const auto p = fs::temp_directory_path() / "cbdc_sim_trace_bad.bin";
  REQUIRE(write_binary(*t, p).ok());
  fs::resize_file(p, fs::file_size(p) - 7);
  auto cut = read_binary(p);
  CHECK(cut.code() == status_code::malformed);
  {
    std::ofstream out(p, std::ios::trunc);
    out << "name,seed\n";
  }
  CHECK(read_binary(p).code() == status_code::malformed);
  fs::remove(p);
}

TEST_CASE("shipped scenarios read and generate", "[sim]") {
  for (const auto& entry : fs::directory_iterator(fs::path{k_source} / "sim" / "scenarios")) {
    INFO(entry.path());
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (sim::bridge::is_bridge_scenario(text)) {
      auto bridge = sim::bridge::parse_scenario(text, entry.path().string());
      REQUIRE(bridge.ok());
      CHECK(sim::bridge::generate(*bridge).ok());
    } else {
      REQUIRE(load_scenario(entry.path()).ok());
    }
  }
  auto sz = load_scenario(fs::path{k_source} / "sim/scenarios/shenzhen-redpacket-2020.toml");
  REQUIRE(sz.ok());
  auto t = generate(*sz);
  REQUIRE(t.ok());
  std::uint64_t active = 0;
  std::uint64_t payments = 0;
  std::int64_t volume = 0;
  for (const auto& e : t->events) {
    if (e.kind == event_kind::topup) {
      ++active;
    } else {
      ++payments;
      volume += e.amount_minor;
    }
  }
  // The trace itself lands within the tolerance of the published outcome.
  const auto& p = sz->published;
  const auto tol = p.tolerance_pct / 100.0;
  CHECK(static_cast<double>(active) == Approx(static_cast<double>(p.wallets_active)).epsilon(tol));
  CHECK(static_cast<double>(payments) == Approx(static_cast<double>(p.payments)).epsilon(tol));
  CHECK(static_cast<double>(volume) == Approx(static_cast<double>(p.volume_minor)).epsilon(tol));
}

TEST_CASE("the mbridge-2022 scenario plans the pilot's transactions, the same each time",
          "[sim][bridge]") {
  std::ifstream in(std::string{k_source} + "/sim/scenarios/mbridge-2022.toml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(sim::bridge::is_bridge_scenario(text));
  auto sc = sim::bridge::parse_scenario(text, "mbridge-2022.toml");
  REQUIRE(sc.ok());
  CHECK(sc->central_banks.size() == 4);
  CHECK(sc->banks.size() == 20);
  auto a = sim::bridge::generate(*sc);
  auto b = sim::bridge::generate(*sc);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(a->txs.size() == 164);
  // The model: value moves between banks and dealers but no currency is created or lost, and
  // every bank's issuance covers its lowest point.
  std::map<std::pair<std::uint32_t, currency>, std::int64_t> balance = a->issuance;
  std::int64_t settled_usd = 0;
  for (std::size_t i = 0; i < a->txs.size(); ++i) {
    const auto& t = a->txs[i];
    CHECK(t.expect.pay_minor == b->txs[i].expect.pay_minor);  // deterministic
    CHECK(t.payer == b->txs[i].payer);
    CHECK(t.expect.mid_pay_minor <= t.expect.pay_minor);
    CHECK(sc->banks[t.dealer].dealer);
    balance[{t.payer, t.pay}] -= t.expect.pay_minor;
    balance[{t.dealer, t.pay}] += t.expect.pay_minor;
    balance[{t.dealer, t.receive}] -= t.expect.receive_minor;
    balance[{t.payee, t.receive}] += t.expect.receive_minor;
    for (const auto& [slot, v] : balance) {
      REQUIRE(v >= 0);
    }
    settled_usd += sim::bridge::usd_cents(*sc, t.pay, t.expect.pay_minor);
  }
  // Phases in order: Hong Kong - mainland first, Thailand last.
  CHECK(a->txs.front().phase == 0);
  CHECK(a->txs.back().phase == 2);
  CHECK(settled_usd >= sc->published.settled_usd_cents);
}

TEST_CASE("a bridge scenario is read strictly", "[sim][bridge]") {
  const std::string base = R"(name = "x"
seed = 1
start = 2024-01-01T00:00:00+00:00
[bridge]
shards = 1
issue_usd = "100.00"
[bridge.usd]
CNY = "0.14"
HKD = "0.128"
[bridge.rates]
"CNY/HKD" = "1.09"
[[central_bank]]
currency = "CNY"
name = "a"
[[central_bank]]
currency = "HKD"
name = "b"
[[bank]]
id = "d"
home = "HKD"
dealer = { spread_bp = 5, licensed = ["HKD", "CNY"] }
[[phase]]
name = "p"
start_day = 0
days = 1
transactions = 1
fx_share = 0
median_usd = "10.00"
spread = 0
)";
  CHECK(sim::bridge::parse_scenario(base + "corridors = [\"CNY/HKD\"]\n", "ok.toml").ok());
  auto unknown =
      sim::bridge::parse_scenario(base + "corridors = [\"CNY/HKD\"]\ncolour = 1\n", "bad.toml");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.err().message.find("bad.toml:31") != std::string::npos);
  CHECK(unknown.err().message.find("phase[0].colour") != std::string::npos);
  auto no_rate = sim::bridge::parse_scenario(base + "corridors = [\"CNY/THB\"]\n", "bad.toml");
  REQUIRE_FALSE(no_rate.ok());
  CHECK(no_rate.err().message.find("corridors") != std::string::npos);
  // A corridor whose payer has no bank at home is refused by the generator, not settled.
  auto sc = sim::bridge::parse_scenario(base + "corridors = [\"CNY/HKD\"]\n", "ok.toml");
  REQUIRE(sc.ok());
  CHECK(sim::bridge::generate(*sc).code() == status_code::bad_request);
}
