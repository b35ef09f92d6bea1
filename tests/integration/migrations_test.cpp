#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "core/pg.hpp"
#include "issuer/issuer.hpp"
#include "settlement/store.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;

TEST_CASE("migrations apply once in order and are recorded", "[pg][integration]") {
  test::pg_scratch db;
  auto conn = pg::connect(db.url());
  REQUIRE(conn.ok());
  const auto settlement_count = static_cast<int>(settlement::migrations().size());
  REQUIRE(settlement_count > 0);
  CHECK(*pg::migrate(**conn, "settlement", settlement::migrations()) == settlement_count);
  CHECK(*pg::migrate(**conn, "settlement", settlement::migrations()) == 0);
  CHECK(*pg::migrate(**conn, "issuer", issuer::migrations()) ==
        static_cast<int>(issuer::migrations().size()));
  pqxx::read_transaction tx(**conn);
  CHECK(tx.exec1("SELECT count(*) FROM settlement.schema_migrations")[0].as<int>() ==
        settlement_count);
  CHECK(tx.exec1("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                 "'settlement' AND table_name IN ('tx', 'token', 'supply')")[0]
            .as<int>() == 3);
}

TEST_CASE("a failing migration applies nothing and reports db_error", "[pg][integration]") {
  test::pg_scratch db;
  auto conn = pg::connect(db.url());
  REQUIRE(conn.ok());
  const std::vector<pg::migration> ms{{"001_ok", "CREATE TABLE demo.a (x int)"},
                                      {"002_bad", "CREATE TABLE demo.b (x nosuchtype)"}};
  auto applied = pg::migrate(**conn, "demo", ms);
  CHECK(applied.code() == status_code::db_error);
  pqxx::read_transaction tx(**conn);
  CHECK(tx.exec1("SELECT count(*) FROM demo.schema_migrations")[0].as<int>() == 1);
}

TEST_CASE("an unreachable database is unavailable", "[pg][integration]") {
  CHECK(pg::connect("postgresql:///nosuchdb?host=/nonexistent").code() == status_code::unavailable);
}
