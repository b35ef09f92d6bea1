// Dual-offline payments with the command-line tools: the central bank certifies the bank, the
// bank its wallets' devices; a device is loaded, pays another with no network through a file,
// the payee syncs and the payment settles; a replayed file is refused.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "rpc/auth.hpp"
#include "tests/support/pg_scratch.hpp"
#include "tests/support/tools.hpp"

using namespace cbdc;
using test::ok_run;
using test::tool;
namespace fs = std::filesystem;

TEST_CASE("cbdc-wallet offline: init, load, pay through a file, receive, sync", "[e2e][offline]") {
  test::pg_scratch db;
  test::pg_scratch bank_db;
  const auto dir = fs::temp_directory_path() / ("cbdc_offline_" + db.name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 rng(std::random_device{}());
  const int base = 20000 + static_cast<int>(rng() % 12000);
  const auto ep = [&](int i) { return "tcp://127.0.0.1:" + std::to_string(base + i); };
  const std::string d = dir.string();
  node_roster roster(dir / "keys");
  REQUIRE(roster.add("settle", role::shard, {ep(0)}).ok());
  REQUIRE(roster.add("pboc", role::issuer, {ep(1)}).ok());
  REQUIRE(roster.add("bank-a", role::bank, {ep(2)}).ok());
  REQUIRE(roster.add("bank-a/ops", role::operator_).ok());
  const auto as = [&](const std::string& node, std::vector<std::string> argv) {
    for (auto& f : roster.flags(node)) {
      argv.push_back(f);
    }
    return argv;
  };
  const auto wallet = [&](const std::string& who, std::vector<std::string> args) {
    std::vector<std::string> argv{tool("cbdc-wallet"), args.front(),       "--dir",
                                  d + "/" + who,       "--bank",           ep(2),
                                  "--nodes",           roster.nodes_file()};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return argv;
  };
  const auto issuer_key = ok_run({tool("cbdc-issuer"), "keygen", "--key", d + "/issuer.key"});
  child settle(as("settle", {tool("cbdc-settle"), "serve", "--db", db.url(), "--bind", ep(0),
                             "--issuer", "CNY=" + issuer_key}),
               d + "/settle.log");
  REQUIRE(settle.wait_for_output("listening", 10'000));
  child issuer(
      as("pboc", {tool("cbdc-issuer"), "serve", "--db", db.url(), "--key", d + "/issuer.key",
                  "--currency", "CNY", "--bind", ep(1), "--settle", ep(0)}),
      d + "/issuer.log");
  REQUIRE(issuer.wait_for_output("listening", 10'000));
  const auto vault = ok_run({tool("cbdc-bank"), "init", "--dir", d + "/bank"});
  const std::vector<std::string> with_key{"--db", db.url(), "--key", d + "/issuer.key"};
  const auto issuer_cmd = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{tool("cbdc-issuer"), args.front()};
    argv.insert(argv.end(), with_key.begin(), with_key.end());
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return argv;
  };
  ok_run(issuer_cmd({"add-bank", "--bank-id", "bank-a", "--vault-key", vault}));
  ok_run(issuer_cmd({"deposit", "--bank-id", "bank-a", "--amount", "2000.00 CNY", "--request-id",
                     "offline-reserve"}));
  ok_run(as("bank-a", {tool("cbdc-bank"), "mint", "--dir", d + "/bank", "--issuer", ep(1),
                       "--bank-id", "bank-a", "--amount", "2000.00 CNY", "--request-id", "o-1"}));
  // An unregistered bank gets no certificate; bank-a gets one.
  CHECK(run(issuer_cmd({"certify-bank", "--bank-id", "bank-z", "-o", d + "/z.cert"})).exit_code ==
        1);
  ok_run(issuer_cmd({"certify-bank", "--bank-id", "bank-a", "-o", d + "/bank-a.cert"}));
  child bank(as("bank-a", {tool("cbdc-bank"), "serve", "--dir", d + "/bank", "--db", bank_db.url(),
                           "--bind", ep(2), "--settle", ep(0), "--registry", ep(1),
                           "--offline-cert", d + "/bank-a.cert", "--central-bank-key", issuer_key}),
             d + "/bank.log");
  REQUIRE(bank.wait_for_output("listening", 10'000));

  const auto alice = ok_run({tool("cbdc-wallet"), "init", "--dir", d + "/alice"});
  const auto bob = ok_run({tool("cbdc-wallet"), "init", "--dir", d + "/bob"});
  ok_run(wallet("alice", {"register", "--class", "IV"}));
  ok_run(wallet("bob", {"register", "--class", "IV"}));
  ok_run(as("bank-a/ops", {tool("cbdc-bank"), "fund", "--dir", d + "/bank", "--bank", ep(2), "--to",
                           alice, "--amount", "1500.00 CNY"}));
  ok_run(wallet("alice", {"offline", "init"}));
  ok_run(wallet("bob", {"offline", "init"}));
  // Class IV's offline balance cap is 1,000.00: a load past it is refused, nothing moves.
  auto over = run(wallet("alice", {"offline", "load", "--amount", "1000.01 CNY"}));
  CHECK(over.exit_code == 1);
  CHECK(over.err.find("offline_balance_cap") != std::string::npos);
  ok_run(wallet("alice", {"offline", "load", "--amount", "300.00 CNY"}));
  CHECK(ok_run(wallet("alice", {"balance"})) == "1200.00 CNY");

  // Bob's device key, read from its state.
  const auto bob_show = ok_run(wallet("bob", {"offline", "show"}));
  const auto at = bob_show.find("\"device\":\"") + 10;
  const auto bob_device = bob_show.substr(at, bob_show.find('"', at) - at);
  // Offline: no --bank needed for pay and receive.
  ok_run({tool("cbdc-wallet"), "offline", "pay", "--dir", d + "/alice", "--to", bob_device,
          "--amount", "45.60 CNY", "--message", d + "/pay.bin", "--qr", d + "/pay.svg"});
  CHECK(fs::file_size(d + "/pay.svg") > 0);
  ok_run({tool("cbdc-wallet"), "offline", "receive", "--dir", d + "/bob", "--message",
          d + "/pay.bin"});
  auto replay = run({tool("cbdc-wallet"), "offline", "receive", "--dir", d + "/bob", "--message",
                     d + "/pay.bin"});
  CHECK(replay.exit_code == 1);
  CHECK(replay.err.find("counter_replay") != std::string::npos);
  CHECK(ok_run(wallet("bob", {"offline", "show"})).find("\"balance\":\"45.60 CNY\"") !=
        std::string::npos);
  // Back online, bob's device settles the payment through the bank.
  CHECK(ok_run(wallet("bob", {"offline", "sync"})).find("1 of 1 transfers settled") !=
        std::string::npos);
  // Bob unloads to his wallet; the next sync settles it.
  ok_run(wallet("bob", {"offline", "unload", "--amount", "45.60 CNY"}));
  ok_run(wallet("bob", {"offline", "sync"}));
  CHECK(ok_run(wallet("bob", {"balance"})) == "45.60 CNY");
  // Alice's sync: her payment settled already, her change vouched afresh.
  CHECK(ok_run(wallet("alice", {"offline", "sync"})).find("balance 254.40 CNY") !=
        std::string::npos);
  ok_run(as("pboc", {tool("cbdc-issuer"), "audit", "--db", db.url(), "--key", d + "/issuer.key",
                     "--settle", ep(0), "--currency", "CNY"}));
  fs::remove_all(dir);
}
