// Three settlement shards and a coordinator as real processes on loopback, each with its own
// PostgreSQL database, for the end-to-end tests of two-phase commit.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "platform/process.hpp"
#include "rpc/auth.hpp"
#include "settlement/client.hpp"
#include "tests/support/pg_scratch.hpp"

namespace cbdc::test {

constexpr std::string_view k_build = CBDC_BUILD_DIR;
constexpr std::uint32_t k_shards = 3;

inline auto wait_until(const std::function<bool()>& done, int timeout_ms) -> bool {
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
  deployment()
      : issuer(key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xee))),
        hkd_issuer(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xee))) {
    std::mt19937 rng(std::random_device{}());
    base_port = 20000 + static_cast<int>(rng() % 12000);
    dir = std::filesystem::temp_directory_path() / ("cbdc_shards_" + coord_db.name());
    std::filesystem::create_directories(dir);
    for (std::uint32_t i = 0; i < k_shards; ++i) {
      shard_eps.push_back("tcp://127.0.0.1:" + std::to_string(base_port + static_cast<int>(i)));
    }
    coord_ep = "tcp://127.0.0.1:" + std::to_string(base_port + 10);
    pboc_ep = "tcp://127.0.0.1:" + std::to_string(base_port + 20);
    // The nodes: the shards, the coordinator, and the in-process nodes of the tests (a bank
    // submitting, a central bank and a dealer for the cross-border test).
    roster = std::make_unique<node_roster>(dir / "nodes");
    for (std::uint32_t i = 0; i < k_shards; ++i) {
      REQUIRE(roster->add(shard_name(i), role::shard, {shard_eps[i]}).ok());
    }
    REQUIRE(roster->add("coordinator", role::coordinator, {coord_ep}).ok());
    REQUIRE(roster->add("cn-bank", role::bank).ok());
    REQUIRE(roster->add("pboc", role::issuer, {pboc_ep}).ok());
    REQUIRE(roster->add("dealer", role::dealer).ok());
    for (std::uint32_t i = 0; i < k_shards; ++i) {
      start_shard(i);
    }
    start_coordinator("");
    settlement::cluster where{shard_eps, coord_ep};
    auto opts = net("cn-bank");
    opts.timeout_ms = 4000;
    cli = std::make_unique<settlement::client>(where, opts);
  }
  static auto shard_name(std::uint32_t i) -> std::string { return "shard-" + std::to_string(i); }
  /// Socket options of an in-process node of the deployment.
  auto net(const std::string& name) -> socket_options {
    auto security = roster->security(name);
    REQUIRE(security.ok());
    socket_options opts;
    opts.security = *security;
    return opts;
  }
  static void add_flags(std::vector<std::string>& argv, const std::vector<std::string>& flags) {
    argv.insert(argv.end(), flags.begin(), flags.end());
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
    std::vector<std::string> argv{std::string{k_build} + "/settlement/cbdc-settle",
                                  "serve",
                                  "--db",
                                  shard_db[i].url(),
                                  "--bind",
                                  shard_eps[i],
                                  "--shard",
                                  std::to_string(i),
                                  "--shards",
                                  std::to_string(k_shards),
                                  "--coordinator",
                                  coord_ep,
                                  "--issuer",
                                  "CNY=" + issuer.pub().hex(),
                                  "--issuer",
                                  "HKD=" + hkd_issuer.pub().hex()};
    add_flags(argv, roster->flags(shard_name(i)));
    shards[i] = std::make_unique<child>(
        argv,
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
                                  "CNY=" + issuer.pub().hex(),
                                  "--issuer",
                                  "HKD=" + hkd_issuer.pub().hex()};
    if (!crash_after.empty()) {
      argv.emplace_back("--crash-after");
      argv.push_back(crash_after);
    }
    add_flags(argv, roster->flags("coordinator"));
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

  /// Mints amount (CNY, or HKD) to owner in one token; returns the token id.
  auto mint(const public_key& owner, std::int64_t amount, std::uint64_t nonce,
            currency cur = currency::cny) -> hash256 {
    transaction tx;
    tx.kind = tx_kind::issue;
    tx.nonce = nonce;
    tx.outputs = {tx_output{cur, amount, owner}};
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(cur == currency::cny ? issuer : hkd_issuer);
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

  auto balance(const public_key& who, currency cur = currency::cny) -> std::int64_t {
    auto unspent = cli->list_unspent(who);
    REQUIRE(unspent.ok());
    std::int64_t sum = 0;
    for (const auto& t : *unspent) {
      sum += t.cur == cur ? t.amount_minor : 0;
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
  key_pair issuer;      ///< of CNY
  key_pair hkd_issuer;  ///< of HKD
  int base_port{0};
  int starts{0};
  std::filesystem::path dir;
  std::vector<std::string> shard_eps;
  std::string coord_ep;
  std::string pboc_ep;  ///< where an in-process central bank serves
  std::unique_ptr<node_roster> roster;
  std::unique_ptr<child> shards[k_shards];
  std::unique_ptr<child> coordinator;
  std::unique_ptr<settlement::client> cli;
};

}  // namespace cbdc::test
