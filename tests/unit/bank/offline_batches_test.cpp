// A device's transfers cut into the batches its bank takes, and a bank's own offline limits.
#include <catch2/catch.hpp>

#include "bank/interface.hpp"

using namespace cbdc;

namespace {

constexpr std::int64_t k_now = 1'800'000'000;
constexpr std::int64_t k_year_s = std::int64_t{365} * 24 * 3600;

auto key_of(std::uint64_t n) -> key_pair {
  return key_pair::from_seed(profile::ed25519, indexed_seed(n, 0xba));
}

}  // namespace

TEST_CASE("offline batches: at most 256 transfers, each with its own signers' certificates",
          "[offline]") {
  const auto central = key_of(1);
  const auto bank_key = key_of(2);
  const auto bank =
      offline::certify_bank(central, "bank-a", bank_key.pub(), currency::cny, k_now + k_year_s);
  const auto limits = *offline::default_limits(1);
  const auto make = [&](std::uint64_t n) {
    auto cert =
        offline::certify_device(bank_key, "bank-a", key_of(n).pub(), 1, limits, k_now + k_year_s);
    auto d = offline::device::create(key_of(n), cert, bank, central.pub(), k_now);
    REQUIRE(d.ok());
    return std::move(*d);
  };
  auto shop = make(10);
  constexpr std::uint64_t k_payers = 300;
  for (std::uint64_t n = 0; n < k_payers; ++n) {
    auto payer = make(100 + n);
    hash256 token;
    token.data.at(0) = static_cast<std::uint8_t>(n & 0xffU);
    token.data.at(1) = static_cast<std::uint8_t>(n >> 8U);
    REQUIRE(payer.load_token(
        offline::vouch(bank_key, "bank-a", token, money{1'000, currency::cny}, payer.key())));
    auto m = payer.pay(shop.key(), money{100, currency::cny}, k_now);
    REQUIRE(m.ok());
    REQUIRE(shop.receive(*m, k_now).ok());
  }
  const auto txs = shop.to_submit();
  REQUIRE(txs.size() == k_payers);
  const auto batches = bank::offline_batches(txs, shop.known_certs(), shop.known_banks());
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].txs.size() == bank::k_max_offline_batch);
  CHECK(batches[1].txs.size() == k_payers - bank::k_max_offline_batch);
  // In order, every transfer once; each batch carries only the certificates of its signers.
  std::size_t at = 0;
  for (const auto& b : batches) {
    CHECK(b.certs.size() == b.txs.size());  // one payer each, the shop signed none
    REQUIRE(b.banks.size() == 1);
    CHECK(b.banks[0].bank_id == "bank-a");
    for (const auto& tx : b.txs) {
      CHECK(tx.id == txs.at(at++).id);
      const auto& signer = tx.sigs.front().signer;
      CHECK(std::any_of(b.certs.begin(), b.certs.end(),
                        [&](const offline::device_cert& c) { return c.device == signer; }));
    }
  }
  CHECK(bank::offline_batches({}, shop.known_certs(), shop.known_banks()).empty());
}

TEST_CASE("a bank's offline limits replace the class defaults, each on its own", "[offline]") {
  offline::limit_policy policy;
  CHECK(policy.valid());
  CHECK(*policy.limits_for(4) == *offline::default_limits(4));
  policy.balance_cap_minor = 30'000;
  policy.max_payments = 3;
  REQUIRE(policy.valid());
  for (std::uint8_t cls = 1; cls <= 4; ++cls) {
    const auto l = policy.limits_for(cls);
    REQUIRE(l.ok());
    CHECK(l->balance_cap_minor == 30'000);
    CHECK(l->max_payments == 3);
    CHECK(l->payment_cap_minor == offline::default_limits(cls)->payment_cap_minor);
    CHECK(l->max_offline_s == offline::default_limits(cls)->max_offline_s);
  }
  CHECK(policy.limits_for(5).code() == status_code::bad_request);
  policy.payment_cap_minor = 0;
  CHECK_FALSE(policy.valid());
}
