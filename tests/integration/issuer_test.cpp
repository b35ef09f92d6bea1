// The central bank node over real PostgreSQL and ZeroMQ: reserves, minting, redemption, roles.
#include <catch2/catch.hpp>
#include <map>
#include <pqxx/pqxx>

#include "issuer/audit.hpp"
#include "issuer/client.hpp"
#include "issuer/issuer.hpp"
#include "issuer/server.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;

namespace {

struct world {
  explicit world(std::int64_t ratio_bp = issuer::k_full_reserve_bp,
                 std::int64_t reserve_minor = 100'000'000)
      : issuer_key(key_pair::generate(profile::ed25519)),
        vault(key_pair::generate(profile::ed25519)) {
    // Every node with its key in the nodes file: "nobody" is a bank node the issuer does not
    // know as a bank.
    nodes.add("settle", role::shard)
        .add("pboc", role::issuer)
        .add("bank-a", role::bank)
        .add("hsbc-hk", role::bank)
        .add("nobody", role::bank);
    settlement::server_config sc;
    sc.db_url = db.url();
    sc.endpoint = "tcp://127.0.0.1:0";
    sc.engine.issuers[currency::cny] = issuer_key.pub();
    sc.net = nodes.server("settle");
    auto s = settlement::server::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle = std::make_unique<settlement::client>(settle_svc->endpoint(),
                                                  nodes.client("bank-a", "settle"));
    issuer::issuer_config ic;
    ic.db_url = db.url();
    ic.cur = currency::cny;
    ic.settle_endpoint = settle_svc->endpoint();
    ic.endpoint = "tcp://127.0.0.1:0";
    ic.reserve_ratio_bp = ratio_bp;
    ic.net = nodes.client("pboc", "settle");  // its own socket, and settlement's key
    auto svc = issuer::server::start(ic, issuer_key);
    REQUIRE(svc.ok());
    issuer_svc = std::move(*svc);
    auto direct = issuer::issuer::open(ic, issuer_key);
    REQUIRE(direct.ok());
    iss = std::move(*direct);
    REQUIRE(iss->add_bank("bank-a", vault.pub(), true).ok());
    REQUIRE(iss->add_bank("hsbc-hk", vault.pub(), false).ok());
    if (reserve_minor > 0) {
      REQUIRE(iss->deposit("bank-a", money{reserve_minor, currency::cny}, "funding").ok());
    }
  }
  /// A client of the issuer acting as bank node `who`.
  auto as(const std::string& who) -> issuer::client& {
    auto& c = clients[who];
    if (!c) {
      c = std::make_unique<issuer::client>(issuer_svc->endpoint(), nodes.client(who, "pboc"));
    }
    return *c;
  }

  test::pg_scratch db;
  test::test_nodes nodes;
  key_pair issuer_key;
  key_pair vault;
  std::unique_ptr<settlement::server> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<issuer::server> issuer_svc;
  std::unique_ptr<issuer::issuer> iss;
  std::map<std::string, std::unique_ptr<issuer::client>> clients;
};

/// The issuer as a caller holds it: in process (the implementation itself) or over the wire (a
/// client acting as bank node `who`). Tests that take it run the same checks both ways.
auto via(world& w, bool wire, const std::string& who) -> issuer::interface& {
  if (wire) {
    return w.as(who);
  }
  return *w.iss;
}

auto cny(std::int64_t minor) -> money {
  return money{minor, currency::cny};
}

}  // namespace

