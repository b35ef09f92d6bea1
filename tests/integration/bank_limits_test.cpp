// Wallet-class limits that hold under races (issue: limits under races and crashes): every
// movement into a hosted wallet is reserved against its balance cap before it goes to
// settlement and counts in the balance as soon as it settled, before its notification is
// indexed; a payee's bank asked CanReceive keeps the room for that very payment. Each race
// lands exactly on the cap.
#include <catch2/catch.hpp>

#include <atomic>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "bank/bank.hpp"
#include "bank/client.hpp"
#include "bank/server.hpp"
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

/// Answers counted: settled, refused for the one limit expected, or anything else.
struct tally {
  std::atomic<int> settled{0};
  std::atomic<int> unexpected{0};
  void count(const result<settlement::receipt>& r, status_code expected_refusal) {
    const auto code = r ? r->status : r.code();
    if (code == status_code::ok) {
      ++settled;
    } else if (code != expected_refusal) {
      ++unexpected;
    }
  }
};

/// Settlement with notifications, and two banks (a and b) that follow them for their balances
/// and ask each other about payees, authentication on.
struct two_indexed_banks {
  two_indexed_banks()
      : issuer(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xe2))),
        vault_a(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xa2))),
        vault_b(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xb2))) {
    std::mt19937 rng(std::random_device{}());
    const int base = 20'000 + static_cast<int>(rng() % 11'000);
    const auto ep = [&](int i) { return "tcp://127.0.0.1:" + std::to_string(base + i); };
    ep_a = ep(0);
    ep_b = ep(1);
    nodes.add("settle", role::shard, std::vector<std::string>{ep(2), ep(3)})
        .add("a", role::bank, ep_a)
        .add("b", role::bank, ep_b)
        .add("a/ops", role::operator_)
        .add("b/ops", role::operator_);
    auto& sc = settle_config;
    sc.db_url = settle_db.url();
    sc.endpoint = ep(2);
    sc.pub_endpoint = ep(3);
    sc.engine.issuers[currency::cny] = issuer.pub();
    sc.net = nodes.server("settle");
    auto s = settlement::server::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle = std::make_unique<settlement::client>(ep(2), nodes.client("a", "settle"));
    transaction mint;
    mint.kind = tx_kind::issue;
    mint.outputs = {tx_output{currency::cny, yuan(1'000'000).minor(), vault_a.pub()},
                    tx_output{currency::cny, yuan(1'000'000).minor(), vault_b.pub()}};
    auto stx = signed_tx::make(mint);
    stx.sign_with(issuer);
    REQUIRE(settle->submit(stx)->status == status_code::ok);
    config_a.db_url = db_a.url();
    config_a.settle_spec = ep(2);
    config_a.settle_pub = ep(3);
    config_a.peers = {"b=" + ep_b};
    config_a.net = nodes.server("a");
    config_b = config_a;
    config_b.db_url = db_b.url();
    config_b.peers = {"a=" + ep_a};
    config_b.net = nodes.server("b");
    auto sa = bank::server::start(config_a, vault_a, ep_a);
    auto sb = bank::server::start(config_b, vault_b, ep_b);
    REQUIRE(sa.ok());
    REQUIRE(sb.ok());
    bank_a = std::move(*sa);
    bank_b = std::move(*sb);
    ops_a = operator_of("a");
    ops_b = operator_of("b");
    wait_until_following(*ops_a, vault_b, 900);
    wait_until_following(*ops_b, vault_a, 901);
  }
  /// Pays a probe wallet at a bank from the other bank's vault, straight through settlement,
  /// until the bank shows it: its subscription to settlement's notifications is live.
  void wait_until_following(bank::client& at, const key_pair& from, std::uint64_t n) {
    const auto probe = key_pair::from_seed(profile::ed25519, indexed_seed(n, 0x5b));
    REQUIRE(at.open_wallet(probe.pub(), wallet_class::ii, false).ok());
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto unspent = settle->list_unspent(from.pub());
      REQUIRE(unspent.ok());
      auto tx = payment::build_payment(from, *unspent, probe.pub(), money{1, currency::cny},
                                       static_cast<std::uint64_t>(attempt), "");
      REQUIRE(tx.ok());
      REQUIRE(settle->submit(*tx)->status == status_code::ok);
      for (int i = 0; i < 10; ++i) {
        auto shown = at.balance(probe.pub());
        if (shown && shown->minor() > 0) {
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
      }
    }
    FAIL("the bank does not follow settlement's notifications");
  }
  void stop_b() {
    ops_b.reset();
    bank_b.reset();
  }
  void start_b() {
    auto b = bank::server::start(config_b, vault_b, ep_b);
    REQUIRE(b.ok());
    bank_b = std::move(*b);
    ops_b = operator_of("b");
  }
  auto operator_of(const std::string& bank) -> std::unique_ptr<bank::client> {
    return std::make_unique<bank::client>(bank == "a" ? ep_a : ep_b,
                                          nodes.client(bank + "/ops", bank, 10'000));
  }
  auto wallet(bank::client& at, std::uint64_t n, wallet_class cls, money funded) -> key_pair {
    auto key = key_pair::from_seed(profile::ed25519, indexed_seed(n, 0x5b));
    REQUIRE(at.open_wallet(key.pub(), cls, false).ok());
    if (funded.minor() > 0) {
      auto r = at.fund(key.pub(), funded);
      REQUIRE(r.ok());
      REQUIRE(r->status == status_code::ok);
    }
    return key;
  }
  /// Bank a's vault pays `to` straight through settlement (no bank sees it but by notification).
  void vault_a_pays(const public_key& to, money amount, std::uint64_t nonce) {
    auto unspent = settle->list_unspent(vault_a.pub());
    REQUIRE(unspent.ok());
    auto tx = payment::build_payment(vault_a, *unspent, to, amount, nonce, "");
    REQUIRE(tx.ok());
    REQUIRE(settle->submit(*tx)->status == status_code::ok);
  }
  /// n class II wallets at bank a holding 1,000.00 each.
  auto funded_payers(std::uint64_t n) -> std::vector<key_pair> {
    std::vector<key_pair> out;
    for (std::uint64_t i = 0; i < n; ++i) {
      out.push_back(wallet(*ops_a, 200 + i, wallet_class::ii, yuan(1'000)));
    }
    return out;
  }
  /// payers pay payee `each` times `amount` at once, one thread per payer, through `via`;
  /// the number of payments that settled.
  auto race(const std::string& via, const std::vector<key_pair>& payers, const public_key& payee,
            money amount, int each, const std::string& payee_bank = {}) -> int {
    tally answers;
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < payers.size(); ++i) {
      threads.emplace_back([&, i] {
        auto client = operator_of(via);
        settlement::client reader(settle_svc->endpoint(), nodes.client("a", "settle"));
        for (int k = 0; k < each; ++k) {
          auto unspent = reader.list_unspent(payers[i].pub());
          if (!unspent) {
            ++answers.unexpected;
            continue;
          }
          auto tx = payment::build_payment(payers[i], *unspent, payee, amount,
                                           (i << 20U) + static_cast<std::uint64_t>(k), "");
          if (!tx) {
            ++answers.unexpected;
            continue;
          }
          answers.count(client->pay(*tx, payee_bank), status_code::balance_limit);
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    CHECK(answers.unexpected == 0);
    return answers.settled;
  }
  /// The balance the bank shows once its index has caught up with settlement (or after 5 s).
  auto settled_balance(bank::client& at, const public_key& who) -> std::int64_t {
    std::int64_t real = 0;
    auto unspent = settle->list_unspent(who);
    REQUIRE(unspent.ok());
    for (const auto& t : *unspent) {
      real += t.amount_minor;
    }
    for (int i = 0; i < 100; ++i) {
      auto shown = at.balance(who);
      REQUIRE(shown.ok());
      if (shown->minor() == real) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    auto shown = at.balance(who);
    REQUIRE(shown.ok());
    INFO("wallet " << who.hex().substr(0, 16) << ": settlement holds " << real);
    CHECK(shown->minor() == real);
    return real;
  }

  test::pg_scratch settle_db;
  test::pg_scratch db_a;
  test::pg_scratch db_b;
  test::test_nodes nodes;
  key_pair issuer;
  key_pair vault_a;
  key_pair vault_b;
  std::string ep_a;
  std::string ep_b;
  bank::bank_config config_a;
  bank::bank_config config_b;
  settlement::server_config settle_config;
  std::unique_ptr<settlement::server> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<bank::server> bank_a;
  std::unique_ptr<bank::server> bank_b;
  std::unique_ptr<bank::client> ops_a;
  std::unique_ptr<bank::client> ops_b;
};

}  // namespace

TEST_CASE("back-to-back Fund, FundMany and Exchange stop at a class IV balance cap",
          "[bank][integration][limits]") {
  two_indexed_banks w;
  // The outside finding: two Fund of 9,000.00 left a class IV wallet (cap 10,000.00) holding
  // 18,000.00; FundMany of 10 x 2,000.00 to one wallet, 20,000.00.
  const auto funded = w.wallet(*w.ops_a, 1, wallet_class::iv, yuan(9'000));
  auto again = w.ops_a->fund(funded.pub(), yuan(9'000));
  CHECK(again.code() == status_code::balance_limit);
  REQUIRE(w.ops_a->fund(funded.pub(), yuan(1'000)).ok());  // exactly the cap
  CHECK(w.ops_a->fund(funded.pub(), money{1, currency::cny}).code() == status_code::balance_limit);
  CHECK(w.settled_balance(*w.ops_a, funded.pub()) == yuan(10'000).minor());

  const auto paid_out = w.wallet(*w.ops_a, 2, wallet_class::iv, yuan(0));
  const std::vector<tx_output> ten(10,
                                   tx_output{currency::cny, yuan(2'000).minor(), paid_out.pub()});
  CHECK(w.ops_a->fund_many(ten, "red-envelopes-1").code() == status_code::balance_limit);
  const std::vector<tx_output> five(5,
                                    tx_output{currency::cny, yuan(2'000).minor(), paid_out.pub()});
  REQUIRE(w.ops_a->fund_many(five, "red-envelopes-2").ok());
  CHECK(
      w.ops_a->fund_many({tx_output{currency::cny, 1, paid_out.pub()}}, "red-envelopes-3").code() ==
      status_code::balance_limit);
  CHECK(w.settled_balance(*w.ops_a, paid_out.pub()) == yuan(10'000).minor());

  // Exchange from a deposit account: the second 9,000.00 does not fit.
  const auto saver = w.wallet(*w.ops_a, 3, wallet_class::iv, yuan(0));
  {
    auto direct = bank::bank::open(w.config_a, w.vault_a);
    REQUIRE(direct.ok());
    REQUIRE((*direct)->credit_deposit(saver.pub(), yuan(20'000), "salary").ok());
  }
  REQUIRE(w.ops_a->exchange_to_ecny(saver.pub(), yuan(9'000), "x1").ok());
  CHECK(w.ops_a->exchange_to_ecny(saver.pub(), yuan(9'000), "x2").code() ==
        status_code::balance_limit);
  CHECK(w.settled_balance(*w.ops_a, saver.pub()) == yuan(9'000).minor());
}

TEST_CASE("payments racing into one capped payee at its own bank land exactly on the cap",
          "[bank][integration][limits]") {
  two_indexed_banks w;
  const auto payee = w.wallet(*w.ops_a, 100, wallet_class::iv, yuan(0));
  const auto payers = w.funded_payers(15);
  // 150 payments of 100.00 into a 10,000.00 cap: exactly 100 settle.
  CHECK(w.race("a", payers, payee.pub(), yuan(100), 10) == 100);
  CHECK(w.settled_balance(*w.ops_a, payee.pub()) == yuan(10'000).minor());
}

TEST_CASE("payments racing into one capped payee at another bank land exactly on the cap",
          "[bank][integration][limits]") {
  two_indexed_banks w;
  // The outside finding: from another bank all 200 settled (20,000.00 into a 10,000.00 cap).
  const auto payee = w.wallet(*w.ops_b, 100, wallet_class::iv, yuan(0));
  const auto payers = w.funded_payers(15);
  CHECK(w.race("a", payers, payee.pub(), yuan(100), 10, "b") == 100);
  CHECK(w.settled_balance(*w.ops_b, payee.pub()) == yuan(10'000).minor());
}

TEST_CASE("payments racing against one payer's daily cap land exactly on it",
          "[bank][integration][limits]") {
  two_indexed_banks w;
  // A class IV payer (daily cap 5,000.00) holding 150 tokens of 50.00: every payment spends a
  // token of its own, so settlement would take all 150.
  const auto payer = w.wallet(*w.ops_a, 500, wallet_class::iv, yuan(0));
  const auto shop = w.wallet(*w.ops_b, 501, wallet_class::i, yuan(0));
  std::vector<tx_output> payouts(150, tx_output{currency::cny, yuan(50).minor(), payer.pub()});
  auto funded = w.ops_a->fund_many(payouts, "daily-race");
  REQUIRE(funded.ok());
  REQUIRE(funded->status == status_code::ok);
  auto unspent = w.settle->list_unspent(payer.pub());
  REQUIRE(unspent.ok());
  REQUIRE(unspent->size() == 150);
  std::vector<signed_tx> payments;
  for (std::size_t i = 0; i < unspent->size(); ++i) {
    auto tx = payment::build_payment(payer, {(*unspent)[i]}, shop.pub(), yuan(50), 8'000 + i, "");
    REQUIRE(tx.ok());
    payments.push_back(std::move(*tx));
  }
  std::atomic<std::size_t> next{0};
  tally answers;
  std::vector<std::thread> threads;
  threads.reserve(6);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      auto client = w.operator_of("a");
      for (auto i = next++; i < payments.size(); i = next++) {
        answers.count(client->pay(payments[i], "b"), status_code::daily_limit);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(answers.unexpected == 0);
  CHECK(answers.settled == 100);
  CHECK(w.settled_balance(*w.ops_b, shop.pub()) == yuan(5'000).minor());
}

TEST_CASE("a payment settlement did not answer stays in flight until it does",
          "[bank][integration][limits]") {
  two_indexed_banks w;
  const auto payer = w.wallet(*w.ops_b, 600, wallet_class::iv, yuan(5'100));
  const auto shop = w.wallet(*w.ops_b, 601, wallet_class::i, yuan(0));
  // Bank b gives up on settlement quickly (300 ms a request, five attempts).
  w.stop_b();
  w.config_b.net.timeout_ms = 300;
  w.start_b();
  auto unspent = w.settle->list_unspent(payer.pub());
  REQUIRE(unspent.ok());
  auto first = payment::build_payment(payer, *unspent, shop.pub(), yuan(10), 8'500, "");
  REQUIRE(first.ok());
  w.settle_svc.reset();  // settlement is down
  auto unknown = w.ops_b->pay(*first);
  const auto code = unknown ? unknown->status : unknown.code();
  INFO(to_string(code));
  CHECK(is_transient(code));  // the customer hears that the outcome is not known
  auto s = settlement::server::start(w.settle_config);
  REQUIRE(s.ok());
  w.settle_svc = std::move(*s);
  // The bank went on sending it: it settles and counts in the payer's day.
  for (int i = 0; i < 100 && w.settle->get_tx(first->id).code() == status_code::not_found; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  REQUIRE(w.settle->get_tx(first->id).ok());
  CHECK(w.settled_balance(*w.ops_b, shop.pub()) == yuan(10).minor());
  auto again = w.ops_b->pay(*first);
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  const auto pay = [&](money amount, std::uint64_t nonce) {
    auto left = w.settle->list_unspent(payer.pub());
    REQUIRE(left.ok());
    auto tx = payment::build_payment(payer, *left, shop.pub(), amount, nonce, "");
    REQUIRE(tx.ok());
    auto r = w.ops_b->pay(*tx);
    return r ? r->status : r.code();
  };
  // 10.00 + 2 x 2,000.00 leaves 990.00 of the day's 5,000.00.
  CHECK(pay(yuan(2'000), 8'501) == status_code::ok);
  CHECK(pay(yuan(2'000), 8'502) == status_code::ok);
  CHECK(pay(money{yuan(990).minor() + 1, currency::cny}, 8'503) == status_code::daily_limit);
  CHECK(pay(yuan(990), 8'504) == status_code::ok);
}

TEST_CASE("a bank catches up on what settled while it was down", "[bank][integration][limits]") {
  two_indexed_banks w;
  // The outside finding: notifications published while the bank was down were never caught
  // up, and balances drifted from settlement's.
  const auto shop = w.wallet(*w.ops_b, 300, wallet_class::ii, yuan(0));
  w.stop_b();  // bank b is down
  for (std::uint64_t i = 0; i < 3; ++i) {
    w.vault_a_pays(shop.pub(), yuan(100), 7'000 + i);
  }
  w.start_b();
  // Its first job was to catch up: the balance is settlement's at once.
  auto shown = w.ops_b->balance(shop.pub());
  REQUIRE(shown.ok());
  CHECK(shown->minor() == yuan(300).minor());
  // And a cap is checked against it: a class IV wallet that was paid while its bank was down.
  const auto capped = w.wallet(*w.ops_b, 301, wallet_class::iv, yuan(0));
  w.stop_b();
  w.vault_a_pays(capped.pub(), yuan(9'500), 7'100);
  w.start_b();
  CHECK(w.ops_b->fund(capped.pub(), yuan(1'000)).code() == status_code::balance_limit);
  REQUIRE(w.ops_b->fund(capped.pub(), yuan(500)).ok());
  CHECK(w.settled_balance(*w.ops_b, capped.pub()) == yuan(10'000).minor());
}

TEST_CASE("notifications a running bank could not take are read again from settlement",
          "[bank][integration][limits]") {
  two_indexed_banks w;
  const auto shop = w.wallet(*w.ops_b, 310, wallet_class::ii, yuan(0));
  // Bank b's index refuses every new row for a while (a database in trouble): the
  // notifications of two payments to its shop are lost as they arrive.
  pqxx::connection admin(w.db_b.url());
  const auto exec = [&](const std::string& sql) {
    pqxx::work t(admin);
    t.exec(sql);
    t.commit();
  };
  exec(
      "ALTER TABLE bank.token_index ADD CONSTRAINT test_refuse CHECK (amount_minor < 0) "
      "NOT VALID");
  for (std::uint64_t i = 0; i < 2; ++i) {
    w.vault_a_pays(shop.pub(), yuan(100), 7'200 + i);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  auto meanwhile = w.ops_b->balance(shop.pub());
  REQUIRE(meanwhile.ok());
  CHECK(meanwhile->minor() == 0);
  exec("ALTER TABLE bank.token_index DROP CONSTRAINT test_refuse");
  // Without a restart, the bank reads the batches it missed: its balance is settlement's.
  CHECK(w.settled_balance(*w.ops_b, shop.pub()) == yuan(200).minor());
}

TEST_CASE("CanReceive reserves a payment's room once, for banks only, and refuses a bad id",
          "[bank][integration][limits][auth]") {
  two_indexed_banks w;
  const auto payee = w.wallet(*w.ops_b, 400, wallet_class::iv, yuan(0));
  const auto ask = [&](const std::string& as, std::int64_t amount, const std::string& tx_id) {
    wire::Envelope req;
    auto* m = req.mutable_can_receive();
    m->set_owner(bytes_to_wire(payee.pub().encode()));
    m->set_amount_minor(amount);
    m->set_currency(static_cast<std::uint32_t>(currency::cny));
    m->set_tx_id(tx_id);
    rpc_client c(w.ep_b, w.nodes.client(as, "b"));
    auto answer = c.call(std::move(req));
    REQUIRE(answer.ok());
    if (answer->payload_case() != wire::Envelope::kReceiveVerdict) {
      return answer_status(*answer).code;
    }
    return static_cast<status_code>(answer->receive_verdict().status());
  };
  const auto id = [](std::uint8_t n) { return std::string(32, static_cast<char>(n)); };
  // Asked twice for the same payment: its 9,000.00 is held once.
  CHECK(ask("a", yuan(9'000).minor(), id(1)) == status_code::ok);
  CHECK(ask("a", yuan(9'000).minor(), id(1)) == status_code::ok);
  CHECK(ask("a", yuan(2'000).minor(), id(2)) == status_code::balance_limit);
  CHECK(ask("a", yuan(1'000).minor(), id(3)) == status_code::ok);  // exactly the cap
  CHECK(ask("a", 1, id(4)) == status_code::balance_limit);
  // A tx_id that is not 32 bytes, a non-positive amount: refused, nothing held.
  CHECK(ask("a", 100, "short") == status_code::malformed);
  CHECK(ask("a", 0, id(5)) == status_code::amount_invalid);
  // Only banks ask: the bank's own operator gets not_authorized.
  CHECK(ask("b/ops", 100, id(6)) == status_code::not_authorized);
  // The bank still serves.
  CHECK(w.ops_b->balance(payee.pub()).ok());
}
