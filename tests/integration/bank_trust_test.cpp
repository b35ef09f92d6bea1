// The bank's trust boundary: its operator funds and onboards, another bank only asks CanReceive,
// a customer proves each request with its wallet's signature (fresh, once) and asks about
// itself only; the attacks of the trust issue against the bank, each refused, with settlement's
// supply holding and a valid payment settling afterwards.
#include <catch2/catch.hpp>
#include <random>

#include "bank/client.hpp"
#include "bank/server.hpp"
#include "core/clock.hpp"
#include "payment/build.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;
using bank::wallet_class;

namespace {

auto yuan(std::int64_t y) -> money {
  return money{y * 100, currency::cny};
}

/// Settlement and one bank with authentication on; the bank's vault holds 1,000,000.00 CNY.
struct secured_bank {
  secured_bank()
      : issuer(key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xee))),
        vault(key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xba))),
        alice(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x77))),
        bob(key_pair::from_seed(profile::ed25519, indexed_seed(2, 0x77))),
        mallory(key_pair::from_seed(profile::ed25519, indexed_seed(3, 0x77))) {
    std::mt19937 rng(std::random_device{}());
    const int base = 20'000 + static_cast<int>(rng() % 11'000);
    settle_ep = "tcp://127.0.0.1:" + std::to_string(base);
    bank_ep = "tcp://127.0.0.1:" + std::to_string(base + 1);
    nodes.add("settle", role::shard, settle_ep)
        .add("bank-a", role::bank, bank_ep)
        .add("bank-a/ops", role::operator_)
        .add("bank-b", role::bank)
        .add("bank-b/ops", role::operator_)
        .add("pboc", role::issuer);
    settlement::server_config sc;
    sc.db_url = settle_db.url();
    sc.endpoint = settle_ep;
    sc.engine.issuers[currency::cny] = issuer.pub();
    sc.net = net("settle");
    auto s = settlement::server::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle = std::make_unique<settlement::client>(settle_ep, net("pboc"));
    transaction mint;
    mint.kind = tx_kind::issue;
    mint.outputs = {tx_output{currency::cny, yuan(1'000'000).minor(), vault.pub()}};
    auto stx = signed_tx::make(mint);
    stx.sign_with(issuer);
    REQUIRE(settle->submit(stx)->status == status_code::ok);
    bank::bank_config bc;
    bc.db_url = bank_db.url();
    bc.settle_spec = settle_ep;
    bc.net = net("bank-a");
    bc.customer_window_ms = 5'000;
    auto b = bank::server::start(bc, vault, bank_ep);
    REQUIRE(b.ok());
    bank_svc = std::move(*b);
    ops = client_as("bank-a/ops");
  }
  auto net(const std::string& name) -> socket_options {
    socket_options o;
    o.security = nodes.security(name);
    o.timeout_ms = 5000;
    return o;
  }
  auto client_as(const std::string& node) -> std::unique_ptr<bank::client> {
    return std::make_unique<bank::client>(bank_ep, net(node));
  }
  /// A customer: a fresh CURVE key of its own, the bank's key from the directory, every request
  /// signed by `wallet` (when given).
  auto customer(const key_pair* wallet) -> std::unique_ptr<bank::client> {
    socket_options o;
    o.security = std::make_shared<node_security>(node_key::generate(),
                                                 *node_directory::parse(nodes.text(), "test"));
    o.timeout_ms = 5000;
    auto c = std::make_unique<bank::client>(bank_ep, o);
    if (wallet != nullptr) {
      c->sign_as(*wallet);
    }
    return c;
  }
  /// A raw request as a customer (signed by `wallet` at `at_us` when given).
  auto raw_customer(wire::Envelope req, const key_pair* wallet, std::int64_t at_us)
      -> result<wire::Envelope> {
    socket_options o;
    o.security = std::make_shared<node_security>(node_key::generate(),
                                                 *node_directory::parse(nodes.text(), "test"));
    o.timeout_ms = 5000;
    rpc_client c(bank_ep, o);
    if (wallet != nullptr) {
      sign_customer_request(req, *wallet, at_us);
    }
    return c.call(std::move(req));
  }
  /// alice's payment of amount to payee, built from her tokens.
  auto payment(const key_pair& payer, const public_key& payee, money amount) -> signed_tx {
    auto unspent = settle->list_unspent(payer.pub());
    REQUIRE(unspent.ok());
    auto tx = payment::build_payment(payer, *unspent, payee, amount, ++nonce, "");
    REQUIRE(tx.ok());
    return *tx;
  }
  auto balance(const public_key& who) -> std::int64_t {
    auto unspent = settle->list_unspent(who);
    REQUIRE(unspent.ok());
    std::int64_t sum = 0;
    for (const auto& t : *unspent) {
      sum += t.amount_minor;
    }
    return sum;
  }
  /// issued == unspent, and a valid payment settles.
  void audit_and_pay() {
    auto supply = settle->supply(currency::cny);
    REQUIRE(supply.ok());
    CHECK(supply->issued_minor - supply->redeemed_minor == supply->unspent_minor);
    auto paid = customer(&alice)->pay(payment(alice, bob.pub(), yuan(1)));
    REQUIRE(paid.ok());
    CHECK(paid->status == status_code::ok);
  }

  test::pg_scratch settle_db;
  test::pg_scratch bank_db;
  test::test_nodes nodes;
  key_pair issuer;
  key_pair vault;
  key_pair alice;
  key_pair bob;
  key_pair mallory;
  std::string settle_ep;
  std::string bank_ep;
  std::unique_ptr<settlement::server> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<bank::server> bank_svc;
  std::unique_ptr<bank::client> ops;
  std::uint64_t nonce{0};
};

