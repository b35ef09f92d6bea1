// A settlement shard over real PostgreSQL and ZeroMQ: submission, queries, batching, recovery.
#include <algorithm>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "core/crypto.hpp"
#include "payment/build.hpp"
#include "settlement/client.hpp"
#include "settlement/ledger.hpp"
#include "settlement/notify.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"
#include "tests/support/seeds.hpp"

using namespace cbdc;
using cbdc::test::seed_of;
using settlement::receipt;

namespace {

/// An issuance of amount to `to`, signed by the issuer's key.
auto signed_mint(const key_pair& issuer, const public_key& to, std::int64_t amount,
                 std::uint64_t nonce) -> signed_tx {
  transaction tx;
  tx.prof = issuer.pub().prof;
  tx.kind = tx_kind::issue;
  tx.nonce = nonce;
  tx.outputs = {tx_output{currency::cny, amount, to}};
  auto stx = signed_tx::make(std::move(tx));
  stx.sign_with(issuer);
  return stx;
}

/// Settlement's store on a scratch database, migrated.
auto migrated_store(const test::pg_scratch& db) -> std::unique_ptr<settlement::store> {
  auto opened = settlement::store::open(db.url());
  REQUIRE(opened.ok());
  REQUIRE((*opened)->migrate().ok());
  return std::move(*opened);
}

/// A settlement service on a scratch database, an issuer key, and a bank's client, with
/// authentication on (every node a CURVE key in the nodes file).
struct world {
  explicit world(profile prof = profile::ed25519, std::size_t queue = 50'000,
                 unsigned verifiers = 0)
      : issuer(key_pair::from_seed(prof, seed_of(9))),
        alice(key_pair::from_seed(prof, seed_of(1))),
        bob(key_pair::from_seed(prof, seed_of(2))) {
    config.db_url = db.url();
    config.endpoint = "tcp://127.0.0.1:0";
    config.engine.prof = prof;
    config.engine.issuers[currency::cny] = issuer.pub();
    config.engine.queue_capacity = queue;
    config.engine.verify_threads = verifiers;
    config.pub_endpoint = "tcp://127.0.0.1:0";
    nodes.add("settle", role::shard).add("cn-bank", role::bank);
    config.net = nodes.server("settle");
    start();
  }
  void start() {
    auto s = settlement::server::start(config);
    REQUIRE(s.ok());
    svc = std::move(*s);
    client = std::make_unique<settlement::client>(svc->endpoint(), bank_net());
  }
  void restart() {
    client.reset();
    svc.reset();
    start();
  }

  /// The bank's identity towards settlement.
  auto bank_net() -> socket_options { return nodes.client("cn-bank", "settle"); }

  auto issue(const public_key& to, std::int64_t amount, std::uint64_t nonce) -> signed_tx {
    return signed_mint(issuer, to, amount, nonce);
  }
  auto submit(const signed_tx& tx) -> receipt {
    auto r = client->submit(tx, "test");
    REQUIRE(r.ok());
    return *r;
  }
  auto pay(const key_pair& from, const public_key& to, std::int64_t amount, std::uint64_t nonce)
      -> signed_tx {
    auto unspent = client->list_unspent(from.pub());
    REQUIRE(unspent.ok());
    auto tx = payment::build_payment(from, *unspent, to, money{amount, currency::cny}, nonce, "");
    REQUIRE(tx.ok());
    return *tx;
  }
  auto balance(const key_pair& who) -> std::int64_t {
    auto unspent = client->list_unspent(who.pub());
    REQUIRE(unspent.ok());
    auto sums = payment::totals(*unspent);
    REQUIRE(sums.ok());
    return (*sums)[currency::cny];
  }

  test::pg_scratch db;
  test::test_nodes nodes;
  key_pair issuer;
  key_pair alice;
  key_pair bob;
  settlement::server_config config;
  std::unique_ptr<settlement::server> svc;
  std::unique_ptr<settlement::client> client;
};

}  // namespace

