// Money: integer minor units, parsing and formatting, checked arithmetic, currency codes.
#include <catch2/catch.hpp>
#include <limits>

#include "core/money.hpp"

using namespace cbdc;

TEST_CASE("money parses and formats", "[money]") {
  auto m = parse_money("12.34 CNY");
  REQUIRE(m.ok());
  CHECK(m->minor() == 1234);
  CHECK(m->cur() == currency::cny);
  CHECK(m->format() == "12.34 CNY");

  CHECK(parse_money("12 HKD")->minor() == 1200);
  CHECK(parse_money("0.5 THB")->minor() == 50);
  CHECK(parse_money("-0.50 AED")->minor() == -50);
  CHECK(parse_money("1000.00 SAR")->format() == "1000.00 SAR");
  CHECK(money{5, currency::usd}.format() == "0.05 USD");
  CHECK(money{-1, currency::cny}.format() == "-0.01 CNY");
  CHECK(money{std::numeric_limits<std::int64_t>::min(), currency::cny}.format() ==
        "-92233720368547758.08 CNY");
  CHECK(parse_money("92233720368547758.07 CNY")->minor() ==
        std::numeric_limits<std::int64_t>::max());
  CHECK(parse_money("-92233720368547758.08 CNY")->minor() ==
        std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("money refuses bad text with typed errors", "[money]") {
  CHECK(parse_money("12.345 CNY").code() == status_code::parse_error);
  CHECK(parse_money("12.34").code() == status_code::parse_error);
  CHECK(parse_money("12.34 XXX").code() == status_code::unknown_currency);
  CHECK(parse_money("12.34 cny").code() == status_code::unknown_currency);
  CHECK(parse_money("1e3 CNY").code() == status_code::parse_error);
  CHECK(parse_money(". CNY").code() == status_code::parse_error);
  CHECK(parse_money("12. CNY").code() == status_code::parse_error);
  CHECK(parse_money("1.2.3 CNY").code() == status_code::parse_error);
  CHECK(parse_money(" CNY").code() == status_code::parse_error);
  CHECK(parse_money("- CNY").code() == status_code::parse_error);
  CHECK(parse_money("1,000.00 CNY").code() == status_code::parse_error);
  CHECK(parse_money("92233720368547758.08 CNY").code() == status_code::overflow);
  CHECK(parse_money("99999999999999999999 CNY").code() == status_code::overflow);
  CHECK(parse_currency("EUR").code() == status_code::unknown_currency);
  CHECK(currency_from_wire(0).code() == status_code::unknown_currency);
  CHECK(currency_from_wire(7).code() == status_code::unknown_currency);
}

TEST_CASE("money arithmetic is overflow checked and single-currency", "[money]") {
  const money a{1000, currency::cny};
  const money b{234, currency::cny};
  CHECK(a.add(b)->minor() == 1234);
  CHECK(a.sub(b)->minor() == 766);
  CHECK(*a.compare(b) == std::strong_ordering::greater);

  const money max{std::numeric_limits<std::int64_t>::max(), currency::cny};
  CHECK(max.add(money{1, currency::cny}).code() == status_code::overflow);
  const money min{std::numeric_limits<std::int64_t>::min(), currency::cny};
  CHECK(min.sub(money{1, currency::cny}).code() == status_code::overflow);
  CHECK(checked_add(std::numeric_limits<std::int64_t>::max(), 1).code() == status_code::overflow);

  const money hkd{100, currency::hkd};
  CHECK(a.add(hkd).code() == status_code::currency_mismatch);
  CHECK(a.sub(hkd).code() == status_code::currency_mismatch);
  CHECK(a.compare(hkd).code() == status_code::currency_mismatch);
}

TEST_CASE("every currency round-trips its code", "[money]") {
  for (const auto* code : {"CNY", "HKD", "THB", "AED", "SAR", "USD"}) {
    auto cur = parse_currency(code);
    REQUIRE(cur.ok());
    CHECK(currency_code(*cur) == code);
    CHECK(*currency_from_wire(static_cast<std::uint32_t>(*cur)) == *cur);
  }
}
