// Scenario files (TOML) read strictly.
#include "sim/scenario.hpp"

#include <algorithm>

#include "platform/files.hpp"
#include "sim/toml_reader.hpp"

namespace cbdc::sim {

auto scenario::merchant_count() const -> std::uint64_t {
  std::uint64_t n = 0;
  for (const auto& c : categories) {
    n += c.merchants;
  }
  return n;
}

namespace {

auto read(const toml::table& root, const std::string& origin) -> scenario {
  scenario sc;
  reader top{root, origin, ""};
  sc.name = top.text("name");
  sc.seed = static_cast<std::uint64_t>(top.integer("seed", 0, INT64_MAX));
  {
    const auto code = top.text("currency");
    auto cur = parse_currency(code);
    if (!cur) {
      top.fail(top.node("currency").source(), "currency", "names no known currency: " + code);
    }
    sc.cur = *cur;
  }
  {
    const auto start = top.local_time("start");
    sc.start_unix_s = start.first;
    sc.utc_offset_minutes = start.second;
  }
  sc.duration_s =
      static_cast<std::int64_t>(top.number("duration_hours", 1.0 / 60, 24.0 * 366) * 3600.0);

  for (auto& r : top.tables("region")) {
    sc.regions.push_back(region_spec{r.text("name"), r.number("weight", 0, 1e12)});
    r.finish();
  }
  for (auto& b : top.tables("bank")) {
    bank_spec spec{b.text("id"), b.number("weight", 0, 1e12)};
    if (spec.id.empty() || spec.id.size() > 32 ||
        spec.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      b.fail(b.node("id").source(), "id", "must be 1-32 of a-z, 0-9 and '-'");
    }
    sc.banks.push_back(spec);
    b.finish();
  }
  for (auto& c : top.tables("category")) {
    category_spec spec;
    spec.name = c.text("name");
    spec.merchants = static_cast<std::uint32_t>(c.integer("merchants", 1, 100'000'000));
    spec.weight = c.number("weight", 0, 1e12);
    spec.median_minor = c.amount("median", sc.cur);
    spec.spread = c.number("spread", 0, 3);
    sc.categories.push_back(spec);
    c.finish();
  }
  {
    auto w = top.table("wallets");
    sc.wallets.count = static_cast<std::uint64_t>(w.integer("count", 1, 4'000'000'000));
    sc.wallets.active_share = w.number("active_share", 0, 1);
    auto classes = w.table("classes");
    double total = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      static constexpr std::array<const char*, 4> k_names{"I", "II", "III", "IV"};
      sc.wallets.class_weights.at(i) =
          classes.has(k_names.at(i)) ? classes.number(k_names.at(i), 0, 1e12) : 0.0;
      total += sc.wallets.class_weights.at(i);
    }
    if (total <= 0) {
      w.fail(w.node("classes").source(), "classes", "needs a class with a positive weight");
    }
    classes.finish();
    sc.wallets.topup_minor = w.amount("topup", sc.cur);
    const auto at = w.text("topup_at");
    if (at != "start" && at != "first_payment") {
      w.fail(w.node("topup_at").source(), "topup_at", "must be \"start\" or \"first_payment\"");
    }
    sc.wallets.topup_at_start = at == "start";
    sc.wallets.extra_payments = w.number("extra_payments", 0, 50);
    sc.wallets.spend_rest = w.number("spend_rest", 0, 1);
    w.finish();
  }
  {
    auto t = top.table("time_of_day");
    sc.weekday = t.hours("weekday");
    sc.weekend = t.has("weekend") ? t.hours("weekend") : sc.weekday;
    t.finish();
  }
  if (top.has("failures")) {
    auto f = top.table("failures");
    sc.failures.kill_settlement_at =
        f.has("kill_settlement_at") ? f.number("kill_settlement_at", 0, 0.99) : 0;
    sc.failures.kill_bank_at = f.has("kill_bank_at") ? f.number("kill_bank_at", 0, 0.99) : 0;
    sc.failures.kill_bank = f.has("kill_bank") ? f.text("kill_bank") : std::string{};
    if (!sc.failures.kill_bank.empty() &&
        std::none_of(sc.banks.begin(), sc.banks.end(),
                     [&](const bank_spec& b) { return b.id == sc.failures.kill_bank; })) {
      throw refusal{origin + ": failures.kill_bank '" + sc.failures.kill_bank +
                    "' is none of the scenario's banks"};
    }
    sc.failures.drop_rate = f.has("drop_rate") ? f.number("drop_rate", 0, 0.5) : 0;
    sc.failures.duplicate_rate = f.has("duplicate_rate") ? f.number("duplicate_rate", 0, 0.5) : 0;
    sc.failures.slow_commit_ms =
        f.has("slow_commit_ms") ? static_cast<int>(f.integer("slow_commit_ms", 0, 1000)) : 0;
    f.finish();
  }
  if (top.has("offline")) {
    auto o = top.table("offline");
    auto& off = sc.offline;
    off.given = true;
    off.share = o.number("share", 0, 1);
    off.load_minor = o.amount("load", sc.cur);
    off.sync_every_s =
        static_cast<std::int64_t>(o.number("sync_every_hours", 1.0 / 60, 24 * 30) * 3600);
    off.compromised_share = o.has("compromised_share") ? o.number("compromised_share", 0, 1) : 0;
    if (o.has("strategy")) {
      off.strategy = o.text("strategy");
      if (off.strategy != "double_spend") {
        o.fail(o.node("strategy").source(), "strategy", "must be \"double_spend\"");
      }
    }
    off.copies = o.has("copies") ? static_cast<std::uint32_t>(o.integer("copies", 2, 16)) : 2;
    if (o.has("loss")) {
      off.loss = o.text("loss");
      if (off.loss != "payee" && off.loss != "payee_bank") {
        o.fail(o.node("loss").source(), "loss", "must be \"payee\" or \"payee_bank\"");
      }
    }
    if (o.has("sweep_caps")) {
      for (const auto& cap : o.amounts("sweep_caps", sc.cur)) {
        off.sweep_caps_minor.push_back(cap);
      }
    }
    if (o.has("balance_cap")) {
      off.limits.balance_cap_minor = o.amount("balance_cap", sc.cur);
    }
    if (o.has("payment_cap")) {
      off.limits.payment_cap_minor = o.amount("payment_cap", sc.cur);
    }
    if (o.has("max_payments")) {
      off.limits.max_payments = static_cast<std::uint32_t>(o.integer("max_payments", 1, 100'000));
    }
    if (o.has("max_offline_hours")) {
      off.limits.max_offline_s =
          static_cast<std::int64_t>(o.number("max_offline_hours", 1.0 / 60, 24.0 * 366) * 3600);
    }
    for (auto& out : o.tables("outage")) {
      outage_spec spec;
      const auto region = out.text("region");
      if (region != "*") {
        const auto it = std::find_if(sc.regions.begin(), sc.regions.end(),
                                     [&](const region_spec& r) { return r.name == region; });
        if (it == sc.regions.end()) {
          out.fail(out.node("region").source(), "region",
                   "names none of the scenario's regions (or \"*\" for all): " + region);
        }
        spec.region = static_cast<int>(it - sc.regions.begin());
      }
      spec.from_s = static_cast<std::int64_t>(out.number("from_hours", 0, 24.0 * 366) * 3600);
      spec.duration_s = static_cast<std::int64_t>(out.number("hours", 0, 24.0 * 366) * 3600);
      off.outages.push_back(spec);
      out.finish();
    }
    o.finish();
  }
  if (top.has("published")) {
    auto p = top.table("published");
    sc.published.given = true;
    sc.published.wallets_active =
        static_cast<std::uint64_t>(p.integer("wallets_active", 0, INT64_MAX));
    sc.published.payments = static_cast<std::uint64_t>(p.integer("payments", 0, INT64_MAX));
    sc.published.volume_minor = p.amount("volume", sc.cur);
    sc.published.tolerance_pct = p.number("tolerance_pct", 0, 100);
    sc.published.source = p.text("source");
    p.finish();
  }
  top.finish();
  return sc;
}

}  // namespace

auto parse_scenario(const std::string& text, const std::string& origin) -> result<scenario> {
  return parse_strictly<scenario>(text, origin, read);
}

auto load_scenario(const std::filesystem::path& path) -> result<scenario> {
  auto text = read_file(path);
  if (!text) {
    return text.err();
  }
  return parse_scenario(*text, path.string());
}

}  // namespace cbdc::sim
