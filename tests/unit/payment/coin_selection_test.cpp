// Coin selection and transaction building for a payer.
#include <catch2/catch.hpp>

#include "payment/build.hpp"
#include "tests/support/seeds.hpp"

using namespace cbdc;
using cbdc::test::seed_of;

namespace {

auto token(std::uint8_t id, currency cur, std::int64_t amount, const public_key& owner)
    -> settlement::token_info {
  settlement::token_info t;
  t.token_id.data.fill(id);
  t.cur = cur;
  t.amount_minor = amount;
  t.owner = owner;
  return t;
}

}  // namespace

TEST_CASE("coin selection pays exactly with change back", "[wallet]") {
  const auto payer = key_pair::from_seed(profile::ed25519, seed_of(1));
  const auto payee = key_pair::from_seed(profile::ed25519, seed_of(2));
  const std::vector<settlement::token_info> tokens{
      token(1, currency::cny, 500, payer.pub()), token(2, currency::cny, 1000, payer.pub()),
      token(3, currency::hkd, 9999, payer.pub()), token(4, currency::cny, 700, payer.pub())};

  SECTION("an exact token is used alone") {
    auto tx = payment::build_payment(payer, tokens, payee.pub(), money{700, currency::cny}, 1, "");
    REQUIRE(tx.ok());
    REQUIRE(tx->tx.inputs.size() == 1);
    CHECK(tx->tx.inputs[0].data[0] == 4);
    REQUIRE(tx->tx.outputs.size() == 1);
  }
  SECTION("largest first, change to the payer") {
    auto tx =
        payment::build_payment(payer, tokens, payee.pub(), money{1234, currency::cny}, 1, "m");
    REQUIRE(tx.ok());
    CHECK(tx->tx.inputs.size() == 2);  // 1000 + 700
    REQUIRE(tx->tx.outputs.size() == 2);
    CHECK(tx->tx.outputs[0].amount_minor == 1234);
    CHECK(tx->tx.outputs[0].owner == payee.pub());
    CHECK(tx->tx.outputs[1].amount_minor == 466);
    CHECK(tx->tx.outputs[1].owner == payer.pub());
    CHECK(verify(payer.pub(), tx->body, tx->sigs.at(0).sig));
  }
  SECTION("insufficient_funds counts only the currency") {
    auto tx = payment::build_payment(payer, tokens, payee.pub(), money{2201, currency::cny}, 1, "");
    CHECK(tx.code() == status_code::insufficient_funds);
  }
  SECTION("amount_invalid and profile_mismatch") {
    CHECK(
        payment::build_payment(payer, tokens, payee.pub(), money{0, currency::cny}, 1, "").code() ==
        status_code::amount_invalid);
    const auto sm2 = key_pair::from_seed(profile::sm2, seed_of(2));
    CHECK(payment::build_payment(payer, tokens, sm2.pub(), money{1, currency::cny}, 1, "").code() ==
          status_code::profile_mismatch);
  }
}
