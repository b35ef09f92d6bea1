// Every service serves Prometheus text on /metrics (loopback, a free port by default, named in
// its start line): a scrape after real requests shows them by type and typed status, with
// latency histograms, and each service's own families.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <regex>

#include "fx/client.hpp"
#include "platform/metrics.hpp"
#include "platform/process.hpp"
#include "rpc/auth.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_build = CBDC_BUILD_DIR;

auto tool(const std::string& folder, const std::string& name) -> std::string {
  return std::string{k_build} + "/" + folder + "/" + name;
}

auto first_line(const std::vector<std::string>& argv) -> std::string {
  auto r = run(argv);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

/// Scrapes the /metrics URL a service printed when it started.
auto scrape(const child& service) -> std::string {
  std::smatch m;
  const auto log = service.log();
  const std::regex url{R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)"};
  REQUIRE(std::regex_search(log, m, url));
  auto body = metrics::http_get("127.0.0.1", std::stoi(m[1].str()), "/metrics");
  REQUIRE(body.ok());
  return *body;
}

auto has(const std::string& text, const std::string& line) -> bool {
  return text.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("every service answers /metrics", "[e2e][metrics]") {
  test::pg_scratch settle_db;
  test::pg_scratch issuer_db;
  test::pg_scratch bank_db;
  test::pg_scratch fx_db;
  const auto dir = fs::temp_directory_path() / ("cbdc_metrics_" + settle_db.name());
  fs::create_directories(dir);
  const auto d = dir.string();
  std::mt19937 rng(std::random_device{}());
  const int base = 20'000 + static_cast<int>(rng() % 11'000);
  const auto ep = [&](int i) { return "tcp://127.0.0.1:" + std::to_string(base + i); };
  node_roster roster(dir / "keys");
  REQUIRE(roster.add("settle", role::shard, {ep(0)}).ok());
  REQUIRE(roster.add("pboc", role::issuer, {ep(1)}).ok());
  REQUIRE(roster.add("bank-a", role::bank, {ep(2)}).ok());
  REQUIRE(roster.add("fx-a", role::dealer, {ep(3)}).ok());
  const auto as = [&](const std::string& node, std::vector<std::string> argv) {
    for (auto& f : roster.flags(node)) {
      argv.push_back(f);
    }
    return argv;
  };

  const auto issuer_key =
      first_line({tool("issuer", "cbdc-issuer"), "keygen", "--key", d + "/i.key"});
  child settle(as("settle", {tool("settlement", "cbdc-settle"), "serve", "--db", settle_db.url(),
                             "--bind", ep(0), "--issuer", "CNY=" + issuer_key}),
               d + "/settle.log");
  REQUIRE(settle.wait_for_output("listening", 20'000));
  const auto vault = first_line({tool("bank", "cbdc-bank"), "init", "--dir", d + "/bank"});
  for (const auto& step : std::vector<std::vector<std::string>>{
           {"add-bank", "--bank-id", "bank-a", "--vault-key", vault},
           {"deposit", "--bank-id", "bank-a", "--amount", "1000.00 CNY", "--request-id", "r1"}}) {
    auto argv = std::vector<std::string>{tool("issuer", "cbdc-issuer")};
    argv.insert(argv.end(), step.begin(), step.end());
    argv.insert(argv.end(), {"--db", issuer_db.url(), "--key", d + "/i.key"});
    first_line(argv);
  }
  child issuer(as("pboc", {tool("issuer", "cbdc-issuer"), "serve", "--db", issuer_db.url(), "--key",
                           d + "/i.key", "--currency", "CNY", "--bind", ep(1), "--settle", ep(0)}),
               d + "/issuer.log");
  REQUIRE(issuer.wait_for_output("listening", 20'000));
  child bank(as("bank-a", {tool("bank", "cbdc-bank"), "serve", "--dir", d + "/bank", "--db",
                           bank_db.url(), "--bind", ep(2), "--settle", ep(0), "--registry", ep(1)}),
             d + "/bank.log");
  REQUIRE(bank.wait_for_output("listening", 20'000));
  child dealer(as("fx-a", {tool("fx", "cbdc-fx"), "serve", "--dir", d + "/bank", "--dealer-id",
                           "fx-a", "--db", fx_db.url(), "--bind", ep(3), "--settle", ep(0)}),
               d + "/fx.log");
  REQUIRE(dealer.wait_for_output("listening", 20'000));

  // Some traffic: a mint (issuer and settlement), a wallet opened (bank), a quote refused (fx).
  first_line(
      as("bank-a", {tool("bank", "cbdc-bank"), "mint", "--dir", d + "/bank", "--issuer", ep(1),
                    "--bank-id", "bank-a", "--amount", "1000.00 CNY", "--request-id", "m1"}));
  first_line({tool("wallet", "cbdc-wallet"), "init", "--dir", d + "/w"});
  first_line({tool("wallet", "cbdc-wallet"), "register", "--dir", d + "/w", "--bank", ep(2),
              "--class", "IV", "--nodes", roster.nodes_file()});
  socket_options as_bank;
  as_bank.security = *roster.security("bank-a");
  fx::client fxc(ep(3), as_bank);
  CHECK(fxc.request_quote("bank-a", currency::cny, currency::hkd, 100, false).code() ==
        status_code::no_quote);

  const auto s = scrape(settle);
  CHECK(has(s, "# TYPE cbdc_requests_total counter"));
  CHECK(has(s, "cbdc_requests_total{request=\"submit_tx\",status=\"ok\"} 1"));
  CHECK(has(s, "cbdc_settlements_total{status=\"ok\"} 1"));
  CHECK(has(s, "# TYPE cbdc_settle_batch_size histogram"));
  CHECK(has(s, "cbdc_settle_batch_size_count 1"));
  CHECK(has(s, "cbdc_settle_commit_seconds_count 1"));
  CHECK(has(s, "cbdc_settle_queue_depth{queue=\"incoming\"} 0"));
  CHECK(has(s, "cbdc_request_seconds_bucket{request=\"submit_tx\",le=\"+Inf\"} 1"));
  const auto i = scrape(issuer);
  CHECK(has(i, "cbdc_requests_total{request=\"mint\",status=\"ok\"} 1"));
  CHECK(has(i, "cbdc_issued_minor_total{currency=\"CNY\"} 100000"));
  const auto b = scrape(bank);
  CHECK(has(b, "cbdc_requests_total{request=\"open_wallet\",status=\"ok\"} 1"));
  CHECK(has(b, "cbdc_serial_queue_depth{endpoint=\"" + ep(2) + "\"} 0"));
  const auto f = scrape(dealer);
  CHECK(has(f, "cbdc_requests_total{request=\"request_quote\",status=\"no_quote\"} 1"));
  // Anything but /metrics is not found.
  std::smatch m;
  const auto log = settle.log();
  REQUIRE(std::regex_search(log, m, std::regex{R"(127\.0\.0\.1:(\d+)/metrics)"}));
  CHECK(metrics::http_get("127.0.0.1", std::stoi(m[1].str()), "/other").code() ==
        status_code::not_found);
  fs::remove_all(dir);
}