TEST_CASE("the issuer mints to a domestic bank's vault once per request id",
          "[issuer][integration]") {
  world w;
  const bool wire = GENERATE(false, true);
  INFO((wire ? "over the wire" : "in process"));
  auto& bank_a = via(w, wire, "bank-a");
  auto first = bank_a.mint("bank-a", cny(100'000), "req-1");
  REQUIRE(first.ok());
  CHECK_FALSE(first->already);
  REQUIRE(first->token_ids.size() == 1);
  auto token = w.settle->get_token(first->token_ids[0]);
  REQUIRE(token.ok());
  CHECK(token->owner == w.vault.pub());
  CHECK(token->amount_minor == 100'000);

  auto again = bank_a.mint("bank-a", cny(100'000), "req-1");
  REQUIRE(again.ok());
  CHECK(again->already);
  CHECK(again->tx_id == first->tx_id);
  CHECK(w.settle->supply(currency::cny)->issued_minor == 100'000);

  CHECK(bank_a.mint("bank-a", cny(5), "req-1").code() == status_code::bad_request);
  auto reserve = bank_a.reserve("bank-a");
  REQUIRE(reserve.ok());
  CHECK(reserve->issued_minor == 100'000);
}

TEST_CASE("mint refusals are typed", "[issuer][integration]") {
  world w;
  const bool wire = GENERATE(false, true);
  INFO((wire ? "over the wire" : "in process"));
  CHECK(via(w, wire, "nobody").mint("nobody", cny(100), "r1").code() == status_code::unknown_bank);
  CHECK(via(w, wire, "hsbc-hk").mint("hsbc-hk", cny(100), "r2").code() ==
        status_code::not_domestic);
  auto& bank_a = via(w, wire, "bank-a");
  CHECK(bank_a.mint("bank-a", money{100, currency::hkd}, "r3").code() ==
        status_code::currency_mismatch);
  CHECK(bank_a.mint("bank-a", cny(0), "r4").code() == status_code::amount_invalid);
  CHECK(bank_a.mint("bank-a", cny(-1), "r5").code() == status_code::amount_invalid);
  CHECK(bank_a.mint("bank-a", cny(1), "").code() == status_code::bad_request);
  CHECK(w.settle->supply(currency::cny)->issued_minor == 0);
}

TEST_CASE("the audit passes on a consistent ledger and catches a corrupted one",
          "[issuer][integration]") {
  world w;
  REQUIRE(w.as("bank-a").mint("bank-a", cny(70'000), "a").ok());
  REQUIRE(w.as("bank-a").mint("bank-a", cny(30'000), "b").ok());
  auto report = issuer::audit(*w.iss, *w.settle, currency::cny);
  REQUIRE(report.ok());
  CHECK(report->passed());
  CHECK(report->minted_minor == 100'000);
  CHECK(report->unspent_minor == 100'000);

  {
    // Corrupt one token's amount behind settlement's back.
    pqxx::connection conn(w.db.url());
    pqxx::work tx(conn);
    tx.exec(
        "UPDATE settlement.token SET amount_minor = amount_minor + 1 WHERE token_id = "
        "(SELECT token_id FROM settlement.token LIMIT 1)");
    tx.commit();
  }
  auto broken = issuer::audit(*w.iss, *w.settle, currency::cny);
  REQUIRE(broken.ok());
  CHECK_FALSE(broken->passed());
  REQUIRE(broken->problems.size() == 1);
  CHECK(broken->problems[0].find("unspent supply 1000.01 CNY") != std::string::npos);
}

TEST_CASE("full reserve: a mint needs as much free reserve as it issues", "[issuer][integration]") {
  world w(issuer::k_full_reserve_bp, 100'000);
  REQUIRE(w.as("bank-a").mint("bank-a", cny(60'000), "m1").ok());
  REQUIRE(w.as("bank-a").mint("bank-a", cny(40'000), "m2").ok());  // exactly the rest
  auto refused = w.as("bank-a").mint("bank-a", cny(1), "m3");
  CHECK(refused.code() == status_code::insufficient_reserve);
  CHECK(refused.err().message.find("has 0.00 CNY") != std::string::npos);
  auto bal = w.as("bank-a").reserve("bank-a");
  REQUIRE(bal.ok());
  CHECK(bal->reserve_minor == 0);
  CHECK(bal->backing_minor == 100'000);
  CHECK(bal->issued_minor == 100'000);
  CHECK(w.as("nobody").reserve("nobody").code() == status_code::unknown_bank);
}

TEST_CASE("partial reserve: at 20% a reserve backs five times its amount",
          "[issuer][integration]") {
  world w(2'000, 10'000);                                          // 20%, 100.00 CNY of reserve
  REQUIRE(w.as("bank-a").mint("bank-a", cny(50'000), "m1").ok());  // 500.00 needs 100.00
  CHECK(w.as("bank-a").mint("bank-a", cny(1), "m2").code() == status_code::insufficient_reserve);
  REQUIRE(w.iss->deposit("bank-a", cny(1), "top-up").ok());
  // 0.01 of reserve backs up to 0.05 at 20%; 0.06 would need 0.02 (rounded up).
  CHECK(w.as("bank-a").mint("bank-a", cny(6), "m3").code() == status_code::insufficient_reserve);
  REQUIRE(w.as("bank-a").mint("bank-a", cny(5), "m4").ok());
  CHECK(issuer::backing_for(6, 2'000).value() == 2);
  CHECK(issuer::backing_for(5, 2'000).value() == 1);
}

TEST_CASE("a bank's issuance quota at under and over its boundary", "[issuer][integration]") {
  world w;
  REQUIRE(w.iss->add_bank("bank-a", w.vault.pub(), true, 100'000).ok());
  REQUIRE(w.as("bank-a").mint("bank-a", cny(99'999), "m1").ok());  // under
  REQUIRE(w.as("bank-a").mint("bank-a", cny(1), "m2").ok());       // at
  auto over = w.as("bank-a").mint("bank-a", cny(1), "m3");         // over
  CHECK(over.code() == status_code::quota_exceeded);
  CHECK(over.err().message.find("quota 1000.00 CNY") != std::string::npos);
}

TEST_CASE("deposits are idempotent and typed", "[issuer][integration]") {
  world w(issuer::k_full_reserve_bp, 0);
  REQUIRE(w.iss->deposit("bank-a", cny(500), "d1").ok());
  REQUIRE(w.iss->deposit("bank-a", cny(500), "d1").ok());  // the same request again
  CHECK(w.iss->reserve("bank-a")->reserve_minor == 500);
  CHECK(w.iss->deposit("bank-a", cny(501), "d1").code() == status_code::bad_request);
  CHECK(w.iss->deposit("nobody", cny(1), "d2").code() == status_code::unknown_bank);
  CHECK(w.iss->deposit("bank-a", cny(0), "d3").code() == status_code::amount_invalid);
  CHECK(w.iss->deposit("bank-a", money{1, currency::hkd}, "d4").code() ==
        status_code::currency_mismatch);
}

TEST_CASE("redemption settles, frees the backing and shrinks the supply", "[issuer][integration]") {
  world w(issuer::k_full_reserve_bp, 100'000);
  auto minted = w.as("bank-a").mint("bank-a", cny(100'000), "m1");
  REQUIRE(minted.ok());
  transaction tx;
  tx.kind = tx_kind::redeem;
  tx.inputs = {minted->token_ids.at(0)};
  auto stx = signed_tx::make(tx);
  stx.sign_with(w.vault);
  auto redeemed = w.as("bank-a").redeem("bank-a", stx, "r1");
  REQUIRE(redeemed.ok());
  CHECK(redeemed->amount_minor == 100'000);
  auto again = w.as("bank-a").redeem("bank-a", stx, "r1");
  REQUIRE(again.ok());
  CHECK(again->already);
  auto bal = w.as("bank-a").reserve("bank-a");
  REQUIRE(bal.ok());
  CHECK(bal->reserve_minor == 100'000);
  CHECK(bal->backing_minor == 0);
  CHECK(bal->issued_minor == 0);
  auto supply = w.settle->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->redeemed_minor == 100'000);
  CHECK(supply->unspent_minor == 0);
  auto report = issuer::audit(*w.iss, *w.settle, currency::cny);
  REQUIRE(report.ok());
  CHECK(report->passed());
  // A foreign bank may not redeem here.
  CHECK(w.as("hsbc-hk").redeem("hsbc-hk", stx, "r2").code() == status_code::not_domestic);
}

TEST_CASE("the ledger refuses an unbalanced movement and the audit catches a forced one",
          "[issuer][integration]") {
  world w;
  REQUIRE(w.as("bank-a").mint("bank-a", cny(10'000), "m1").ok());
  pqxx::connection conn(w.db.url());
  {
    pqxx::work tx(conn);
    tx.exec(
        "INSERT INTO issuer.entry (movement_id, account, amount_minor) SELECT min(movement_id), "
        "'reserve:bank-a', 1 FROM issuer.movement");
    CHECK_THROWS(tx.commit());  // the deferred trigger: entries must sum to zero
  }
  {
    pqxx::work tx(conn);
    tx.exec("ALTER TABLE issuer.entry DISABLE TRIGGER entry_balances");
    tx.exec(
        "UPDATE issuer.entry SET amount_minor = amount_minor + 1 WHERE account = "
        "'reserve:bank-a' AND entry_id = (SELECT min(entry_id) FROM issuer.entry WHERE "
        "account = 'reserve:bank-a')");
    tx.exec("ALTER TABLE issuer.entry ENABLE TRIGGER entry_balances");
    tx.commit();
  }
  auto report = issuer::audit(*w.iss, *w.settle, currency::cny);
  REQUIRE(report.ok());
  CHECK_FALSE(report->passed());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].find("sum to 0.01 CNY") != std::string::npos);
}

TEST_CASE("the registration centre hosts a wallet key at one bank", "[issuer][integration]") {
  world w;
  REQUIRE(w.iss->add_bank("bank-b", w.vault.pub(), true).ok());
  const auto alice = key_pair::generate(profile::ed25519).pub().encode();
  const auto bob = key_pair::generate(profile::ed25519).pub().encode();
  REQUIRE(w.iss->register_wallets("bank-a", {{alice, 4}}).ok());
  CHECK(w.iss->register_wallets("bank-a", {{alice, 4}}).ok());  // a retry
  CHECK(w.iss->register_wallets("bank-a", {{alice, 2}}).ok());  // a class change (after KYC)
  CHECK(*w.iss->wallet_bank(alice) == "bank-a");
  // Another bank cannot host it too, and a batch with it is refused whole.
  const auto twice = w.iss->register_wallets("bank-b", {{bob, 4}, {alice, 4}});
  CHECK(twice.code() == status_code::hosted_elsewhere);
  CHECK(twice.err().message.find("bank-a") != std::string::npos);
  CHECK(w.iss->wallet_bank(bob).code() == status_code::not_found);
  CHECK(*w.iss->wallet_bank(alice) == "bank-a");
  CHECK(w.iss->register_wallets("bank-b", {{bob, 4}}).ok());
  CHECK(w.iss->register_wallets("nobody", {{bob, 4}}).code() == status_code::unknown_bank);
  CHECK(w.iss->register_wallets("bank-a", {{bob, 5}}).code() == status_code::malformed);
  CHECK(w.iss->register_wallets("bank-a", std::vector<std::pair<bytes, std::uint32_t>>{}).code() ==
        status_code::malformed);
}

TEST_CASE("over the wire, a bank registers wallets for itself only",
          "[issuer][integration][auth]") {
  world w;
  const auto alice = key_pair::generate(profile::ed25519).pub();
  // The allowed caller: bank-a for bank-a.
  REQUIRE(w.as("bank-a").register_wallets("bank-a", {{alice, 4}}).ok());
  CHECK(*w.iss->wallet_bank(alice.encode()) == "bank-a");
  // A bank node for another bank: not_authorized, and nothing moves.
  const auto bob = key_pair::generate(profile::ed25519).pub();
  CHECK(w.as("hsbc-hk").register_wallets("bank-a", {{bob, 4}}).code() ==
        status_code::not_authorized);
  CHECK(w.as("hsbc-hk").register_wallets("hsbc-hk", {{alice, 4}}).code() ==
        status_code::hosted_elsewhere);
  // A known key of another role: not_authorized, naming the role it needs.
  issuer::client as_shard(w.issuer_svc->endpoint(), w.nodes.client("settle", "pboc"));
  const auto refused = as_shard.register_wallets("bank-a", {{bob, 4}});
  CHECK(refused.code() == status_code::not_authorized);
  CHECK(refused.err().message.find("bank") != std::string::npos);
  CHECK(w.iss->wallet_bank(bob.encode()).code() == status_code::not_found);
  // An unknown key is refused at the handshake: no answer at all.
  test::test_nodes strangers;
  strangers.add("pboc", role::issuer).add("outsider", role::bank);
  auto opts = strangers.client("outsider", "pboc", 500);
  opts.server_key = w.nodes.key("pboc").public_key;
  issuer::client outsider(w.issuer_svc->endpoint(), opts);
  CHECK(outsider.register_wallets("bank-a", {{bob, 4}}).code() == status_code::timeout);
}
