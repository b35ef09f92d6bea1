// Three settlement shards and a coordinator as real processes on loopback, each shard with its
// own PostgreSQL database: single-shard and cross-shard payments, and crashes of the coordinator
// and of a shard in the middle of a two-phase commit.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "core/process.hpp"
#include "settlement/client.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;

namespace {

constexpr std::string_view k_build = CBDC_BUILD_DIR;
constexpr std::uint32_t k_shards = 3;

auto wait_until(const std::function<bool()>& done, int timeout_ms) -> bool {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{timeout_ms};
  while (std::chrono::steady_clock::now() < until) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  return done();
}

struct deployment {
  deployment() : issuer(key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xee))) {
    std::mt19937 rng(std::random_device{}());
    base_port = 20000 + static_cast<int>(rng() % 12000);
    dir = std::filesystem::temp_directory_path() / ("cbdc_shards_" + coord_db.name());
    std::filesystem::create_directories(dir);
    for (std::uint32_t i = 0; i < k_shards; ++i) {
      shard_eps.push_back("tcp://127.0.0.1:" + std::to_string(base_port + static_cast<int>(i)));
    }
    coord_ep = "tcp://127.0.0.1:" + std::to_string(base_port + 10);
    for (std::uint32_t i = 0; i < k_shards; ++i) {
      start_shard(i);
    }
    start_coordinator("");
    settlement::cluster where{shard_eps, coord_ep};
    socket_options opts;
    opts.timeout_ms = 4000;
    cli = std::make_unique<settlement::client>(where, opts);
  }
  ~deployment() {
    coordinator.reset();
    for (auto& s : shards) {
      s.reset();
    }
    std::filesystem::remove_all(dir);
  }

  void start_shard(std::uint32_t i) {
    shards[i].reset();
    shards[i] = std::make_unique<child>(
        std::vector<std::string>{std::string{k_build} + "/settlement/cbdc-settle", "serve", "--db",
                                 shard_db[i].url(), "--bind", shard_eps[i], "--shard",
                                 std::to_string(i), "--shards", std::to_string(k_shards),
                                 "--coordinator", coord_ep, "--issuer",
                                 "CNY=" + issuer.pub().hex()},
        (dir / ("shard" + std::to_string(i) + "-" + std::to_string(starts++) + ".log")).string());
  }
  void wait_shard(std::uint32_t i) { REQUIRE(shards[i]->wait_for_output("listening", 60'000)); }
  void start_coordinator(const std::string& crash_after) {
    std::string list;
    for (const auto& ep : shard_eps) {
      list += (list.empty() ? "" : ",") + ep;
    }
    std::vector<std::string> argv{std::string{k_build} + "/settlement/cbdc-settle",
                                  "coordinate",
                                  "--db",
                                  coord_db.url(),
                                  "--bind",
                                  coord_ep,
                                  "--shard-endpoints",
                                  list,
                                  "--issuer",
                                  "CNY=" + issuer.pub().hex()};
    if (!crash_after.empty()) {
      argv.emplace_back("--crash-after");
      argv.push_back(crash_after);
    }
    coordinator.reset();  // frees the port before the next one binds it
    coordinator = std::make_unique<child>(
        argv, (dir / ("coordinator-" + std::to_string(starts++) + ".log")).string());
    REQUIRE(coordinator->wait_for_output("listening", 10'000));
    for (std::uint32_t i = 0; i < k_shards; ++i) {
      if (shards[i]) {
        wait_shard(i);
      }
    }
  }

  /// Mints amount to owner in one token; returns the token id.
  auto mint(const public_key& owner, std::int64_t amount, std::uint64_t nonce) -> hash256 {
    transaction tx;
    tx.kind = tx_kind::issue;
    tx.nonce = nonce;
    tx.outputs = {tx_output{currency::cny, amount, owner}};
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(issuer);
    auto r = cli->submit(stx);
    REQUIRE(r.ok());
    REQUIRE(r->status == status_code::ok);
    CHECK(r->shard < k_shards);  // a one-output issuance lives on one shard
    return token_id_of(profile::ed25519, stx.id, 0);
  }

  /// A payment of the whole token to payee, its output placed on `to_shard`.
  auto payment(const key_pair& payer, const hash256& token, std::int64_t amount,
               const public_key& payee, std::uint32_t to_shard) -> signed_tx {
    transaction tx;
    tx.kind = tx_kind::transfer;
    tx.inputs = {token};
    tx.outputs = {tx_output{currency::cny, amount, payee}};
    REQUIRE(co_locate(tx, to_shard, k_shards, 1));
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(payer);
    return stx;
  }

  auto balance(const public_key& who) -> std::int64_t {
    auto unspent = cli->list_unspent(who);
    REQUIRE(unspent.ok());
    std::int64_t sum = 0;
    for (const auto& t : *unspent) {
      sum += t.amount_minor;
    }
    return sum;
  }

  auto prepared_count(std::uint32_t shard) -> int {
    pqxx::connection conn(shard_db[shard].url());
    pqxx::read_transaction tx(conn);
    return tx.exec1("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")[0]
        .as<int>();
  }

  test::pg_scratch shard_db[k_shards];
  test::pg_scratch coord_db;
  key_pair issuer;
  int base_port{0};
  int starts{0};
  std::filesystem::path dir;
  std::vector<std::string> shard_eps;
  std::string coord_ep;
  std::unique_ptr<child> shards[k_shards];
  std::unique_ptr<child> coordinator;
  std::unique_ptr<settlement::client> cli;
};

}  // namespace

TEST_CASE("three shards settle single-shard and cross-shard payments", "[e2e][shards]") {
  deployment d;
  const auto alice = key_pair::from_seed(profile::ed25519, indexed_seed(1, 1));
  const auto bob = key_pair::from_seed(profile::ed25519, indexed_seed(2, 1));
  const auto coin1 = d.mint(alice.pub(), 10'000, 1);
  const auto coin2 = d.mint(alice.pub(), 5'000, 2);
  const auto home1 = shard_of(coin1, k_shards);

  // Single shard: the output lands where the input lives.
  const auto local = d.payment(alice, coin1, 10'000, bob.pub(), home1);
  auto r1 = d.cli->submit(local);
  REQUIRE(r1.ok());
  CHECK(r1->status == status_code::ok);
  CHECK(r1->shard == home1);

  // Cross shard: the output lands on another shard; the coordinator commits it.
  const auto elsewhere = (shard_of(coin2, k_shards) + 1) % k_shards;
  const auto cross = d.payment(alice, coin2, 5'000, bob.pub(), elsewhere);
  auto r2 = d.cli->submit(cross);
  REQUIRE(r2.ok());
  INFO(r2->detail);
  CHECK(r2->status == status_code::ok);
  CHECK(r2->shard == k_shards);  // answered by the coordinator
  CHECK(d.balance(alice.pub()) == 0);
  CHECK(d.balance(bob.pub()) == 15'000);
  CHECK(d.cli->get_tx(cross.id).ok());

  // A retry of the cross-shard payment settles nothing twice.
  auto again = d.cli->submit(cross);
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  CHECK(d.balance(bob.pub()) == 15'000);

  // Spending the same token across shards again is refused.
  const auto double_spend = d.payment(alice, coin2, 5'000, alice.pub(), (elsewhere + 1) % k_shards);
  auto r3 = d.cli->submit(double_spend);
  REQUIRE(r3.ok());
  CHECK(r3->status == status_code::input_spent);

  // A cross-shard transaction sent straight to a shard is wrong_shard.
  settlement::client direct(d.shard_eps[0]);
  const auto coin3 = d.mint(alice.pub(), 700, 3);
  const auto cross2 =
      d.payment(alice, coin3, 700, bob.pub(), (shard_of(coin3, k_shards) + 1) % k_shards);
  auto r4 = direct.submit(cross2);
  REQUIRE(r4.ok());
  CHECK(r4->status == status_code::wrong_shard);

  auto supply = d.cli->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor == 15'700);
  CHECK(supply->unspent_minor == 15'700);
}

TEST_CASE("a coordinator killed between PREPARE and its decision aborts on restart",
          "[e2e][shards]") {
  deployment d;
  const auto alice = key_pair::from_seed(profile::ed25519, indexed_seed(1, 2));
  const auto bob = key_pair::from_seed(profile::ed25519, indexed_seed(2, 2));
  const auto coin = d.mint(alice.pub(), 8'000, 1);
  const auto from = shard_of(coin, k_shards);
  const auto to = (from + 1) % k_shards;
  const auto cross = d.payment(alice, coin, 8'000, bob.pub(), to);

  d.start_coordinator("prepare");
  auto lost = d.cli->submit(cross);
  CHECK_FALSE(lost.ok());  // the coordinator died before answering
  REQUIRE(d.coordinator->wait_for_output("crash after prepare", 5000));
  CHECK(d.prepared_count(from) == 1);
  CHECK(d.prepared_count(to) == 1);
  // Held: neither the payer nor the payee has it while in doubt.
  CHECK(d.balance(bob.pub()) == 0);

  d.start_coordinator("");
  REQUIRE(
      wait_until([&] { return d.prepared_count(from) == 0 && d.prepared_count(to) == 0; }, 20'000));
  CHECK(d.balance(alice.pub()) == 8'000);  // aborted everywhere: the input is back
  CHECK(d.balance(bob.pub()) == 0);

  // The same payment, sent again, now commits.
  auto r = d.cli->submit(cross);
  REQUIRE(r.ok());
  CHECK(r->status == status_code::ok);
  CHECK(d.balance(alice.pub()) == 0);
  CHECK(d.balance(bob.pub()) == 8'000);
}

TEST_CASE("a coordinator killed after logging commit completes it on restart", "[e2e][shards]") {
  deployment d;
  const auto alice = key_pair::from_seed(profile::ed25519, indexed_seed(1, 3));
  const auto bob = key_pair::from_seed(profile::ed25519, indexed_seed(2, 3));
  const auto coin = d.mint(alice.pub(), 9'000, 1);
  const auto from = shard_of(coin, k_shards);
  const auto to = (from + 2) % k_shards;
  const auto cross = d.payment(alice, coin, 9'000, bob.pub(), to);

  d.start_coordinator("decision");
  CHECK_FALSE(d.cli->submit(cross).ok());
  REQUIRE(d.coordinator->wait_for_output("crash after decision", 5000));
  CHECK(d.prepared_count(from) == 1);

  // A shard that restarts meanwhile finds the coordinator down and waits for its word.
  d.shards[to]->kill_hard();
  d.start_shard(to);
  d.start_coordinator("");
  d.wait_shard(to);
  REQUIRE(
      wait_until([&] { return d.prepared_count(from) == 0 && d.prepared_count(to) == 0; }, 30'000));
  CHECK(d.balance(alice.pub()) == 0);
  CHECK(d.balance(bob.pub()) == 9'000);
  // The restarted shard learned the outcome of its in-doubt part from the coordinator.
  CHECK(d.shards[to]->log().find("resolved: commit") != std::string::npos);
  auto again = d.cli->submit(cross);
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  auto supply = d.cli->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor == supply->unspent_minor);
}
