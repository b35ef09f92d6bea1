// Dual-offline payments through the banks: devices certified and loaded within their cap,
// chains of offline payments reconciled in either order, a cloned device's double spend
// caught, attributed and revoked at both banks, and a bank restarted mid-reconciliation.
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "offline/messages.hpp"
#include "tests/support/two_banks.hpp"

using namespace cbdc;
using bank::wallet_class;
using test::cny;
using test::two_banks;

namespace {

auto now_s() -> std::int64_t {
  return unix_now_us() / 1'000'000;
}

auto device_key(std::uint64_t n) -> key_pair {
  return key_pair::from_seed(profile::ed25519, indexed_seed(n, 0xd7));
}

/// A wallet's customer, its device certified by its bank.
struct holder {
  key_pair wallet;
  std::unique_ptr<bank::client> bank;
  std::unique_ptr<offline::device> device;
};

auto make_holder(two_banks& w, bool at_a, std::uint64_t n, money funded) -> holder {
  auto wallet = w.wallet(at_a ? *w.client_a : *w.client_b, n, wallet_class::ii, false, funded);
  auto client = w.customer(at_a ? w.ep_a : w.ep_b, wallet);
  const auto key = device_key(n);
  auto issued = client->issue_device(wallet.pub(), key.pub());
  REQUIRE(issued.ok());
  CHECK(issued->cert.wallet_class == 2);
  auto d = offline::device::create(key, issued->cert, issued->bank, issued->central_bank, now_s());
  REQUIRE(d.ok());
  return holder{wallet, std::move(client), std::make_unique<offline::device>(std::move(*d))};
}

/// The wallet's payment to its own device, through its bank.
auto load(two_banks& w, holder& h, money amount) -> result<bank::device_loaded> {
  auto unspent = h.bank->list_unspent(h.wallet.pub());
  REQUIRE(unspent.ok());
  auto tx = payment::build_payment(h.wallet, *unspent, h.device->key(), amount, ++w.nonce, "load");
  REQUIRE(tx.ok());
  return h.bank->load_device(*tx);
}

/// What the device hands its bank back online, and what it keeps of the answer.
auto reconnect(holder& h) -> bank::offline_submitted {
  auto answer = h.bank->submit_offline(
      bank::offline_batch{h.device->to_submit(), h.device->known_certs(), h.device->known_banks()});
  INFO((answer ? std::string{} : to_string(answer.err())));
  REQUIRE(answer.ok());
  std::vector<hash256> settled;
  const auto txs = h.device->to_submit();
  REQUIRE(answer->receipts.size() == txs.size());
  for (std::size_t i = 0; i < txs.size(); ++i) {
    if (answer->receipts[i].ok()) {
      settled.push_back(txs[i].id);
    }
  }
  h.device->settled(settled, answer->vouchers);
  return *answer;
}

auto ledger_balance(two_banks& w, const public_key& owner) -> std::int64_t {
  auto unspent = w.settle->list_unspent(owner);
  REQUIRE(unspent.ok());
  std::int64_t sum = 0;
  for (const auto& t : *unspent) {
    sum += t.amount_minor;
  }
  return sum;
}

void supply_whole(two_banks& w) {
  auto supply = w.settle->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor - supply->redeemed_minor == supply->unspent_minor);
}

}  // namespace

