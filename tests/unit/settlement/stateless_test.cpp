// Settlement's stateless checks of a transaction: every refusal typed.
#include <catch2/catch.hpp>
#include <limits>

#include "settlement/engine.hpp"
#include "tests/support/seeds.hpp"

using namespace cbdc;
using cbdc::test::seed_of;
using settlement::check_stateless;
using settlement::engine_config;

namespace {

struct fixture {
  key_pair payer = key_pair::from_seed(profile::ed25519, seed_of(1));
  key_pair payee = key_pair::from_seed(profile::ed25519, seed_of(2));
  engine_config config;

  auto transfer(std::int64_t amount = 100) const -> transaction {
    transaction tx;
    tx.kind = tx_kind::transfer;
    hash256 in;
    in.data.fill(7);
    tx.inputs = {in};
    tx.outputs = {tx_output{currency::cny, amount, payee.pub()}};
    return tx;
  }
  auto signed_by_payer(transaction tx) const -> signed_tx {
    auto stx = signed_tx::make(std::move(tx));
    stx.sign_with(payer);
    return stx;
  }
};

}  // namespace

TEST_CASE("a well-formed signed transfer passes the stateless checks", "[settlement]") {
  const fixture f;
  CHECK(check_stateless(f.signed_by_payer(f.transfer()), f.config).ok());
}

TEST_CASE("profile_mismatch: a transaction of another profile", "[settlement]") {
  fixture f;
  f.config.prof = profile::sm2;
  CHECK(check_stateless(f.signed_by_payer(f.transfer()), f.config).code() ==
        status_code::profile_mismatch);
}

TEST_CASE("amount_invalid: zero negative and overflowing outputs", "[settlement]") {
  const fixture f;
  CHECK(check_stateless(f.signed_by_payer(f.transfer(0)), f.config).code() ==
        status_code::amount_invalid);
  CHECK(check_stateless(f.signed_by_payer(f.transfer(-5)), f.config).code() ==
        status_code::amount_invalid);
  auto tx = f.transfer(std::numeric_limits<std::int64_t>::max());
  tx.outputs.push_back(tx_output{currency::cny, 1, f.payer.pub()});
  CHECK(check_stateless(f.signed_by_payer(tx), f.config).code() == status_code::amount_invalid);
}

TEST_CASE("duplicate_input: the same token twice", "[settlement]") {
  const fixture f;
  auto tx = f.transfer();
  tx.inputs.push_back(tx.inputs.front());
  CHECK(check_stateless(f.signed_by_payer(tx), f.config).code() == status_code::duplicate_input);
}

TEST_CASE("malformed: kinds of the wrong shape and two signatures by one key", "[settlement]") {
  const fixture f;
  auto issue_with_inputs = f.transfer();
  issue_with_inputs.kind = tx_kind::issue;
  CHECK(check_stateless(f.signed_by_payer(issue_with_inputs), f.config).code() ==
        status_code::malformed);
  auto redeem_with_outputs = f.transfer();
  redeem_with_outputs.kind = tx_kind::redeem;
  CHECK(check_stateless(f.signed_by_payer(redeem_with_outputs), f.config).code() ==
        status_code::malformed);
  auto transfer_without_outputs = f.transfer();
  transfer_without_outputs.outputs.clear();
  CHECK(check_stateless(f.signed_by_payer(transfer_without_outputs), f.config).code() ==
        status_code::malformed);
  auto twice = f.signed_by_payer(f.transfer());
  twice.sign_with(f.payer);
  CHECK(check_stateless(twice, f.config).code() == status_code::malformed);
}

TEST_CASE("missing_signature and bad_signature", "[settlement]") {
  const fixture f;
  const auto unsigned_tx = signed_tx::make(f.transfer());
  CHECK(check_stateless(unsigned_tx, f.config).code() == status_code::missing_signature);
  auto forged = f.signed_by_payer(f.transfer());
  forged.sigs[0].sig[3] ^= 1U;
  CHECK(check_stateless(forged, f.config).code() == status_code::bad_signature);
  // A signature made over other bytes.
  auto other = f.signed_by_payer(f.transfer());
  other.sigs[0].sig = f.payer.sign(encode(f.transfer(101)));
  CHECK(check_stateless(other, f.config).code() == status_code::bad_signature);
}