auto status_of(const result<wire::Envelope>& answer) -> status_code {
  REQUIRE(answer.ok());
  return answer_status(*answer).code;
}

}  // namespace

TEST_CASE("the bank's role table: the operator funds and onboards, others may not",
          "[bank][integration][auth]") {
  secured_bank w;
  REQUIRE(w.ops->open_wallet(w.alice.pub(), wallet_class::ii, false).ok());
  REQUIRE(w.customer(&w.mallory)->open_wallet(w.mallory.pub(), wallet_class::iv, false).ok());
  // The operator funds; a customer, another bank and another bank's operator may not.
  REQUIRE(w.ops->fund(w.alice.pub(), yuan(100)).ok());
  std::vector<std::unique_ptr<bank::client>> others;
  others.push_back(w.customer(&w.mallory));
  others.push_back(w.client_as("bank-b"));
  others.push_back(w.client_as("bank-b/ops"));
  for (const auto& who : others) {
    CHECK(who->fund(w.mallory.pub(), yuan(150'000)).code() == status_code::not_authorized);
    CHECK(who->fund_many({tx_output{currency::cny, yuan(1'000).minor(), w.mallory.pub()}}, "x")
              .code() == status_code::not_authorized);
    CHECK(who->open_wallets({{w.bob.pub(), wallet_class::i}}, false).code() ==
          status_code::not_authorized);
  }
  CHECK(w.balance(w.mallory.pub()) == 0);
  // A customer opens class IV only: a higher class is the operator's decision.
  CHECK(w.customer(&w.bob)->open_wallet(w.bob.pub(), wallet_class::i, false).code() ==
        status_code::not_authorized);
  // CanReceive is for the other banks.
  wire::Envelope can;
  can.mutable_can_receive()->set_owner(bytes_to_wire(w.alice.pub().encode()));
  can.mutable_can_receive()->set_amount_minor(1);
  can.mutable_can_receive()->set_currency(static_cast<std::uint32_t>(currency::cny));
  CHECK(status_of(w.raw_customer(can, &w.mallory, unix_now_us())) == status_code::not_authorized);
  rpc_client peer(w.bank_ep, w.net("bank-b"));
  CHECK(status_of(peer.call(can)) == status_code::ok);
  // A forged SettledBatch on the request socket is not a request the bank answers.
  wire::Envelope fake;
  auto* settled = fake.mutable_settled_batch()->add_txs();
  settled->set_tx_id(std::string(32, '\x01'));
  auto* out = settled->add_outputs();
  out->set_token_id(std::string(32, '\x02'));
  out->set_currency(static_cast<std::uint32_t>(currency::cny));
  out->set_amount_minor(9'999'999'900);
  out->set_owner(bytes_to_wire(w.mallory.pub().encode()));
  CHECK(status_of(peer.call(fake)) == status_code::malformed);
  CHECK(w.ops->wallet_info(w.mallory.pub()).ok());
  auto held = w.ops->balance(w.mallory.pub());
  REQUIRE(held.ok());
  CHECK(held->minor() == 0);
  w.audit_and_pay();
}

TEST_CASE("a customer's requests are signed by its wallet, fresh and once",
          "[bank][integration][auth]") {
  secured_bank w;
  REQUIRE(w.ops->open_wallet(w.alice.pub(), wallet_class::ii, false).ok());
  REQUIRE(w.ops->fund(w.alice.pub(), yuan(100)).ok());
  REQUIRE(w.customer(&w.mallory)->open_wallet(w.mallory.pub(), wallet_class::iv, false).ok());
  wire::Envelope balance;
  balance.mutable_get_balance()->set_owner(bytes_to_wire(w.alice.pub().encode()));
  const auto now = unix_now_us();

  SECTION("the owner reads its balance; unsigned, or by another wallet, it is refused") {
    auto own = w.customer(&w.alice)->balance(w.alice.pub());
    REQUIRE(own.ok());
    CHECK(own->minor() == yuan(100).minor());
    CHECK(status_of(w.raw_customer(balance, nullptr, now)) == status_code::not_authorized);
    CHECK(status_of(w.raw_customer(balance, &w.mallory, now)) == status_code::not_authorized);
    CHECK(w.customer(&w.mallory)->history(w.alice.pub(), 10).code() == status_code::not_authorized);
    CHECK(w.customer(&w.mallory)->wallet_info(w.alice.pub()).code() == status_code::not_authorized);
    CHECK(w.customer(&w.mallory)->list_unspent(w.alice.pub()).code() ==
          status_code::not_authorized);
  }
  SECTION("a stale or future time is request_expired; a replay is refused") {
    CHECK(status_of(w.raw_customer(balance, &w.alice, now - 6'000'000)) ==
          status_code::request_expired);
    CHECK(status_of(w.raw_customer(balance, &w.alice, now + 6'000'000)) ==
          status_code::request_expired);
    auto signed_once = balance;
    sign_customer_request(signed_once, w.alice, now);
    CHECK(status_of(w.raw_customer(signed_once, nullptr, 0)) == status_code::ok);
    CHECK(status_of(w.raw_customer(signed_once, nullptr, 0)) == status_code::bad_request);
  }
  SECTION("a tampered request or a bad nonce is refused") {
    auto tampered = balance;
    sign_customer_request(tampered, w.alice, now);
    tampered.mutable_get_balance()->set_owner(bytes_to_wire(w.mallory.pub().encode()));
    CHECK(status_of(w.raw_customer(tampered, nullptr, 0)) == status_code::not_authorized);
    auto short_nonce = balance;
    sign_customer_request(short_nonce, w.alice, now);
    short_nonce.mutable_customer()->set_nonce("x");
    CHECK(status_of(w.raw_customer(short_nonce, nullptr, 0)) == status_code::malformed);
  }
  SECTION("exchange from a victim's deposit is refused") {
    CHECK(w.customer(&w.mallory)->exchange_to_ecny(w.alice.pub(), yuan(10), "steal").code() ==
          status_code::not_authorized);
  }
  SECTION("a payment whose signature does not verify holds nothing and is refused") {
    auto tx = w.payment(w.alice, w.bob.pub(), yuan(10));
    tx.sigs.front().sig.front() ^= 0x01;
    auto paid = w.customer(nullptr)->pay(tx);
    CHECK((paid ? paid->status : paid.code()) == status_code::bad_signature);
    CHECK(w.balance(w.alice.pub()) == yuan(100).minor());
  }
  w.audit_and_pay();
}

TEST_CASE("a payment to a key that is not a point of its curve is malformed",
          "[bank][integration][auth]") {
  secured_bank w;
  REQUIRE(w.ops->open_wallet(w.alice.pub(), wallet_class::ii, false).ok());
  REQUIRE(w.ops->open_wallet(w.bob.pub(), wallet_class::ii, false).ok());
  REQUIRE(w.ops->fund(w.alice.pub(), yuan(100)).ok());
  const public_key off_curve{profile::ed25519, bytes(32, 0xff)};
  const auto tx = w.payment(w.alice, off_curve, yuan(10));
  const auto before = w.balance(w.alice.pub());
  auto paid = w.customer(&w.alice)->pay(tx);
  REQUIRE_FALSE(paid.ok());
  CHECK(paid.code() == status_code::malformed);
  CHECK(paid.err().message.find("not a point") != std::string::npos);
  CHECK(w.balance(w.alice.pub()) == before);
  // Nor can an operator open a wallet for such a key.
  CHECK(w.ops->open_wallet(off_curve, wallet_class::ii, false).code() == status_code::malformed);
  w.audit_and_pay();
}
