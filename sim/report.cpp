// The report: JSON summary, CSV series and the HTML page with its charts.
#include "sim/report.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "platform/process.hpp"

namespace cbdc::sim {

namespace {

/// Count, volume and failures of payments grouped by one attribute.
struct group {
  std::uint64_t payments{0};
  std::int64_t volume_minor{0};
  std::uint64_t failed{0};
};

auto read_file(const std::filesystem::path& path) -> std::string {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

auto deviation_line(const std::string& what, double got, double want, double tolerance, bool& ok)
    -> std::string {
  const double dev = want != 0 ? 100.0 * (got - want) / want : 0;
  const bool in = std::abs(dev) <= tolerance;
  ok = ok && in;
  return what + ": run " + fixed_text(got, 0) + ", published " + fixed_text(want, 0) + " (" +
         (dev >= 0 ? "+" : "") + fixed_text(dev, 2) + "%, " + (in ? "within" : "OUTSIDE") + " " +
         fixed_text(tolerance, 1) + "%)";
}

}  // namespace

auto grouped(std::int64_t n) -> std::string {
  return group_digits(std::to_string(n));
}

auto grouped(const money& m) -> std::string {
  return group_digits(m.format_amount()) + " " + std::string{currency_code(m.cur())};
}

auto group_digits(std::string number) -> std::string {
  const auto begin = number.find_first_of("0123456789");
  if (begin == std::string::npos) {
    return number;
  }
  auto end = number.find_first_not_of("0123456789", begin);
  if (end == std::string::npos) {
    end = number.size();
  }
  for (auto at = end; at > begin + 3; at -= 3) {
    number.insert(at - 3, 1, ',');
  }
  return number;
}

/// Gnuplot's y axis from zero to past `max` in about five steps of 1, 2 or 5 times a power of
/// ten, each label grouped by thousands (gnuplot groups only in a locale it may not have).
auto zero_based_y(double max) -> std::string {
  double step = 1;
  while (step * 5 < max) {
    for (const double m : {2.0, 2.5, 2.0}) {  // 1 -> 2 -> 5 -> 10
      step *= m;
      if (step * 5 >= max) {
        break;
      }
    }
  }
  const double top = std::max(step, std::ceil(max / step) * step);
  std::string tics;
  const auto steps = static_cast<int>(std::llround(top / step));
  for (int i = 0; i <= steps; ++i) {
    const double y = step * i;
    tics += (tics.empty() ? "" : ", ") + std::string{"\""} + grouped(static_cast<std::int64_t>(y)) +
            "\" " + fixed_text(y, 0);
  }
  return "set yrange [0:" + fixed_text(top, 0) + "]\nset ytics (" + tics + ")\n";
}

auto html_escape(const std::string& text) -> std::string {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      default: out += c;
    }
  }
  return out;
}

auto percentile_ms(const std::vector<std::int64_t>& sorted_us, double q) -> double {
  if (sorted_us.empty()) {
    return 0;
  }
  const auto at = static_cast<std::size_t>(
      std::min<double>(static_cast<double>(sorted_us.size() - 1),
                       std::ceil(q * static_cast<double>(sorted_us.size())) - 1));
  return static_cast<double>(sorted_us[at]) / 1000.0;
}

auto fixed_text(double v, int decimals) -> std::string {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(decimals);
  s << v;
  return s.str();
}

