// Dual-offline payments between devices: what a payer's secure element refuses, what a payee
// verifies (each refusal provoked, each limit at and over its boundary), chains of hops, a
// cloned device's double spend, and the device's state on disk.
#include <catch2/catch.hpp>
#include <filesystem>

#include "offline/device.hpp"

using namespace cbdc;
using offline::device;

namespace {

constexpr std::int64_t k_now = 1'800'000'000;
constexpr std::int64_t k_year_s = std::int64_t{365} * 24 * 3600;

auto cny(std::int64_t minor) -> money {
  return money{minor, currency::cny};
}

/// A central bank, two certified banks and a rogue one, and devices issued by them.
struct scheme {
  key_pair central = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x0c));
  key_pair bank_a = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x0a));
  key_pair bank_b = key_pair::from_seed(profile::ed25519, indexed_seed(2, 0x0a));
  key_pair rogue = key_pair::from_seed(profile::ed25519, indexed_seed(3, 0x0a));
  offline::bank_cert cert_a =
      offline::certify_bank(central, "bank-a", bank_a.pub(), currency::cny, k_now + k_year_s);
  offline::bank_cert cert_b =
      offline::certify_bank(central, "bank-b", bank_b.pub(), currency::cny, k_now + k_year_s);
  offline::limits class_iv = *offline::default_limits(4);
  std::uint64_t next_token{0};

  /// Device n's key (the test keeps a copy to forge with).
  static auto key_of(std::uint64_t n) -> key_pair {
    return key_pair::from_seed(profile::ed25519, indexed_seed(n, 0xde));
  }
  auto make(std::uint64_t n, bool at_b = false, std::int64_t expires_s = k_now + k_year_s)
      -> device {
    const auto& bank = at_b ? bank_b : bank_a;
    const auto& bank_id = at_b ? cert_b.bank_id : cert_a.bank_id;
    auto cert = offline::certify_device(bank, bank_id, key_of(n).pub(), 4, class_iv, expires_s);
    auto d = device::create(key_of(n), cert, at_b ? cert_b : cert_a, central.pub(), k_now);
    REQUIRE(d.ok());
    return std::move(*d);
  }
  /// A settled token of `amount` for d, vouched by its bank.
  auto voucher_for(const device& d, std::int64_t amount) -> offline::voucher {
    const auto& bank = d.cert().bank_id == "bank-a" ? bank_a : bank_b;
    hash256 id;
    id.data.fill(static_cast<std::uint8_t>(++next_token));
    return offline::vouch(bank, d.cert().bank_id, id, cny(amount), d.key());
  }
  void load(device& d, std::int64_t amount) { REQUIRE(d.load_token(voucher_for(d, amount)).ok()); }
};

/// Re-signs a message's payment and attestation with the payer's key after a test changed them.
void resign(offline::payment_message& m, const key_pair& payer) {
  auto tx = signed_tx::make(m.payment.tx);
  tx.sign_with(payer);
  m.payment = tx;
  m.attestation.tx_id = tx.id;
  m.attestation.counter = tx.tx.nonce;
  m.attestation.sig = payer.sign(m.attestation.signed_bytes());
}

}  // namespace

