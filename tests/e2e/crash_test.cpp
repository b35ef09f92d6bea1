// cbdc-settle killed with SIGKILL while a client submits payments: after a restart and the
// resubmission of every unacknowledged payment with the same ids, every acknowledged payment
// is present, nothing settled twice, and issued - redeemed == unspent supply.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <thread>
#include "rpc/auth.hpp"

#include "platform/process.hpp"
#include "settlement/client.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;
using settlement::receipt;

namespace {

constexpr std::string_view k_build = CBDC_BUILD_DIR;

auto acknowledged(const result<receipt>& r) -> bool {
  return r.ok() && (r->status == status_code::ok || r->status == status_code::already_settled);
}

/// Submits every transaction at once and waits for all answers.
auto submit_all(settlement::client& cli, const std::vector<signed_tx>& txs)
    -> std::vector<result<receipt>> {
  std::vector<std::promise<result<receipt>>> promises(txs.size());
  for (std::size_t i = 0; i < txs.size(); ++i) {
    cli.submit_async(txs[i], txs[i].id.hex(),
                     [&promises, i](result<receipt> r) { promises[i].set_value(std::move(r)); });
  }
  std::vector<result<receipt>> out;
  out.reserve(txs.size());
  for (auto& p : promises) {
    out.push_back(p.get_future().get());
  }
  return out;
}

}  // namespace

TEST_CASE("SIGKILL during load loses no acknowledged payment and settles none twice",
          "[e2e][crash]") {
  test::pg_scratch db;
  const auto dir = std::filesystem::temp_directory_path() / ("cbdc_crash_" + db.name());
  std::filesystem::create_directories(dir);
  std::mt19937 rng(std::random_device{}());
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(20000 + rng() % 12000);
  const auto issuer = key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xee));
  node_roster roster(dir / "nodes");
  REQUIRE(roster.add("settle", role::shard, {ep}).ok());
  REQUIRE(roster.add("cn-bank", role::bank).ok());
  std::vector<std::string> argv{std::string{k_build} + "/settlement/cbdc-settle",
                                "serve",
                                "--db",
                                db.url(),
                                "--bind",
                                ep,
                                "--issuer",
                                "CNY=" + issuer.pub().hex(),
                                "--max-batch",
                                "50"};
  for (auto& flag : roster.flags("settle")) {
    argv.push_back(flag);
  }
  auto settle = std::make_unique<child>(argv, (dir / "settle1.log").string());
  REQUIRE(settle->wait_for_output("listening", 10'000));

  constexpr std::uint32_t k_payments = 1500;
  constexpr std::int64_t k_amount = 10'000;
  std::vector<key_pair> payers;
  std::vector<key_pair> payees;
  std::vector<signed_tx> mints;
  std::vector<signed_tx> payments;
  for (std::uint32_t i = 0; i < k_payments; ++i) {
    payers.push_back(key_pair::from_seed(profile::ed25519, indexed_seed(i, 1)));
    payees.push_back(key_pair::from_seed(profile::ed25519, indexed_seed(i, 2)));
    transaction mint;
    mint.kind = tx_kind::issue;
    mint.nonce = i;
    mint.outputs = {tx_output{currency::cny, k_amount, payers.back().pub()}};
    auto m = signed_tx::make(std::move(mint));
    m.sign_with(issuer);
    transaction pay;
    pay.kind = tx_kind::transfer;
    pay.nonce = i;
    pay.inputs = {token_id_of(profile::ed25519, m.id, 0)};
    pay.outputs = {tx_output{currency::cny, 2'500, payees.back().pub()},
                   tx_output{currency::cny, k_amount - 2'500, payers.back().pub()}};
    auto p = signed_tx::make(std::move(pay));
    p.sign_with(payers.back());
    mints.push_back(std::move(m));
    payments.push_back(std::move(p));
  }

  socket_options opts;
  opts.security = *roster.security("cn-bank");
  opts.timeout_ms = 3000;
  settlement::client cli(ep, opts);
  for (const auto& r : submit_all(cli, mints)) {
    REQUIRE(acknowledged(r));
  }

  // Submit the payments from a thread; kill the server once some are acknowledged.
  std::vector<std::promise<result<receipt>>> promises(k_payments);
  std::atomic<std::uint32_t> acked{0};
  for (std::uint32_t i = 0; i < k_payments; ++i) {
    cli.submit_async(payments[i], payments[i].id.hex(), [&promises, &acked, i](result<receipt> r) {
      if (acknowledged(r)) {
        ++acked;
      }
      promises[i].set_value(std::move(r));
    });
    if (i == k_payments / 3) {
      // Let a part settle, then kill while the rest is in flight.
      while (acked.load() < k_payments / 10) {
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
      }
      settle->kill_hard();
    }
  }
  std::vector<std::size_t> unacknowledged;
  std::vector<std::size_t> acknowledged_before;
  for (std::uint32_t i = 0; i < k_payments; ++i) {
    auto r = promises[i].get_future().get();
    if (acknowledged(r)) {
      acknowledged_before.push_back(i);
    } else {
      unacknowledged.push_back(i);
    }
  }
  INFO("acknowledged before the kill: " << acknowledged_before.size());
  CHECK(acknowledged_before.size() >= k_payments / 10);
  CHECK_FALSE(unacknowledged.empty());

  settle = std::make_unique<child>(argv, (dir / "settle2.log").string());
  REQUIRE(settle->wait_for_output("listening", 30'000));

  // Every acknowledged payment survived the kill.
  for (const auto i : acknowledged_before) {
    auto found = cli.get_tx(payments[i].id);
    REQUIRE(found.ok());
  }
  // Resubmit every unacknowledged payment, identical; each settles now or had settled.
  std::vector<signed_tx> again;
  again.reserve(unacknowledged.size());
  for (const auto i : unacknowledged) {
    again.push_back(payments[i]);
  }
  std::size_t already = 0;
  for (const auto& r : submit_all(cli, again)) {
    REQUIRE(acknowledged(r));
    already += r->status == status_code::already_settled ? 1U : 0U;
  }
  INFO("unacknowledged " << unacknowledged.size() << ", of which already settled " << already);

  // Nothing settled twice: each payee holds exactly one token of 25.00, each payer its change.
  for (std::uint32_t i = 0; i < k_payments; i += 50) {
    auto got = cli.list_unspent(payees[i].pub());
    REQUIRE(got.ok());
    REQUIRE(got->size() == 1);
    CHECK(got->front().amount_minor == 2'500);
  }
  auto supply = cli.supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor == k_amount * k_payments);
  CHECK(supply->issued_minor - supply->redeemed_minor == supply->unspent_minor);
  {
    pqxx::connection conn(db.url());
    pqxx::read_transaction tx(conn);
    CHECK(tx.exec1("SELECT count(*) FROM settlement.tx WHERE kind = 2")[0].as<std::uint32_t>() ==
          k_payments);
    CHECK(tx.exec1("SELECT count(*) FROM settlement.token AS t WHERE NOT EXISTS (SELECT 1 FROM "
                   "settlement.spent AS s WHERE s.token_id = t.token_id)")[0]
              .as<std::uint32_t>() == 2 * k_payments);
  }
  settle->stop();
  std::filesystem::remove_all(dir);
}
