// The simulator end to end: cbdc-sim runs a small scenario through real cbdc-settle, cbdc-issuer
// and cbdc-bank processes, with faults injected (settlement and a bank killed and restarted
// mid-run, requests dropped and duplicated, a slow database), and its auditor and each bank's
// audit must still pass.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "platform/process.hpp"
#include "tests/support/files.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_build = CBDC_BUILD_DIR;

constexpr const char* k_scenario = R"(name = "e2e-faults"
seed = 99
currency = "CNY"
start = 2025-03-03T08:00:00+08:00
duration_hours = 24
[[region]]
name = "east"
weight = 1
[[bank]]
id = "bank-a"
weight = 1
[[bank]]
id = "bank-b"
weight = 1
[[category]]
name = "catering"
merchants = 15
weight = 2
median = "40.00"
spread = 0.5
[[category]]
name = "retail"
merchants = 10
weight = 1
median = "1500.00"
spread = 0.4
[wallets]
count = 300
active_share = 0.8
classes = { II = 1, IV = 1 }
topup = "3000.00"
topup_at = "start"
extra_payments = 1.0
spend_rest = 0.1
[time_of_day]
weekday = [1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 5, 6, 7, 6, 5, 5, 5, 6, 7, 7, 6, 4, 2, 1]
[failures]
kill_settlement_at = 0.5
kill_bank_at = 0.75
kill_bank = "bank-b"
drop_rate = 0.03
duplicate_rate = 0.03
slow_commit_ms = 2
)";

}  // namespace

TEST_CASE("cbdc-sim run: faults injected, the auditor passes, the report is written", "[e2e]") {
  test::pg_scratch db;
  const auto dir = fs::temp_directory_path() / ("cbdc_sim_e2e_" + db.name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto scenario = dir / "scenario.toml";
  {
    std::ofstream out(scenario);
    out << k_scenario;
  }
  std::mt19937 rng(std::random_device{}());
  const int base = 20'000 + static_cast<int>(rng() % 11'000);
  const std::string sim = std::string{k_build} + "/sim/cbdc-sim";
  const auto out = dir / "run";
  auto r = run({sim, "run", scenario.string(), "-o", out.string(), "--db", db.url(), "--db-prefix",
                db.name(), "--port-base", std::to_string(base)});
  INFO(r.out);
  CHECK(r.out.rfind("seed 99\n", 0) == 0);  // the seed first
  REQUIRE(r.exit_code == 0);
  const auto summary = test::read_json(out / "summary.json").as_object();
  CHECK(summary.at("audit").as_object().at("passed").as_bool());
  CHECK(summary.at("failed").as_int64() > 0);  // class IV wallets over their 2,000.00 cap
  CHECK(summary.at("failures_by_reason").as_object().contains("per_payment_limit"));
  const auto& faults = summary.at("faults").as_object();
  CHECK(faults.at("settlement_killed_at_s").is_double());
  CHECK(faults.at("bank_killed_at_s").is_double());
  CHECK(faults.at("bank_killed").as_string() == "bank-b");
  // Each bank's own audit passed after the run, the killed one included.
  const auto& banks = summary.at("audit").as_object().at("banks").as_array();
  REQUIRE(banks.size() == 2);
  for (const auto& b : banks) {
    INFO(b.as_string());
    CHECK(b.as_string().find("PASS") != std::string::npos);
  }
  CHECK(faults.at("dropped").as_int64() > 0);
  CHECK(faults.at("duplicated").as_int64() > 0);
  // A duplicate is answered as the original, or as already settled; never a second payment.
  for (const auto& [reason, n] : faults.at("duplicate_answers").as_object()) {
    INFO(reason);
    CHECK((reason == "ok" || reason == "already_settled" || reason == "timeout"));
  }
  CHECK(summary.at("payments").as_int64() > 200);
  for (const auto* file : {"report.html", "timeseries.csv", "hourly.csv", "trace.bin"}) {
    INFO(file);
    CHECK(fs::file_size(out / file) > 50);  // more than a header
  }
  const auto html = test::file_text(out / "report.html");
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("PASS") != std::string::npos);

  // The same scenario generates the same trace, byte for byte.
  auto again = run({sim, "generate", scenario.string(), "-o", (dir / "again.bin").string()});
  REQUIRE(again.exit_code == 0);
  CHECK(test::file_text(dir / "again.bin") == test::file_text(out / "trace.bin"));
  fs::remove_all(dir);
}