TEST_CASE("offline: devices loaded within their cap, three hops, reconciled in either order",
          "[offline][integration]") {
  two_banks w(true);
  auto alice = make_holder(w, true, 1, cny(6'000));
  auto bob = make_holder(w, false, 2, cny(0));
  auto carol = make_holder(w, true, 3, cny(0));
  const auto cap = alice.device->cert().limits.balance_cap_minor;  // class II: 5,000.00

  // Loading: over the device's cap refused before anything moves; at the cap it settles.
  CHECK(load(w, alice, money{cap + 1, currency::cny}).code() == status_code::offline_balance_cap);
  auto loaded = load(w, alice, cny(800));
  REQUIRE(loaded.ok());
  REQUIRE(loaded->vouchers.size() == 1);
  REQUIRE(alice.device->load_token(loaded->vouchers[0]).ok());
  CHECK(load(w, alice, money{cap - 80'000 + 1, currency::cny}).code() ==
        status_code::offline_balance_cap);
  CHECK(ledger_balance(w, alice.device->key()) == 80'000);

  // Offline: alice -> bob (another bank) -> carol -> alice.
  auto m1 = alice.device->pay(bob.device->key(), cny(100), now_s());
  REQUIRE(m1.ok());
  REQUIRE(bob.device->receive(*m1, now_s()).ok());
  auto m2 = bob.device->pay(carol.device->key(), cny(60), now_s());
  REQUIRE(m2.ok());
  REQUIRE(carol.device->receive(*m2, now_s()).ok());
  auto m3 = carol.device->pay(alice.device->key(), cny(30), now_s());
  REQUIRE(m3.ok());
  REQUIRE(alice.device->receive(*m3, now_s()).ok());

  // The last payee reconnects first: the whole chain settles in dependency order.
  auto c = reconnect(carol);
  REQUIRE(c.receipts.size() == 3);
  for (const auto& r : c.receipts) {
    CHECK(r.ok());
  }
  // The others then find theirs settled already.
  for (auto* h : {&bob, &alice}) {
    for (const auto& r : reconnect(*h).receipts) {
      REQUIRE(r.ok());
      CHECK(r->status == status_code::already_settled);
    }
  }
  CHECK(ledger_balance(w, alice.device->key()) == 80'000 - 10'000 + 3'000);
  CHECK(ledger_balance(w, bob.device->key()) == 4'000);
  CHECK(ledger_balance(w, carol.device->key()) == 3'000);
  CHECK(alice.device->balance() == cny(730));
  // Settled and vouched afresh, the devices keep no chain.
  CHECK(alice.device->to_submit().empty());
  CHECK(carol.device->to_submit().empty());
  supply_whole(w);

  // Unloading: back to the wallet, through its bank, which indexes it.
  auto before = alice.bank->balance(alice.wallet.pub());
  REQUIRE(before.ok());
  auto unload = alice.device->unload(alice.wallet.pub(), cny(730));
  REQUIRE(unload.ok());
  auto back = reconnect(alice);
  REQUIRE(back.receipts.size() == 1);
  CHECK(back.receipts[0].ok());
  CHECK(ledger_balance(w, alice.device->key()) == 0);
  CHECK(ledger_balance(w, alice.wallet.pub()) == before->minor() + 73'000);
  supply_whole(w);
}

TEST_CASE("offline: a hosted wallet cannot pass its limits as a device", "[offline][integration]") {
  two_banks w(true);
  auto alice = make_holder(w, true, 1, cny(100));
  // The wallet's own transfer handed in as an offline one: refused, nothing sent.
  auto unspent = alice.bank->list_unspent(alice.wallet.pub());
  REQUIRE(unspent.ok());
  auto tx = payment::build_payment(alice.wallet, *unspent, device_key(9).pub(), cny(10), 77, "");
  REQUIRE(tx.ok());
  auto answer = alice.bank->submit_offline(bank::offline_batch{{*tx}, {}, {}});
  REQUIRE(answer.ok());
  REQUIRE(answer->receipts.size() == 1);
  CHECK(answer->receipts[0].code() == status_code::not_authorized);
  CHECK(w.settle->get_tx(tx->id).code() == status_code::not_found);
  // A device key cannot be a hosted wallet's, nor a wallet certify another's device.
  CHECK(alice.bank->issue_device(alice.wallet.pub(), alice.wallet.pub()).code() ==
        status_code::bad_request);
  auto bob = make_holder(w, true, 2, cny(0));
  CHECK(bob.bank->issue_device(bob.wallet.pub(), alice.device->key()).code() ==
        status_code::bad_request);
  // A device from a certificate chain the central bank never signed is no device.
  const auto rogue = key_pair::from_seed(profile::ed25519, indexed_seed(7, 0x0f));
  const auto stranger = device_key(8);
  auto batch = bank::offline_batch{
      {},
      {offline::certify_device(rogue, "z", stranger.pub(), 4, *offline::default_limits(4),
                               now_s() + 1000)},
      {offline::certify_bank(rogue, "z", rogue.pub(), currency::cny, now_s() + 1000)}};
  transaction t;
  t.inputs = {hash256{}};
  t.outputs = {tx_output{currency::cny, 1, stranger.pub()}};
  auto forged = signed_tx::make(t);
  forged.sign_with(stranger);
  batch.txs = {forged};
  auto refused = alice.bank->submit_offline(batch);
  REQUIRE(refused.ok());
  CHECK(refused->receipts[0].code() == status_code::not_authorized);
  // A bank without a certificate takes part in nothing offline.
  two_banks plain;
  CHECK(plain.client_a->revocations().code() == status_code::not_permitted);
}

TEST_CASE("offline: a cloned device's double spend is caught, attributed and revoked everywhere",
          "[offline][integration]") {
  two_banks w(true);
  auto cloned = make_holder(w, true, 1, cny(1'000));
  auto shop_a = make_holder(w, true, 2, cny(0));
  auto shop_b = make_holder(w, false, 3, cny(0));
  auto loaded = load(w, cloned, cny(200));
  REQUIRE(loaded.ok());
  REQUIRE(cloned.device->load_token(loaded->vouchers[0]).ok());
  cloned.device->compromise();
  auto to_a = cloned.device->pay(shop_a.device->key(), cny(200), now_s());
  auto to_b = cloned.device->pay(shop_b.device->key(), cny(200), now_s());
  REQUIRE(to_a.ok());
  REQUIRE(to_b.ok());
  REQUIRE(shop_a.device->receive(*to_a, now_s()).ok());
  REQUIRE(shop_b.device->receive(*to_b, now_s()).ok());

  // The shop at bank a settles first; the one at bank b finds the double spend, and bank b
  // tells bank a, whose device it is.
  CHECK(reconnect(shop_a).receipts.at(0).ok());
  auto found = reconnect(shop_b);
  REQUIRE(found.receipts.size() == 1);
  CHECK(found.receipts[0].code() == status_code::double_spend);
  REQUIRE(found.double_spends.size() == 1);
  CHECK(found.double_spends[0].evidence.device == cloned.device->key());
  CHECK(found.double_spends[0].settled.id == to_a->payment.id);
  CHECK(found.double_spends[0].refused.id == to_b->payment.id);
  // The loss is the payee's who accepted second: its token never settled.
  CHECK(ledger_balance(w, shop_a.device->key()) == 20'000);
  CHECK(ledger_balance(w, shop_b.device->key()) == 0);
  supply_whole(w);

  // Bank a revokes its device and pushes its list to bank b; both then hand it to devices.
  const auto revoked_at = [&](bank::client& c) {
    auto sync = c.revocations();
    REQUIRE(sync.ok());
    for (const auto& l : sync->lists) {
      for (const auto& d : l.devices) {
        if (d == cloned.device->key()) {
          return true;
        }
      }
    }
    return false;
  };
  bool everywhere = false;
  for (int i = 0; i < 50 && !everywhere; ++i) {
    everywhere = revoked_at(*w.client_a) && revoked_at(*w.client_b);
    if (!everywhere) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  REQUIRE(everywhere);
  // A device at bank b syncs, and refuses the cloned device from then on.
  auto sync = shop_b.bank->revocations();
  REQUIRE(sync.ok());
  for (const auto& l : sync->lists) {
    REQUIRE(shop_b.device->sync(l, sync->banks, now_s()).ok());
  }
  auto again = cloned.device->pay(shop_b.device->key(), cny(200), now_s());
  REQUIRE(again.ok());
  CHECK(shop_b.device->receive(*again, now_s()).code() == status_code::device_revoked);
  // Its bank certifies and loads it no more.
  CHECK(cloned.bank->issue_device(cloned.wallet.pub(), cloned.device->key()).code() ==
        status_code::device_revoked);
  CHECK(load(w, cloned, cny(10)).code() == status_code::device_revoked);
}

TEST_CASE("offline: a bank restarted during reconciliation loses nothing",
          "[offline][integration]") {
  two_banks w(true);
  auto payer = make_holder(w, true, 1, cny(1'000));
  auto payee = make_holder(w, true, 2, cny(0));
  auto loaded = load(w, payer, cny(500));
  REQUIRE(loaded.ok());
  REQUIRE(payer.device->load_token(loaded->vouchers[0]).ok());
  for (int i = 0; i < 8; ++i) {
    auto m = payer.device->pay(payee.device->key(), cny(10), now_s());
    REQUIRE(m.ok());
    REQUIRE(payee.device->receive(*m, now_s()).ok());
  }
  // The first attempt is cut short by the bank going down under it.
  const auto txs = payee.device->to_submit();
  REQUIRE(txs.size() == 8);
  auto cut = std::async(std::launch::async, [&] {
    return payee.bank->submit_offline(
        bank::offline_batch{txs, payee.device->known_certs(), payee.device->known_banks()});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  w.restart_a();
  (void)cut.get();  // answered or not: the device keeps everything until it hears
  payee.bank = w.customer(w.ep_a, payee.wallet);
  auto answer = reconnect(payee);
  for (const auto& r : answer.receipts) {
    CHECK(r.ok());  // settled now, or already before the restart
  }
  CHECK(ledger_balance(w, payee.device->key()) == 8'000);
  CHECK(ledger_balance(w, payer.device->key()) == 50'000 - 8'000);
  CHECK(payee.device->to_submit().empty());
  supply_whole(w);
}

TEST_CASE(
    "offline: the bank's offline requests refuse a wrong role, a malformed body, and "
    "answer a repeat alike, while it keeps serving",
    "[offline][integration]") {
  two_banks w(true);
  auto alice = make_holder(w, true, 1, cny(10));
  // As bank a's operator (role operator): the requests between banks are refused.
  rpc_client ops(w.ep_a, w.nodes.client("a/ops", "a"));
  const auto status_of = [&](wire::Envelope req) {
    auto answer = ops.call(std::move(req));
    REQUIRE(answer.ok());
    return answer_status(*answer).code;
  };
  wire::Envelope pushed;
  offline::write(*pushed.mutable_revocations_pushed()->mutable_list(),
                 offline::revoke(w.vault_b, "b", {alice.device->key()}, now_s()));
  CHECK(status_of(pushed) == status_code::not_authorized);
  wire::Envelope reported;
  reported.mutable_double_spend();
  CHECK(status_of(reported) == status_code::not_authorized);
  // Malformed bodies: keys that are not keys, a transfer that is not one.
  wire::Envelope bad_key;
  bad_key.mutable_issue_device()->set_owner("xyz");
  bad_key.mutable_issue_device()->set_device_key("abc");
  CHECK(status_of(bad_key) == status_code::malformed);
  wire::Envelope bad_tx;
  bad_tx.mutable_submit_offline()->add_txs()->set_body("not a transaction");
  CHECK(status_of(bad_tx) == status_code::malformed);
  wire::Envelope too_many;
  for (std::size_t i = 0; i <= bank::service::k_max_offline_batch; ++i) {
    too_many.mutable_submit_offline()->add_txs();
  }
  CHECK(status_of(too_many) == status_code::too_large);
  // A repeat: the same device certified again answers the same certificate.
  auto again = alice.bank->issue_device(alice.wallet.pub(), alice.device->key());
  REQUIRE(again.ok());
  CHECK(again->cert.signed_bytes() == alice.device->cert().signed_bytes());
  // And the bank serves on.
  CHECK(alice.bank->revocations().ok());
  CHECK(w.client_a->revocations().ok());
}
