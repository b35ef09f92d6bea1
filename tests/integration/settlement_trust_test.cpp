// Settlement's trust boundary: who may send what (docs/protocol.md#roles), and the attacks an
// outside client tried (issue: trust boundaries), each refused with the audit holding and a
// valid payment settling afterwards.
#include <catch2/catch.hpp>
#include <limits>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "core/crypto.hpp"
#include "payment/build.hpp"
#include "settlement/client.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"
#include "tests/support/seeds.hpp"

using namespace cbdc;
using cbdc::test::seed_of;
using settlement::receipt;

namespace {

/// One shard with authentication on, and the nodes that talk to it.
struct secured_world {
  secured_world()
      : issuer(key_pair::from_seed(profile::ed25519, seed_of(9))),
        alice(key_pair::from_seed(profile::ed25519, seed_of(1))),
        bob(key_pair::from_seed(profile::ed25519, seed_of(2))),
        outsider(key_pair::from_seed(profile::ed25519, seed_of(66))) {
    nodes.add("settle", role::shard)
        .add("coord", role::coordinator)
        .add("cn-bank", role::bank)
        .add("pboc", role::issuer)
        .add("hk-shop-till", role::pos)
        .add("cn-bank/ops", role::operator_);
    config.db_url = db.url();
    config.endpoint = "tcp://127.0.0.1:0";
    config.engine.issuers[currency::cny] = issuer.pub();
    config.engine.max_prepared = 4;
    config.net = nodes.server("settle");
    start();
  }
  void start() {
    auto s = settlement::server::start(config);
    REQUIRE(s.ok());
    svc = std::move(*s);
    bank = std::make_unique<settlement::client>(svc->endpoint(), nodes.client("cn-bank", "settle"));
    coordinator = std::make_unique<rpc_client>(svc->endpoint(), nodes.client("coord", "settle"));
  }
  void restart() {
    bank.reset();
    coordinator.reset();
    svc.reset();
    start();
  }
  auto issue(const public_key& to, std::int64_t amount, std::uint64_t nonce,
             const key_pair* signer = nullptr) -> signed_tx {
    transaction tx;
    tx.kind = tx_kind::issue;
    tx.nonce = nonce;
    tx.outputs = {tx_output{currency::cny, amount, to}};
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(signer != nullptr ? *signer : issuer);
    return stx;
  }
  auto submit(const signed_tx& tx) -> receipt {
    auto r = bank->submit(tx, "test");
    REQUIRE(r.ok());
    return *r;
  }
  /// Sends a raw request as `who` (a node name) and returns the answer.
  auto call_as(const std::string& who, wire::Envelope req) -> result<wire::Envelope> {
    rpc_client c(svc->endpoint(), nodes.client(who, "settle"));
    return c.call(std::move(req));
  }
  auto prepare_as(rpc_client& c, const std::string& gid, const signed_tx& tx) -> error {
    wire::Envelope req;
    req.mutable_prepare()->set_gid(gid);
    *req.mutable_prepare()->mutable_tx() = to_wire(tx);
    auto answer = c.call(std::move(req));
    REQUIRE(answer.ok());
    if (answer->payload_case() != wire::Envelope::kPrepared) {
      return answer_status(*answer);
    }
    return error{static_cast<status_code>(answer->prepared().status()),
                 answer->prepared().detail()};
  }
  auto resolve_as(rpc_client& c, const std::string& gid, bool commit) -> error {
    wire::Envelope req;
    req.mutable_resolve()->set_gid(gid);
    req.mutable_resolve()->set_commit(commit);
    auto answer = c.call(std::move(req));
    REQUIRE(answer.ok());
    if (answer->payload_case() != wire::Envelope::kResolved) {
      return answer_status(*answer);
    }
    return error{static_cast<status_code>(answer->resolved().status()),
                 answer->resolved().detail()};
  }
  auto balance(const key_pair& who) -> std::int64_t {
    auto unspent = bank->list_unspent(who.pub());
    REQUIRE(unspent.ok());
    auto sums = payment::totals(*unspent);
    REQUIRE(sums.ok());
    return (*sums)[currency::cny];
  }
  /// issued - redeemed == unspent, and a valid payment still settles.
  void audit_and_pay(std::uint64_t nonce) {
    auto supply = bank->supply(currency::cny);
    REQUIRE(supply.ok());
    CHECK(supply->issued_minor - supply->redeemed_minor == supply->unspent_minor);
    const auto mint = issue(bob.pub(), 100, nonce);
    CHECK(submit(mint).status == status_code::ok);
  }

