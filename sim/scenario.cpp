#include "sim/scenario.hpp"

#include <toml++/toml.h>
#include <fstream>
#include <set>
#include <sstream>

namespace cbdc::sim {

auto scenario::merchant_count() const -> std::uint64_t {
  std::uint64_t n = 0;
  for (const auto& c : categories) {
    n += c.merchants;
  }
  return n;
}

namespace {

/// A refusal of a scenario: thrown inside the reader, turned into a parse_error at the edge.
struct refusal {
  std::string message;
};

auto where(const std::string& origin, const toml::source_region& src) -> std::string {
  return origin + ":" + std::to_string(src.begin.line);
}

/// Reads the keys of one table, remembering which it read, so that any other key is refused.
class reader {
 public:
  reader(const toml::table& table, std::string origin, std::string path)
      : m_table(table), m_origin(std::move(origin)), m_path(std::move(path)) {}

  [[nodiscard]] auto has(const std::string& key) -> bool {
    m_known.insert(key);
    return m_table.contains(key);
  }

  auto node(const std::string& key) -> const toml::node& {
    m_known.insert(key);
    const auto* n = m_table.get(key);
    if (n == nullptr) {
      fail(m_table.source(), key, "is missing");
    }
    return *n;
  }

  auto text(const std::string& key) -> std::string {
    const auto& n = node(key);
    if (!n.is_string()) {
      fail(n.source(), key, "must be a string");
    }
    return std::string{*n.value<std::string>()};
  }

  auto number(const std::string& key, double lo, double hi) -> double {
    const auto& n = node(key);
    if (!n.is_number()) {
      fail(n.source(), key, "must be a number");
    }
    const double v = *n.value<double>();
    if (!(v >= lo && v <= hi)) {
      fail(n.source(), key,
           "must lie between " + shorter(lo) + " and " + shorter(hi) + ", not " + shorter(v));
    }
    return v;
  }

  auto integer(const std::string& key, std::int64_t lo, std::int64_t hi) -> std::int64_t {
    const auto& n = node(key);
    if (!n.is_integer()) {
      fail(n.source(), key, "must be an integer");
    }
    const auto v = *n.value<std::int64_t>();
    if (v < lo || v > hi) {
      fail(n.source(), key,
           "must lie between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " +
               std::to_string(v));
    }
    return v;
  }

  auto amount(const std::string& key, currency cur) -> std::int64_t {
    const auto& n = node(key);
    auto parsed = n.is_string() ? parse_amount(*n.value<std::string>(), cur)
                                : result<money>{error{status_code::parse_error, "not a string"}};
    if (!parsed || parsed->minor() <= 0) {
      fail(n.source(), key,
           "must be a positive amount in " + std::string{currency_code(cur)} + " like \"12.50\"");
    }
    return parsed->minor();
  }

  auto table(const std::string& key) -> reader {
    const auto& n = node(key);
    if (!n.is_table()) {
      fail(n.source(), key, "must be a table");
    }
    return reader{*n.as_table(), m_origin, m_path + key + "."};
  }

  /// The tables of an array of tables ([[key]]).
  auto tables(const std::string& key) -> std::vector<reader> {
    const auto& n = node(key);
    if (!n.is_array_of_tables()) {
      fail(n.source(), key, "must be an array of tables ([[" + m_path + key + "]])");
    }
    std::vector<reader> out;
    std::size_t i = 0;
    for (const auto& item : *n.as_array()) {
      out.emplace_back(*item.as_table(), m_origin, m_path + key + "[" + std::to_string(i++) + "].");
    }
    if (out.empty()) {
      fail(n.source(), key, "needs at least one entry");
    }
    return out;
  }

  auto hours(const std::string& key) -> std::array<double, 24> {
    const auto& n = node(key);
    const auto* arr = n.as_array();
    if (arr == nullptr || arr->size() != 24) {
      fail(n.source(), key, "must be an array of 24 weights, one per local hour");
    }
    std::array<double, 24> out{};
    double total = 0;
    for (std::size_t h = 0; h < 24; ++h) {
      const auto v = (*arr)[h].value<double>();
      if (!v || *v < 0) {
        fail(n.source(), key, "hour " + std::to_string(h) + " must be a weight >= 0");
      }
      out[h] = *v;
      total += *v;
    }
    if (total <= 0) {
      fail(n.source(), key, "needs at least one hour with a positive weight");
    }
    return out;
  }

  /// Refuses every key that was not read.
  void finish() const {
    for (const auto& [k, v] : m_table) {
      if (!m_known.contains(std::string{k.str()})) {
        throw refusal{where(m_origin, k.source()) + ": unknown key '" + m_path +
                      std::string{k.str()} + "'"};
      }
    }
  }

  [[noreturn]] void fail(const toml::source_region& src, const std::string& key,
                         const std::string& why) const {
    throw refusal{where(m_origin, src) + ": key '" + m_path + key + "' " + why};
  }

 private:
  static auto shorter(double v) -> std::string {
    std::ostringstream s;
    s << v;
    return s.str();
  }

  const toml::table& m_table;
  std::string m_origin;
  std::string m_path;
  std::set<std::string> m_known;
};

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
    const auto& n = top.node("start");
    const auto* dt = n.as_date_time();
    if (dt == nullptr || !dt->get().offset) {
      top.fail(n.source(), "start",
               "must be a date and time with its UTC offset, like 2020-10-12T00:00:00+08:00");
    }
    const auto& v = dt->get();
    // Days from civil (Howard Hinnant's algorithm), then the offset.
    const int y = v.date.year - (v.date.month <= 2 ? 1 : 0);
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;
    const int mp = (v.date.month + 9) % 12;
    const int doy = (153 * mp + 2) / 5 + v.date.day - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const std::int64_t days = std::int64_t{era} * 146097 + doe - 719468;
    sc.utc_offset_minutes = v.offset->minutes;
    sc.start_unix_s = days * 86'400 + std::int64_t{v.time.hour} * 3600 +
                      std::int64_t{v.time.minute} * 60 + v.time.second -
                      std::int64_t{sc.utc_offset_minutes} * 60;
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
    sc.failures.drop_rate = f.has("drop_rate") ? f.number("drop_rate", 0, 0.5) : 0;
    sc.failures.duplicate_rate = f.has("duplicate_rate") ? f.number("duplicate_rate", 0, 0.5) : 0;
    sc.failures.slow_commit_ms =
        f.has("slow_commit_ms") ? static_cast<int>(f.integer("slow_commit_ms", 0, 1000)) : 0;
    f.finish();
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
  try {
    auto root = toml::parse(text, origin);
    auto sc = read(root, origin);
    sc.source = text;
    return sc;
  } catch (const toml::parse_error& e) {
    return error{status_code::parse_error,
                 where(origin, e.source()) + ": " + std::string{e.description()}};
  } catch (const refusal& r) {
    return error{status_code::parse_error, r.message};
  }
}

auto load_scenario(const std::filesystem::path& path) -> result<scenario> {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return error{status_code::io_error, "cannot read scenario " + path.string()};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_scenario(text.str(), path.string());
}

}  // namespace cbdc::sim
