// Strict reading of TOML scenario files: every key read is remembered, any other is refused,
// and every refusal names the file, line and key path. Internal to the simulator.
#pragma once

#include <toml++/toml.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/money.hpp"

namespace cbdc::sim {

/// A refusal of a scenario: thrown inside the reader, turned into a parse_error at the edge.
struct refusal {
  std::string message;
};

inline auto where(const std::string& origin, const toml::source_region& src) -> std::string {
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

  /// A non-empty array of positive amounts (["100.00", "500.00"]).
  auto amounts(const std::string& key, currency cur) -> std::vector<std::int64_t> {
    const auto& n = node(key);
    const auto* arr = n.as_array();
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; arr != nullptr && i < arr->size(); ++i) {
      const auto v = (*arr)[i].value<std::string>();
      auto parsed = v ? parse_amount(*v, cur) : result<money>{error{status_code::parse_error, ""}};
      if (!parsed || parsed->minor() <= 0) {
        out.clear();
        break;
      }
      out.push_back(parsed->minor());
    }
    if (out.empty() || out.size() > 64) {
      fail(n.source(), key,
           "must be an array of 1-64 positive amounts in " + std::string{currency_code(cur)} +
               " like [\"100.00\", \"500.00\"]");
    }
    return out;
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

  /// A date and time with its UTC offset ("2020-10-12T18:00:00+08:00"): Unix seconds and the
  /// offset in minutes.
  auto local_time(const std::string& key) -> std::pair<std::int64_t, int> {
    const auto& n = node(key);
    const auto* dt = n.as_date_time();
    if (dt == nullptr || !dt->get().offset) {
      fail(n.source(), key,
           "must be a date and time with its UTC offset, like 2020-10-12T00:00:00+08:00");
    }
    const auto& v = dt->get();
    namespace chr = std::chrono;
    const chr::sys_days date{chr::year{v.date.year} / chr::month{v.date.month} /
                             chr::day{v.date.day}};
    const int offset = v.offset->minutes;
    const auto at = date + chr::hours{v.time.hour} + chr::minutes{v.time.minute} +
                    chr::seconds{v.time.second} - chr::minutes{offset};
    return {at.time_since_epoch().count(), offset};
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

/// Parses text and reads it with read(root, origin); TOML syntax errors and refusals become
/// parse_error naming the file and line. The result carries the text as its source.
template <typename Scenario, typename Read>
auto parse_strictly(const std::string& text, const std::string& origin, Read read)
    -> result<Scenario> {
  try {
    auto root = toml::parse(text, origin);
    Scenario sc = read(root, origin);
    sc.source = text;
    return sc;
  } catch (const toml::parse_error& e) {
    return error{status_code::parse_error,
                 where(origin, e.source()) + ": " + std::string{e.description()}};
  } catch (const refusal& r) {
    return error{status_code::parse_error, r.message};
  }
}

}  // namespace cbdc::sim
