// Schema migrations: applied once in order, all or nothing; binary arrays read back exactly.
#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "issuer/issuer.hpp"
#include "platform/pg.hpp"
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

TEST_CASE("binary arrays bind columns that the server reads back exactly", "[pg][integration]") {
  test::pg_scratch db;
  pqxx::connection conn(db.url());
  pqxx::work tx(conn);
  using el = pg::binary_array::element;
  pg::binary_array blobs(el::bytea);
  const std::string with_zero("a\0\"\\{},b", 8);
  blobs.add(with_zero);
  blobs.add(std::string_view{});
  pg::binary_array texts(el::text);
  texts.add("quote \" and backslash \\");
  texts.add("");
  pg::binary_array big(el::int8);
  big.add_int(INT64_MIN);
  big.add_int(-1);
  pg::binary_array mid(el::int4);
  mid.add_int(INT32_MAX);
  mid.add_int(-70'000);
  pg::binary_array small(el::int2);
  small.add_int(-2);
  small.add_int(300);
  const auto rows = tx.exec_params(
      "SELECT encode(b, 'hex'), t, i8, i4, i2 FROM unnest($1::bytea[], $2::text[], $3::int8[], "
      "$4::int4[], $5::int2[]) AS u(b, t, i8, i4, i2)",
      blobs.param(), texts.param(), big.param(), mid.param(), small.param());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0].as<std::string>() == "6100225c7b7d2c62");
  CHECK(rows[1][0].as<std::string>().empty());
  CHECK(rows[0][1].as<std::string>() == "quote \" and backslash \\");
  CHECK(rows[1][1].as<std::string>().empty());
  CHECK(rows[0][2].as<std::int64_t>() == INT64_MIN);
  CHECK(rows[1][2].as<std::int64_t>() == -1);
  CHECK(rows[0][3].as<std::int64_t>() == INT32_MAX);
  CHECK(rows[1][3].as<std::int64_t>() == -70'000);
  CHECK(rows[0][4].as<int>() == -2);
  CHECK(rows[1][4].as<int>() == 300);
  // An empty column is an empty array; a column of another element type is refused.
  const pg::binary_array none(el::bytea);
  CHECK(tx.exec_params1("SELECT cardinality($1::bytea[])", none.param())[0].as<int>() == 0);
  CHECK_THROWS_AS(tx.exec_params("SELECT $1::bytea[]", big.param()), pqxx::sql_error);
}
