// Dual-offline payments with the command-line tools: the central bank certifies the bank, the
// bank its wallets' devices; a device is loaded, pays another with no network through a file,
// the payee syncs and the payment settles; a replayed file is refused.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <thread>

#include "rpc/auth.hpp"
#include "settlement/client.hpp"
#include "tests/support/pg_scratch.hpp"
#include "tests/support/tools.hpp"

using namespace cbdc;
using test::ok_run;
using test::tool;
namespace fs = std::filesystem;

namespace {

/// Settlement, the central bank and bank-a (certified for offline payments) as real
/// processes, each node with its key; wallets are customers.
struct deployment {
  /// slow_commit_ms: settlement holds each batch's commit that long (to catch a bank mid-work).
  explicit deployment(int slow_commit_ms = 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::mt19937 rng(std::random_device{}());
    base = 20000 + static_cast<int>(rng() % 12000);
    REQUIRE(roster.add("settle", role::shard, {ep(0)}).ok());
    REQUIRE(roster.add("pboc", role::issuer, {ep(1)}).ok());
    REQUIRE(roster.add("bank-a", role::bank, {ep(2)}).ok());
    REQUIRE(roster.add("bank-a/ops", role::operator_).ok());
    issuer_key = ok_run({tool("cbdc-issuer"), "keygen", "--key", d + "/issuer.key"});
    settle = std::make_unique<child>(
        as("settle", {tool("cbdc-settle"), "serve", "--db", db.url(), "--bind", ep(0), "--issuer",
                      "CNY=" + issuer_key, "--slow-commit-ms", std::to_string(slow_commit_ms)}),
        d + "/settle.log");
    REQUIRE(settle->wait_for_output("listening", 10'000));
    issuer = std::make_unique<child>(
        as("pboc", {tool("cbdc-issuer"), "serve", "--db", db.url(), "--key", d + "/issuer.key",
                    "--currency", "CNY", "--bind", ep(1), "--settle", ep(0)}),
        d + "/issuer.log");
    REQUIRE(issuer->wait_for_output("listening", 10'000));
    const auto vault = ok_run({tool("cbdc-bank"), "init", "--dir", d + "/bank"});
    ok_run(issuer_cmd({"add-bank", "--bank-id", "bank-a", "--vault-key", vault}));
    ok_run(issuer_cmd({"deposit", "--bank-id", "bank-a", "--amount", "2000.00 CNY", "--request-id",
                       "offline-reserve"}));
    ok_run(as("bank-a", {tool("cbdc-bank"), "mint", "--dir", d + "/bank", "--issuer", ep(1),
                         "--bank-id", "bank-a", "--amount", "2000.00 CNY", "--request-id", "o-1"}));
    ok_run(issuer_cmd({"certify-bank", "--bank-id", "bank-a", "-o", d + "/bank-a.cert"}));
    start_bank();
  }
  ~deployment() {
    bank.reset();
    issuer.reset();
    settle.reset();
    fs::remove_all(dir);
  }
  deployment(const deployment&) = delete;
  auto operator=(const deployment&) -> deployment& = delete;

  void start_bank() {
    ++bank_starts;
    bank = std::make_unique<child>(
        as("bank-a", {tool("cbdc-bank"), "serve", "--dir", d + "/bank", "--db", bank_db.url(),
                      "--bind", ep(2), "--settle", ep(0), "--registry", ep(1), "--offline-cert",
                      d + "/bank-a.cert", "--central-bank-key", issuer_key}),
        d + "/bank-" + std::to_string(bank_starts) + ".log");
    REQUIRE(bank->wait_for_output("listening", 10'000));
  }
  [[nodiscard]] auto ep(int i) const -> std::string {
    return "tcp://127.0.0.1:" + std::to_string(base + i);
  }
  [[nodiscard]] auto as(const std::string& node, std::vector<std::string> argv) const
      -> std::vector<std::string> {
    for (auto& f : roster.flags(node)) {
      argv.push_back(f);
    }
    return argv;
  }
  [[nodiscard]] auto issuer_cmd(std::vector<std::string> args) const -> std::vector<std::string> {
    std::vector<std::string> argv{tool("cbdc-issuer"), args.front(), "--db", db.url(), "--key",
                                  d + "/issuer.key"};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return argv;
  }
  /// cbdc-wallet as `who`, through bank-a.
  [[nodiscard]] auto wallet(const std::string& who, std::vector<std::string> args) const
      -> std::vector<std::string> {
    std::vector<std::string> argv{tool("cbdc-wallet"), args.front(),       "--dir",
                                  d + "/" + who,       "--bank",           ep(2),
                                  "--nodes",           roster.nodes_file()};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return argv;
  }
  /// A class IV wallet with a certified device, funded with `funded`.
  void customer(const std::string& who, const std::string& funded) {
    const auto key = ok_run({tool("cbdc-wallet"), "init", "--dir", d + "/" + who});
    ok_run(wallet(who, {"register", "--class", "IV"}));
    if (!funded.empty()) {
      ok_run(as("bank-a/ops", {tool("cbdc-bank"), "fund", "--dir", d + "/bank", "--bank", ep(2),
                               "--to", key, "--amount", funded}));
    }
    ok_run(wallet(who, {"offline", "init"}));
  }
  /// The key of who's device, from its state.
  [[nodiscard]] auto device_of(const std::string& who) const -> std::string {
    const auto shown = ok_run(wallet(who, {"offline", "show"}));
    const auto at = shown.find("\"device\":\"") + 10;
    return shown.substr(at, shown.find('"', at) - at);
  }
  /// from's device pays to's device `amount`, through a file, with no network.
  void pay_offline(const std::string& from, const std::string& to, const std::string& amount) {
    const auto file = d + "/" + from + "-" + std::to_string(++messages) + ".bin";
    ok_run({tool("cbdc-wallet"), "offline", "pay", "--dir", d + "/" + from, "--to", device_of(to),
            "--amount", amount, "--message", file});
    ok_run({tool("cbdc-wallet"), "offline", "receive", "--dir", d + "/" + to, "--message", file});
  }

  test::pg_scratch db;
  test::pg_scratch bank_db;
  fs::path dir{fs::temp_directory_path() / ("cbdc_offline_" + db.name())};
  std::string d{dir.string()};
  int base{0};
  node_roster roster{dir / "keys"};
  std::string issuer_key;
  std::unique_ptr<child> settle;
  std::unique_ptr<child> issuer;
  std::unique_ptr<child> bank;
  int bank_starts{0};
  int messages{0};
};

}  // namespace

TEST_CASE("cbdc-wallet offline: init, load, pay through a file, receive, sync", "[e2e][offline]") {
  deployment w;
  const auto& d = w.d;
  const auto wallet = [&](const std::string& who, std::vector<std::string> args) {
    return w.wallet(who, std::move(args));
  };
  // An unregistered bank gets no certificate.
  CHECK(run(w.issuer_cmd({"certify-bank", "--bank-id", "bank-z", "-o", d + "/z.cert"})).exit_code ==
        1);
  w.customer("alice", "1500.00 CNY");
  w.customer("bob", "");
  // Class IV's offline balance cap is 1,000.00: a load past it is refused, nothing moves.
  auto over = run(wallet("alice", {"offline", "load", "--amount", "1000.01 CNY"}));
  CHECK(over.exit_code == 1);
  CHECK(over.err.find("offline_balance_cap") != std::string::npos);
  ok_run(wallet("alice", {"offline", "load", "--amount", "300.00 CNY"}));
  CHECK(ok_run(wallet("alice", {"balance"})) == "1200.00 CNY");

  const auto bob_device = w.device_of("bob");
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
  ok_run(w.as("pboc", {tool("cbdc-issuer"), "audit", "--db", w.db.url(), "--key", d + "/issuer.key",
                       "--settle", w.ep(0), "--currency", "CNY"}));
}

TEST_CASE("cbdc-wallet offline: a bank killed with SIGKILL during a sync loses nothing",
          "[e2e][offline]") {
  deployment w(40);  // each offline transfer takes a commit of 40 ms or more
  w.customer("alice", "1000.00 CNY");
  w.customer("bob", "");
  ok_run(w.wallet("alice", {"offline", "load", "--amount", "500.00 CNY"}));
  // Bob's device holds a chain of ten offline payments.
  for (int i = 0; i < 10; ++i) {
    w.pay_offline("alice", "bob", "10.00 CNY");
  }
  // Settlement as the bank's operator sees it: how many of the ten have settled so far (each
  // leaves one 10.00 token with bob's device).
  auto net = w.roster.security("bank-a/ops");
  REQUIRE(net.ok());
  socket_options opts;
  opts.security = *net;
  settlement::client settle(*settlement::cluster::parse(w.ep(0)), opts);
  auto device = public_key::from_hex(w.device_of("bob"));
  REQUIRE(device.ok());
  const auto settled = [&] {
    auto unspent = settle.list_unspent(*device);
    REQUIRE(unspent.ok());
    return unspent->size();
  };
  // Twice: the sync starts; as soon as one more of its transfers settles, the bank is killed
  // (with more to go, each commit taking 40 ms: checked), and started again.
  std::size_t before = 0;
  for (int round = 0; round < 2; ++round) {
    auto first = std::async(std::launch::async, [&] {
      return run(w.wallet("bob", {"offline", "sync"}));
    });
    for (int wait = 0; wait < 2000 && settled() <= before; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    w.bank->kill_hard();
    before = settled();
    INFO("settled when killed: " << before);
    CHECK(before < 10);  // killed with work left
    w.start_bank();
    // The sync under the kill either failed (the device keeps everything until it hears) or,
    // when its request reached the restarted bank, finished: never anything in between.
    const auto cut = first.get();
    INFO("the sync under the kill: " << cut.out << cut.err);
    CHECK((cut.exit_code == 1 || cut.out.find("10 of 10 transfers settled") != std::string::npos));
  }
  // Whatever settled before a kill answers already_settled now; nothing is lost or counted twice.
  CHECK(ok_run(w.wallet("bob", {"offline", "sync"})).find("balance 100.00 CNY") !=
        std::string::npos);
  CHECK(ok_run(w.wallet("bob", {"offline", "show"})).find("\"to_submit\":0") != std::string::npos);
  ok_run(w.wallet("bob", {"offline", "unload", "--amount", "100.00 CNY"}));
  ok_run(w.wallet("bob", {"offline", "sync"}));
  CHECK(ok_run(w.wallet("bob", {"balance"})) == "100.00 CNY");
  ok_run(w.as("pboc", {tool("cbdc-issuer"), "audit", "--db", w.db.url(), "--key",
                       w.d + "/issuer.key", "--settle", w.ep(0), "--currency", "CNY"}));
}