TEST_CASE("offline: three hops verify, balances move, the chain is submitted in dependency order",
          "[offline]") {
  scheme s;
  auto d1 = s.make(1);
  auto d2 = s.make(2, true);  // at another bank
  auto d3 = s.make(3);
  s.load(d1, 80'000);

  auto m1 = d1.pay(d2.key(), cny(10'000), k_now + 10);
  REQUIRE(m1.ok());
  CHECK(m1->chain.empty());
  CHECK(m1->roots.size() == 1);
  REQUIRE(d2.receive(*m1, k_now + 11).ok());
  // The payment crosses a file or a QR code as bytes.
  auto m2 = d2.pay(d3.key(), cny(6'000), k_now + 20);
  REQUIRE(m2.ok());
  auto wire2 = offline::decode_payment(offline::encode(*m2));
  REQUIRE(wire2.ok());
  CHECK(wire2->chain.size() == 1);
  REQUIRE(d3.receive(*wire2, k_now + 21).ok());
  auto m3 = d3.pay(d1.key(), cny(3'000), k_now + 30);
  REQUIRE(m3.ok());
  CHECK(m3->chain.size() == 2);
  REQUIRE(d1.receive(*m3, k_now + 31).ok());

  CHECK(d1.balance() == cny(80'000 - 10'000 + 3'000));
  CHECK(d2.balance() == cny(4'000));
  CHECK(d3.balance() == cny(3'000));
  CHECK(d1.counter() == 1);

  // d1 holds all three transfers: its own first, then d2's and d3's, each after what it spends.
  const auto txs = d1.to_submit();
  REQUIRE(txs.size() == 3);
  CHECK(txs[0].id == m1->payment.id);
  CHECK(txs[1].id == m2->payment.id);
  CHECK(txs[2].id == m3->payment.id);
  // d3 holds d1's and d2's, which its own payment came from.
  CHECK(d3.to_submit().size() == 3);
}

TEST_CASE("offline: the payer's secure element keeps its limits, at and over each", "[offline]") {
  scheme s;
  const auto cap = s.class_iv.payment_cap_minor;
  SECTION("per-payment cap") {
    auto d1 = s.make(1);
    auto d2 = s.make(2);
    s.load(d1, s.class_iv.balance_cap_minor);
    CHECK(d1.pay(d2.key(), cny(cap + 1), k_now).code() == status_code::offline_payment_cap);
    CHECK(d1.pay(d2.key(), cny(cap), k_now).ok());
  }
  SECTION("payments between syncs") {
    auto d1 = s.make(1);
    auto d2 = s.make(2);
    s.load(d1, s.class_iv.balance_cap_minor);
    for (std::uint32_t i = 0; i < s.class_iv.max_payments; ++i) {
      REQUIRE(d1.pay(d2.key(), cny(100), k_now).ok());
    }
    CHECK(d1.pay(d2.key(), cny(100), k_now).code() == status_code::offline_count_cap);
    // A sync starts the count again.
    REQUIRE(d1.sync(offline::revoke(s.bank_a, "bank-a", {}, k_now), {}, k_now + 1).ok());
    CHECK(d1.pay(d2.key(), cny(100), k_now + 1).ok());
  }
  SECTION("time since the last sync") {
    auto d1 = s.make(1);
    auto d2 = s.make(2);
    s.load(d1, 10'000);
    const auto limit = s.class_iv.max_offline_s;
    CHECK(d1.pay(d2.key(), cny(100), k_now + limit + 1).code() == status_code::offline_sync_stale);
    CHECK(d1.pay(d2.key(), cny(100), k_now + limit).ok());
  }
  SECTION("balance cap when loading") {
    auto d1 = s.make(1);
    s.load(d1, s.class_iv.balance_cap_minor - 1);
    CHECK(d1.load_token(s.voucher_for(d1, 2)).code() == status_code::offline_balance_cap);
    CHECK(d1.load_token(s.voucher_for(d1, 1)).ok());
    CHECK(d1.balance() == cny(s.class_iv.balance_cap_minor));
  }
  SECTION("what it does not hold") {
    auto d1 = s.make(1);
    s.load(d1, 100);
    CHECK(d1.pay(s.make(2).key(), cny(101), k_now).code() == status_code::insufficient_funds);
  }
  SECTION("a voucher of another bank, or for another device") {
    auto d1 = s.make(1);
    auto other = s.make(2, true);
    CHECK(d1.load_token(s.voucher_for(other, 100)).code() == status_code::certificate_invalid);
    auto mine = s.voucher_for(d1, 100);
    mine.owner = other.key();
    mine.sig = s.bank_a.sign(mine.signed_bytes());
    CHECK(d1.load_token(mine).code() == status_code::bad_request);
  }
}

TEST_CASE("offline: the payee refuses, naming the rule", "[offline]") {
  scheme s;
  auto payer = s.make(1);
  auto payee = s.make(2);
  s.load(payer, 90'000);

  SECTION("a certificate past its expiry") {
    auto short_lived = s.make(3, false, k_now + 100);
    s.load(short_lived, 1'000);
    auto m = short_lived.pay(payee.key(), cny(500), k_now + 50);
    REQUIRE(m.ok());
    CHECK(payee.receive(*m, k_now + 101).code() == status_code::certificate_expired);
    CHECK(payee.receive(*m, k_now + 100).ok());  // at its expiry it still holds
  }
  SECTION("a bank not certified by the central bank") {
    auto rogue_bank =
        offline::certify_bank(s.rogue, "bank-r", s.rogue.pub(), currency::cny, k_now + k_year_s);
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    m->certs[0] =
        offline::certify_device(s.rogue, "bank-r", payer.key(), 4, s.class_iv, k_now + k_year_s);
    m->banks = {rogue_bank};
    CHECK(payee.receive(*m, k_now).code() == status_code::certificate_invalid);
  }
  SECTION("a device certificate its bank did not sign") {
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    m->certs[0].limits.payment_cap_minor *= 10;  // the device raised its own limit
    CHECK(payee.receive(*m, k_now).code() == status_code::certificate_invalid);
  }
  SECTION("a revoked device") {
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    REQUIRE(payee.sync(offline::revoke(s.bank_a, "bank-a", {payer.key()}, k_now), {}, k_now).ok());
    CHECK(payee.receive(*m, k_now).code() == status_code::device_revoked);
    // A revocation list signed by no certified bank is refused, and changes nothing.
    auto forged = offline::revoke(s.rogue, "bank-a", {payee.key()}, k_now);
    CHECK(payee.sync(forged, {}, k_now).code() == status_code::certificate_invalid);
  }
  SECTION("a chain with a link missing, and a forged voucher") {
    auto middle = s.make(3);
    auto first = payer.pay(middle.key(), cny(5'000), k_now);
    REQUIRE(first.ok());
    REQUIRE(middle.receive(*first, k_now).ok());
    auto second = middle.pay(payee.key(), cny(1'000), k_now);
    REQUIRE(second.ok());
    auto missing = *second;
    missing.chain.clear();
    CHECK(payee.receive(missing, k_now).code() == status_code::chain_invalid);
    auto forged = *second;
    forged.roots[0].amount_minor *= 2;
    CHECK(payee.receive(forged, k_now).code() == status_code::chain_invalid);
    CHECK(payee.receive(*second, k_now).ok());
  }
  SECTION("a transfer whose signature does not match") {
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    m->payment.sigs[0].sig[0] ^= 1U;
    CHECK(payee.receive(*m, k_now).code() == status_code::bad_signature);
  }
  SECTION("more out than in") {
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    m->payment.tx.outputs[0].amount_minor += 1;
    resign(*m, scheme::key_of(1));
    CHECK(payee.receive(*m, k_now).code() == status_code::value_not_conserved);
  }
  SECTION("the same payment twice, and a counter that went back") {
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    REQUIRE(payee.receive(*m, k_now).ok());
    CHECK(payee.receive(*m, k_now).code() == status_code::counter_replay);
    CHECK(payee.balance() == cny(500));
  }
  SECTION("a payment over the payer's cap, at and over") {
    payer.compromise();  // a broken secure element pays what it likes; the payee still checks
    const auto cap = s.class_iv.payment_cap_minor;
    auto over = payer.pay(payee.key(), cny(cap + 1), k_now);
    REQUIRE(over.ok());
    CHECK(payee.receive(*over, k_now).code() == status_code::offline_payment_cap);
    auto at = payer.pay(payee.key(), cny(cap), k_now);
    REQUIRE(at.ok());
    CHECK(payee.receive(*at, k_now).ok());
  }
  SECTION("the payer's count and sync age as its secure element attests them") {
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    auto counted = *m;
    counted.attestation.payments_since_sync = s.class_iv.max_payments + 1;
    resign(counted, scheme::key_of(1));
    CHECK(payee.receive(counted, k_now).code() == status_code::offline_count_cap);
    auto stale = *m;
    stale.attestation.synced_s = k_now - s.class_iv.max_offline_s - 1;
    resign(stale, scheme::key_of(1));
    CHECK(payee.receive(stale, k_now).code() == status_code::offline_sync_stale);
    auto unsigned_state = *m;
    unsigned_state.attestation.payments_since_sync = 0;  // changed without the payer's key
    CHECK(payee.receive(unsigned_state, k_now).code() == status_code::bad_signature);
    CHECK(payee.receive(*m, k_now).ok());
  }
  SECTION("the payee's own view too old to trust") {
    auto m = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(m.ok());
    CHECK(payee.receive(*m, k_now + s.class_iv.max_offline_s + 1).code() ==
          status_code::offline_sync_stale);
  }
  SECTION("the payee's balance cap, at and over") {
    const auto cap = s.class_iv.balance_cap_minor;
    s.load(payee, cap - 500);
    auto over = payer.pay(payee.key(), cny(501), k_now);
    REQUIRE(over.ok());
    CHECK(payee.receive(*over, k_now).code() == status_code::offline_balance_cap);
    auto at = payer.pay(payee.key(), cny(500), k_now);
    REQUIRE(at.ok());
    CHECK(payee.receive(*at, k_now).ok());
    CHECK(payee.balance() == cny(cap));
  }
}

TEST_CASE("offline: a cloned device pays the same token twice, the two transfers name it",
          "[offline]") {
  scheme s;
  auto cloned = s.make(1);
  auto shop_a = s.make(2);
  auto shop_b = s.make(3, true);
  s.load(cloned, 20'000);
  cloned.compromise();
  auto first = cloned.pay(shop_a.key(), cny(20'000), k_now);
  auto second = cloned.pay(shop_b.key(), cny(20'000), k_now);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->payment.tx.nonce == second->payment.tx.nonce);  // it does not count
  // Offline, neither payee can tell: both accept.
  REQUIRE(shop_a.receive(*first, k_now).ok());
  REQUIRE(shop_b.receive(*second, k_now).ok());
  auto evidence = offline::evidence_of(first->payment, second->payment);
  REQUIRE(evidence.has_value());
  CHECK(evidence->device == cloned.key());
  CHECK(evidence->token_id == first->payment.tx.inputs[0]);
  // Two transfers of different devices, or one transfer twice, are no evidence.
  auto honest = s.make(4);
  s.load(honest, 1'000);
  auto other = honest.pay(shop_a.key(), cny(100), k_now);
  REQUIRE(other.ok());
  CHECK_FALSE(offline::evidence_of(first->payment, other->payment).has_value());
  CHECK_FALSE(offline::evidence_of(first->payment, first->payment).has_value());
}

TEST_CASE("offline: a payee writes off a refused double spend and what it built on it",
          "[offline]") {
  scheme s;
  auto cloned = s.make(1);
  auto shop = s.make(2);
  auto next = s.make(3);
  auto honest = s.make(4);
  s.load(cloned, 20'000);
  s.load(honest, 5'000);
  cloned.compromise();
  auto copy = cloned.pay(shop.key(), cny(20'000), k_now);
  auto fair = honest.pay(shop.key(), cny(3'000), k_now);
  REQUIRE(copy.ok());
  REQUIRE(fair.ok());
  REQUIRE(shop.receive(*copy, k_now).ok());
  REQUIRE(shop.receive(*fair, k_now).ok());
  // The shop pays on with the doubtful tokens (and, for all it knows, some of the fair ones).
  auto onward = shop.pay(next.key(), cny(21'000), k_now + 1);
  REQUIRE(onward.ok());
  CHECK(shop.balance() == cny(2'000));
  CHECK(shop.to_submit().size() == 3);  // the copy, the fair payment, the onward one
  // Its bank refuses the copy for good: the copy and the onward payment built on it go, with
  // the change the onward payment gave back; the fair token the onward payment spent never
  // left the shop on the ledger, so it is the shop's again.
  shop.refused({copy->payment.id});
  CHECK(shop.balance() == cny(3'000));
  const auto left = shop.to_submit();
  REQUIRE(left.size() == 1);
  CHECK(left[0].id == fair->payment.id);
  // The next payee learns the onward payment was refused (its input never existed).
  REQUIRE(next.receive(*onward, k_now + 2).ok());
  CHECK(next.balance() == cny(21'000));
  next.refused({onward->payment.id});
  CHECK(next.balance() == cny(0));
  CHECK(next.to_submit().empty());
  // Refusing what it does not know changes nothing.
  shop.refused({copy->payment.id});
  honest.refused({copy->payment.id});
  CHECK(shop.balance() == cny(3'000));
  CHECK(honest.balance() == cny(2'000));
}

TEST_CASE("offline: a device's state survives a restart, damaged input is refused", "[offline]") {
  scheme s;
  auto d1 = s.make(1);
  auto d2 = s.make(2);
  s.load(d1, 10'000);
  auto m = d1.pay(d2.key(), cny(2'500), k_now);
  REQUIRE(m.ok());
  REQUIRE(d2.receive(*m, k_now).ok());
  const auto dir = std::filesystem::temp_directory_path() / "cbdc-offline-test";
  std::filesystem::create_directories(dir);
  REQUIRE(d1.save(dir / "d1.device").ok());
  REQUIRE(d2.save(dir / "d2.device").ok());
  auto back1 = device::load(dir / "d1.device");
  auto back2 = device::load(dir / "d2.device");
  REQUIRE(back1.ok());
  REQUIRE(back2.ok());
  CHECK(back1->balance() == cny(7'500));
  CHECK(back1->counter() == 1);
  CHECK(back2->balance() == cny(2'500));
  CHECK(back2->to_submit().size() == 1);
  // What it saw is kept: the same payment again is still a replay.
  CHECK(back2->receive(*m, k_now).code() == status_code::counter_replay);
  // And it pays on from what it received.
  auto on = back2->pay(d1.key(), cny(1'000), k_now);
  REQUIRE(on.ok());
  REQUIRE(back1->receive(*on, k_now).ok());
  CHECK(back1->balance() == cny(8'500));

  const auto bytes = offline::encode(*m);
  CHECK(offline::decode_payment(byte_view{bytes.data(), bytes.size() / 2}).code() ==
        status_code::malformed);
  const cbdc::bytes huge(2 << 20, 0x0a);
  CHECK(offline::decode_payment(huge).code() == status_code::too_large);
  CHECK(device::load(dir / "missing.device").code() == status_code::io_error);
  std::filesystem::remove_all(dir);
}
