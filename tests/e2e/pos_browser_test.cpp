// The merchant payments demo in a real browser: scripts/demo-pos starts settlement, an issuer,
// a bank with a merchant and two customers, and cbdc-pos; tests/browser/pos.spec.mjs then drives
// the merchant and payer pages in Debian's headless Chromium (playwright-core from npm, which
// scripts/setup installs): a payment shows "Paid" with its amount on the merchant page, one paid
// with cbdc-wallet pay-request too, and a class IV wallet over its per-payment cap is refused.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "platform/metrics.hpp"
#include "platform/process.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_build = CBDC_BUILD_DIR;
constexpr std::string_view k_source = CBDC_SOURCE_DIR;

}  // namespace

TEST_CASE("the merchant page shows a payment made on the payer page, in Chromium",
          "[e2e][pos][browser]") {
  const fs::path browser_dir = fs::path{k_source} / "tests" / "browser";
  REQUIRE(fs::exists(browser_dir / "node_modules" / "playwright-core"));  // scripts/setup
  REQUIRE(fs::exists("/usr/bin/chromium"));                               // scripts/setup
  test::pg_scratch db;
  const auto dir = fs::temp_directory_path() / ("cbdc_pos_" + db.name());
  fs::remove_all(dir);
  fs::create_directories(dir / "shots");
  std::mt19937 rng(std::random_device{}());
  const int base = 20'000 + static_cast<int>(rng() % 11'000);
  const std::string pos = "127.0.0.1:" + std::to_string(base + 10);
  const auto env = "CBDC_BIN_DIR='" + std::string{k_build} + "' CBDC_PG_URL='" + db.url() +
                   "' CBDC_DEMO_DB_PREFIX='" + db.name() +
                   "' CBDC_PORT_BASE=" + std::to_string(base) + " CBDC_POS_BIND=" + pos +
                   " CBDC_STATE_DIR='" + dir.string() + "'";
  child demo({"/bin/sh", "-c", env + " exec '" + std::string{k_source} + "/scripts/demo-pos'"},
             (dir / "demo.log").string());
  REQUIRE(demo.wait_for_output("open http://", 120'000));

  // cbdc-pos serves /metrics too.
  auto scraped = metrics::http_get("127.0.0.1", base + 10, "/metrics");
  REQUIRE(scraped.ok());
  CHECK(scraped->find("# TYPE cbdc_pos_requests_total counter") != std::string::npos);

  const char* keep = std::getenv("CBDC_SCREENSHOT_DIR");  // to refresh docs/screenshots
  const auto shots = keep != nullptr ? fs::absolute(keep) : dir / "shots";
  const auto state = dir / "demo-pos";
  auto r =
      run({"/bin/sh", "-c",
           "cd '" + browser_dir.string() + "' && POS_URL=http://" + pos + "/ SCREENSHOT_DIR='" +
               shots.string() + "' WALLET_BIN='" + std::string{k_build} +
               "/wallet/cbdc-wallet' CAROL_DIR='" + (state / "carol").string() +
               "' SETTLE_EP=tcp://127.0.0.1:" + std::to_string(base) +
               " BANK_EP=tcp://127.0.0.1:" + std::to_string(base + 3) + " NODES_FILE='" +
               (state / "keys" / "nodes").string() + "' node pos.spec.mjs 2>&1"});
  INFO(r.out);
  INFO(demo.log());
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("merchant page shows Paid 128.50 CNY, class II") != std::string::npos);
  CHECK(r.out.find("refused with per_payment_limit on both pages") != std::string::npos);
  for (const auto* shot : {"pos-merchant.png", "pos-payer.png", "pos-refused.png"}) {
    INFO(shot);
    CHECK(fs::file_size(shots / shot) > 10'000);
  }
  demo.stop();
  fs::remove_all(dir);
}
