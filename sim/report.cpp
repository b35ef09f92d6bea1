// The report: JSON summary, CSV series and the HTML page with its charts.
#include "sim/report.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "platform/stats.hpp"
#include "sim/offline_report.hpp"
#include "sim/page.hpp"

namespace cbdc::sim {

namespace {

/// Count, volume and failures of payments grouped by one attribute.
struct group {
  std::uint64_t payments{0};
  std::int64_t volume_minor{0};
  std::uint64_t failed{0};
};

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

auto percentile_ms(const std::vector<std::int64_t>& sorted_us, double q) -> double {
  return static_cast<double>(nearest_rank(sorted_us, q)) / 1000.0;
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
    if (is_offline(e.kind)) {
      continue;  // the offline figures (offline_figures) count these
    }
    if (o.status != status_code::ok) {
      ++f.failed;
      continue;
    }
    if (e.kind == event_kind::topup) {
      ++f.wallets_active;
    } else if (e.kind == event_kind::payment) {
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
    if (is_offline(e.kind)) {
      continue;
    }
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
  json::object summary{
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
  if (r.offline.given) {
    summary["offline"] = offline_summary(sc, r.offline);
  }
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
  if (auto plotted = plot(out_dir / "plots", gp.str()); !plotted) {
    return plotted.err();
  }
  const auto grouped_count = [](std::uint64_t n) { return group_digits(std::to_string(n)); };
  const auto seconds = [](std::int64_t us) { return fixed_text(static_cast<double>(us) / 1e6, 1); };
  html_page page("cbdc run: " + sc.name, sc.name);
  page.paragraph("seed " + std::to_string(sc.seed) + ", " + std::to_string(t.events.size()) +
                 " events, replayed in " + seconds(r.replay_us) + " s after " +
                 seconds(r.setup_us) + " s of setup.");
  page.facts(
      {{"wallets active", grouped_count(f.wallets_active)},
       {"payments settled", grouped_count(f.payments)},
       {"volume", grouped(money{f.volume_minor, sc.cur})},
       {"refused", grouped_count(f.failed)},
       {"throughput", group_digits(fixed_text(f.payments_per_s, 0)) + " payments/s"},
       {"latency p50 / p95 / p99 / p99.9",
        fixed_text(f.latency_ms[0], 1) + " / " + fixed_text(f.latency_ms[1], 1) + " / " +
            fixed_text(f.latency_ms[2], 1) + " / " + fixed_text(f.latency_ms[3], 1) + " ms"}});
  if (!f.published_lines.empty()) {
    page.published(sc.published.source, f.published_lines);
  }
  page.audit(r.audit.checks, r.audit.problems);
  const auto killed = [&](std::int64_t at_us, std::int64_t back_us) {
    return at_us < 0 ? std::string{"no"}
                     : "at " + seconds(at_us) + " s, back after " + seconds(back_us) + " s";
  };
  page.heading("Faults injected");
  page.list({"cbdc-settle killed: " +
                 killed(r.faults.settlement_killed_at_us, r.faults.settlement_back_after_us),
             "cbdc-bank killed: " +
                 (r.faults.bank_killed_at_us < 0 ? std::string{} : r.faults.killed_bank + " ") +
                 killed(r.faults.bank_killed_at_us, r.faults.bank_back_after_us),
             "requests dropped: " + std::to_string(r.faults.dropped),
             "requests duplicated: " + std::to_string(r.faults.duplicated),
             "retries: " + std::to_string(r.faults.retries),
             "slow commit: " + std::to_string(r.faults.slow_commit_ms) + " ms"});
  page.charts(out_dir / "plots",
              {"throughput", "latency", "hours", "region", "category", "failures"});
  if (failures.empty()) {
    page.paragraph("No refusals.");
  }
  const auto table = [&](const std::string& title, const std::map<std::string, group>& m) {
    page.heading(title);
    std::vector<std::vector<std::string>> rows;
    rows.reserve(m.size());
    for (const auto& [k, g] : m) {
      rows.push_back({k, grouped_count(g.payments), grouped(money{g.volume_minor, sc.cur}),
                      grouped_count(g.failed)});
    }
    page.table({"", "payments", "volume", "refused"}, rows);
  };
  table("By region", by_region);
  table("By bank", by_bank);
  table("By merchant category", by_category);
  if (r.offline.given) {
    // Its own folder: its gnuplot script (charts.gp) is kept beside the main one's.
    std::filesystem::create_directories(out_dir / "plots" / "offline");
    if (auto added = offline_section(sc, r.offline, out_dir / "plots" / "offline", page); !added) {
      return added.err();
    }
  }
  if (auto written = page.write(out_dir / "report.html"); !written) {
    return written.err();
  }
  return f;
}

}  // namespace cbdc::sim