TEST_CASE("settlement answers alike in process and over the wire", "[settlement][integration]") {
  world w;
  // The shard itself, then a bank's client to it: one set of checks through the interface.
  const bool over_wire = GENERATE(false, true);
  settlement::interface& settle =
      over_wire ? static_cast<settlement::interface&>(*w.client) : w.svc->shard_ref();
  INFO((over_wire ? "over the wire" : "in process"));
  const auto payer = key_pair::from_seed(profile::ed25519, seed_of(over_wire ? 31 : 32));
  const auto payee = key_pair::from_seed(profile::ed25519, seed_of(over_wire ? 33 : 34));
  const auto supply_before = settle.supply(currency::cny);
  REQUIRE(supply_before.ok());

  const auto mint = w.issue(payer.pub(), 50'000, over_wire ? 301 : 302);
  std::promise<result<receipt>> answered;
  settle.submit_async(mint, "mint", [&](result<receipt> r) { answered.set_value(std::move(r)); });
  const auto minted = answered.get_future().get();
  REQUIRE(minted.ok());
  REQUIRE(minted->status == status_code::ok);
  const auto again = settle.submit(mint, "mint");
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  CHECK(again->batch_seq == minted->batch_seq);

  const auto got = settle.get_tx(mint.id);
  REQUIRE(got.ok());
  CHECK(got->settled());
  CHECK(got->batch_seq == minted->batch_seq);
  const auto stx = settle.get_signed_tx(mint.id);
  REQUIRE(stx.ok());
  CHECK(stx->id == mint.id);
  const auto token_id = token_id_of(mint.tx.prof, mint.id, 0);
  const auto token = settle.get_token(token_id);
  REQUIRE(token.ok());
  CHECK(token->amount_minor == 50'000);
  CHECK(token->owner == payer.pub());
  CHECK(!token->spent);

  const auto paid = payment::pay(settle, payer, payee.pub(), money{12'345, currency::cny}, "x");
  REQUIRE(paid.ok());
  REQUIRE(paid->status == status_code::ok);
  CHECK(settle.get_token(token_id)->spent);
  const auto listed = settle.list_unspent(payer.pub());
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().amount_minor == 50'000 - 12'345);
  const auto sums = settle.balances({payer.pub(), payee.pub(), w.bob.pub()}, currency::cny);
  REQUIRE(sums.ok());
  CHECK(*sums == std::vector<std::int64_t>{50'000 - 12'345, 12'345, 0});
  CHECK(settle.balances({payer.pub()}, currency::hkd)->front() == 0);
  const auto supply_after = settle.supply(currency::cny);
  REQUIRE(supply_after.ok());
  CHECK(supply_after->issued_minor == supply_before->issued_minor + 50'000);
  CHECK(supply_after->unspent_minor == supply_before->unspent_minor + 50'000);

  const auto page = settle.settled_since(0, minted->batch_seq - 1);
  REQUIRE(page.ok());
  std::set<std::string> ids;
  for (const auto& t : page->txs) {
    ids.insert(t.tx_id());
  }
  CHECK(ids.contains(id_to_wire(mint.id)));
  CHECK(ids.contains(id_to_wire(paid->tx_id)));
  CHECK(page->through_batch_seq >= paid->batch_seq);

  // Refusals: typed, and the same either way.
  auto replay = payment::build_payment(payer, {*token}, payee.pub(), money{1, currency::cny},
                                       over_wire ? 303 : 304, "");
  REQUIRE(replay.ok());
  const auto refused = settle.submit(*replay, "replay");
  REQUIRE(refused.ok());
  CHECK(refused->status == status_code::input_spent);
  const hash256 unknown{};
  CHECK(settle.get_tx(unknown).code() == status_code::not_found);
  CHECK(settle.get_signed_tx(unknown).code() == status_code::not_found);
  CHECK(settle.get_token(unknown).code() == status_code::not_found);
  CHECK(settle.settled_since(7, 0).code() == status_code::bad_request);
  CHECK(settle.shard_count() == 1);
}

TEST_CASE("issue pay and query", "[settlement][integration]") {
  world w;
  const auto mint = w.issue(w.alice.pub(), 100'000, 1);
  const auto minted = w.submit(mint);
  REQUIRE(minted.status == status_code::ok);
  CHECK(minted.batch_seq >= 1);
  CHECK(minted.tx_id == mint.id);

  const auto pay = w.pay(w.alice, w.bob.pub(), 1234, 2);
  const auto paid = w.submit(pay);
  REQUIRE(paid.status == status_code::ok);
  CHECK(paid.batch_seq > minted.batch_seq);
  CHECK(w.balance(w.alice) == 100'000 - 1234);
  CHECK(w.balance(w.bob) == 1234);

  auto looked_up = w.client->get_tx(pay.id);
  REQUIRE(looked_up.ok());
  CHECK(looked_up->batch_seq == paid.batch_seq);
  CHECK(w.client->get_tx(hash256{}).code() == status_code::not_found);

  auto spent = w.client->get_token(token_id_of(profile::ed25519, mint.id, 0));
  REQUIRE(spent.ok());
  CHECK(spent->spent);
  CHECK(spent->spent_by == pay.id);
  auto fresh = w.client->get_token(token_id_of(profile::ed25519, pay.id, 0));
  REQUIRE(fresh.ok());
  CHECK_FALSE(fresh->spent);
  CHECK(fresh->amount_minor == 1234);
  CHECK(w.client->get_token(hash256{}).code() == status_code::not_found);

  auto supply = w.client->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor == 100'000);
  CHECK(supply->redeemed_minor == 0);
  CHECK(supply->unspent_minor == 100'000);
}

TEST_CASE("an auditor's account is checked against the ledger: each kind of disagreement counted",
          "[settlement][integration]") {
  world w;
  const auto mint = w.issue(w.alice.pub(), 100'000, 1);
  REQUIRE(w.submit(mint).status == status_code::ok);
  const auto pay = w.pay(w.alice, w.bob.pub(), 1234, 2);
  REQUIRE(w.submit(pay).status == status_code::ok);
  const std::vector<hash256> pay_inputs = pay.tx.inputs;
  const auto check = [&](const std::function<void(settlement::ledger_check&)>& account) {
    auto ledger = settlement::ledger_check::open(w.db.url());
    REQUIRE(ledger.ok());
    account(**ledger);
    auto found = (*ledger)->finish();
    REQUIRE(found.ok());
    return *found;
  };
  // The true account: nothing found.
  auto f = check([&](settlement::ledger_check& l) {
    REQUIRE(l.acknowledged(pay.id, pay_inputs).ok());
    REQUIRE(l.expect_balance(w.alice.pub(), 100'000 - 1234).ok());
    REQUIRE(l.expect_balance(w.bob.pub(), 1234).ok());
  });
  CHECK(f.acknowledged == 1);
  CHECK(f.inputs == pay_inputs.size());
  CHECK(f.balances == 2);
  CHECK((f.missing | f.not_spent_by_it | f.spent_twice | f.balances_off) == 0);
  // A payment the ledger never settled, an input another payment spent, the same input named
  // by two acknowledged payments, a balance the ledger does not hold.
  hash256 never;
  never.data.fill(0x5a);
  f = check([&](settlement::ledger_check& l) {
    REQUIRE(l.acknowledged(pay.id, pay_inputs).ok());
    REQUIRE(l.acknowledged(never, pay_inputs).ok());
    REQUIRE(l.expect_balance(w.bob.pub(), 1235).ok());
    REQUIRE(l.expect_balance(w.issuer.pub(), 0).ok());
  });
  CHECK(f.acknowledged == 2);
  CHECK(f.missing == 1);
  CHECK(f.not_spent_by_it == pay_inputs.size());
  CHECK(f.spent_twice == pay_inputs.size());
  CHECK(f.balances_off == 1);
  // A check only reads: the ledger is as it was.
  CHECK(w.balance(w.bob) == 1234);
  CHECK(settlement::ledger_check::open("postgresql:///no_such_db?host=/nonexistent").code() ==
        status_code::unavailable);
}

TEST_CASE("already_settled returns the first receipt for issuance and transfers",
          "[settlement][integration]") {
  world w;
  const auto mint = w.issue(w.alice.pub(), 5000, 1);
  const auto first = w.submit(mint);
  REQUIRE(first.status == status_code::ok);
  const auto again = w.submit(mint);
  CHECK(again.status == status_code::already_settled);
  CHECK(again.batch_seq == first.batch_seq);
  CHECK(again.settled_at_us == first.settled_at_us);

  const auto pay = w.pay(w.alice, w.bob.pub(), 100, 2);
  const auto paid = w.submit(pay);
  REQUIRE(paid.status == status_code::ok);
  const auto repaid = w.submit(pay);
  CHECK(repaid.status == status_code::already_settled);
  CHECK(repaid.batch_seq == paid.batch_seq);
  CHECK(w.balance(w.bob) == 100);
}

TEST_CASE("the same transaction twice in one batch settles once", "[settlement][integration]") {
  world w;
  REQUIRE(w.submit(w.issue(w.alice.pub(), 5000, 1)).status == status_code::ok);
  const auto pay = w.pay(w.alice, w.bob.pub(), 100, 2);
  std::promise<result<receipt>> a;
  std::promise<result<receipt>> b;
  w.client->submit_async(pay, "x", [&](result<receipt> r) { a.set_value(std::move(r)); });
  w.client->submit_async(pay, "x", [&](result<receipt> r) { b.set_value(std::move(r)); });
  const auto ra = a.get_future().get();
  const auto rb = b.get_future().get();
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  std::multiset<status_code> statuses{ra->status, rb->status};
  CHECK(statuses == std::multiset<status_code>{status_code::ok, status_code::already_settled});
  CHECK(ra->batch_seq == rb->batch_seq);
  CHECK(w.balance(w.bob) == 100);
}

TEST_CASE("input_spent: a double spend is refused", "[settlement][integration]") {
  world w;
  REQUIRE(w.submit(w.issue(w.alice.pub(), 5000, 1)).status == status_code::ok);
  const auto first = w.pay(w.alice, w.bob.pub(), 100, 2);
  const auto second = w.pay(w.alice, w.bob.pub(), 200, 3);  // same input, other content
  REQUIRE(w.submit(first).status == status_code::ok);
  const auto refused = w.submit(second);
  CHECK(refused.status == status_code::input_spent);
  CHECK(refused.detail.find(first.id.hex()) != std::string::npos);
  CHECK(w.balance(w.bob) == 100);
}

TEST_CASE("input_unknown value_not_conserved currency_mismatch", "[settlement][integration]") {
  world w;
  const auto mint = w.issue(w.alice.pub(), 5000, 1);
  REQUIRE(w.submit(mint).status == status_code::ok);
  const auto coin = token_id_of(profile::ed25519, mint.id, 0);
  auto make = [&](std::vector<hash256> inputs, std::vector<tx_output> outputs) {
    transaction tx;
    tx.kind = tx_kind::transfer;
    tx.nonce = 77;
    tx.inputs = std::move(inputs);
    tx.outputs = std::move(outputs);
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(w.alice);
    return stx;
  };
  hash256 nowhere;
  nowhere.data.fill(0xab);
  CHECK(w.submit(make({nowhere}, {tx_output{currency::cny, 1, w.bob.pub()}})).status ==
        status_code::input_unknown);
  CHECK(w.submit(make({coin}, {tx_output{currency::cny, 5001, w.bob.pub()}})).status ==
        status_code::value_not_conserved);
  CHECK(w.submit(make({coin}, {tx_output{currency::cny, 4999, w.bob.pub()}})).status ==
        status_code::value_not_conserved);
  CHECK(w.submit(make({coin}, {tx_output{currency::hkd, 5000, w.bob.pub()}})).status ==
        status_code::currency_mismatch);
  // Nothing was spent by the refusals.
  CHECK(w.balance(w.alice) == 5000);
}

TEST_CASE("missing_signature and bad_signature against the owners", "[settlement][integration]") {
  world w;
  REQUIRE(w.submit(w.issue(w.alice.pub(), 5000, 1)).status == status_code::ok);
  auto pay = w.pay(w.alice, w.bob.pub(), 100, 2);
  auto by_bob = pay;
  by_bob.sigs.clear();
  by_bob.sign_with(w.bob);  // a valid signature, but not the owner's
  CHECK(w.submit(by_bob).status == status_code::missing_signature);
  auto extra = pay;
  extra.sign_with(w.bob);  // the owner's and a stranger's
  CHECK(w.submit(extra).status == status_code::bad_signature);
  auto forged = pay;
  forged.sigs[0].sig[0] ^= 1U;
  CHECK(w.submit(forged).status == status_code::bad_signature);
  CHECK(w.submit(pay).status == status_code::ok);
}

TEST_CASE("issuance only under the currency's issuer key", "[settlement][integration]") {
  world w;
  transaction tx;
  tx.kind = tx_kind::issue;
  tx.nonce = 5;
  tx.outputs = {tx_output{currency::cny, 100, w.alice.pub()}};
  auto self_issued = signed_tx::make(tx);
  self_issued.sign_with(w.alice);
  CHECK(w.submit(self_issued).status == status_code::missing_signature);
  tx.outputs = {tx_output{currency::hkd, 100, w.alice.pub()}};
  auto foreign = signed_tx::make(tx);
  foreign.sign_with(w.issuer);
  CHECK(w.submit(foreign).status == status_code::not_permitted);
  CHECK(w.balance(w.alice) == 0);
}

TEST_CASE("malformed and too_large bodies from the wire", "[settlement][integration]") {
  world w;
  rpc_client raw(w.svc->endpoint(), w.bank_net());
  auto send_body = [&](const std::string& body) {
    wire::Envelope req;
    req.mutable_submit_tx()->mutable_tx()->set_body(body);
    auto answer = raw.call(std::move(req));
    REQUIRE(answer.ok());
    REQUIRE(answer->payload_case() == wire::Envelope::kReceipt);
    return static_cast<status_code>(answer->receipt().status());
  };
  CHECK(send_body("garbage") == status_code::malformed);
  std::string many = "CBTX";
  many += std::string{'\x01', '\x01', '\x02'};
  many += std::string(8, '\0');
  many += std::string{'\x01', '\x01'};  // 257 inputs
  CHECK(send_body(many) == status_code::too_large);
}

TEST_CASE("redemption needs the issuer and reduces the supply", "[settlement][integration]") {
  world w;
  const auto mint = w.issue(w.alice.pub(), 5000, 1);
  REQUIRE(w.submit(mint).status == status_code::ok);
  transaction tx;
  tx.kind = tx_kind::redeem;
  tx.inputs = {token_id_of(profile::ed25519, mint.id, 0)};
  auto owner_only = signed_tx::make(tx);
  owner_only.sign_with(w.alice);
  CHECK(w.submit(owner_only).status == status_code::missing_signature);
  auto both = signed_tx::make(tx);
  both.sign_with(w.alice);
  both.sign_with(w.issuer);
  CHECK(w.submit(both).status == status_code::ok);
  auto supply = w.client->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor == 5000);
  CHECK(supply->redeemed_minor == 5000);
  CHECK(supply->unspent_minor == 0);
}

TEST_CASE("a restart reloads the unspent set from PostgreSQL", "[settlement][integration]") {
  world w;
  REQUIRE(w.submit(w.issue(w.alice.pub(), 5000, 1)).status == status_code::ok);
  const auto pay = w.pay(w.alice, w.bob.pub(), 1500, 2);
  REQUIRE(w.submit(pay).status == status_code::ok);
  const auto before = w.svc->engine_ref().unspent_count();
  w.restart();
  CHECK(w.svc->engine_ref().unspent_count() == before);
  CHECK(w.submit(pay).status == status_code::already_settled);
  const auto next = w.pay(w.bob, w.alice.pub(), 500, 3);
  CHECK(w.submit(next).status == status_code::ok);
  CHECK(w.balance(w.alice) == 4000);
  CHECK(w.balance(w.bob) == 1000);
}

TEST_CASE("a key's unspent tokens are listed from memory as PostgreSQL has them",
          "[settlement][integration]") {
  world w;
  // 40 tokens of 100, 101, ... fen: the owner's list grows past several capacities.
  for (std::uint64_t i = 0; i < 40; ++i) {
    REQUIRE(w.submit(w.issue(w.alice.pub(), 100 + static_cast<std::int64_t>(i), 10 + i)).status ==
            status_code::ok);
  }
  // Alice spends her 30 largest to Bob, then Bob pays some back: spent ids leave both lists.
  REQUIRE(w.submit(w.pay(w.alice, w.bob.pub(), 3000, 100)).status == status_code::ok);
  REQUIRE(w.submit(w.pay(w.bob, w.alice.pub(), 700, 101)).status == status_code::ok);

  const auto listed = w.client->list_unspent(w.alice.pub());
  REQUIRE(listed.ok());
  pqxx::connection conn(w.db.url());
  pqxx::read_transaction x(conn);
  const auto rows = x.exec_params(
      "SELECT encode(t.token_id, 'hex'), t.amount_minor FROM settlement.token AS t WHERE "
      "t.owner_key = "
      "decode($1, 'hex') AND NOT EXISTS (SELECT 1 FROM settlement.spent AS s WHERE s.token_id = "
      "t.token_id) ORDER BY t.amount_minor DESC, t.token_id",
      w.alice.pub().hex());
  REQUIRE(listed->size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK((*listed)[i].token_id.hex() == rows[i][0].as<std::string>());
    CHECK((*listed)[i].amount_minor == rows[i][1].as<std::int64_t>());
    CHECK((*listed)[i].owner == w.alice.pub());
  }
  CHECK(w.balance(w.alice) == 40 * 100 + 39 * 40 / 2 - 3000 + 700);

  // A limit keeps the largest.
  const auto top = w.client->list_unspent(w.alice.pub(), 3);
  REQUIRE(top.ok());
  REQUIRE(top->size() == 3);
  CHECK((*top)[0].token_id == (*listed)[0].token_id);
  CHECK((*top)[2].token_id == (*listed)[2].token_id);

  // A key that never held anything lists nothing; a restart lists the same.
  CHECK(w.client->list_unspent(w.issuer.pub())->empty());
  w.restart();
  const auto again = w.client->list_unspent(w.alice.pub());
  REQUIRE(again.ok());
  REQUIRE(again->size() == listed->size());
  CHECK(std::equal(again->begin(), again->end(), listed->begin(),
                   [](const auto& a, const auto& b) { return a.token_id == b.token_id; }));
}

TEST_CASE("sm2 deployments settle and a full queue answers overloaded",
          "[settlement][integration]") {
  world w(profile::sm2, /*queue=*/2, /*verifiers=*/1);
  constexpr int k_count = 200;
  std::vector<signed_tx> mints;
  mints.reserve(k_count);
  for (std::uint64_t i = 1; i <= k_count; ++i) {
    mints.push_back(w.issue(w.alice.pub(), 100, i));
  }
  std::vector<std::promise<result<receipt>>> done(k_count);
  for (int i = 0; i < k_count; ++i) {
    w.client->submit_async(mints[static_cast<std::size_t>(i)], "", [&, i](result<receipt> r) {
      done[static_cast<std::size_t>(i)].set_value(std::move(r));
    });
  }
  int ok = 0;
  int overloaded = 0;
  for (auto& d : done) {
    auto r = d.get_future().get();
    REQUIRE(r.ok());
    ok += r->status == status_code::ok ? 1 : 0;
    overloaded += r->status == status_code::overloaded ? 1 : 0;
  }
  CHECK(ok + overloaded == k_count);
  CHECK(ok > 0);
  CHECK(overloaded > 0);
  CHECK(w.balance(w.alice) == std::int64_t{100} * ok);
  // An overloaded transaction was not settled and can be sent again.
  CHECK(w.client->supply(currency::cny)->issued_minor == std::int64_t{100} * ok);
}

TEST_CASE("settled transactions are published to the payee's topic", "[settlement][integration]") {
  world w;
  settlement::subscriber bob_sub(
      w.svc->pub_endpoint(), {settlement::settled_topic(currency::cny, w.bob.pub())}, w.bank_net());
  settlement::subscriber all_sub(w.svc->pub_endpoint(), {"CNY:"}, w.bank_net());
  std::this_thread::sleep_for(std::chrono::milliseconds{300});  // let the subscriptions arrive
  const auto mint = w.issue(w.alice.pub(), 5000, 1);
  REQUIRE(w.submit(mint).status == status_code::ok);
  const auto pay = w.pay(w.alice, w.bob.pub(), 1234, 2);
  const auto paid = w.submit(pay);
  REQUIRE(paid.status == status_code::ok);

  auto got = bob_sub.next(5000);
  REQUIRE(got.has_value());
  CHECK(got->tx_id() == id_to_wire(pay.id));  // bob's topic never carried the mint
  CHECK(got->batch_seq() == paid.batch_seq);
  REQUIRE(got->outputs_size() == 2);
  CHECK(got->outputs(0).amount_minor() == 1234);
  REQUIRE(got->spent_size() == 1);
  CHECK(got->spent(0) == id_to_wire(token_id_of(profile::ed25519, mint.id, 0)));

  auto first = all_sub.next(5000);
  REQUIRE(first.has_value());
  CHECK(first->tx_id() == id_to_wire(mint.id));
}

TEST_CASE("a prepared cross-shard part holds its inputs until resolved",
          "[settlement][integration]") {
  world w;
  const auto mint = w.issue(w.alice.pub(), 5000, 1);
  REQUIRE(w.submit(mint).status == status_code::ok);
  const auto held = w.pay(w.alice, w.bob.pub(), 5000, 2);
  const auto other = w.pay(w.alice, w.alice.pub(), 5000, 3);  // the same input
  auto prepare = [&](const std::string& gid, const signed_tx& tx) {
    std::promise<error> done;
    w.svc->engine_ref().prepare(
        gid, tx, [&](const error& e, const std::vector<settlement::token_info>& in) {
          CHECK(in.size() == (e.code == status_code::ok ? tx.tx.inputs.size() : 0U));
          done.set_value(e);
        });
    return done.get_future().get();
  };
  auto resolve = [&](const std::string& gid, bool commit) {
    std::promise<error> done;
    w.svc->engine_ref().resolve(gid, commit, [&](const error& e) { done.set_value(e); });
    return done.get_future().get();
  };
  const std::string gid = "cbdc-" + random_hex(16);
  REQUIRE(prepare(gid, held).code == status_code::ok);

  // While prepared, the input is locked for everyone else: a transient refusal. Listing shows
  // only what can be spent now, so it is not listed.
  CHECK(w.balance(w.alice) == 0);
  const auto locked = w.submit(other);
  CHECK(locked.status == status_code::input_locked);
  CHECK(is_transient(locked.status));
  CHECK(prepare("cbdc-" + random_hex(16), other).code == status_code::input_locked);

  // Abort: the input is free again; a repeated abort is answered ok.
  REQUIRE(resolve(gid, false).code == status_code::ok);
  CHECK(resolve(gid, false).code == status_code::ok);
  CHECK(w.balance(w.alice) == 5000);

  // Prepare again and commit: the payee has it, once.
  const std::string gid2 = "cbdc-" + random_hex(16);
  REQUIRE(prepare(gid2, held).code == status_code::ok);
  REQUIRE(resolve(gid2, true).code == status_code::ok);
  CHECK(w.balance(w.bob) == 5000);
  CHECK(w.balance(w.alice) == 0);
  CHECK(w.submit(held).status == status_code::already_settled);
  CHECK(w.submit(other).status == status_code::input_spent);
}

TEST_CASE("the store refuses a batch spending a token it does not hold, writing nothing",
          "[settlement][integration]") {
  test::pg_scratch db;
  const auto opened = migrated_store(db);
  auto& store = *opened;
  const auto issuer = key_pair::from_seed(profile::ed25519, seed_of(9));
  const auto alice = key_pair::from_seed(profile::ed25519, seed_of(1));
  const auto minted = signed_mint(issuer, alice.pub(), 700, 1);
  REQUIRE(store
              .commit_batch(
                  1, 1'000,
                  {settlement::commit_item{&minted, "m", {}, settlement::all_outputs(minted)}})
              .ok());
  const auto count = [&db](const char* table) {
    pqxx::connection conn(db.url());
    pqxx::read_transaction x(conn);
    return x.exec1(std::string{"SELECT count(*) FROM settlement."} + table)[0].as<int>();
  };
  const auto held = token_id_of(profile::ed25519, minted.id, 0);
  const auto spend = [&](const std::vector<hash256>& inputs, std::uint64_t nonce,
                         std::uint64_t seq) {
    transaction pay;
    pay.prof = profile::ed25519;
    pay.kind = tx_kind::transfer;
    pay.nonce = nonce;
    std::vector<settlement::token_info> infos;
    for (const auto& id : inputs) {
      pay.inputs.push_back(id);
      settlement::token_info info;
      info.token_id = id;
      info.amount_minor = 700;
      info.owner = alice.pub();
      infos.push_back(info);
    }
    pay.outputs = {tx_output{currency::cny, 700, alice.pub()}};
    auto stx = signed_tx::make(std::move(pay));
    stx.sign_with(alice);
    return store.commit_batch(
        seq, 2'000, {settlement::commit_item{&stx, "p", infos, settlement::all_outputs(stx)}});
  };
  hash256 unknown;
  unknown.data.fill(0x5a);
  const auto refused = spend({held, unknown}, 2, 2);
  CHECK(refused.code() == status_code::db_error);
  CHECK_THAT(refused.err().message, Catch::Contains("not in settlement.token"));
  CHECK(count("tx") == 1);
  CHECK(count("token") == 1);
  CHECK(count("spent") == 0);
  // The token it holds is still spendable, once.
  CHECK(spend({held}, 3, 3).ok());
  CHECK(count("spent") == 1);
  CHECK_FALSE(spend({held}, 4, 4).ok());
  CHECK(count("tx") == 2);
}

TEST_CASE("settled batches are read back in pages, whole batches in order, however sparse",
          "[settlement][integration]") {
  test::pg_scratch db;
  const auto opened = migrated_store(db);
  auto& store = *opened;
  const auto issuer = key_pair::from_seed(profile::ed25519, seed_of(9));
  const auto alice = key_pair::from_seed(profile::ed25519, seed_of(1));
  // Batches 1..40 of one mint each, 41 of three, then numbers far apart (a shard's numbers
  // have holes where 2PC parts rolled back): the read widens its window past them.
  std::vector<std::uint64_t> seqs;
  for (std::uint64_t b = 1; b <= 41; ++b) {
    seqs.push_back(b);
  }
  for (const std::uint64_t b : {500ULL, 501ULL, 5'000ULL, 70'000ULL}) {
    seqs.push_back(b);
  }
  std::vector<signed_tx> minted;
  std::map<hash256, std::uint64_t> batch_of;
  std::uint64_t nonce = 0;
  for (const auto b : seqs) {
    std::vector<signed_tx> batch;
    for (int i = 0; i < (b == 41 ? 3 : 1); ++i) {
      batch.push_back(signed_mint(issuer, alice.pub(), 100, ++nonce));
      batch_of[batch.back().id] = b;
    }
    std::vector<settlement::commit_item> items;
    items.reserve(batch.size());
    for (const auto& stx : batch) {
      items.push_back(settlement::commit_item{&stx, "m", {}, settlement::all_outputs(stx)});
    }
    REQUIRE(store.commit_batch(b, 1'000, items).ok());
  }
  const std::uint64_t last = seqs.back();
  for (const std::size_t limit :
       {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{200}}) {
    INFO("page limit " << limit);
    std::uint64_t after = 0;
    std::vector<std::uint64_t> read;  // batch of each transaction, as read
    std::set<hash256> seen;
    for (int pages = 0; pages < 200; ++pages) {
      auto page = store.settled_since(after, limit, 0, last);
      REQUIRE(page.ok());
      std::set<std::uint64_t> batches;
      for (const auto& [r, wire_tx] : page->txs) {
        CHECK(seen.insert(r.tx_id).second);  // each once
        CHECK(batch_of.at(r.tx_id) == r.batch_seq);
        read.push_back(r.batch_seq);
        batches.insert(r.batch_seq);
      }
      // Whole batches: at most `limit` transactions unless one batch alone holds more.
      CHECK((page->txs.size() <= limit || batches.size() == 1));
      if (!page->more) {
        break;
      }
      REQUIRE(page->through_batch_seq > after);
      after = page->through_batch_seq;
    }
    CHECK(seen.size() == batch_of.size());
    CHECK(std::is_sorted(read.begin(), read.end()));
    // Nothing after the last batch, and nothing numbered above last_seq is looked for.
    auto tail = store.settled_since(last, limit, 0, last);
    REQUIRE(tail.ok());
    CHECK(tail->txs.empty());
    CHECK_FALSE(tail->more);
  }
}

TEST_CASE("a payment spending an output of a batch still committing commits after that batch",
          "[settlement][integration]") {
  // A chain: each payment spends the previous one's output, each in a batch of its own, on two
  // commit threads, so the batch spending a token is often handed over while the batch writing
  // it is still committing. PostgreSQL refuses to record the spend of a token it does not see
  // (the engine would stop), so every payment settling shows the engine's ordering.
  test::pg_scratch db;
  {
    auto migrator = settlement::store::open(db.url());
    REQUIRE(migrator.ok());
    REQUIRE((*migrator)->migrate().ok());
  }
  const auto issuer = key_pair::from_seed(profile::ed25519, seed_of(9));
  const auto alice = key_pair::from_seed(profile::ed25519, seed_of(1));
  const auto bob = key_pair::from_seed(profile::ed25519, seed_of(2));
  settlement::engine_config config;
  config.issuers[currency::cny] = issuer.pub();
  config.max_batch = 1;
  config.batch_wait_ms = 0;
  config.verify_threads = 1;  // the chain reaches the batcher in order
  config.commit_threads = 2;
  auto started =
      settlement::engine::start(config, [&] { return settlement::store::open(db.url()); });
  REQUIRE(started.ok());
  auto& engine = **started;

  constexpr std::int64_t k_amount = 1'000;
  transaction mint;
  mint.prof = profile::ed25519;
  mint.kind = tx_kind::issue;
  mint.nonce = 1;
  mint.outputs = {tx_output{currency::cny, k_amount, alice.pub()}};
  std::vector<signed_tx> chain{signed_tx::make(std::move(mint))};
  chain.back().sign_with(issuer);
  constexpr int k_payments = 300;
  for (int i = 0; i < k_payments; ++i) {
    const auto& from = i % 2 == 0 ? alice : bob;
    const auto& to = i % 2 == 0 ? bob : alice;
    settlement::token_info held;
    held.token_id = token_id_of(profile::ed25519, chain.back().id, 0);
    held.amount_minor = k_amount;
    held.owner = from.pub();
    auto pay = payment::build_payment(from, {held}, to.pub(), money{k_amount, currency::cny},
                                      static_cast<std::uint64_t>(i) + 2, "");
    REQUIRE(pay.ok());
    chain.push_back(*pay);
  }

  std::mutex mutex;
  std::condition_variable all_done;
  std::vector<receipt> receipts(chain.size());
  std::size_t answered = 0;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    engine.submit(chain[i], "chain", [&, i](const receipt& r) {
      std::lock_guard lock(mutex);
      receipts[i] = r;
      ++answered;
      all_done.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    REQUIRE(all_done.wait_for(lock, std::chrono::seconds{60},
                              [&] { return answered == chain.size(); }));
  }
  for (std::size_t i = 0; i < chain.size(); ++i) {
    INFO("payment " << i);
    REQUIRE(receipts[i].status == status_code::ok);
    if (i > 0) {
      CHECK(receipts[i].batch_seq > receipts[i - 1].batch_seq);
    }
  }
  engine.stop();
  pqxx::connection conn(db.url());
  pqxx::read_transaction x(conn);
  CHECK(x.exec1("SELECT count(*) FROM settlement.spent")[0].as<int>() == k_payments);
  CHECK(x.exec1("SELECT count(*) FROM settlement.token AS t WHERE NOT EXISTS (SELECT 1 FROM "
                "settlement.spent AS s WHERE s.token_id = t.token_id)")[0]
            .as<int>() == 1);
}