auto figures_of(const scenario& sc, const trace& t, const replay_result& r) -> run_figures {
  run_figures f;
  std::vector<std::int64_t> latencies;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    const auto& o = r.outcomes[i];
    if (o.status != status_code::ok) {
      ++f.failed;
      continue;
    }
    if (e.kind == event_kind::topup) {
      ++f.wallets_active;
    } else {
      ++f.payments;
      f.volume_minor += e.amount_minor;
      latencies.push_back(o.latency_us);
    }
  }
  std::sort(latencies.begin(), latencies.end());
  f.latency_ms = {percentile_ms(latencies, 0.50), percentile_ms(latencies, 0.95),
                  percentile_ms(latencies, 0.99), percentile_ms(latencies, 0.999)};
  f.payments_per_s = r.replay_us > 0
                         ? static_cast<double>(f.payments) * 1e6 / static_cast<double>(r.replay_us)
                         : 0;
  if (sc.published.given) {
    const auto& p = sc.published;
    f.published_lines.push_back(
        deviation_line("wallets active", static_cast<double>(f.wallets_active),
                       static_cast<double>(p.wallets_active), p.tolerance_pct, f.published_ok));
    f.published_lines.push_back(deviation_line("payments", static_cast<double>(f.payments),
                                               static_cast<double>(p.payments), p.tolerance_pct,
                                               f.published_ok));
    f.published_lines.push_back(deviation_line(
        std::string{"volume ("} + std::string{currency_code(sc.cur)} + ")",
        static_cast<double>(f.volume_minor) / 100.0, static_cast<double>(p.volume_minor) / 100.0,
        p.tolerance_pct, f.published_ok));
  }
  return f;
}

