// Cross-border end to end: cbdc-wallet pays an HKD merchant from CNY through a dealer's quote
// (shown, then confirmed or not), and cbdc-sim runs a small bridge scenario, with daily sweeps
// of foreign balances home, through real settlement shards, central banks and dealers.
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "bank/client.hpp"
#include "bank/server.hpp"
#include "platform/process.hpp"
#include "tests/support/bridge.hpp"
#include "tests/support/files.hpp"

using namespace cbdc;
using namespace cbdc::test;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_build = CBDC_BUILD_DIR;

constexpr const char* k_bridge_scenario = R"(name = "e2e-bridge"
seed = 7
start = 2024-05-06T09:00:00+08:00
[bridge]
shards = 2
issue_usd = "3000000.00"
sweep_daily = true
[bridge.usd]
CNY = "0.1400"
HKD = "0.1280"
[bridge.rates]
"CNY/HKD" = "1.0937"
[[central_bank]]
currency = "CNY"
name = "PBoC"
corridor_cap = "90000000.00"
[[central_bank]]
currency = "HKD"
name = "HKMA"
[[bank]]
id = "hk-dealer"
home = "HKD"
dealer = { spread_bp = 10, licensed = ["HKD", "CNY"] }
[[bank]]
id = "cn-dealer"
home = "CNY"
dealer = { spread_bp = 12, licensed = ["CNY", "HKD"] }
[[bank]]
id = "hk-a"
home = "HKD"
[[bank]]
id = "cn-a"
home = "CNY"
[[bank]]
id = "cn-b"
home = "CNY"
[[phase]]
name = "only"
start_day = 0
days = 3
corridors = ["CNY/HKD", "HKD/CNY"]
transactions = 20
fx_share = 0.3
median_usd = "50000.00"
spread = 0.5
)";

}  // namespace