  test::pg_scratch db;
  test::test_nodes nodes;
  key_pair issuer;
  key_pair alice;
  key_pair bob;
  key_pair outsider;
  settlement::server_config config;
  std::unique_ptr<settlement::server> svc;
  std::unique_ptr<settlement::client> bank;
  std::unique_ptr<rpc_client> coordinator;
};

auto fresh_gid() -> std::string {
  return "cbdc-" + random_hex(16);
}

}  // namespace

TEST_CASE("settlement's role table: who may submit, prepare, resolve and query",
          "[settlement][integration][auth]") {
  secured_world w;
  const auto mint = w.issue(w.alice.pub(), 5000, 1);

  SECTION("operator nodes submit and query") {
    CHECK(w.submit(mint).status == status_code::ok);
    CHECK(w.balance(w.alice) == 5000);
    wire::Envelope q;
    q.mutable_get_supply()->set_currency(static_cast<std::uint32_t>(currency::cny));
    auto issuer_answer = w.call_as("pboc", q);
    REQUIRE(issuer_answer.ok());
    CHECK(issuer_answer->payload_case() == wire::Envelope::kSupply);
    auto pos_answer = w.call_as("hk-shop-till", q);
    REQUIRE(pos_answer.ok());
    CHECK(pos_answer->payload_case() == wire::Envelope::kSupply);
    // A bank catches up on everything settled; a till may not read the whole stream.
    auto page = w.bank->settled_since(0, 0);
    REQUIRE(page.ok());
    REQUIRE(page->txs.size() == 1);
    CHECK(page->txs[0].outputs(0).amount_minor() == 5000);
    CHECK_FALSE(page->more);
    wire::Envelope since;
    since.mutable_get_settled_since()->set_after_batch_seq(0);
    auto till_reads = w.call_as("hk-shop-till", since);
    REQUIRE(till_reads.ok());
    CHECK(answer_status(*till_reads).code == status_code::not_authorized);
    // The page names the signers (the issuer's key for a mint).
    REQUIRE(page->txs[0].signers_size() == 1);
    CHECK(page->txs[0].signers(0) == bytes_to_wire(mint.sigs.front().signer.encode()));

    // Balances of many keys at once, for a bank's audit; a till may not ask.
    auto held = w.bank->balances({w.alice.pub(), w.bob.pub(), w.alice.pub()}, currency::cny);
    REQUIRE(held.ok());
    CHECK(*held == std::vector<std::int64_t>{5000, 0, 5000});
    auto in_hkd = w.bank->balances({w.alice.pub()}, currency::hkd);
    REQUIRE(in_hkd.ok());
    CHECK(in_hkd->front() == 0);
    wire::Envelope balances;
    balances.mutable_get_balances()->add_owners(bytes_to_wire(w.alice.pub().encode()));
    balances.mutable_get_balances()->set_currency(static_cast<std::uint32_t>(currency::cny));
    auto till_asks = w.call_as("hk-shop-till", balances);
    REQUIRE(till_asks.ok());
    CHECK(answer_status(*till_asks).code == status_code::not_authorized);
    // A key that does not decode, too many keys, an unknown currency: malformed.
    const auto status_of = [&](const wire::Envelope& req) {
      auto answer = w.call_as("cn-bank", req);
      REQUIRE(answer.ok());
      REQUIRE(answer->payload_case() == wire::Envelope::kBalances);
      return static_cast<status_code>(answer->balances().status());
    };
    auto bad_key = balances;
    bad_key.mutable_get_balances()->add_owners("not a key");
    CHECK(status_of(bad_key) == status_code::malformed);
    auto too_many = balances;
    for (std::size_t i = 0; i < settlement::k_max_balances; ++i) {
      too_many.mutable_get_balances()->add_owners(bytes_to_wire(w.bob.pub().encode()));
    }
    CHECK(status_of(too_many) == status_code::malformed);
    auto no_currency = balances;
    no_currency.mutable_get_balances()->set_currency(999);
    CHECK(status_of(no_currency) == status_code::malformed);
    // The client asks 10,000 keys at a time.
    std::vector<public_key> many(settlement::k_max_balances + 5, w.bob.pub());
    many.back() = w.alice.pub();
    auto chunked = w.bank->balances(many, currency::cny);
    REQUIRE(chunked.ok());
    CHECK(chunked->size() == many.size());
    CHECK(chunked->back() == 5000);
    CHECK(chunked->front() == 0);
  }
  SECTION("a known key of another role gets not_authorized naming the role") {
    wire::Envelope submit;
    *submit.mutable_submit_tx()->mutable_tx() = to_wire(mint);
    auto as_operator = w.call_as("cn-bank/ops", submit);
    REQUIRE(as_operator.ok());
    CHECK(answer_status(*as_operator).code == status_code::not_authorized);
    CHECK(answer_status(*as_operator).message.find("only from role issuer|bank|dealer;") !=
          std::string::npos);
    // A till pays through its bank: a payer's payment handed to it cannot skip the payer's limits.
    auto as_till = w.call_as("hk-shop-till", submit);
    REQUIRE(as_till.ok());
    CHECK(answer_status(*as_till).code == status_code::not_authorized);

    wire::Envelope prepare;
    prepare.mutable_prepare()->set_gid(fresh_gid());
    *prepare.mutable_prepare()->mutable_tx() = to_wire(mint);
    for (const auto* who : {"cn-bank", "pboc", "settle"}) {
      auto answer = w.call_as(who, prepare);
      REQUIRE(answer.ok());
      CHECK(answer_status(*answer).code == status_code::not_authorized);
      CHECK(answer_status(*answer).message.find("only from role coordinator") != std::string::npos);
    }
    wire::Envelope resolve;
    resolve.mutable_resolve()->set_gid(fresh_gid());
    resolve.mutable_resolve()->set_commit(true);
    auto answer = w.call_as("cn-bank", resolve);
    REQUIRE(answer.ok());
    CHECK(answer_status(*answer).code == status_code::not_authorized);
    // nothing was issued by any of it
    CHECK(w.balance(w.alice) == 0);
  }
  SECTION("an unknown key is refused at the handshake") {
    test::test_nodes strangers;
    strangers.add("mallory", role::coordinator);
    auto opts = strangers.client("mallory", "mallory", 1000);
    opts.server_key = w.nodes.key("settle").public_key;
    settlement::client c(w.svc->endpoint(), opts);
    CHECK(c.submit(mint).code() == status_code::timeout);
  }
  w.audit_and_pay(900);
}

