// The cross-border bridge in one process: settlement, two central banks (CNY and HKD) with their
// controls, and FX dealers. A CNY payer pays an HKD payee in one payment-versus-payment
// transaction; quotes expire; the central banks' caps hold at, under and over their boundary.
#include <catch2/catch.hpp>

#include "payment/build.hpp"
#include "tests/support/bridge.hpp"

using namespace cbdc;
using namespace cbdc::test;

namespace {
/// A transaction id for a clearance made by hand (its PvP never reaches settlement).
auto tx_of(const std::string& clearance_id) -> hash256 {
  const auto* p = reinterpret_cast<const std::uint8_t*>(clearance_id.data());
  return hash(profile::ed25519, byte_view{p, clearance_id.size()});
}
}  // namespace

TEST_CASE("quotes are priced in integers around the mid rate", "[fx][unit]") {
  auto r = fx::parse_rate("1.0870");
  REQUIRE(r.ok());
  CHECK(r->num == 10'870);
  CHECK(r->den == 10'000);
  CHECK(fx::parse_rate("0").code() == status_code::parse_error);
  CHECK(fx::parse_rate("1.").code() == status_code::parse_error);
  CHECK(fx::parse_rate("-1.2").code() == status_code::parse_error);
  CHECK(fx::parse_rate("1.123456789").code() == status_code::parse_error);
  // HKD 1,000.00 received: 100,000 / 1.087 = 91,996.32 -> 91,997 fen at mid; +25 bp -> 92,227.
  auto p = fx::price_receive(*r, 25, 100'000);
  REQUIRE(p.ok());
  CHECK(p->mid_pay_minor == 91'997);
  CHECK(p->pay_minor == 92'227);
  // CNY 1,000.00 paid: 100,000 x 1.087 x (1 - 0.0025) = 108,428.25 -> 108,428 cents.
  auto q = fx::price_pay(*r, 25, 100'000);
  REQUIRE(q.ok());
  CHECK(q->receive_minor == 108'428);
  CHECK(q->mid_pay_minor == 99'750);
  CHECK(fx::price_receive(*r, 25, 0).code() == status_code::amount_invalid);
  CHECK(fx::price_receive(fx::rate{1, 2}, 25, std::numeric_limits<std::int64_t>::max()).code() ==
        status_code::amount_invalid);  // the payment would pass int64
  CHECK(fx::price_pay(fx::rate{1, 1'000}, 0, 999).code() == status_code::amount_invalid);
}

TEST_CASE("a CNY payer pays an HKD merchant in one PvP transaction", "[fx][integration]") {
  bridge b;
  const auto payer_cny = b.balance(b.payer.pub(), currency::cny);
  auto q = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, 100'000, false, b.now);
  REQUIRE(q.ok());
  CHECK(q->receive == hkd(1'000));
  CHECK(q->pay == money{92'227, currency::cny});
  CHECK(q->spread_minor() == 230);
  CHECK(fx::rate_text(*q) == "1 CNY = 1.084281 HKD");
  const auto tx = b.pvp(*q);
  auto r = b.desk->execute(q->quote_id, tx, b.now + 1);
  REQUIRE(r.ok());
  CHECK(r->status == status_code::ok);
  // Both legs settled in the one transaction.
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 100'000);
  CHECK(b.balance(b.payer.pub(), currency::cny) == payer_cny - 92'227);
  CHECK(b.balance(b.dealer_key.pub(), currency::cny) == 92'227);
  CHECK(b.balance(b.dealer_key.pub(), currency::hkd) == 30'000'000 - 100'000);
  // Executing it again answers the first receipt; another transaction for it is refused.
  auto again = b.desk->execute(q->quote_id, tx, b.now + 2);
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  CHECK(b.desk->execute(q->quote_id, b.pvp(*q), b.now + 3).code() == status_code::bad_request);
  CHECK(b.desk->execute("dealer-nothing", tx, b.now).code() == status_code::quote_unknown);
  for (const auto cur : {currency::cny, currency::hkd}) {
    auto supply = b.settle->supply(cur);
    REQUIRE(supply.ok());
    CHECK(supply->issued_minor - supply->redeemed_minor == supply->unspent_minor);
  }
}

TEST_CASE("a dealer answers alike in process and over the wire", "[fx][integration]") {
  bridge b;
  // The dealer itself, then a bank's client to the same dealer as a service (on the same
  // database, so the service starts where the in-process desk would).
  const bool over_wire = GENERATE(false, true);
  INFO((over_wire ? "over the wire" : "in process"));
  std::unique_ptr<fx::server> svc;
  std::unique_ptr<fx::client> remote;
  if (over_wire) {
    b.desk.reset();
    auto s = fx::server::start(b.dealer_config("dealer", b.dealer_db.url(), 25), b.dealer_key);
    REQUIRE(s.ok());
    svc = std::move(*s);
    remote = std::make_unique<fx::client>(svc->endpoint(), b.net("cn-bank"));
  }
  fx::interface& desk = over_wire ? static_cast<fx::interface&>(*remote) : *b.desk;

  const auto prices = desk.price_two_way(hkd(1'000), currency::cny);
  REQUIRE(prices.ok());
  CHECK(prices->bid_minor < prices->ask_minor);
  CHECK(desk.price_two_way(hkd(1'000), currency::thb).code() == status_code::no_quote);

  auto declined = desk.request_quote("cn-bank", currency::cny, currency::hkd, 100'000, false);
  REQUIRE(declined.ok());
  CHECK(declined->receive == hkd(1'000));
  CHECK(declined->pay == money{92'227, currency::cny});
  CHECK(desk.decline(declined->quote_id).ok());
  CHECK(desk.decline(declined->quote_id).code() == status_code::quote_unknown);
  CHECK(desk.request_quote("cn-bank", currency::cny, currency::cny, 100, false).code() ==
        status_code::bad_request);

  auto q = desk.request_quote("cn-bank", currency::cny, currency::hkd, 100'000, false);
  REQUIRE(q.ok());
  CHECK(q->dealer_inputs == declined->dealer_inputs);  // the declined quote's tokens are free
  const auto tx = b.pvp(*q);
  auto cheap = *q;
  cheap.pay = money{q->pay.minor() - 1, currency::cny};
  CHECK(desk.execute(q->quote_id, b.pvp(cheap)).code() == status_code::bad_request);
  const auto r = desk.execute(q->quote_id, tx);
  REQUIRE(r.ok());
  CHECK(r->status == status_code::ok);
  const auto again = desk.execute(q->quote_id, tx);
  REQUIRE(again.ok());
  CHECK(again->status == status_code::already_settled);
  CHECK(desk.execute("dealer-nothing", tx).code() == status_code::quote_unknown);
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 100'000);
}

TEST_CASE("an expired quote is refused and its tokens are free again", "[fx][integration]") {
  bridge b;
  auto q = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, 100'000, false, b.now);
  REQUIRE(q.ok());
  const auto tx = b.pvp(*q);
  const auto late = q->expires_at_us + 1;
  CHECK(b.desk->execute(q->quote_id, tx, late).code() == status_code::quote_expired);
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 0);
  // A new quote may use the same dealer tokens; executing exactly at the expiry still counts.
  auto fresh = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, 100'000, false, late);
  REQUIRE(fresh.ok());
  CHECK(fresh->dealer_inputs == q->dealer_inputs);
  auto r = b.desk->execute(fresh->quote_id, b.pvp(*fresh), fresh->expires_at_us);
  REQUIRE(r.ok());
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 100'000);
}

TEST_CASE("the dealer signs only the legs it quoted", "[fx][integration]") {
  bridge b;
  auto q = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, 50'000, false, b.now);
  REQUIRE(q.ok());
  // The payer pays the dealer one fen less than quoted.
  auto cheap = *q;
  cheap.pay = money{q->pay.minor() - 1, currency::cny};
  CHECK(b.desk->execute(q->quote_id, b.pvp(cheap), b.now).code() == status_code::bad_request);
  // The payer adds another token of the dealer's as an input.
  auto unspent = b.settle->list_unspent(b.dealer_key.pub());
  REQUIRE(unspent.ok());
  auto greedy = *q;
  for (const auto& t : *unspent) {
    if (std::find(q->dealer_inputs.begin(), q->dealer_inputs.end(), t.token_id) ==
        q->dealer_inputs.end()) {
      greedy.dealer_inputs.push_back(t.token_id);
      greedy.dealer_change_minor += t.amount_minor;
      break;
    }
  }
  REQUIRE(greedy.dealer_inputs.size() > q->dealer_inputs.size());
  CHECK(b.desk->execute(q->quote_id, b.pvp(greedy), b.now).code() == status_code::bad_request);
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 0);
  // The honest transaction still goes through.
  REQUIRE(b.desk->execute(q->quote_id, b.pvp(*q), b.now).ok());
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 50'000);
}

TEST_CASE("a corridor cap holds at, under and over its boundary", "[fx][integration]") {
  issuer::cross_border_controls controls;
  controls.permitted = {currency::hkd};
  controls.corridor_cap_minor[currency::hkd] = cny(1'000).minor();
  controls.bank_cap_minor["dealer"] = cny(300).minor();
  bridge b(controls);
  // Clearances come from a dealer, for its own quotes (ids "<dealer>-..."), on behalf of the
  // paying bank it quoted.
  auto& pboc = b.pboc->as("dealer");
  CHECK(pboc.clear_cross_border("dealer-c1", "cn-bank", cny(600), currency::hkd, tx_of("dealer-c1"))
            .ok());  // under
  CHECK(pboc.clear_cross_border("dealer-c2", "cn-bank", cny(400), currency::hkd, tx_of("dealer-c2"))
            .ok());  // at
  CHECK(pboc.clear_cross_border("dealer-c3", "cn-bank", money{1, currency::cny}, currency::hkd,
                                tx_of("dealer-c3"))
            .code() == status_code::corridor_cap_exceeded);  // over by one fen
  CHECK(pboc.clear_cross_border("dealer-c2", "cn-bank", cny(400), currency::hkd, tx_of("dealer-c2"))
            .ok());  // retry
  CHECK(pboc.clear_cross_border("dealer-c2", "cn-bank", cny(401), currency::hkd, tx_of("dealer-c2"))
            .code() == status_code::bad_request);  // the same id for another payment
  CHECK(pboc.clear_cross_border("dealer-c4", "cn-bank", cny(10), currency::thb, tx_of("dealer-c4"))
            .code() == status_code::not_permitted);
  CHECK(pboc.clear_cross_border("dealer-c5", "nobody", cny(10), currency::hkd, tx_of("dealer-c5"))
            .code() == status_code::unknown_bank);
  CHECK(pboc.clear_cross_border("dealer-c6", "cn-bank", hkd(10), currency::cny, tx_of("dealer-c6"))
            .code() == status_code::currency_mismatch);
  // Nobody else clears or releases the dealer's quotes: another dealer, a bank.
  CHECK(b.pboc->as("dealer2").release_cross_border("dealer-c1").code() ==
        status_code::not_authorized);
  CHECK(b.pboc->as("dealer2")
            .clear_cross_border("dealer-c9", "cn-bank", cny(1), currency::hkd, tx_of("dealer-c9"))
            .code() == status_code::not_authorized);
  CHECK(b.pboc->as("cn-bank").release_cross_border("dealer-c1").code() ==
        status_code::not_authorized);
  // Released, the amount is free again.
  REQUIRE(pboc.release_cross_border("dealer-c2").ok());
  CHECK(pboc.clear_cross_border("dealer-c7", "cn-bank", cny(400), currency::hkd, tx_of("dealer-c7"))
            .ok());
  CHECK(pboc.release_cross_border("dealer-unknown").code() == status_code::not_found);
  {  // a clearance whose tx_id is not 32 bytes is malformed, and the central bank serves on
    wire::Envelope req;
    auto* c = req.mutable_clear_cross_border();
    c->set_clearance_id("dealer-c8");
    c->set_bank_id("cn-bank");
    c->set_amount_minor(cny(1).minor());
    c->set_currency(static_cast<std::uint32_t>(currency::cny));
    c->set_to_currency(static_cast<std::uint32_t>(currency::hkd));
    c->set_tx_id("short");
    rpc_client raw(b.pboc->svc->endpoint(), b.net("dealer"));
    auto answer = raw.call(std::move(req));
    REQUIRE(answer.ok());
    REQUIRE(answer->payload_case() == wire::Envelope::kClearance);
    CHECK(static_cast<status_code>(answer->clearance().status()) == status_code::malformed);
  }
  REQUIRE(pboc.release_cross_border("dealer-c1").ok());
  REQUIRE(pboc.release_cross_border("dealer-c7").ok());
  // A bank's own cap: 300.00 for "dealer".
  CHECK(pboc.clear_cross_border("dealer-d1", "dealer", cny(300), currency::hkd, tx_of("dealer-d1"))
            .ok());
  CHECK(pboc.clear_cross_border("dealer-d2", "dealer", money{1, currency::cny}, currency::hkd,
                                tx_of("dealer-d2"))
            .code() == status_code::bank_cap_exceeded);

  // Through the dealer: a payment over what is left of the corridor is refused and nothing moves.
  const auto before = b.balance(b.payer.pub(), currency::cny);
  auto q = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, hkd(900).minor(), false,
                                 b.now);
  REQUIRE(q.ok());  // CNY 829.xx, over the 700.00 left
  CHECK(b.desk->execute(q->quote_id, b.pvp(*q), b.now).code() ==
        status_code::corridor_cap_exceeded);
  CHECK(b.balance(b.payer.pub(), currency::cny) == before);
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == 0);
  auto small = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, hkd(700).minor(),
                                     false, b.now);
  REQUIRE(small.ok());  // CNY 645.xx fits
  REQUIRE(b.desk->execute(small->quote_id, b.pvp(*small), b.now).ok());
  CHECK(b.balance(b.merchant.pub(), currency::hkd) == hkd(700).minor());
}

TEST_CASE("a dealer cannot release a settled payment's clearance to pass a cap",
          "[fx][integration][trust]") {
  // The outside finding: releasing settled clearances let 18 PvPs (10,790.52 CNY) through a
  // 5,000.00 CNY corridor. A release now gives an amount back only when its PvP did not settle.
  issuer::cross_border_controls controls;
  controls.corridor_cap_minor[currency::hkd] = cny(1'000).minor();
  bridge b(controls);
  auto& pboc = b.pboc->as("dealer");
  auto q = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, hkd(900).minor(), false,
                                 b.now);
  REQUIRE(q.ok());  // CNY 829.xx
  REQUIRE(b.desk->execute(q->quote_id, b.pvp(*q), b.now).ok());
  CHECK(pboc.release_cross_border(q->quote_id).code() == status_code::not_permitted);
  auto second = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, hkd(900).minor(),
                                      false, b.now);
  REQUIRE(second.ok());
  CHECK(b.desk->execute(second->quote_id, b.pvp(*second), b.now).code() ==
        status_code::corridor_cap_exceeded);

  // A clearance released before its PvP settled (the dealer then submits it anyway) escapes the
  // cap once; the audit names it.
  auto third = b.desk->request_quote("cn-bank", currency::cny, currency::hkd, hkd(100).minor(),
                                     false, b.now);
  REQUIRE(third.ok());
  auto pvp = b.pvp(*third);
  REQUIRE(
      pboc.clear_cross_border(third->quote_id, "cn-bank", third->pay, currency::hkd, pvp.id).ok());
  REQUIRE(pboc.release_cross_border(third->quote_id).ok());  // not settled yet: released
  auto pboc_audit = issuer::issuer::open(b.pboc->config, b.pboc->key);
  REQUIRE(pboc_audit.ok());
  auto clean = issuer::audit(**pboc_audit, *b.settle, currency::cny);
  REQUIRE(clean.ok());
  CHECK(clean->passed());
  pvp.sign_with(b.dealer_key);
  settlement::client as_dealer(b.settle_svc->endpoint(), b.net("dealer"));
  auto settled = as_dealer.submit(pvp);
  REQUIRE(settled.ok());
  REQUIRE(settled->status == status_code::ok);
  auto report = issuer::audit(**pboc_audit, *b.settle, currency::cny);
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].find(third->quote_id) != std::string::npos);
}

TEST_CASE("a bank cannot have a foreign central bank issue", "[fx][integration]") {
  bridge b;
  // hk-bank is registered at the PBoC as a foreign bank: it may hold CNY, not have it issued.
  CHECK(b.pboc->as("hk-bank").mint("hk-bank", cny(10), "foreign-1").code() ==
        status_code::not_domestic);
  // A bank mints for itself only.
  CHECK(b.pboc->as("hk-bank").mint("cn-bank", cny(10), "foreign-2").code() ==
        status_code::not_authorized);
  CHECK(b.pboc->as("hk-bank").reserve("cn-bank").code() == status_code::not_authorized);
  // Nor issue another currency.
  CHECK(b.pboc->as("cn-bank").mint("cn-bank", hkd(10), "foreign-3").code() ==
        status_code::currency_mismatch);
  auto supply = b.settle->supply(currency::cny);
  REQUIRE(supply.ok());
  CHECK(supply->issued_minor == cny(100'000).minor());
}

TEST_CASE("the best of several dealers' quotes is taken and a mixed run conserves value",
          "[fx][integration]") {
  bridge b;
  b.desk.reset();  // both dealers as services here
  test::pg_scratch db2;
  auto s1 = fx::server::start(b.dealer_config("dealer", b.dealer_db.url(), 30), b.dealer_key);
  auto s2 = fx::server::start(b.dealer_config("dealer2", db2.url(), 10), b.dealer2_key);
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  fx::client d1((*s1)->endpoint(), b.net("cn-bank"));
  fx::client d2((*s2)->endpoint(), b.net("cn-bank"));
  fx::client hk1((*s1)->endpoint(), b.net("hk-bank"));
  fx::client hk2((*s2)->endpoint(), b.net("hk-bank"));
  auto best = fx::request_best_quote({&d1, &d2}, "cn-bank", currency::cny, currency::hkd,
                                     hkd(2'000).minor(), false);
  REQUIRE(best.ok());
  CHECK(best->q.dealer_id == "dealer2");  // 10 bp beats 30 bp
  CHECK(best->dealer == &d2);
  auto executed = d2.execute(best->q.quote_id, b.pvp(best->q));
  REQUIRE(executed.ok());
  CHECK(executed->status == status_code::ok);
  // Fixed pay: the merchant pays CNY back for HKD... the other way round, from its HKD.
  auto back = fx::request_best_quote({&hk1, &hk2}, "hk-bank", currency::hkd, currency::cny,
                                     hkd(500).minor(), true);
  REQUIRE(back.ok());
  CHECK(back->q.pay == hkd(500));
  auto unspent = b.settle->list_unspent(b.merchant.pub());
  REQUIRE(unspent.ok());
  auto tx = fx::build_pvp(back->q, b.merchant, *unspent, b.payer.pub(), 99);
  REQUIRE(tx.ok());
  REQUIRE(back->dealer->execute(back->q.quote_id, *tx).ok());
  // A domestic payment too.
  unspent = b.settle->list_unspent(b.payer.pub());
  REQUIRE(unspent.ok());
  auto domestic = payment::build_payment(b.payer, *unspent, b.dealer_key.pub(), cny(5), 7, "");
  REQUIRE(domestic.ok());
  settlement::client as_bank(b.settle_svc->endpoint(), b.net("cn-bank"));
  auto paid = as_bank.submit(*domestic);
  REQUIRE(paid.ok());
  REQUIRE(paid->status == status_code::ok);
  // The auditor reads settlement but may not submit.
  CHECK(b.settle->submit(*domestic).code() == status_code::not_authorized);
  // No dealer quotes a pair it has no rate for.
  CHECK(fx::request_best_quote({&d1, &d2}, "cn-bank", currency::cny, currency::thb, 100, false)
            .code() == status_code::no_quote);
  for (const auto cur : {currency::cny, currency::hkd}) {
    auto supply = b.settle->supply(cur);
    REQUIRE(supply.ok());
    CHECK(supply->issued_minor - supply->redeemed_minor == supply->unspent_minor);
  }
  auto pboc_audit = issuer::issuer::open(b.pboc->config, b.pboc->key);
  REQUIRE(pboc_audit.ok());
  auto report = issuer::audit(**pboc_audit, *b.settle, currency::cny);
  REQUIRE(report.ok());
  CHECK(report->passed());
}

TEST_CASE("a central bank joins the bridge later: SAR", "[fx][integration]") {
  bridge b;
  // Settlement restarts knowing SAMA's issuer key as well; what it settled is reloaded.
  const auto sama_key = key_pair::from_seed(profile::ed25519, indexed_seed(5, 0xcb));
  b.settle_svc.reset();
  settlement::server_config sc;
  sc.db_url = b.settle_db.url();
  sc.endpoint = b.settle_ep;
  sc.engine.issuers[currency::cny] = b.pboc_key.pub();
  sc.engine.issuers[currency::hkd] = b.hkma_key.pub();
  sc.engine.issuers[currency::sar] = sama_key.pub();
  sc.net = b.net("settle");
  auto restarted = settlement::server::start(sc);
  REQUIRE(restarted.ok());
  b.settle_svc = std::move(*restarted);
  b.settle = std::make_unique<settlement::client>(b.settle_svc->endpoint(), b.net("auditor/test"));
  central_bank sama(currency::sar, 5, b.settle_svc->endpoint(), {}, b, "sama", b.extra_ep);
  sama.add_bank("dealer", b.dealer_key.pub(), true, money{50'000'000, currency::sar});
  sama.add_bank("sa-bank", b.merchant.pub(), true, money{0, currency::sar});
  sama.start();
  REQUIRE(sama.as("dealer").mint("dealer", money{10'000'000, currency::sar}, "m-dealer-sar").ok());
  // SAMA issues SAR only to its domestic banks: the mainland bank is not one.
  CHECK(sama.as("cn-bank").mint("cn-bank", money{100, currency::sar}, "m-cn").code() ==
        status_code::unknown_bank);

  auto config = b.dealer_config("dealer", b.dealer_db.url(), 20);
  REQUIRE(config.add_rate("CNY/SAR=0.5200").ok());
  config.central_banks[currency::cny] = b.pboc->svc->endpoint();
  config.central_banks[currency::sar] = sama.svc->endpoint();
  b.desk.reset();
  auto d = fx::dealer::open(config, b.dealer_key);
  REQUIRE(d.ok());
  auto q = (*d)->request_quote("cn-bank", currency::cny, currency::sar, 52'000, false, b.now);
  REQUIRE(q.ok());
  auto r = (*d)->execute(q->quote_id, b.pvp(*q), b.now);
  REQUIRE(r.ok());
  CHECK(b.balance(b.merchant.pub(), currency::sar) == 52'000);
  for (const auto cur : {currency::cny, currency::hkd, currency::sar}) {
    auto supply = b.settle->supply(cur);
    REQUIRE(supply.ok());
    CHECK(supply->issued_minor - supply->redeemed_minor == supply->unspent_minor);
  }
}

TEST_CASE("a dealer's two-way price brackets its firm quotes", "[fx][integration]") {
  bridge b;
  b.desk.reset();
  auto svc = fx::server::start(b.dealer_config("dealer", b.dealer_db.url(), 25), b.dealer_key);
  REQUIRE(svc.ok());
  fx::client d((*svc)->endpoint(), b.net("cn-bank"));
  fx::client hk((*svc)->endpoint(), b.net("hk-bank"));
  REQUIRE(b.pboc->as("dealer").mint("dealer", cny(10'000), "m-dealer-cny").ok());  // CNY to sell
  // 1,000.00 CNY against HKD at mid 1.0870 with 25 bp either side.
  auto p = d.price_two_way(cny(1'000), currency::hkd);
  REQUIRE(p.ok());
  CHECK(p->bid_minor == 108'428);  // the dealer pays HKD 1,084.28 for CNY 1,000.00
  CHECK(p->ask_minor == 108'972);  // and asks HKD 1,089.72 for it
  CHECK(p->bid_minor < p->ask_minor);
  // The firm quotes agree with it: selling CNY 1,000.00 gets the bid, buying it costs the ask.
  auto sell = d.request_quote("cn-bank", currency::cny, currency::hkd, 100'000, true);
  auto buy = hk.request_quote("hk-bank", currency::hkd, currency::cny, 100'000, false);
  REQUIRE(sell.ok());
  REQUIRE(buy.ok());
  CHECK(sell->receive.minor() == p->bid_minor);
  CHECK(buy->pay.minor() == p->ask_minor);
  CHECK(d.price_two_way(cny(1), currency::thb).code() == status_code::no_quote);
  CHECK(d.price_two_way(money{0, currency::cny}, currency::hkd).code() ==
        status_code::amount_invalid);
}

TEST_CASE("a dealer's quotes are its bank's: identity, unguessable ids and a bound per bank",
          "[fx][integration][auth]") {
  bridge b;
  b.desk.reset();
  auto config = b.dealer_config("dealer", b.dealer_db.url(), 25);
  config.max_open_quotes_per_bank = 3;
  config.max_reserved_share_bp = 5'000;  // one bank's open quotes: half the desk at most
  for (int i = 0; i < 6; ++i) {          // small tokens too: each open quote holds whole tokens
    REQUIRE(b.hkma->as("dealer").mint("dealer", hkd(100), "m-small-" + std::to_string(i)).ok());
  }
  auto svc = fx::server::start(config, b.dealer_key);
  REQUIRE(svc.ok());
  fx::client cn((*svc)->endpoint(), b.net("cn-bank"));
  fx::client hk((*svc)->endpoint(), b.net("hk-bank"));
  // payer_bank is the caller: naming another bank (to use its caps) is refused.
  CHECK(cn.request_quote("hk-bank", currency::cny, currency::hkd, 1'000, false).code() ==
        status_code::not_authorized);
  auto q = cn.request_quote("cn-bank", currency::cny, currency::hkd, 1'000, false);
  REQUIRE(q.ok());
  // The id says nothing about the next one, and another bank cannot decline or execute it.
  auto q2 = cn.request_quote("cn-bank", currency::cny, currency::hkd, 1'000, false);
  REQUIRE(q2.ok());
  CHECK(q->quote_id.rfind("dealer-", 0) == 0);
  CHECK(q->quote_id.size() == std::string{"dealer-"}.size() + 32);
  CHECK(q->quote_id.substr(0, 15) != q2->quote_id.substr(0, 15));
  CHECK(hk.decline(q->quote_id).code() == status_code::not_authorized);
  CHECK(hk.execute(q->quote_id, b.pvp(*q)).code() == status_code::not_authorized);
  // A third open quote is allowed, a fourth is not; declining one makes room.
  REQUIRE(cn.request_quote("cn-bank", currency::cny, currency::hkd, 1'000, false).ok());
  CHECK(cn.request_quote("cn-bank", currency::cny, currency::hkd, 1'000, false).code() ==
        status_code::overloaded);
  REQUIRE(cn.decline(q2->quote_id).ok());
  REQUIRE(cn.request_quote("cn-bank", currency::cny, currency::hkd, 1'000, false).ok());
  // Another bank is not held up by them, and one bank may not commit more than half the desk
  // (the dealer holds HKD 300,600.00 here; the bank's two open quotes ask HKD 20.00: it may
  // ask HKD 150,280.00 more, not a cent above).
  CHECK(hk.request_quote("hk-bank", currency::hkd, currency::cny, 1'000, false).code() !=
        status_code::overloaded);
  REQUIRE(cn.decline(q->quote_id).ok());
  auto greedy = cn.request_quote("cn-bank", currency::cny, currency::hkd, 15'028'001, false);
  REQUIRE(greedy.code() == status_code::no_quote);
  CHECK(greedy.err().message.find("would commit more than 50%") != std::string::npos);
  auto at_edge = cn.request_quote("cn-bank", currency::cny, currency::hkd, 15'028'000, false);
  REQUIRE(at_edge.ok());
  REQUIRE(cn.decline(at_edge->quote_id).ok());
  // The owner executes its quote.
  auto fresh = cn.request_quote("cn-bank", currency::cny, currency::hkd, hkd(10).minor(), false);
  REQUIRE(fresh.ok());
  auto paid = cn.execute(fresh->quote_id, b.pvp(*fresh));
  REQUIRE(paid.ok());
  CHECK(paid->status == status_code::ok);
  CHECK(b.balance(b.merchant.pub(), currency::hkd) >= hkd(10).minor());
}
