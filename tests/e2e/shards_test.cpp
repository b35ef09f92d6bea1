// Three settlement shards and a coordinator as real processes on loopback, each shard with its
// own PostgreSQL database: single-shard and cross-shard payments, and crashes of the coordinator
// and of a shard in the middle of a two-phase commit.
#include "tests/support/shards.hpp"

using namespace cbdc;
using namespace cbdc::test;

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
  settlement::client direct(d.shard_eps[0], d.net("cn-bank"));
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
