#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "issuer/issuer.hpp"
#include "settlement/service.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;

namespace {

struct world {
  world()
      : issuer_key(key_pair::generate(profile::ed25519)),
        vault(key_pair::generate(profile::ed25519)) {
    settlement::service_config sc;
    sc.db_url = db.url();
    sc.endpoint = "tcp://127.0.0.1:0";
    sc.engine.issuers[currency::cny] = issuer_key.pub();
    auto s = settlement::service::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle = std::make_unique<settlement::client>(settle_svc->endpoint());
    issuer::issuer_config ic;
    ic.db_url = db.url();
    ic.cur = currency::cny;
    ic.settle_endpoint = settle_svc->endpoint();
    ic.endpoint = "tcp://127.0.0.1:0";
    auto svc = issuer::service::start(ic, issuer_key);
    REQUIRE(svc.ok());
    issuer_svc = std::move(*svc);
    auto direct = issuer::issuer::open(ic, issuer_key);
    REQUIRE(direct.ok());
    iss = std::move(*direct);
    REQUIRE(iss->add_bank("bank-a", vault.pub(), true).ok());
    REQUIRE(iss->add_bank("hsbc-hk", vault.pub(), false).ok());
    client = std::make_unique<issuer::client>(issuer_svc->endpoint());
  }

  test::pg_scratch db;
  key_pair issuer_key;
  key_pair vault;
  std::unique_ptr<settlement::service> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<issuer::service> issuer_svc;
  std::unique_ptr<issuer::issuer> iss;
  std::unique_ptr<issuer::client> client;
};

auto cny(std::int64_t minor) -> money {
  return money{minor, currency::cny};
}

}  // namespace

TEST_CASE("the issuer mints to a domestic bank's vault once per request id",
          "[issuer][integration]") {
  world w;
  auto first = w.client->mint("bank-a", cny(100'000), "req-1");
  REQUIRE(first.ok());
  CHECK_FALSE(first->already);
  REQUIRE(first->token_ids.size() == 1);
  auto token = w.settle->get_token(first->token_ids[0]);
  REQUIRE(token.ok());
  CHECK(token->owner == w.vault.pub());
  CHECK(token->amount_minor == 100'000);

  auto again = w.client->mint("bank-a", cny(100'000), "req-1");
  REQUIRE(again.ok());
  CHECK(again->already);
  CHECK(again->tx_id == first->tx_id);
  CHECK(w.settle->supply(currency::cny)->issued_minor == 100'000);

  CHECK(w.client->mint("bank-a", cny(5), "req-1").code() == status_code::bad_request);
}

TEST_CASE("mint refusals are typed", "[issuer][integration]") {
  world w;
  CHECK(w.client->mint("nobody", cny(100), "r1").code() == status_code::unknown_bank);
  CHECK(w.client->mint("hsbc-hk", cny(100), "r2").code() == status_code::not_domestic);
  CHECK(w.client->mint("bank-a", money{100, currency::hkd}, "r3").code() ==
        status_code::currency_mismatch);
  CHECK(w.client->mint("bank-a", cny(0), "r4").code() == status_code::amount_invalid);
  CHECK(w.client->mint("bank-a", cny(-1), "r5").code() == status_code::amount_invalid);
  CHECK(w.client->mint("bank-a", cny(1), "").code() == status_code::bad_request);
  CHECK(w.settle->supply(currency::cny)->issued_minor == 0);
}

TEST_CASE("the audit passes on a consistent ledger and catches a corrupted one",
          "[issuer][integration]") {
  world w;
  REQUIRE(w.client->mint("bank-a", cny(70'000), "a").ok());
  REQUIRE(w.client->mint("bank-a", cny(30'000), "b").ok());
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
