// A bridge run's report: figures per corridor and phase against the published ones,
// summary.json, transactions.csv, corridors.csv, the charts and report.html, and the printed
// summary.
#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "sim/bridge.hpp"
#include "sim/bridge_detail.hpp"
#include "sim/page.hpp"

namespace cbdc::sim::bridge {
namespace {

struct corridor_figures {
  std::uint32_t count{0};
  std::uint32_t failed{0};
  std::int64_t volume_usd_cents{0};
  std::int64_t spread_usd_cents{0};
  std::uint32_t cross_shard{0};
  std::vector<std::int64_t> latencies_us;
};

}  // namespace

auto report(const scenario& sc, const plan& p, const run_record& r,
            const std::filesystem::path& out_dir) -> int {
  const auto& outcomes = r.outcomes;
  const auto& checks = r.checks;
  const auto& problems = r.problems;
  const auto issued_usd = r.issued_usd;
  const auto setup_us = r.setup_us;
  const auto replay_us = r.replay_us;
  const auto settled = static_cast<std::uint32_t>(
      std::count_if(outcomes.begin(), outcomes.end(),
                    [](const outcome& o) { return o.status == status_code::ok; }));
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
  status plotted = ok_status();
  {
    // Bars from zero (an axis that starts higher misleads), labels grouped by thousands.
    double volume_max_musd = 0;
    double spread_max_usd = 0;
    for (const auto& [name, f] : corridors) {
      volume_max_musd = std::max(volume_max_musd, static_cast<double>(f.volume_usd_cents) / 1e8);
      spread_max_usd = std::max(spread_max_usd, static_cast<double>(f.spread_usd_cents) / 100.0);
    }
    std::ostringstream gp;
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
    plotted = plot(out_dir / "plots", gp.str());
  }
  const auto seconds = [](std::int64_t us) { return fixed_text(static_cast<double>(us) / 1e6, 1); };
  html_page page("cbdc bridge run: " + sc.name, sc.name);
  page.paragraph("seed " + std::to_string(sc.seed) + ", " +
                 std::to_string(sc.central_banks.size()) + " central banks, " +
                 std::to_string(sc.banks.size()) + " banks, " + std::to_string(sc.shards) +
                 " settlement shards; setup " + seconds(setup_us) + " s, replay " +
                 seconds(replay_us) + " s.");
  page.facts({{"payment and FX PvP transactions", grouped(counted)},
              {"settled", usd_text(settled_usd)},
              {"issued onto the bridge", usd_text(issued_usd)},
              {"spread paid", usd_text(spread_usd)},
              {"refused", grouped(static_cast<std::int64_t>(outcomes.size() - settled))}});
  if (!published_lines.empty()) {
    page.published(sc.published.source, published_lines);
  }
  page.audit(checks, problems);
  page.heading("By corridor");
  std::vector<std::vector<std::string>> rows;
  rows.reserve(corridors.size());
  for (const auto& [name, f] : corridors) {
    rows.push_back({name, grouped(f.count), usd_text(f.volume_usd_cents),
                    usd_text(f.spread_usd_cents), grouped(f.cross_shard),
                    fixed_text(percentile_ms(f.latencies_us, 0.5), 1) + " / " +
                        fixed_text(percentile_ms(f.latencies_us, 1.0), 1) + " ms",
                    grouped(f.failed)});
  }
  page.table({"", "transactions", "volume", "spread paid", "across shards", "settlement p50 / max",
              "refused"},
             rows);
  page.heading("By phase");
  rows.clear();
  rows.reserve(phases.size());
  for (const auto& [name, f] : phases) {
    rows.push_back({name, grouped(f.count), usd_text(f.volume_usd_cents)});
  }
  page.table({"", "transactions", "volume"}, rows);
  if (plotted) {
    page.charts(out_dir / "plots", {"volume", "spread", "latency"});
  } else {
    page.paragraph(plotted.err().message, true);
  }
  const auto written = page.write(out_dir / "report.html");
  if (!written) {
    std::fprintf(stderr, "cbdc-sim: %s\n", to_string(written.err()).c_str());
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
  return passed && published_ok && plotted && written ? 0 : 1;
}

}  // namespace cbdc::sim::bridge
