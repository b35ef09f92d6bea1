// The report's part on dual-offline payments (sim/offline_report.hpp): what devices paid, how
// long it took to settle, the float over time, the double spends and revocations, the sweep.
#include "sim/offline_report.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "platform/stats.hpp"
#include "sim/report.hpp"

namespace cbdc::sim {

namespace {

auto hours_text(std::int64_t s) -> std::string {
  return fixed_text(static_cast<double>(s) / 3600.0, 1) + " h";
}

/// The q-quantile of the sorted seconds, as hours.
auto quantile_hours(const std::vector<std::int64_t>& sorted_s, double q) -> std::string {
  return sorted_s.empty() ? std::string{"-"} : hours_text(nearest_rank(sorted_s, q));
}

}  // namespace

auto offline_summary(const scenario& sc, const offline_figures& f) -> boost::json::object {
  namespace json = boost::json;
  auto delays = f.to_settlement_s;
  std::sort(delays.begin(), delays.end());
  json::object rules;
  for (const auto& [rule, n] : f.refused_by_rule) {
    rules[rule] = n;
  }
  json::object sync_failures;
  for (const auto& [code, n] : f.sync_failures) {
    sync_failures[code] = n;
  }
  json::array revocations;
  for (const auto& r : f.revocations) {
    revocations.push_back(json::object{{"device", r.device},
                                       {"fraud_at_s", r.fraud_at_s},
                                       {"revoked_at_s", r.revoked_at_s},
                                       {"first_refused_at_s", r.first_refused_at_s},
                                       {"accepted_after", r.accepted_after}});
  }
  json::array sweep;
  for (const auto& p : f.sweep) {
    sweep.push_back(json::object{{"balance_cap_minor", p.cap_minor},
                                 {"payments", p.payments},
                                 {"refused", p.refused},
                                 {"refused_minor", p.refused_minor},
                                 {"float_peak_minor", p.float_peak_minor},
                                 {"double_spent_minor", p.double_spent_minor}});
  }
  std::int64_t peak = 0;
  for (const auto& [at, v] : f.float_steps) {
    peak = std::max(peak, v);
  }
  return json::object{
      {"currency", std::string{currency_code(sc.cur)}},
      {"devices", f.devices},
      {"merchant_devices", f.merchant_devices},
      {"compromised", f.compromised},
      {"payments", f.payments},
      {"value_minor", f.value_minor},
      {"refused", f.refused},
      {"refused_by_rule", rules},
      {"settled", delays.size()},
      {"never_settled", f.never_settled},
      {"to_settlement_s", json::object{{"p50", delays.empty() ? 0 : nearest_rank(delays, 0.5)},
                                       {"p99", delays.empty() ? 0 : nearest_rank(delays, 0.99)},
                                       {"max", delays.empty() ? 0 : delays.back()}}},
      {"loaded_minor", f.loaded_minor},
      {"unloaded_minor", f.unloaded_minor},
      {"float_peak_minor", peak},
      {"syncs", f.syncs},
      {"syncs_failed", f.syncs_failed},
      {"sync_failures", sync_failures},
      {"double_spends", json::object{{"attempted", f.double_spends_attempted},
                                     {"accepted", f.double_spends_accepted},
                                     {"accepted_minor", f.double_spent_minor},
                                     {"caught", f.double_spends_caught},
                                     {"lost_minor", f.lost_minor},
                                     {"loss_rule", f.loss_rule},
                                     {"reimbursed_minor", f.reimbursed_minor}}},
      {"revocations", revocations},
      {"sweep", sweep}};
}

auto offline_section(const scenario& sc, const offline_figures& f,
                     const std::filesystem::path& plots, html_page& page) -> status {
  const std::string cur{currency_code(sc.cur)};
  const auto major = [](std::int64_t minor) {
    return fixed_text(static_cast<double>(minor) / 100.0, 2);
  };
  auto delays = f.to_settlement_s;
  std::sort(delays.begin(), delays.end());
  {
    // The float: its value at the end of each simulated hour.
    std::ofstream dat(plots / "float.dat", std::ios::trunc);
    std::map<std::int64_t, std::int64_t> by_hour;
    for (const auto& [at, v] : f.float_steps) {
      by_hour[at / 3600] = v;
    }
    std::int64_t last = 0;
    const auto hours = (sc.duration_s + 3599) / 3600;
    for (std::int64_t h = 0; h <= hours; ++h) {
      if (const auto it = by_hour.find(h); it != by_hour.end()) {
        last = it->second;
      }
      dat << h << ' ' << major(last) << '\n';
    }
    std::ofstream wait(plots / "settle_wait.dat", std::ios::trunc);
    std::map<std::int64_t, std::uint64_t> per_hour;
    for (const auto s : delays) {
      ++per_hour[s / 3600];
    }
    for (const auto& [h, n] : per_hour) {
      wait << h << ' ' << n << '\n';
    }
    std::ofstream sweep(plots / "sweep.dat", std::ios::trunc);
    for (const auto& p : f.sweep) {
      sweep << major(p.cap_minor) << ' ' << p.refused << ' '
            << major(p.float_peak_minor + p.double_spent_minor) << '\n';
    }
  }
  std::ostringstream gp;
  gp << "set terminal svg size 760,300 dynamic font 'sans,11'\n"
     << "set grid ytics\nset key top right\nset style fill solid 0.8 border -1\n"
     << "set output 'float.svg'\nset title 'Offline float: value on devices (" << cur << ")'\n"
     << "set xlabel 'hours since the scenario start'\nset ylabel '" << cur << "'\n"
     << "plot 'float.dat' using 1:2 with steps lw 2 notitle\n"
     << "set output 'settle_wait.svg'\nset title 'Offline payments by hours until settled'\n"
     << "set xlabel 'hours from payment to settlement'\nset ylabel 'payments'\n"
     << "plot 'settle_wait.dat' using 1:2 with boxes notitle\n";
  if (!f.sweep.empty()) {
    gp << "set output 'sweep.svg'\nset title 'Balance cap sweep'\n"
       << "set xlabel 'offline balance cap (" << cur << ")'\nset ylabel 'payments refused'\n"
       << "set y2label 'value at risk (" << cur << ")'\nset y2tics\nset ytics nomirror\n"
       << "plot 'sweep.dat' using 1:2 with linespoints lw 2 title 'refused', "
          "'' using 1:3 axes x1y2 with linespoints lw 2 title 'at risk'\n";
  }
  if (auto plotted = plot(plots, gp.str()); !plotted) {
    return plotted;
  }
  const auto count = [](std::uint64_t n) { return group_digits(std::to_string(n)); };
  const auto value = [&](std::int64_t minor) { return grouped(money{minor, sc.cur}); };
  page.heading("Dual-offline payments");
  page.facts({
      {"devices (payers / merchants / compromised)",
       count(f.devices) + " / " + count(f.merchant_devices) + " / " + count(f.compromised)},
      {"offline payments accepted", count(f.payments) + " (" + value(f.value_minor) + ")"},
      {"offline payments refused", count(f.refused)},
      {"payment to settlement p50 / p99 / max",
       quantile_hours(delays, 0.5) + " / " + quantile_hours(delays, 0.99) + " / " +
           (delays.empty() ? std::string{"-"} : hours_text(delays.back()))},
      {"never settled", count(f.never_settled)},
      {"loaded / unloaded", value(f.loaded_minor) + " / " + value(f.unloaded_minor)},
      {"syncs (failed)", count(f.syncs) + " (" + count(f.syncs_failed) + ")"},
      {"double spends attempted / accepted / caught", count(f.double_spends_attempted) + " / " +
                                                          count(f.double_spends_accepted) + " / " +
                                                          count(f.double_spends_caught)},
      {"value double spent / lost", value(f.double_spent_minor) + " / " + value(f.lost_minor)},
      {"loss borne by", f.loss_rule == "payee_bank"
                            ? "the payees' banks: " + value(f.reimbursed_minor) + " reimbursed"
                            : std::string{"the payees who accepted the refused payments"}},
  });
  if (!f.sync_failures.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [code, n] : f.sync_failures) {
      rows.push_back({code, count(n)});
    }
    page.table({"syncs failed by status", "syncs"}, rows);
  }
  if (!f.refused_by_rule.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [rule, n] : f.refused_by_rule) {
      rows.push_back({rule, count(n)});
    }
    page.table({"refused by rule", "payments"}, rows);
  }
  if (!f.revocations.empty()) {
    page.heading("Revocations");
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : f.revocations) {
      rows.push_back({r.device, hours_text(r.fraud_at_s), hours_text(r.revoked_at_s),
                      hours_text(r.revoked_at_s - r.fraud_at_s),
                      r.first_refused_at_s < 0 ? std::string{"-"}
                                               : hours_text(r.first_refused_at_s - r.revoked_at_s),
                      count(r.accepted_after)});
    }
    page.table({"device", "double spent at", "revoked at", "until revoked",
                "until a payee refused it", "accepted after revocation"},
               rows);
  }
  page.charts(plots, {"float", "settle_wait", "sweep"});
  if (!f.sweep.empty()) {
    page.heading("Balance cap sweep");
    page.paragraph(
        "The trace's offline payments made again by devices alone for each payer's balance cap "
        "(loads and the per-payment cap cut to it; merchants' devices unlimited; no "
        "reconciliation, so no revocation). At risk: the most held on devices at once plus "
        "what compromised devices got payees to accept twice.");
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : f.sweep) {
      rows.push_back({value(p.cap_minor), count(p.payments), count(p.refused),
                      value(p.refused_minor), value(p.float_peak_minor),
                      value(p.double_spent_minor)});
    }
    page.table({"balance cap", "offline payments", "refused", "refused value", "float peak",
                "double spent"},
               rows);
  }
  return ok_status();
}

}  // namespace cbdc::sim