TEST_CASE("cbdc-wallet pays across the border: quote shown, settled on confirmation", "[e2e][fx]") {
  bridge b;
  b.desk.reset();
  auto svc = fx::server::start(b.dealer_config("dealer", b.dealer_db.url(), 25), b.dealer_key);
  REQUIRE(svc.ok());
  const auto dir = fs::temp_directory_path() / ("cbdc_xb_wallet_" + b.dealer_db.name());
  fs::create_directories(dir);
  REQUIRE(b.payer.save(dir / "wallet.key").ok());
  const auto nodes_file = dir / "nodes";
  std::ofstream(nodes_file) << b.nodes.text();
  // The payer's bank hosts the wallet and asks the dealer for quotes: a wallet talks to its
  // bank only.
  pg_scratch bank_db;
  bank::bank_config bc;
  bc.db_url = bank_db.url();
  bc.settle_spec = b.settle_svc->endpoint();
  bc.dealers = {"dealer=" + b.dealer_ep};
  bc.net = b.net("cn-bank");
  auto bank_svc = bank::server::start(
      bc, key_pair::from_seed(profile::ed25519, indexed_seed(9, 0x77)), b.bank_ep);
  REQUIRE(bank_svc.ok());
  bank::client as_operator(b.bank_ep, b.net("cn-bank"));
  REQUIRE(as_operator.open_wallet(b.payer.pub(), bank::wallet_class::i, false).ok());

  const std::string wallet = std::string{k_build} + "/wallet/cbdc-wallet";
  const std::vector<std::string> pay{wallet,     "pay",
                                     "--dir",    dir.string(),
                                     "--bank",   b.bank_ep,
                                     "--nodes",  nodes_file.string(),
                                     "--to",     b.merchant.pub().hex(),
                                     "--amount", "1000.00 HKD",
                                     "--from",   "CNY"};
  const auto payer_cny = b.balance(b.payer.pub(), currency::cny);

  // Declined at the prompt: nothing paid.
  std::string declined = "echo n |";
  for (const auto& arg : pay) {
    declined += " '" + arg + "'";
  }
  auto no = run({"/bin/sh", "-c", declined});
  INFO(no.out);
  INFO(no.err);
  CHECK(no.exit_code == 1);
  CHECK(no.out.find("you pay 922.27 CNY, the payee receives 1000.00 HKD") != std::string::npos);
  CHECK(no.out.find("rate 1 CNY = 1.084281 HKD") != std::string::npos);
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 0);

  auto argv = pay;
  argv.insert(argv.end(), {"--yes", "--json"});
  auto yes = run(argv);
  INFO(yes.out);
  INFO(yes.err);
  REQUIRE(yes.exit_code == 0);
  const auto out = boost::json::parse(yes.out).as_object();
  CHECK(out.at("status").as_string() == "ok");
  CHECK(out.at("paid").as_string() == "922.27 CNY");
  CHECK(out.at("received").as_string() == "1000.00 HKD");
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 100'000);
  CHECK(b.balance(b.payer.pub(), currency::cny) == payer_cny - 92'227);

  // Without its bank the wallet cannot pay across the border, and says so.
  auto missing = run({wallet, "pay", "--dir", dir.string(), "--nodes", nodes_file.string(), "--to",
                      b.merchant.pub().hex(), "--amount", "1.00 HKD", "--from", "CNY", "--json"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.find("bad_request") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("cbdc-issuer registers several banks and credits several reserves in one run",
          "[e2e][fx]") {
  pg_scratch db;
  const auto dir = fs::temp_directory_path() / ("cbdc_add_banks_" + db.name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string issuer = std::string{k_build} + "/issuer/cbdc-issuer";
  const auto key = (dir / "issuer.key").string();
  REQUIRE(run({issuer, "keygen", "--key", key}).exit_code == 0);
  const auto vault = [](std::uint8_t i) {
    return key_pair::from_seed(profile::ed25519, indexed_seed(i, 0x42)).pub().hex();
  };
  const std::vector<std::string> base{issuer,  "add-bank", "--db",       db.url(),
                                      "--key", key,        "--currency", "HKD"};
  auto several = base;
  several.insert(several.end(), {"--bank", "hk-a=" + vault(1), "--bank", "hk-b=" + vault(2)});
  auto added = run(several);
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  CHECK(added.out == "bank hk-a registered (domestic)\nbank hk-b registered (domestic)\n");
  auto foreign = base;
  foreign.insert(foreign.end(), {"--bank", "cn-a=" + vault(3), "--foreign"});
  CHECK(run(foreign).out == "bank cn-a registered (foreign)\n");
  // Each is there with its own kind: a reserve to the domestic ones, none asked of the other.
  for (const auto* id : {"hk-a", "hk-b", "cn-a"}) {
    CHECK(run({issuer, "reserve", "--db", db.url(), "--key", key, "--currency", "HKD", "--bank-id",
               id})
              .exit_code == 0);
  }
  // Several reserves credited in one run, each once per "<request-id>-<ID>".
  const std::vector<std::string> credit{
      issuer, "deposit",      "--db", db.url(),   "--key",          key,        "--currency",
      "HKD",  "--request-id", "r",    "--credit", "hk-a=10.00 HKD", "--credit", "hk-b=20.00 HKD"};
  auto credited = run(credit);
  INFO(credited.out << credited.err);
  REQUIRE(credited.exit_code == 0);
  CHECK(credited.out ==
        "credited 10.00 HKD to the reserve of hk-a\ncredited 20.00 HKD to the reserve of hk-b\n");
  REQUIRE(run(credit).exit_code == 0);  // a retry credits nothing more
  const auto reserve_b = run({issuer, "reserve", "--db", db.url(), "--key", key, "--currency",
                              "HKD", "--bank-id", "hk-b"});
  CHECK(reserve_b.out.find("20.00 HKD") != std::string::npos);
  CHECK(reserve_b.out.find("40.00 HKD") == std::string::npos);
  auto malformed = base;
  malformed.insert(malformed.end(), {"--bank", "no-key-here"});
  const auto refused = run(malformed);
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("--bank wants ID=VAULT_KEY_HEX") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("cbdc-sim runs a bridge scenario with daily sweeps and the auditor passes", "[e2e][fx]") {
  pg_scratch db;
  const auto dir = fs::temp_directory_path() / ("cbdc_bridge_e2e_" + db.name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto scenario = dir / "bridge.toml";
  {
    std::ofstream out(scenario);
    out << k_bridge_scenario;
  }
  std::mt19937 rng(std::random_device{}());
  const int base = 20'000 + static_cast<int>(rng() % 11'000);
  const std::string sim = std::string{k_build} + "/sim/cbdc-sim";
  const auto out = dir / "run";
  auto r = run({sim, "run", scenario.string(), "-o", out.string(), "--db", db.url(), "--db-prefix",
                db.name(), "--port-base", std::to_string(base)});
  INFO(r.out);
  CHECK(r.out.rfind("seed 7\n", 0) == 0);
  REQUIRE(r.exit_code == 0);
  const auto summary = test::read_json(out / "summary.json").as_object();
  CHECK(summary.at("audit").as_object().at("passed").as_bool());
  CHECK(summary.at("transactions").as_int64() == 20);
  CHECK(summary.at("sweeps").as_int64() > 0);
  CHECK(summary.at("failed").as_int64() == 0);
  CHECK(r.out.find("every bank holds only its home currency") != std::string::npos);
  CHECK(r.out.find("cbdc-issuer audit CNY PASS") != std::string::npos);
  CHECK(r.out.find("cbdc-issuer audit HKD PASS") != std::string::npos);
  const auto& corridors = summary.at("corridors").as_object();
  CHECK(corridors.contains("CNY->HKD"));
  CHECK(corridors.contains("HKD->CNY"));
  const auto html = test::file_text(out / "report.html");
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("By corridor") != std::string::npos);
  // Bar charts from zero, with grouped labels; amounts grouped by thousands.
  const auto charts = test::file_text(out / "plots" / "charts.gp");
  std::size_t zero_based = 0;
  for (auto at = charts.find("set yrange [0:"); at != std::string::npos;
       at = charts.find("set yrange [0:", at + 1)) {
    ++zero_based;
  }
  CHECK(zero_based == 2);  // volume and spread by corridor
  CHECK(std::regex_search(r.out, std::regex{"issued [0-9]{1,3}(,[0-9]{3})+\\.[0-9]{2} USD"}));

  // The same scenario plans the same transactions.
  auto again = run({sim, "generate", scenario.string(), "-o", (dir / "again.csv").string()});
  REQUIRE(again.exit_code == 0);
  CHECK(test::file_text(dir / "again.csv") == test::file_text(out / "plan.csv"));
  fs::remove_all(dir);
}
