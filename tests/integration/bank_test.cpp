// The bank over real PostgreSQL and ZeroMQ: wallets, classes, payments, the index and its audit.
#include <catch2/catch.hpp>

#include "bank/bank.hpp"
#include "bank/client.hpp"
#include "bank/server.hpp"
#include "bank/service.hpp"

#include <chrono>
#include <thread>
#include "core/clock.hpp"
#include "payment/build.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;
using bank::wallet_class;
using bank::wallet_kind;

namespace {

auto yuan(std::int64_t y, std::int64_t fen = 0) -> money {
  return money{y * 100 + fen, currency::cny};
}

/// Settlement, a vault holding 1,000,000.00 CNY, and a bank hosting wallets.
struct world {
  world()
      : issuer(key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xee))),
        vault(key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xba))) {
    nodes.add("settle", role::shard).add("cn-bank", role::bank);
    settlement::server_config sc;
    sc.db_url = db.url();
    sc.endpoint = "tcp://127.0.0.1:0";
    sc.engine.issuers[currency::cny] = issuer.pub();
    sc.net = nodes.server("settle");
    auto s = settlement::server::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle = std::make_unique<settlement::client>(settle_svc->endpoint(),
                                                  nodes.client("cn-bank", "settle"));
    transaction mint;
    mint.kind = tx_kind::issue;
    mint.outputs = {tx_output{currency::cny, 100'000'000, vault.pub()}};
    auto stx = signed_tx::make(mint);
    stx.sign_with(issuer);
    REQUIRE(settle->submit(stx)->status == status_code::ok);
    auto b = bank::bank::open(bank_config(), vault);
    REQUIRE(b.ok());
    the_bank = std::move(*b);
  }

  /// The bank's configuration: its database, and settlement as node cn-bank.
  auto bank_config() -> bank::bank_config {
    bank::bank_config bc;
    bc.db_url = db.url();
    bc.settle_spec = settle_svc->endpoint();
    bc.net = nodes.client("cn-bank", "settle");
    return bc;
  }

  auto wallet(std::uint64_t n, wallet_class cls, money funded) -> key_pair {
    auto key = key_pair::from_seed(profile::ed25519, indexed_seed(n, 0x77));
    REQUIRE(the_bank->open_wallet(key.pub(), cls, wallet_kind::personal).ok());
    if (funded.minor() > 0) {
      auto r = the_bank->fund(key.pub(), funded);
      REQUIRE(r.ok());
      REQUIRE(r->status == status_code::ok);
    }
    return key;
  }

  /// payer pays payee through the bank; the status of the attempt.
  auto pay(const key_pair& payer, const public_key& payee, money amount) -> status_code {
    auto unspent = settle->list_unspent(payer.pub());
    REQUIRE(unspent.ok());
    auto tx = payment::build_payment(payer, *unspent, payee, amount, ++nonce, "");
    if (!tx) {
      return tx.code();
    }
    auto r = the_bank->pay(*tx, unix_now_us());
    if (!r) {
      return r.code();
    }
    return r->status;
  }

  test::pg_scratch db;
  test::test_nodes nodes;
  key_pair issuer;
  key_pair vault;
  std::unique_ptr<settlement::server> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<bank::bank> the_bank;
  std::uint64_t nonce{0};
};

}  // namespace