TEST_CASE("cbdc-sim refuses a bad scenario with the file, line and key", "[e2e]") {
  const auto dir = fs::temp_directory_path() / "cbdc_sim_bad_scenario";
  fs::create_directories(dir);
  const auto scenario = dir / "bad.toml";
  {
    std::ofstream out(scenario);
    out << "name = \"x\"\nseed = 1\nsed = 2\n";
  }
  auto r = run({std::string{k_build} + "/sim/cbdc-sim", "generate", scenario.string(), "-o",
                (dir / "t.bin").string()});
  CHECK(r.exit_code == 1);
  CHECK_FALSE(fs::exists(dir / "t.bin"));
  fs::remove_all(dir);
}

namespace {

/// A small fair: devices paying stalls offline (at most 45.00 each), a region without signal
/// for hours, cloned devices paying twice. `loss` is the scenario's loss rule.
auto offline_scenario(const std::string& loss) -> std::string {
  return R"(name = "e2e-offline"
seed = 7
currency = "CNY"
start = 2026-05-01T08:00:00+08:00
duration_hours = 12
[[region]]
name = "square"
weight = 2
[[region]]
name = "hill"
weight = 1
[[bank]]
id = "bank-a"
weight = 1
[[bank]]
id = "bank-b"
weight = 1
[[category]]
name = "stall"
merchants = 20
weight = 1
median = "30.00"
spread = 0.5
[wallets]
count = 300
active_share = 0.9
classes = { III = 1, IV = 2 }
topup = "500.00"
topup_at = "start"
extra_payments = 2.0
spend_rest = 0.1
[time_of_day]
weekday = [1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 5, 6, 7, 6, 5, 5, 5, 6, 7, 7, 6, 4, 2, 1]
[offline]
share = 0.4
load = "200.00"
sync_every_hours = 2
compromised_share = 0.03
copies = 2
loss = ")" +
         loss + R"("
sweep_caps = ["50.00", "100.00", "200.00", "500.00"]
payment_cap = "45.00"
[[offline.outage]]
region = "square"
from_hours = 2
hours = 5
)";
}

}  // namespace

TEST_CASE("cbdc-sim run: offline payments reconcile, double spends are caught, the audit passes",
          "[e2e]") {
  for (const std::string loss : {"payee", "payee_bank"}) {
    INFO(loss);
    test::pg_scratch db;
    const auto dir = fs::temp_directory_path() / ("cbdc_sim_offline_" + db.name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    {
      std::ofstream out(dir / "scenario.toml");
      out << offline_scenario(loss);
    }
    std::mt19937 rng(std::random_device{}());
    const int base = 20'000 + static_cast<int>(rng() % 11'000);
    auto r = run({std::string{k_build} + "/sim/cbdc-sim", "run", (dir / "scenario.toml").string(),
                  "-o", (dir / "run").string(), "--db", db.url(), "--db-prefix", db.name(),
                  "--port-base", std::to_string(base)});
    INFO(r.out);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto summary = test::read_json(dir / "run" / "summary.json").as_object();
    CHECK(summary.at("audit").as_object().at("passed").as_bool());
    const auto& off = summary.at("offline").as_object();
    CHECK(off.at("devices").as_int64() > 200);
    CHECK(off.at("payments").as_int64() > 100);
    CHECK(off.at("settled").as_int64() > 100);
    CHECK(off.at("syncs_failed").as_int64() == 0);
    // The scenario's per-payment cap reached the banks, their certificates, the devices.
    CHECK(off.at("refused_by_rule").as_object().at("offline_payment_cap").as_int64() > 0);
    // The square had no signal for five hours: some payments waited that long to settle.
    CHECK(off.at("to_settlement_s").as_object().at("max").as_int64() > std::int64_t{3} * 3600);
    // Everything is back on the wallets at the end.
    CHECK(off.at("unloaded_minor").as_int64() > 0);
    const auto& ds = off.at("double_spends").as_object();
    CHECK(ds.at("accepted").as_int64() > 0);
    // Caught at reconciliation (the audit checks each was caught or settled), and lost.
    CHECK(ds.at("caught").as_int64() > 0);
    CHECK(ds.at("lost_minor").as_int64() > 0);
    CHECK(ds.at("reimbursed_minor").as_int64() ==
          (loss == "payee" ? 0 : ds.at("lost_minor").as_int64()));
    CHECK_FALSE(off.at("revocations").as_array().empty());
    // The sweep: a lower cap refuses more and leaves less at risk.
    const auto& sweep = off.at("sweep").as_array();
    REQUIRE(sweep.size() == 4);
    const auto& low = sweep.front().as_object();
    const auto& high = sweep.back().as_object();
    CHECK(low.at("refused").as_int64() > high.at("refused").as_int64());
    CHECK(low.at("float_peak_minor").as_int64() < high.at("float_peak_minor").as_int64());
    const auto html = test::file_text(dir / "run" / "report.html");
    CHECK(html.find("Dual-offline payments") != std::string::npos);
    CHECK(html.find("Balance cap sweep") != std::string::npos);
    fs::remove_all(dir);
  }
}