auto write_report(const scenario& sc, const trace& t, const replay_result& r,
                  const std::filesystem::path& out_dir) -> result<run_figures> {
  namespace json = boost::json;
  std::filesystem::create_directories(out_dir / "plots");
  const auto f = figures_of(sc, t, r);

  std::map<std::string, group> by_region;
  std::map<std::string, group> by_bank;
  std::map<std::string, group> by_category;
  std::map<std::string, std::uint64_t> failures;
  std::map<std::int64_t, std::pair<std::uint64_t, std::int64_t>> by_sim_hour;
  struct second {
    std::uint64_t settled{0};
    std::uint64_t failed{0};
    std::vector<std::int64_t> latencies;
  };
  std::map<std::int64_t, second> by_second;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    const auto& o = r.outcomes[i];
    const bool ok = o.status == status_code::ok;
    auto& s = by_second[o.answered_us / 1'000'000];
    if (!ok) {
      ++failures[std::string{to_string(o.status)}];
      ++s.failed;
    }
    if (e.kind != event_kind::payment) {
      continue;
    }
    for (auto* g : {&by_region[sc.regions.at(e.region).name], &by_bank[sc.banks.at(e.bank).id],
                    &by_category[sc.categories.at(e.category).name]}) {
      if (ok) {
        ++g->payments;
        g->volume_minor += e.amount_minor;
      } else {
        ++g->failed;
      }
    }
    if (ok) {
      ++s.settled;
      s.latencies.push_back(o.latency_us);
      auto& h = by_sim_hour[e.at_us / 3'600'000'000LL];
      ++h.first;
      h.second += e.amount_minor;
    }
  }

  const auto money_text = [&](std::int64_t minor) { return money{minor, sc.cur}.format(); };
  const auto groups = [&](const std::map<std::string, group>& m) {
    json::array out;
    for (const auto& [name, g] : m) {
      out.push_back(json::object{{"name", name},
                                 {"payments", g.payments},
                                 {"volume_minor", g.volume_minor},
                                 {"failed", g.failed}});
    }
    return out;
  };
  json::object failures_json;
  for (const auto& [reason, n] : failures) {
    failures_json[reason] = n;
  }
  json::object dup;
  for (const auto& [reason, n] : r.faults.duplicate_answers) {
    dup[reason] = n;
  }
  json::array checks;
  for (const auto& c : r.audit.checks) {
    checks.emplace_back(c);
  }
  json::array problems;
  for (const auto& p : r.audit.problems) {
    problems.emplace_back(p);
  }
  json::array bank_audits;
  for (const auto& a : r.audit.bank_audits) {
    bank_audits.emplace_back(a);
  }
  json::array published;
  for (const auto& p : f.published_lines) {
    published.emplace_back(p);
  }
  const json::object summary{
      {"scenario", sc.name},
      {"seed", sc.seed},
      {"currency", std::string{currency_code(sc.cur)}},
      {"events", t.events.size()},
      {"wallets_active", f.wallets_active},
      {"payments", f.payments},
      {"failed", f.failed},
      {"volume_minor", f.volume_minor},
      {"volume", money_text(f.volume_minor)},
      {"setup_s", static_cast<double>(r.setup_us) / 1e6},
      {"replay_s", static_cast<double>(r.replay_us) / 1e6},
      {"payments_per_s", f.payments_per_s},
      {"latency_ms", json::object{{"p50", f.latency_ms[0]},
                                  {"p95", f.latency_ms[1]},
                                  {"p99", f.latency_ms[2]},
                                  {"p99_9", f.latency_ms[3]}}},
      {"failures_by_reason", failures_json},
      {"by_region", groups(by_region)},
      {"by_bank", groups(by_bank)},
      {"by_category", groups(by_category)},
      {"faults",
       json::object{
           {"settlement_killed_at_s",
            r.faults.settlement_killed_at_us < 0
                ? json::value(nullptr)
                : json::value(static_cast<double>(r.faults.settlement_killed_at_us) / 1e6)},
           {"settlement_back_after_s",
            static_cast<double>(r.faults.settlement_back_after_us) / 1e6},
           {"bank_killed", r.faults.killed_bank},
           {"bank_killed_at_s",
            r.faults.bank_killed_at_us < 0
                ? json::value(nullptr)
                : json::value(static_cast<double>(r.faults.bank_killed_at_us) / 1e6)},
           {"bank_back_after_s", static_cast<double>(r.faults.bank_back_after_us) / 1e6},
           {"dropped", r.faults.dropped},
           {"duplicated", r.faults.duplicated},
           {"duplicate_answers", dup},
           {"retries", r.faults.retries},
           {"slow_commit_ms", r.faults.slow_commit_ms}}},
      {"published", json::object{{"lines", published}, {"within_tolerance", f.published_ok}}},
      {"audit", json::object{{"passed", r.audit.passed()},
                             {"checks", checks},
                             {"problems", problems},
                             {"issuer", r.audit.issuer_audit},
                             {"banks", bank_audits}}}};
  {
    std::ofstream out(out_dir / "summary.json", std::ios::trunc);
    out << json::serialize(summary) << "\n";
    if (!out) {
      return error{status_code::io_error, "cannot write " + (out_dir / "summary.json").string()};
    }
  }
  {
    std::ofstream ts(out_dir / "timeseries.csv", std::ios::trunc);
    ts << "second,settled,failed,latency_p50_ms,latency_p99_ms\n";
    std::ofstream dat(out_dir / "plots" / "seconds.dat", std::ios::trunc);
    for (auto& [sec, s] : by_second) {
      std::sort(s.latencies.begin(), s.latencies.end());
      const auto p50 = fixed_text(percentile_ms(s.latencies, 0.5), 2);
      const auto p99 = fixed_text(percentile_ms(s.latencies, 0.99), 2);
      ts << sec << ',' << s.settled << ',' << s.failed << ',' << p50 << ',' << p99 << '\n';
      dat << sec << ' ' << s.settled << ' ' << p50 << ' ' << p99 << '\n';
    }
    std::ofstream hourly(out_dir / "hourly.csv", std::ios::trunc);
    std::ofstream hdat(out_dir / "plots" / "hours.dat", std::ios::trunc);
    hourly << "simulated_hour,payments,volume_minor\n";
    for (const auto& [hour, h] : by_sim_hour) {
      hourly << hour << ',' << h.first << ',' << h.second << '\n';
      hdat << hour << ' ' << h.first << '\n';
    }
  }
  const auto bar_data = [&](const std::string& name, const std::map<std::string, group>& m) {
    std::ofstream dat(out_dir / "plots" / (name + ".dat"), std::ios::trunc);
    for (const auto& [k, g] : m) {
      dat << '"' << k << "\" " << fixed_text(static_cast<double>(g.volume_minor) / 100.0, 2)
          << '\n';
    }
  };
  bar_data("region", by_region);
  bar_data("category", by_category);
  {
    std::ofstream dat(out_dir / "plots" / "failures.dat", std::ios::trunc);
    for (const auto& [k, n] : failures) {
      dat << '"' << k << "\" " << n << '\n';
    }
  }
  const std::string cur{currency_code(sc.cur)};
  const auto max_of = [](const auto& m, const auto& value) {
    double most = 0;
    for (const auto& entry : m) {
      most = std::max(most, static_cast<double>(value(entry.second)));
    }
    return most;
  };
  const auto volume_major = [](const group& g) {
    return static_cast<double>(g.volume_minor) / 100.0;
  };
  std::ostringstream gp;
  gp << "set terminal svg size 760,300 dynamic font 'sans,11'\n"
     << "set grid ytics\nset key top right\nset style fill solid 0.8 border -1\n"
     << "set output 'throughput.svg'\nset title 'Settled per second of replay'\n"
     << "set xlabel 'seconds since the replay began'\nset ylabel 'events settled'\n"
     << "plot 'seconds.dat' using 1:2 with lines lw 2 title 'settled'\n"
     << "set output 'latency.svg'\nset title 'Payment latency, submit to receipt'\n"
     << "set ylabel 'ms'\nplot 'seconds.dat' using 1:3 with lines lw 2 title 'p50', "
        "'' using 1:4 with lines lw 2 title 'p99'\n"
     << "set output 'hours.svg'\nset title 'Payments per simulated hour'\n"
     << "set xlabel 'hours since the scenario start'\nset ylabel 'payments'\n"
     << zero_based_y(max_of(by_sim_hour, [](const auto& h) { return h.first; }))
     << "plot 'hours.dat' using 1:2 with boxes notitle\n"
     << "set xlabel ''\nset xtics rotate by -30\nset boxwidth 0.7\n"
     << "set output 'region.svg'\nset title 'Volume by region (" << cur << ")'\n"
     << zero_based_y(max_of(by_region, volume_major)) << "set ylabel '" << cur
     << "'\nplot 'region.dat' using 2:xtic(1) with boxes notitle\n"
     << "set output 'category.svg'\nset title 'Volume by merchant category (" << cur << ")'\n"
     << zero_based_y(max_of(by_category, volume_major))
     << "plot 'category.dat' using 2:xtic(1) with boxes notitle\n";
  if (!failures.empty()) {
    gp << "set output 'failures.svg'\nset title 'Refusals by typed reason'\n"
       << zero_based_y(max_of(failures, [](auto n) { return n; }))
       << "set ylabel 'events'\nplot 'failures.dat' using 2:xtic(1) with boxes notitle\n";
  }
  {
    std::ofstream script(out_dir / "plots" / "charts.gp", std::ios::trunc);
    script << gp.str();
  }
  const auto plotted =
      run({"/bin/sh", "-c", "cd '" + (out_dir / "plots").string() + "' && gnuplot charts.gp 2>&1"});
  if (plotted.exit_code != 0) {
    return error{status_code::unavailable, "gnuplot failed: " + plotted.out};
  }
  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset='utf-8'><title>cbdc run: "
       << html_escape(sc.name)
       << "</title><style>body{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}"
          "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;"
          "text-align:left}.pass{color:#070}.fail{color:#b00}svg{max-width:100%;height:auto}"
          "</style></head><body>\n";
  const auto grouped_count = [](std::uint64_t n) { return group_digits(std::to_string(n)); };
  html << "<h1>" << html_escape(sc.name) << "</h1>\n<p>seed " << sc.seed << ", " << t.events.size()
       << " events, replayed in " << fixed_text(static_cast<double>(r.replay_us) / 1e6, 1)
       << " s after " << fixed_text(static_cast<double>(r.setup_us) / 1e6, 1)
       << " s of setup.</p>\n";
  html << "<table><tr><th>wallets active</th><td>" << grouped_count(f.wallets_active)
       << "</td></tr><tr><th>payments settled</th><td>" << grouped_count(f.payments)
       << "</td></tr><tr><th>volume</th><td>" << grouped(money{f.volume_minor, sc.cur})
       << "</td></tr><tr><th>refused</th><td>" << grouped_count(f.failed)
       << "</td></tr><tr><th>throughput</th><td>" << group_digits(fixed_text(f.payments_per_s, 0))
       << " payments/s</td></tr><tr><th>latency p50 / p95 / p99 / p99.9</th><td>"
       << fixed_text(f.latency_ms[0], 1) << " / " << fixed_text(f.latency_ms[1], 1) << " / "
       << fixed_text(f.latency_ms[2], 1) << " / " << fixed_text(f.latency_ms[3], 1)
       << " ms</td></tr></table>\n";
  if (!f.published_lines.empty()) {
    html << "<h2>Against the published figures</h2><p>" << html_escape(sc.published.source)
         << "</p><ul>";
    for (const auto& line : f.published_lines) {
      html << "<li>" << html_escape(line) << "</li>";
    }
    html << "</ul>\n";
  }
  html << "<h2>Audit: <span class='" << (r.audit.passed() ? "pass'>PASS" : "fail'>FAIL")
       << "</span></h2><ul>";
  for (const auto& c : r.audit.checks) {
    html << "<li>" << html_escape(c) << "</li>";
  }
  for (const auto& p : r.audit.problems) {
    html << "<li class='fail'>" << html_escape(p) << "</li>";
  }
  html << "</ul>\n<h2>Faults injected</h2><ul><li>cbdc-settle killed: "
       << (r.faults.settlement_killed_at_us < 0
               ? std::string{"no"}
               : "at " +
                     fixed_text(static_cast<double>(r.faults.settlement_killed_at_us) / 1e6, 1) +
                     " s, back after " +
                     fixed_text(static_cast<double>(r.faults.settlement_back_after_us) / 1e6, 1) +
                     " s")
       << "</li><li>cbdc-bank killed: "
       << (r.faults.bank_killed_at_us < 0
               ? std::string{"no"}
               : html_escape(r.faults.killed_bank) + " at " +
                     fixed_text(static_cast<double>(r.faults.bank_killed_at_us) / 1e6, 1) +
                     " s, back after " +
                     fixed_text(static_cast<double>(r.faults.bank_back_after_us) / 1e6, 1) + " s")
       << "</li><li>requests dropped: " << r.faults.dropped
       << "</li><li>requests duplicated: " << r.faults.duplicated
       << "</li><li>retries: " << r.faults.retries
       << "</li><li>slow commit: " << r.faults.slow_commit_ms << " ms</li></ul>\n";
  for (const auto* chart : {"throughput", "latency", "hours", "region", "category", "failures"}) {
    const auto path = out_dir / "plots" / (std::string{chart} + ".svg");
    if (std::filesystem::exists(path)) {
      auto svg = read_file(path);
      if (const auto at = svg.find("<svg"); at != std::string::npos) {
        html << "<div>" << svg.substr(at) << "</div>\n";
      }
    }
  }
  if (failures.empty()) {
    html << "<p>No refusals.</p>\n";
  }
  const auto table = [&](const std::string& title, const std::map<std::string, group>& m) {
    html << "<h2>" << title << "</h2><table><tr><th></th><th>payments</th><th>volume</th>"
         << "<th>refused</th></tr>";
    for (const auto& [k, g] : m) {
      html << "<tr><td>" << html_escape(k) << "</td><td>" << grouped_count(g.payments)
           << "</td><td>" << grouped(money{g.volume_minor, sc.cur}) << "</td><td>"
           << grouped_count(g.failed) << "</td></tr>";
    }
    html << "</table>\n";
  };
  table("By region", by_region);
  table("By bank", by_bank);
  table("By merchant category", by_category);
  html << "</body></html>\n";
  std::ofstream out(out_dir / "report.html", std::ios::trunc);
  out << html.str();
  if (!out) {
    return error{status_code::io_error, "cannot write " + (out_dir / "report.html").string()};
  }
  return f;
}

}  // namespace cbdc::sim
