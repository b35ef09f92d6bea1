// Two banks as services: a payer's bank asks the payee's bank whether the payee may receive
// (its balance cap) before it sends the payment to settlement.
#include <catch2/catch.hpp>

#include "tests/support/two_banks.hpp"

using namespace cbdc;
using bank::wallet_class;
using test::cny;
using test::two_banks;

TEST_CASE("a payee's balance cap is checked at its own bank", "[bank][integration]") {
  two_banks w;
  const auto payer = w.wallet(*w.client_a, 1, wallet_class::ii, false, cny(1'000));
  // A class IV wallet at bank B, 50.00 under its 10,000.00 cap.
  const auto near_cap = w.wallet(*w.client_b, 2, wallet_class::iv, false, cny(9'950));
  CHECK(w.pay(*w.client_a, payer, near_cap.pub(), money{5'001, currency::cny}) ==
        status_code::balance_limit);                                             // 50.01 over
  CHECK(w.pay(*w.client_a, payer, near_cap.pub(), cny(50)) == status_code::ok);  // at the cap
  CHECK(w.pay(*w.client_a, payer, near_cap.pub(), money{1, currency::cny}) ==
        status_code::balance_limit);  // now full
  // A merchant with no cap at bank B, and a key no bank hosts: both paid.
  const auto shop = w.wallet(*w.client_b, 3, wallet_class::i, true, cny(0));
  CHECK(w.pay(*w.client_a, payer, shop.pub(), cny(100)) == status_code::ok);
  CHECK(w.pay(*w.client_a, payer, shop.pub(), cny(100)) == status_code::ok);
  const auto nobody = key_pair::from_seed(profile::ed25519, indexed_seed(9, 0x5a));
  CHECK(w.pay(*w.client_a, payer, nobody.pub(), cny(10)) == status_code::ok);
  // The refusals moved nothing: 1,000 - 50 - 200 - 10 left.
  auto unspent = w.settle->list_unspent(payer.pub());
  REQUIRE(unspent.ok());
  std::int64_t held = 0;
  for (const auto& t : *unspent) {
    held += t.amount_minor;
  }
  CHECK(held == cny(740).minor());
  auto b_side = w.settle->list_unspent(near_cap.pub());
  REQUIRE(b_side.ok());
  std::int64_t capped = 0;
  for (const auto& t : *b_side) {
    capped += t.amount_minor;
  }
  CHECK(capped == cny(10'000).minor());
}

TEST_CASE("the payee's bank named in a payment is asked, and a wrong name costs only a question",
          "[bank][integration]") {
  two_banks w;
  const auto payer = w.wallet(*w.client_a, 1, wallet_class::ii, false, cny(1'000));
  const auto near_cap = w.wallet(*w.client_b, 2, wallet_class::iv, false, cny(9'950));
  // Named right, named wrong (a bank A does not know), and the name of a bank that does not
  // host the payee: B's cap is checked every time.
  CHECK(w.pay(*w.client_a, payer, near_cap.pub(), money{5'001, currency::cny}, "b") ==
        status_code::balance_limit);
  CHECK(w.pay(*w.client_a, payer, near_cap.pub(), money{5'001, currency::cny}, "zz") ==
        status_code::balance_limit);
  CHECK(w.pay(*w.client_a, payer, near_cap.pub(), cny(50), "b") == status_code::ok);
  const auto nobody = key_pair::from_seed(profile::ed25519, indexed_seed(9, 0x5a));
  CHECK(w.pay(*w.client_a, payer, nobody.pub(), cny(10), "b") == status_code::ok);
  // B names A by endpoint only: a name is no use there, and the payment still goes.
  const auto at_b = w.wallet(*w.client_b, 4, wallet_class::ii, false, cny(100));
  CHECK(w.pay(*w.client_b, at_b, payer.pub(), cny(10), "a") == status_code::ok);
}
