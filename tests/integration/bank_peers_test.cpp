// Two banks as services: a payer's bank asks the payee's bank whether the payee may receive
// (its balance cap) before it sends the payment to settlement.
#include <catch2/catch.hpp>
#include <random>

#include "bank/client.hpp"
#include "bank/server.hpp"
#include "payment/build.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"

using namespace cbdc;
using bank::wallet_class;

namespace {

auto cny(std::int64_t yuan) -> money {
  return money{yuan * 100, currency::cny};
}

struct two_banks {
  two_banks()
      : issuer(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xe1))),
        vault_a(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xa1))),
        vault_b(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xb1))) {
    // Each bank names the other as its peer, and finds its key by endpoint in the nodes file,
    // so the ports are chosen first.
    std::mt19937 rng(std::random_device{}());
    const int base = 20'000 + static_cast<int>(rng() % 11'000);
    const auto ep = [&](int i) { return "tcp://127.0.0.1:" + std::to_string(base + i); };
    const std::string ep_a = ep(0);
    const std::string ep_b = ep(1);
    nodes.add("settle", role::shard, ep(2))
        .add("a", role::bank, ep_a)
        .add("b", role::bank, ep_b)
        .add("a/ops", role::operator_)
        .add("b/ops", role::operator_);
    settlement::server_config sc;
    sc.db_url = settle_db.url();
    sc.endpoint = ep(2);
    sc.engine.issuers[currency::cny] = issuer.pub();
    sc.net = nodes.server("settle");
    auto s = settlement::server::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle =
        std::make_unique<settlement::client>(settle_svc->endpoint(), nodes.client("a", "settle"));
    transaction mint;
    mint.kind = tx_kind::issue;
    mint.outputs = {tx_output{currency::cny, 10'000'000, vault_a.pub()},
                    tx_output{currency::cny, 10'000'000, vault_b.pub()}};
    auto stx = signed_tx::make(mint);
    stx.sign_with(issuer);
    REQUIRE(settle->submit(stx)->status == status_code::ok);
    bank::bank_config a;
    a.db_url = db_a.url();
    a.settle_spec = settle_svc->endpoint();
    a.peers = {"b=" + ep_b};  // peers by bank id
    a.net = nodes.server("a");
    bank::bank_config b = a;
    b.db_url = db_b.url();
    b.peers = {ep_a};  // or by endpoint alone
    b.net = nodes.server("b");
    auto sa = bank::server::start(a, vault_a, ep_a);
    auto sb = bank::server::start(b, vault_b, ep_b);
    REQUIRE(sa.ok());
    REQUIRE(sb.ok());
    bank_a = std::move(*sa);
    bank_b = std::move(*sb);
    client_a = std::make_unique<bank::client>(ep_a, nodes.client("a/ops", "a"));
    client_b = std::make_unique<bank::client>(ep_b, nodes.client("b/ops", "b"));
  }

  auto wallet(bank::client& at, std::uint64_t n, wallet_class cls, bool merchant, money funded)
      -> key_pair {
    auto key = key_pair::from_seed(profile::ed25519, indexed_seed(n, 0x5a));
    REQUIRE(at.open_wallet(key.pub(), cls, merchant).ok());
    if (funded.minor() > 0) {
      auto r = at.fund(key.pub(), funded);
      REQUIRE(r.ok());
      REQUIRE(r->status == status_code::ok);
    }
    return key;
  }

  /// payer pays payee through bank `via`: the status of the attempt.
  auto pay(bank::client& via, const key_pair& payer, const public_key& payee, money amount,
           const std::string& payee_bank = {}) -> status_code {
    auto unspent = settle->list_unspent(payer.pub());
    REQUIRE(unspent.ok());
    auto tx = payment::build_payment(payer, *unspent, payee, amount, ++nonce, "");
    REQUIRE(tx.ok());
    auto r = via.pay(*tx, payee_bank);
    return r ? r->status : r.code();
  }

  test::pg_scratch settle_db;
  test::test_nodes nodes;
  test::pg_scratch db_a;
  test::pg_scratch db_b;
  key_pair issuer;
  key_pair vault_a;
  key_pair vault_b;
  std::unique_ptr<settlement::server> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<bank::server> bank_a;
  std::unique_ptr<bank::server> bank_b;
  std::unique_ptr<bank::client> client_a;
  std::unique_ptr<bank::client> client_b;
  std::uint64_t nonce{0};
};

}  // namespace

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