TEST_CASE("a client request id over 128 bytes is malformed", "[settlement][integration][auth]") {
  secured_world w;
  const auto mint = w.issue(w.alice.pub(), 100, 1);
  auto long_id = w.bank->submit(mint, std::string(129, 'r'));
  REQUIRE(long_id.ok());
  CHECK(long_id->status == status_code::malformed);
  auto at_limit = w.bank->submit(mint, std::string(128, 'r'));
  REQUIRE(at_limit.ok());
  CHECK(at_limit->status == status_code::ok);
}

TEST_CASE("a prepared part passes the checks of a submission", "[settlement][integration][auth]") {
  secured_world w;
  REQUIRE(w.submit(w.issue(w.alice.pub(), 5000, 1)).status == status_code::ok);
  auto unspent = w.bank->list_unspent(w.alice.pub());
  REQUIRE(unspent.ok());

  SECTION("a transfer of someone else's token, signed by the outsider, into 10^15") {
    transaction tx;
    tx.kind = tx_kind::transfer;
    tx.nonce = 7;
    tx.inputs = {unspent->front().token_id};
    tx.outputs = {tx_output{currency::cny, 1'000'000'000'000'000, w.outsider.pub()}};
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(w.outsider);
    const auto gid = fresh_gid();
    const auto prepared = w.prepare_as(*w.coordinator, gid, stx);
    CHECK(prepared.code != status_code::ok);
    CHECK(w.resolve_as(*w.coordinator, gid, true).code == status_code::ok);  // nothing held
    CHECK(w.balance(w.outsider) == 0);
    CHECK(w.balance(w.alice) == 5000);
    CHECK(w.submit(stx).status == prepared.code);  // the same verdict as a submission's
  }
  SECTION("an issuance signed by another key than the issuer's") {
    const auto fake = w.issue(w.outsider.pub(), 1'000'000, 8, &w.outsider);
    const auto gid = fresh_gid();
    const auto prepared = w.prepare_as(*w.coordinator, gid, fake);
    CHECK(prepared.code == status_code::missing_signature);
    CHECK(w.resolve_as(*w.coordinator, gid, true).code == status_code::ok);
    CHECK(w.balance(w.outsider) == 0);
    CHECK(w.submit(fake).status == status_code::missing_signature);
  }
  SECTION("a spend signed by the owner but not conserving value") {
    transaction tx;
    tx.kind = tx_kind::transfer;
    tx.nonce = 9;
    tx.inputs = {unspent->front().token_id};
    tx.outputs = {tx_output{currency::cny, 6000, w.bob.pub()}};
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(w.alice);
    CHECK(w.prepare_as(*w.coordinator, fresh_gid(), stx).code == status_code::value_not_conserved);
  }
  w.audit_and_pay(901);
}

TEST_CASE("gids are bounded and prepared parts are counted", "[settlement][integration][auth]") {
  secured_world w;
  for (std::uint64_t n = 1; n <= 6; ++n) {
    REQUIRE(w.submit(w.issue(w.alice.pub(), 100, n)).status == status_code::ok);
  }
  auto unspent = w.bank->list_unspent(w.alice.pub());
  REQUIRE(unspent.ok());
  REQUIRE(unspent->size() == 6);
  const auto spend = [&](std::size_t i) {
    transaction tx;
    tx.kind = tx_kind::transfer;
    tx.nonce = 100 + i;
    tx.inputs = {(*unspent)[i].token_id};
    tx.outputs = {tx_output{currency::cny, 100, w.bob.pub()}};
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(w.alice);
    return stx;
  };
  SECTION("a long, short or predictable gid is malformed") {
    for (const auto& gid :
         {std::string(250, 'a'), std::string{"cbdc-"}, std::string{"cbdc-" + spend(0).id.hex()},
          std::string{"cbdc-" + spend(0).id.hex() + "-0"},
          std::string{"cbdc-0123456789abcdef0123456789ABCDEF"}, std::string{}}) {
      CHECK(w.prepare_as(*w.coordinator, gid, spend(0)).code == status_code::malformed);
    }
    CHECK(w.resolve_as(*w.coordinator, std::string(250, 'a'), true).code == status_code::malformed);
    // (an older gid is still resolved: parts prepared before the change may carry one)
    CHECK(w.resolve_as(*w.coordinator, "cbdc-" + spend(0).id.hex() + "-0", false).code ==
          status_code::ok);
  }
  SECTION("past the bound, overloaded; the service keeps serving and frees on resolve") {
    std::vector<std::string> gids;
    for (std::size_t i = 0; i < 4; ++i) {
      gids.push_back(fresh_gid());
      REQUIRE(w.prepare_as(*w.coordinator, gids.back(), spend(i)).code == status_code::ok);
    }
    CHECK(w.prepare_as(*w.coordinator, fresh_gid(), spend(4)).code == status_code::overloaded);
    CHECK(w.submit(spend(5)).status == status_code::ok);
    REQUIRE(w.resolve_as(*w.coordinator, gids[0], false).code == status_code::ok);
    CHECK(w.prepare_as(*w.coordinator, fresh_gid(), spend(4)).code == status_code::ok);
  }
  w.audit_and_pay(902);
}

TEST_CASE("issuance that would overflow the supply is refused, not a failed batch",
          "[settlement][integration][auth]") {
  secured_world w;
  constexpr std::int64_t k_quarter = std::int64_t{1} << 62;
  CHECK(w.submit(w.issue(w.alice.pub(), k_quarter, 1)).status == status_code::ok);
  CHECK(w.submit(w.issue(w.alice.pub(), k_quarter, 2)).status == status_code::amount_invalid);
  // The same through a prepared part.
  CHECK(w.prepare_as(*w.coordinator, fresh_gid(), w.issue(w.alice.pub(), k_quarter, 3)).code ==
        status_code::amount_invalid);
  // Up to the edge still settles; one more minor unit does not.
  const auto room = std::numeric_limits<std::int64_t>::max() - k_quarter;
  CHECK(w.submit(w.issue(w.bob.pub(), room - 100, 4)).status == status_code::ok);
  CHECK(w.submit(w.issue(w.bob.pub(), 101, 5)).status == status_code::amount_invalid);
  w.audit_and_pay(903);  // the last 100 fit exactly
  // After a restart the totals are known again.
  w.restart();
  CHECK(w.submit(w.issue(w.bob.pub(), 1, 6)).status == status_code::amount_invalid);
}

TEST_CASE("a single shard restarts with a prepared part left in PostgreSQL",
          "[settlement][integration][auth]") {
  secured_world w;
  REQUIRE(w.submit(w.issue(w.alice.pub(), 5000, 1)).status == status_code::ok);
  auto unspent = w.bank->list_unspent(w.alice.pub());
  REQUIRE(unspent.ok());
  transaction tx;
  tx.kind = tx_kind::transfer;
  tx.nonce = 2;
  tx.inputs = {unspent->front().token_id};
  tx.outputs = {tx_output{currency::cny, 5000, w.bob.pub()}};
  auto stx = signed_tx::make(std::move(tx));
  stx.sign_with(w.alice);
  REQUIRE(w.prepare_as(*w.coordinator, fresh_gid(), stx).code == status_code::ok);
  w.restart();  // no coordinator to ask: the part is rolled back
  CHECK(w.balance(w.alice) == 5000);
  CHECK(w.submit(stx).status == status_code::ok);
  CHECK(w.balance(w.bob) == 5000);
}

namespace {

/// Runs sql on the shard's database from outside, as a DBA (or a failing disk) would.
void on_database(const test::pg_scratch& db, const std::string& sql) {
  pqxx::connection c(db.url());
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}

/// Submits every transaction at once, one thread each, and returns the receipts in order.
auto submit_together(secured_world& w, const std::vector<signed_tx>& txs) -> std::vector<receipt> {
  std::vector<receipt> out(txs.size());
  std::vector<std::thread> threads;
  threads.reserve(txs.size());
  for (std::size_t i = 0; i < txs.size(); ++i) {
    threads.emplace_back([&, i] {
      settlement::client c(w.svc->endpoint(), w.nodes.client("cn-bank", "settle"));
      auto r = c.submit(txs[i], "together-" + std::to_string(i));
      out[i] = r ? *r : receipt{r.code(), r.err().message, txs[i].id, 0, 0, 0};
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  return out;
}

}  // namespace

TEST_CASE("a payment PostgreSQL refuses fails alone and the rest of its batch settles",
          "[settlement][integration][faults]") {
  secured_world w;
  w.config.engine.batch_wait_ms = 300;  // the submissions below share a batch
  w.restart();
  // Stands in for any refusal the validator cannot see: PostgreSQL refuses a token of 7.77.
  on_database(w.db,
              "CREATE FUNCTION public.refuse_777() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "IF NEW.amount_minor = 777 THEN RAISE EXCEPTION 'no 7.77 today'; END IF; "
              "RETURN NEW; END $$; CREATE TRIGGER refuse_777 BEFORE INSERT ON settlement.token "
              "FOR EACH ROW EXECUTE FUNCTION public.refuse_777()");
  std::vector<signed_tx> txs;
  for (std::uint64_t i = 0; i < 16; ++i) {
    txs.push_back(w.issue(w.alice.pub(), 100, 10 + i));
  }
  const auto poison = w.issue(w.bob.pub(), 777, 99);
  txs.insert(txs.begin() + 5, poison);
  const auto receipts = submit_together(w, txs);
  std::set<std::uint64_t> batches;
  for (std::size_t i = 0; i < txs.size(); ++i) {
    if (txs[i].id == poison.id) {
      CHECK(receipts[i].status == status_code::internal);
      CHECK(receipts[i].detail.find("no 7.77 today") != std::string::npos);
    } else {
      CHECK(receipts[i].status == status_code::ok);
      batches.insert(receipts[i].batch_seq);
    }
  }
  CHECK(batches.size() < 16);  // shared batches were split, not each payment alone
  CHECK(w.balance(w.alice) == 1600);
  CHECK(w.balance(w.bob) == 0);
  w.audit_and_pay(900);
  // The refusal lifted, the same payment settles; memory had given its supply back.
  on_database(w.db, "DROP TRIGGER refuse_777 ON settlement.token");
  CHECK(w.submit(poison).status == status_code::ok);
  CHECK(w.balance(w.bob) == 777 + 100);
  w.restart();
  CHECK(w.balance(w.bob) == 777 + 100);
  w.audit_and_pay(901);
}

TEST_CASE("a shard whose database connections are cut carries on without losing a payment",
          "[settlement][integration][faults]") {
  secured_world w;
  std::vector<signed_tx> before;
  for (std::uint64_t i = 0; i < 8; ++i) {
    before.push_back(w.issue(w.alice.pub(), 100, 20 + i));
  }
  for (const auto& r : submit_together(w, before)) {
    REQUIRE(r.status == status_code::ok);
  }
  // Every backend of the shard's database goes (a restarted server, a cut link).
  on_database(w.db,
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
              "current_database() AND pid <> pg_backend_pid()");
  std::vector<signed_tx> after;
  for (std::uint64_t i = 0; i < 8; ++i) {
    after.push_back(w.issue(w.alice.pub(), 100, 40 + i));
  }
  const auto receipts = submit_together(w, after);
  std::int64_t acknowledged = 800;
  for (std::size_t i = 0; i < after.size(); ++i) {
    // Each is settled, or answered with a typed error that a resend settles.
    if (receipts[i].status != status_code::ok) {
      INFO(receipts[i].detail);
      CHECK((receipts[i].status == status_code::unavailable ||
             receipts[i].status == status_code::internal));
      auto again = w.submit(after[i]);
      CHECK((again.status == status_code::ok || again.status == status_code::already_settled));
    }
    acknowledged += 100;
  }
  CHECK(w.balance(w.alice) == acknowledged);
  w.restart();
  CHECK(w.balance(w.alice) == acknowledged);
  w.audit_and_pay(902);
}

TEST_CASE("with several shards, each issues at most its share of 2^63-1 outstanding",
          "[settlement][integration][auth]") {
  // So that every sum of tokens anywhere (a wallet's balance at its bank, a payment's inputs)
  // fits in 64 bits, whichever shards the tokens live on.
  secured_world w;
  w.config.engine.shard_count = 2;
  w.config.engine.shard = 0;
  w.restart();
  const auto half = std::numeric_limits<std::int64_t>::max() / 2;
  std::uint64_t nonce = 0;
  const auto on_shard_0 = [&](std::int64_t amount) {
    for (;;) {
      auto tx = w.issue(w.alice.pub(), amount, ++nonce);
      if (shards_of(tx.tx, tx.id, 2) == std::vector<std::uint32_t>{0}) {
        return tx;
      }
    }
  };
  CHECK(w.submit(on_shard_0(half - 10)).status == status_code::ok);
  CHECK(w.submit(on_shard_0(11)).status == status_code::amount_invalid);
  CHECK(w.submit(on_shard_0(10)).status == status_code::ok);  // exactly the share
  auto supply = w.bank->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor == half);
}
