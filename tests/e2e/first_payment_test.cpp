// The first payment end to end: real cbdc-settle and cbdc-issuer processes over ZeroMQ on
// loopback, the bank and wallet command-line tools, data in PostgreSQL.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "platform/process.hpp"
#include "rpc/auth.hpp"
#include "tests/support/pg_scratch.hpp"
#include "tests/support/tools.hpp"

using namespace cbdc;
namespace fs = std::filesystem;

using test::ok_run;
using test::tool;

TEST_CASE("mint fund pay across real processes - balances and supply add up", "[e2e]") {
  test::pg_scratch db;
  const auto dir = fs::temp_directory_path() / ("cbdc_e2e_" + db.name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Ports below Linux's ephemeral range (32768 and up, where clients' own ports come from); a
  // random base keeps tests running side by side apart.
  std::mt19937 rng(std::random_device{}());
  const int base = 20000 + static_cast<int>(rng() % 12000);
  const std::string settle_ep = "tcp://127.0.0.1:" + std::to_string(base);
  const std::string issuer_ep = "tcp://127.0.0.1:" + std::to_string(base + 1);
  const std::string bank_ep = "tcp://127.0.0.1:" + std::to_string(base + 2);
  const std::string d = dir.string();
  // The nodes, each with its key; wallets are customers, not nodes.
  node_roster roster(dir / "keys");
  REQUIRE(roster.add("settle", role::shard, {settle_ep}).ok());
  REQUIRE(roster.add("pboc", role::issuer, {issuer_ep}).ok());
  REQUIRE(roster.add("bank-a", role::bank, {bank_ep}).ok());
  const std::string bank_b_ep = "tcp://127.0.0.1:" + std::to_string(base + 3);
  REQUIRE(roster.add("bank-b", role::bank, {bank_b_ep}).ok());
  const auto as = [&](const std::string& node, std::vector<std::string> argv) {
    for (auto& f : roster.flags(node)) {
      argv.push_back(f);
    }
    return argv;
  };
  const auto wallet = [&](const std::string& who, std::vector<std::string> args) {
    std::vector<std::string> argv{tool("cbdc-wallet"), args.front(),       "--dir",
                                  d + "/" + who,       "--bank",           bank_ep,
                                  "--nodes",           roster.nodes_file()};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return argv;
  };

  const auto issuer_key = ok_run({tool("cbdc-issuer"), "keygen", "--key", d + "/issuer.key"});
  child settle(as("settle", {tool("cbdc-settle"), "serve", "--db", db.url(), "--bind", settle_ep,
                             "--issuer", "CNY=" + issuer_key}),
               d + "/settle.log");
  REQUIRE(settle.wait_for_output("listening", 10'000));
  child issuer(
      as("pboc", {tool("cbdc-issuer"), "serve", "--db", db.url(), "--key", d + "/issuer.key",
                  "--currency", "CNY", "--bind", issuer_ep, "--settle", settle_ep}),
      d + "/issuer.log");
  REQUIRE(issuer.wait_for_output("listening", 10'000));

  const auto vault = ok_run({tool("cbdc-bank"), "init", "--dir", d + "/bank"});
  ok_run({tool("cbdc-issuer"), "add-bank", "--db", db.url(), "--key", d + "/issuer.key",
          "--bank-id", "bank-a", "--vault-key", vault});
  ok_run({tool("cbdc-issuer"), "deposit", "--db", db.url(), "--key", d + "/issuer.key", "--bank-id",
          "bank-a", "--amount", "6000.00 CNY", "--request-id", "e2e-reserve"});
  ok_run(as("bank-a", {tool("cbdc-bank"), "mint", "--dir", d + "/bank", "--issuer", issuer_ep,
                       "--bank-id", "bank-a", "--amount", "1000.00 CNY", "--request-id", "e2e-1"}));
  // A bank mints for itself only.
  auto for_other =
      run(as("bank-a", {tool("cbdc-bank"), "mint", "--dir", d + "/bank", "--issuer", issuer_ep,
                        "--bank-id", "bank-b", "--amount", "1.00 CNY", "--request-id", "e2e-x"}));
  CHECK(for_other.exit_code == 1);
  CHECK(for_other.err.find("not_authorized") != std::string::npos);

  child bank(as("bank-a", {tool("cbdc-bank"), "serve", "--dir", d + "/bank", "--db", db.url(),
                           "--bind", bank_ep, "--settle", settle_ep, "--registry", issuer_ep}),
             d + "/bank.log");
  REQUIRE(bank.wait_for_output("listening", 10'000));
  const auto alice = ok_run({tool("cbdc-wallet"), "init", "--dir", d + "/alice"});
  const auto bob = ok_run({tool("cbdc-wallet"), "init", "--dir", d + "/bob"});
  // A customer opens a class IV wallet itself; another class is the operator's decision.
  ok_run(wallet("alice", {"register", "--class", "IV"}));
  auto self_classed = run(wallet("bob", {"register", "--class", "I", "--json"}));
  CHECK(self_classed.exit_code == 1);
  CHECK(self_classed.out.find("not_authorized") != std::string::npos);
  ok_run(as("bank-a", {tool("cbdc-bank"), "register", "--dir", d + "/bank", "--bank", bank_ep,
                       "--to", bob, "--class", "I"}));
  ok_run(as("bank-a", {tool("cbdc-bank"), "fund", "--dir", d + "/bank", "--bank", bank_ep, "--to",
                       alice, "--amount", "300.00 CNY"}));
  ok_run(wallet("alice", {"pay", "--to", bob, "--amount", "12.34 CNY"}));
  // The registration centre hosts a key at one bank: alice cannot open a wallet at bank-b too
  // (a second day's allowance), nor can anyone open hers there first.
  {
    test::pg_scratch bank_b_db;
    const auto vault_b = ok_run({tool("cbdc-bank"), "init", "--dir", d + "/bank-b"});
    ok_run({tool("cbdc-issuer"), "add-bank", "--db", db.url(), "--key", d + "/issuer.key",
            "--bank-id", "bank-b", "--vault-key", vault_b});
    child bank_b(
        as("bank-b", {tool("cbdc-bank"), "serve", "--dir", d + "/bank-b", "--db", bank_b_db.url(),
                      "--bind", bank_b_ep, "--settle", settle_ep, "--registry", issuer_ep}),
        d + "/bank-b.log");
    REQUIRE(bank_b.wait_for_output("listening", 10'000));
    auto twice = run({tool("cbdc-wallet"), "register", "--dir", d + "/alice", "--bank", bank_b_ep,
                      "--nodes", roster.nodes_file(), "--class", "IV", "--json"});
    CHECK(twice.exit_code == 1);
    CHECK(twice.out.find("hosted_elsewhere") != std::string::npos);
  }

  CHECK(ok_run(wallet("alice", {"balance"})) == "287.66 CNY");
  CHECK(ok_run(wallet("bob", {"balance"})) == "12.34 CNY");
  CHECK(ok_run(as("bank-a", {tool("cbdc-bank"), "balance", "--dir", d + "/bank", "--settle",
                             settle_ep})) == "700.00 CNY");
  CHECK(ok_run(wallet("bob", {"balance", "--json"})) ==
        R"({"status":"ok","balances":{"CNY":"12.34"}})");
  // A wallet talks to its bank only: settlement does not know it.
  auto direct = run({tool("cbdc-wallet"), "balance", "--dir", d + "/bob", "--settle", settle_ep,
                     "--nodes", roster.nodes_file()});
  CHECK(direct.exit_code == 1);
  CHECK(direct.err.find("talks only to its bank") != std::string::npos);

  // Issued supply equals unspent supply, and the issuer's own records agree.
  const auto audit =
      ok_run(as("pboc", {tool("cbdc-issuer"), "audit", "--db", db.url(), "--key", d + "/issuer.key",
                         "--settle", settle_ep, "--currency", "CNY"}));
  CHECK(audit.find("issued 1000.00 CNY") != std::string::npos);
  CHECK(audit.find("unspent 1000.00 CNY") != std::string::npos);
  CHECK(audit.find("PASS") != std::string::npos);

  // A payment beyond the balance is refused with a typed error and changes nothing.
  auto over = run(wallet("bob", {"pay", "--to", alice, "--amount", "12.35 CNY", "--json"}));
  CHECK(over.exit_code == 1);
  CHECK(over.out.find("insufficient_funds") != std::string::npos);
  CHECK(ok_run(wallet("bob", {"balance"})) == "12.34 CNY");

  // Wallet classes through the running bank: class IV is refused 2,000.01 CNY, class II pays.
  ok_run(as("bank-a", {tool("cbdc-bank"), "mint", "--dir", d + "/bank", "--issuer", issuer_ep,
                       "--bank-id", "bank-a", "--amount", "5000.00 CNY", "--request-id", "e2e-2"}));
  const auto dave = ok_run({tool("cbdc-wallet"), "init", "--dir", d + "/dave"});
  const auto carol = ok_run({tool("cbdc-wallet"), "init", "--dir", d + "/carol"});
  ok_run(wallet("dave", {"register", "--class", "IV"}));
  ok_run(as("bank-a", {tool("cbdc-bank"), "register", "--dir", d + "/bank", "--bank", bank_ep,
                       "--to", carol, "--class", "II"}));
  for (const auto& who : {dave, carol}) {
    ok_run(as("bank-a", {tool("cbdc-bank"), "fund", "--dir", d + "/bank", "--bank", bank_ep, "--to",
                         who, "--amount", "2500.00 CNY"}));
  }
  auto refused = run(wallet("dave", {"pay", "--to", bob, "--amount", "2000.01 CNY", "--json"}));
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.find("\"per_payment_limit\"") != std::string::npos);
  CHECK(refused.out.find("2000.00 CNY") != std::string::npos);
  ok_run(wallet("carol", {"pay", "--to", bob, "--amount", "2000.01 CNY"}));
  CHECK(ok_run(wallet("dave", {"balance"})) == "2500.00 CNY");
  CHECK(ok_run(wallet("bob", {"balance"})) == "2012.35 CNY");

  // A merchant's signed request, paid exactly from the URI.
  const auto uri = ok_run({tool("cbdc-wallet"), "request", "--dir", d + "/bob", "--amount",
                           "100.00 CNY", "--ref", "order 7"});
  CHECK(uri.rfind("cbdc:pay?", 0) == 0);
  ok_run(wallet("carol", {"pay-request", "--uri", uri}));
  CHECK(ok_run(wallet("bob", {"balance"})) == "2112.35 CNY");
  // Exchange: a deposit credited at the bank becomes e-CNY in the wallet, and back.
  ok_run({tool("cbdc-bank"), "credit-deposit", "--dir", d + "/bank", "--db", db.url(), "--settle",
          settle_ep, "--to", dave, "--amount", "500.00 CNY", "--request-id", "salary-1"});
  ok_run(wallet("dave", {"exchange", "--amount", "200.00 CNY", "--request-id", "x1"}));
  ok_run(
      wallet("dave", {"exchange", "--amount", "50.00 CNY", "--request-id", "x2", "--to-deposit"}));
  CHECK(ok_run(wallet("dave", {"balance"})) == "2650.00 CNY");
  auto too_much =
      run(wallet("dave", {"exchange", "--amount", "350.01 CNY", "--request-id", "x3", "--json"}));
  CHECK(too_much.exit_code == 1);
  CHECK(too_much.out.find("insufficient_funds") != std::string::npos);

  auto tampered = uri;
  tampered.replace(tampered.find("amount=100.00"), 13, "amount=1.00");
  auto refused_request = run(wallet("carol", {"pay-request", "--uri", tampered, "--json"}));
  CHECK(refused_request.exit_code == 1);
  CHECK(refused_request.out.find("bad_signature") != std::string::npos);
  fs::remove_all(dir);
}
