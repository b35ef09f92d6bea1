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