TEST_CASE("a class IV wallet is refused 2000.01 CNY while a class II wallet pays it",
          "[bank][integration]") {
  world w;
  const auto alice = w.wallet(1, wallet_class::iv, yuan(6'000));
  const auto carol = w.wallet(2, wallet_class::ii, yuan(6'000));
  const auto shop = w.wallet(3, wallet_class::i, yuan(0));
  CHECK(w.pay(alice, shop.pub(), yuan(2'000, 1)) == status_code::per_payment_limit);
  CHECK(w.pay(carol, shop.pub(), yuan(2'000, 1)) == status_code::ok);
  CHECK(*w.the_bank->balance(alice.pub()) == yuan(6'000).minor());
  CHECK(*w.the_bank->balance(shop.pub()) == yuan(2'000, 1).minor());
}

TEST_CASE("the daily cap counts the day's settled payments", "[bank][integration]") {
  world w;
  const auto alice = w.wallet(1, wallet_class::iv, yuan(6'000));
  const auto shop = w.wallet(3, wallet_class::i, yuan(0));
  CHECK(w.pay(alice, shop.pub(), yuan(2'000)) == status_code::ok);
  CHECK(w.pay(alice, shop.pub(), yuan(2'000)) == status_code::ok);
  CHECK(w.pay(alice, shop.pub(), yuan(1'000, 1)) == status_code::daily_limit);  // over
  CHECK(w.pay(alice, shop.pub(), yuan(1'000)) == status_code::ok);              // at
  CHECK(w.pay(alice, shop.pub(), yuan(0, 1)) == status_code::daily_limit);
}

TEST_CASE("the day's total survives a restart and a settled payment sent again counts once",
          "[bank][integration]") {
  world w;
  const auto alice = w.wallet(1, wallet_class::iv, yuan(6'000));
  const auto shop = w.wallet(3, wallet_class::i, yuan(0));
  auto unspent = w.settle->list_unspent(alice.pub());
  REQUIRE(unspent.ok());
  auto first = payment::build_payment(alice, *unspent, shop.pub(), yuan(2'000), 1, "");
  REQUIRE(first.ok());
  REQUIRE(w.the_bank->pay(*first, unix_now_us())->status == status_code::ok);
  // The same payment again (a retry): settlement has it; the day's total must not grow.
  CHECK(w.the_bank->pay(*first, unix_now_us())->status == status_code::already_settled);
  CHECK(w.pay(alice, shop.pub(), yuan(2'000)) == status_code::ok);
  // A bank opened again on the same database knows the day's 4,000.00 of 5,000.00.
  auto bc = w.bank_config();
  w.the_bank.reset();
  auto reopened = bank::bank::open(bc, w.vault);
  REQUIRE(reopened.ok());
  w.the_bank = std::move(*reopened);
  CHECK(w.pay(alice, shop.pub(), yuan(1'000, 1)) == status_code::daily_limit);
  CHECK(w.pay(alice, shop.pub(), yuan(1'000)) == status_code::ok);
  CHECK(w.pay(alice, shop.pub(), yuan(0, 1)) == status_code::daily_limit);
}

TEST_CASE("the index takes a token created and spent within one batch of notifications",
          "[bank][integration]") {
  world w;
  auto bc = w.bank_config();
  bc.settle_pub = "tcp://127.0.0.1:1";  // balances from the index (fed by hand here)
  w.the_bank.reset();
  auto b = bank::bank::open(bc, w.vault);
  REQUIRE(b.ok());
  w.the_bank = std::move(*b);
  const auto alice = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x77));
  const auto shop = key_pair::from_seed(profile::ed25519, indexed_seed(3, 0x77));
  REQUIRE(w.the_bank->open_wallet(alice.pub(), wallet_class::ii, wallet_kind::personal).ok());
  REQUIRE(w.the_bank->open_wallet(shop.pub(), wallet_class::i, wallet_kind::merchant).ok());
  const auto raw = [](const hash256& h) { return std::string(h.data.begin(), h.data.end()); };
  const auto batch = [](std::vector<wire::TxSettled> txs) {
    wire::SettledBatch out;
    for (auto& t : txs) {
      *out.add_txs() = std::move(t);
    }
    return out;
  };
  const auto note = [&](const hash256& tx_id, const std::vector<hash256>& spent,
                        const std::vector<std::pair<const key_pair*, std::int64_t>>& outs) {
    wire::TxSettled n;
    n.set_tx_id(raw(tx_id));
    for (const auto& s : spent) {
      n.add_spent(raw(s));
    }
    for (std::uint32_t i = 0; i < outs.size(); ++i) {
      auto* o = n.add_outputs();
      o->set_token_id(raw(token_id_of(profile::ed25519, tx_id, i)));
      o->set_owner(bytes_to_wire(outs[i].first->pub().encode()));
      o->set_currency(static_cast<std::uint32_t>(currency::cny));
      o->set_amount_minor(outs[i].second);
    }
    return n;
  };
  hash256 funding;
  funding.data.fill(0x11);
  hash256 payment;
  payment.data.fill(0x22);
  // Alice is paid 100.00, then pays 30.00 of it to the shop, both in one batch.
  REQUIRE(w.the_bank
              ->index_many(batch({note(funding, {}, {{&alice, 10'000}}),
                                  note(payment, {token_id_of(profile::ed25519, funding, 0)},
                                       {{&shop, 3'000}, {&alice, 7'000}})}))
              .ok());
  CHECK(*w.the_bank->balance(alice.pub()) == 7'000);
  CHECK(*w.the_bank->balance(shop.pub()) == 3'000);
  auto history = w.the_bank->history(alice.pub(), 10);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 2);
  // The same notifications again change nothing; a reopened bank reads the same balances.
  REQUIRE(w.the_bank
              ->index_many(batch({note(payment, {token_id_of(profile::ed25519, funding, 0)},
                                       {{&shop, 3'000}, {&alice, 7'000}})}))
              .ok());
  CHECK(*w.the_bank->balance(alice.pub()) == 7'000);
  w.the_bank.reset();
  auto reopened = bank::bank::open(bc, w.vault);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->balance(alice.pub()) == 7'000);
  CHECK(*(*reopened)->balance(shop.pub()) == 3'000);
  CHECK((*reopened)->balance(w.vault.pub()).code() == status_code::unknown_wallet);
}

TEST_CASE("a payee's balance cap and a sub-wallet's cap are enforced", "[bank][integration]") {
  world w;
  const auto carol = w.wallet(2, wallet_class::ii, yuan(20'000));
  const auto bob = w.wallet(4, wallet_class::iv, yuan(9'000));
  CHECK(w.pay(carol, bob.pub(), yuan(1'000, 1)) == status_code::balance_limit);
  CHECK(w.pay(carol, bob.pub(), yuan(1'000)) == status_code::ok);  // exactly 10,000.00

  const auto parent = w.the_bank->find_wallet(carol.pub());
  REQUIRE(parent.ok());
  const auto kid = key_pair::from_seed(profile::ed25519, indexed_seed(5, 0x77));
  REQUIRE(w.the_bank
              ->open_wallet(kid.pub(), wallet_class::ii, wallet_kind::personal, parent->wallet_id,
                            yuan(300).minor())
              .ok());
  CHECK(w.pay(carol, kid.pub(), yuan(300)) == status_code::ok);
  CHECK(w.pay(carol, kid.pub(), yuan(0, 1)) == status_code::balance_limit);
  // The vault cannot overfill a wallet either.
  CHECK(w.the_bank->fund(bob.pub(), yuan(0, 1)).code() == status_code::balance_limit);
}

TEST_CASE("bank refusals are typed", "[bank][integration]") {
  world w;
  const auto stranger = key_pair::from_seed(profile::ed25519, indexed_seed(9, 0x77));
  const auto shop = w.wallet(3, wallet_class::i, yuan(0));
  CHECK(w.the_bank->find_wallet(stranger.pub()).code() == status_code::unknown_wallet);
  CHECK(w.the_bank->fund(stranger.pub(), yuan(1)).code() == status_code::unknown_wallet);
  CHECK(w.the_bank->open_wallet(shop.pub(), wallet_class::i, wallet_kind::merchant).code() ==
        status_code::bad_request);
  CHECK(
      w.the_bank
          ->open_wallet(stranger.pub(), wallet_class::iv, wallet_kind::personal, "wnothere00000000")
          .code() == status_code::unknown_wallet);
  CHECK(w.the_bank
            ->open_wallet(stranger.pub(), wallet_class::iv, wallet_kind::personal, std::nullopt, 5)
            .code() == status_code::bad_request);
  // Onboarding many: a key twice with two classes, or hosted already with another class, is
  // refused and opens nothing; the same request again is answered with the same records.
  const auto k1 = key_pair::from_seed(profile::ed25519, indexed_seed(21, 0x77)).pub();
  const auto k2 = key_pair::from_seed(profile::ed25519, indexed_seed(22, 0x77)).pub();
  CHECK(w.the_bank
            ->open_wallets({{k1, wallet_class::iv}, {k1, wallet_class::ii}}, wallet_kind::personal)
            .code() == status_code::bad_request);
  CHECK(w.the_bank->find_wallet(k1).code() == status_code::unknown_wallet);
  CHECK(w.the_bank
            ->open_wallets({{k2, wallet_class::i}, {shop.pub(), wallet_class::ii}},
                           wallet_kind::merchant)
            .code() == status_code::bad_request);
  const auto opened = w.the_bank->open_wallets({{k1, wallet_class::iv}, {k2, wallet_class::iii}},
                                               wallet_kind::personal);
  REQUIRE(opened.ok());
  const auto again = w.the_bank->open_wallets({{k1, wallet_class::iv}, {k2, wallet_class::iii}},
                                              wallet_kind::personal);
  REQUIRE(again.ok());
  CHECK(again->at(1).wallet_id == opened->at(1).wallet_id);
  CHECK(w.the_bank->find_wallet(k2)->cls == wallet_class::iii);
}

TEST_CASE(
    "a bank indexes notifications for balances and history, alike in process and over "
    "the wire",
    "[bank][integration]") {
  const bool over_wire = GENERATE(false, true);
  INFO((over_wire ? "over the wire" : "in process"));
  test::pg_scratch db;
  const auto issuer = key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xee));
  const auto vault = key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xba));
  test::test_nodes nodes;
  nodes.add("settle", role::shard)
      .add("cn-bank", role::bank)
      .add("cn-bank/ops", role::operator_)
      .add("other-bank", role::bank);
  settlement::server_config sc;
  sc.db_url = db.url();
  sc.endpoint = "tcp://127.0.0.1:0";
  sc.pub_endpoint = "tcp://127.0.0.1:0";
  sc.engine.issuers[currency::cny] = issuer.pub();
  sc.net = nodes.server("settle");
  auto settle_svc = settlement::server::start(sc);
  REQUIRE(settle_svc.ok());
  settlement::client settle((*settle_svc)->endpoint(), nodes.client("cn-bank", "settle"));
  transaction mint;
  mint.kind = tx_kind::issue;
  mint.outputs = {tx_output{currency::cny, 1'000'000, vault.pub()}};
  auto minted = signed_tx::make(mint);
  minted.sign_with(issuer);
  REQUIRE(settle.submit(minted)->status == status_code::ok);

  bank::bank_config bc;
  bc.db_url = db.url();
  bc.settle_spec = (*settle_svc)->endpoint();
  bc.settle_pub = (*settle_svc)->pub_endpoint();
  bc.net = nodes.client("cn-bank", "settle");  // its own socket, and settlement's key
  // The service itself, or cbdc-bank's server and a client of it as the bank's operator.
  std::unique_ptr<bank::service> local;
  std::unique_ptr<bank::server> svc;
  std::unique_ptr<bank::client> remote;
  std::unique_ptr<bank::client> peer_bank;  // CanReceive is another bank's question
  if (over_wire) {
    auto started = bank::server::start(bc, vault, "tcp://127.0.0.1:0");
    REQUIRE(started.ok());
    svc = std::move(*started);
    remote =
        std::make_unique<bank::client>(svc->endpoint(), nodes.client("cn-bank/ops", "cn-bank"));
    peer_bank =
        std::make_unique<bank::client>(svc->endpoint(), nodes.client("other-bank", "cn-bank"));
    CHECK(remote->can_receive(vault.pub(), yuan(1), std::nullopt).code() ==
          status_code::not_authorized);
  } else {
    auto started = bank::service::start(bc, vault);
    REQUIRE(started.ok());
    local = std::move(*started);
  }
  bank::interface& cli = over_wire ? static_cast<bank::interface&>(*remote) : *local;
  bank::interface& peer = over_wire ? static_cast<bank::interface&>(*peer_bank) : *local;
  CHECK(cli.vault_key().ok());
  CHECK(*cli.vault_key() == vault.pub());
  const auto alice = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x77));
  const auto shop = key_pair::from_seed(profile::ed25519, indexed_seed(2, 0x77));
  REQUIRE(cli.open_wallet(alice.pub(), wallet_class::ii, false).ok());
  REQUIRE(cli.open_wallet(shop.pub(), wallet_class::i, true).ok());
  const auto shop_record = cli.wallet_info(shop.pub());
  REQUIRE(shop_record.ok());
  CHECK(shop_record->cls == wallet_class::i);
  CHECK(shop_record->kind == wallet_kind::merchant);
  CHECK(cli.wallet_info(issuer.pub()).code() == status_code::unknown_wallet);
  CHECK(peer.can_receive(issuer.pub(), yuan(1), std::nullopt).code() ==
        status_code::unknown_wallet);
  CHECK(peer.can_receive(alice.pub(), money{100, currency::hkd}, std::nullopt).code() ==
        status_code::currency_mismatch);
  CHECK(cli.request_quote(currency::cny, currency::hkd, 100, false).code() ==
        status_code::no_quote);
  CHECK(cli.decline_quote("none").code() == status_code::quote_unknown);
  std::this_thread::sleep_for(std::chrono::milliseconds{300});  // the subscription settles in
  REQUIRE(cli.fund(alice.pub(), yuan(100)).ok());
  const auto wait_for = [&](const public_key& who, std::int64_t minor) {
    for (int i = 0; i < 100; ++i) {
      auto held = cli.balance(who);
      if (held && held->minor() == minor) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    return false;
  };
  REQUIRE(wait_for(alice.pub(), yuan(100).minor()));
  auto unspent = settle.list_unspent(alice.pub());
  REQUIRE(unspent.ok());
  auto tx = payment::build_payment(alice, *unspent, shop.pub(), yuan(12, 34), 7, "coffee");
  REQUIRE(tx.ok());
  auto forged = *tx;
  auto& first = forged.sigs.front().sig.front();
  first = static_cast<std::uint8_t>(first ^ 1U);
  CHECK(cli.pay(forged).code() == status_code::bad_signature);
  REQUIRE(cli.pay(*tx).ok());
  const auto again = cli.pay(*tx);  // a resend answers the first receipt
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  CHECK(wait_for(alice.pub(), yuan(87, 66).minor()));
  CHECK(wait_for(shop.pub(), yuan(12, 34).minor()));
  // The balances count the payment as soon as settlement answers it; the history comes from
  // the index of notifications, a moment later.
  auto history = cli.history(alice.pub(), 10);
  for (int i = 0; i < 100 && history && history->size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    history = cli.history(alice.pub(), 10);
  }
  INFO((history.ok() ? std::string{"ok"} : to_string(history.err())));
  REQUIRE(history.ok());
  REQUIRE(history->size() == 2);
  CHECK(history->at(0).amount_minor == -yuan(12, 34).minor());  // newest first: the payment
  CHECK(history->at(0).tx_id == tx->id);
  CHECK(history->at(1).amount_minor == yuan(100).minor());  // the funding
  CHECK(cli.history(issuer.pub(), 10)->empty());

  // The wallets' tokens come from the bank's index: what settlement lists, and still there
  // with settlement gone (a payment asks settlement nothing before it is submitted).
  const auto ids = [](const std::vector<settlement::token_info>& tokens) {
    std::vector<std::pair<hash256, std::int64_t>> out;
    for (const auto& t : tokens) {
      CHECK(t.cur == currency::cny);
      out.emplace_back(t.token_id, t.amount_minor);
    }
    return out;
  };
  const auto in_settlement = settle.list_unspent(shop.pub());
  REQUIRE(in_settlement.ok());
  REQUIRE(in_settlement->size() == 1);
  settle_svc->reset();
  CHECK(peer.can_receive(shop.pub(), yuan(1), std::nullopt).ok());
  const auto at_bank = cli.list_unspent(shop.pub());
  REQUIRE(at_bank.ok());
  CHECK(ids(*at_bank) == ids(*in_settlement));
  CHECK(at_bank->front().created_by == tx->id);
  CHECK(ids(*cli.list_unspent(alice.pub())).size() == 1);  // the change
  CHECK(cli.list_unspent(issuer.pub()).code() == status_code::unknown_wallet);
}

TEST_CASE("exchange between a deposit account and e-CNY both ways once per request",
          "[bank][integration]") {
  world w;
  const auto alice = w.wallet(1, wallet_class::ii, yuan(0));
  auto& b = *w.the_bank;
  REQUIRE(b.credit_deposit(alice.pub(), yuan(1'000), "salary-1").ok());
  REQUIRE(b.credit_deposit(alice.pub(), yuan(1'000), "salary-1").ok());  // once
  CHECK(*b.deposit_balance(alice.pub()) == yuan(1'000).minor());

  auto in = b.exchange_to_ecny(alice.pub(), yuan(300), "x1");
  INFO((in.ok() ? std::string{"ok"} : to_string(in.err())));
  REQUIRE(in.ok());
  CHECK(in->status == status_code::ok);
  auto again = b.exchange_to_ecny(alice.pub(), yuan(300), "x1");
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  CHECK(*b.deposit_balance(alice.pub()) == yuan(700).minor());
  CHECK(*b.balance(alice.pub()) == yuan(300).minor());
  CHECK(b.exchange_to_ecny(alice.pub(), yuan(700, 1), "x2").code() ==
        status_code::insufficient_funds);
  CHECK(b.exchange_to_ecny(alice.pub(), yuan(5), "x1").code() == status_code::bad_request);

  // Back to the deposit: the wallet pays the vault.
  auto unspent = w.settle->list_unspent(alice.pub());
  REQUIRE(unspent.ok());
  auto back = payment::build_payment(alice, *unspent, w.vault.pub(), yuan(120), 99, "");
  REQUIRE(back.ok());
  REQUIRE(b.exchange_to_deposit(*back, "y1").ok());
  REQUIRE(b.exchange_to_deposit(*back, "y1").ok());  // credited once
  CHECK(*b.deposit_balance(alice.pub()) == yuan(820).minor());
  CHECK(*b.balance(alice.pub()) == yuan(180).minor());

  // A class IV wallet cannot be exchanged past its balance cap; the deposit stays.
  const auto dave = w.wallet(2, wallet_class::iv, yuan(9'900));
  REQUIRE(b.credit_deposit(dave.pub(), yuan(500), "d1").ok());
  CHECK(b.exchange_to_ecny(dave.pub(), yuan(100, 1), "x3").code() == status_code::balance_limit);
  CHECK(*b.deposit_balance(dave.pub()) == yuan(500).minor());
  CHECK(b.exchange_to_ecny(dave.pub(), yuan(100), "x4")->status == status_code::ok);
}
