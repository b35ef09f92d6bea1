// A cross-border PvP whose two legs live on different settlement shards, with the coordinator
// killed between PREPARE and its decision: neither leg settles, and once the dealer sends its
// recorded transaction again, both do.
#include "fx/dealer.hpp"
#include "issuer/issuer.hpp"
#include "issuer/server.hpp"
#include "tests/support/shards.hpp"

using namespace cbdc;
using namespace cbdc::test;

TEST_CASE("a PvP across shards settles both legs or neither when the coordinator dies",
          "[e2e][fx]") {
  deployment d;
  const auto payer = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x61));
  const auto merchant = key_pair::from_seed(profile::ed25519, indexed_seed(2, 0x61));
  const auto dealer_key = key_pair::from_seed(profile::ed25519, indexed_seed(3, 0x61));
  // The payer's CNY and the dealer's HKD on two different shards.
  const auto cny_coin = d.mint(payer.pub(), 100'000, 1);
  hash256 hkd_coin;
  for (std::uint64_t nonce = 1;; ++nonce) {
    hkd_coin = d.mint(dealer_key.pub(), 80'000, nonce, currency::hkd);
    if (shard_of(hkd_coin, k_shards) != shard_of(cny_coin, k_shards)) {
      break;
    }
  }
  const auto payer_shard = shard_of(cny_coin, k_shards);
  const auto dealer_shard = shard_of(hkd_coin, k_shards);

  std::string spec;
  for (const auto& ep : d.shard_eps) {
    spec += (spec.empty() ? "" : ",") + ep;
  }
  spec += "@" + d.coord_ep;
  // The PBoC clears the CNY leg; it knows the payer's bank.
  pg_scratch pboc_db;
  issuer::issuer_config pboc;
  pboc.db_url = pboc_db.url();
  pboc.settle_endpoint = spec;
  pboc.endpoint = d.pboc_ep;
  pboc.net = d.net("pboc");
  {
    auto iss = issuer::issuer::open(pboc, d.issuer);
    REQUIRE(iss.ok());
    REQUIRE((*iss)->add_bank("cn-bank", payer.pub(), true).ok());
  }
  auto pboc_svc = issuer::server::start(pboc, d.issuer);
  REQUIRE(pboc_svc.ok());

  pg_scratch dealer_db;
  fx::dealer_config dc;
  dc.dealer_id = "dealer";
  dc.db_url = dealer_db.url();
  dc.settle_spec = spec;
  dc.settle_attempts = 1;  // the coordinator is down: no need to wait for more answers
  dc.net = d.net("dealer");
  REQUIRE(dc.add_rate("CNY/HKD=1.0870").ok());
  dc.central_banks[currency::cny] = (*pboc_svc)->endpoint();
  auto desk = fx::dealer::open(dc, dealer_key);
  REQUIRE(desk.ok());

  const std::int64_t now = 1'700'000'000'000'000;
  auto q = (*desk)->request_quote("cn-bank", currency::cny, currency::hkd, 50'000, false, now);
  REQUIRE(q.ok());
  auto unspent = d.cli->list_unspent(payer.pub());
  REQUIRE(unspent.ok());
  auto tx = fx::build_pvp(*q, payer, *unspent, merchant.pub(), 5);
  REQUIRE(tx.ok());

  d.start_coordinator("prepare");
  auto lost = (*desk)->execute(q->quote_id, *tx, now);
  CHECK_FALSE(lost.ok());  // the coordinator died before answering
  REQUIRE(d.coordinator->wait_for_output("crash after prepare", 5000));
  CHECK(d.prepared_count(payer_shard) == 1);
  CHECK(d.prepared_count(dealer_shard) == 1);
  CHECK(d.balance(merchant.pub(), currency::hkd) == 0);

  // Restarted, the coordinator aborts both prepared parts: neither leg settled.
  d.start_coordinator("");
  REQUIRE(wait_until(
      [&] { return d.prepared_count(payer_shard) == 0 && d.prepared_count(dealer_shard) == 0; },
      20'000));
  CHECK(d.balance(payer.pub(), currency::cny) == 100'000);
  CHECK(d.balance(dealer_key.pub(), currency::hkd) == 80'000);
  CHECK(d.balance(merchant.pub(), currency::hkd) == 0);
  CHECK(d.balance(dealer_key.pub(), currency::cny) == 0);

  // The dealer recorded the execution: when the payer asks again, it sends the recorded
  // transaction again, and both legs settle.
  auto retried = (*desk)->execute(q->quote_id, *tx, now);
  REQUIRE(retried.ok());
  CHECK(retried->status == status_code::already_settled);
  CHECK(d.balance(merchant.pub(), currency::hkd) == 50'000);
  CHECK(d.balance(dealer_key.pub(), currency::hkd) == 30'000);
  CHECK(d.balance(dealer_key.pub(), currency::cny) == q->pay.minor());
  CHECK(d.balance(payer.pub(), currency::cny) == 100'000 - q->pay.minor());
  auto again = (*desk)->execute(q->quote_id, *tx, now);
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  for (const auto cur : {currency::cny, currency::hkd}) {
    auto supply = d.cli->supply(cur);
    REQUIRE(supply.ok());
    CHECK(supply->issued_minor == supply->unspent_minor);
  }
}
