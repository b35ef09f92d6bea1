// A cross-border bridge in one process for tests: settlement, two central banks (CNY and HKD)
// as services with their controls, a mainland payer, a Hong Kong merchant, and FX dealers.
#pragma once

#include <catch2/catch.hpp>

#include "fx/dealer.hpp"
#include "issuer/issuer.hpp"
#include "settlement/service.hpp"
#include "tests/support/pg_scratch.hpp"

namespace cbdc::test {

inline auto cny(std::int64_t yuan) -> money {
  return money{yuan * 100, currency::cny};
}
inline auto hkd(std::int64_t dollars) -> money {
  return money{dollars * 100, currency::hkd};
}

/// One central bank as a service, its banks registered and funded before it starts.
struct central_bank {
  central_bank(currency cur, std::uint64_t seed, const std::string& settle_ep,
               issuer::cross_border_controls controls)
      : key(key_pair::from_seed(profile::ed25519, indexed_seed(seed, 0xcb))) {
    config.db_url = db.url();
    config.cur = cur;
    config.settle_endpoint = settle_ep;
    config.endpoint = "tcp://127.0.0.1:0";
    config.controls = std::move(controls);
  }
  /// Registers a bank; domestic banks get `reserve` on their reserve account.
  void add_bank(const std::string& id, const public_key& vault, bool domestic, money reserve) {
    auto iss = issuer::issuer::open(config, key);
    REQUIRE(iss.ok());
    REQUIRE((*iss)->add_bank(id, vault, domestic).ok());
    if (reserve.minor() > 0) {
      REQUIRE((*iss)->deposit(id, reserve, "reserve-" + id).ok());
    }
  }
  void start() {
    auto s = issuer::service::start(config, key);
    REQUIRE(s.ok());
    svc = std::move(*s);
    cli = std::make_unique<issuer::client>(svc->endpoint());
  }
  test::pg_scratch db;
  key_pair key;
  issuer::issuer_config config;
  std::unique_ptr<issuer::service> svc;
  std::unique_ptr<issuer::client> cli;
};

struct bridge {
  explicit bridge(issuer::cross_border_controls cny_controls = {})
      : pboc_key(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xcb))),
        hkma_key(key_pair::from_seed(profile::ed25519, indexed_seed(2, 0xcb))),
        payer(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x77))),
        merchant(key_pair::from_seed(profile::ed25519, indexed_seed(2, 0x77))),
        dealer_key(key_pair::from_seed(profile::ed25519, indexed_seed(3, 0x77))),
        dealer2_key(key_pair::from_seed(profile::ed25519, indexed_seed(4, 0x77))) {
    settlement::service_config sc;
    sc.db_url = settle_db.url();
    sc.endpoint = "tcp://127.0.0.1:0";
    sc.engine.issuers[currency::cny] = pboc_key.pub();
    sc.engine.issuers[currency::hkd] = hkma_key.pub();
    auto s = settlement::service::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle = std::make_unique<settlement::client>(settle_svc->endpoint());

    pboc = std::make_unique<central_bank>(currency::cny, 1, settle_svc->endpoint(),
                                          std::move(cny_controls));
    hkma = std::make_unique<central_bank>(currency::hkd, 2, settle_svc->endpoint(),
                                          issuer::cross_border_controls{});
    // The payer's bank is mainland; the dealers have a licensed entity on both sides.
    pboc->add_bank("cn-bank", payer.pub(), true, cny(1'000'000));
    pboc->add_bank("dealer", dealer_key.pub(), true, cny(1'000'000));
    pboc->add_bank("dealer2", dealer2_key.pub(), true, cny(1'000'000));
    pboc->add_bank("hk-bank", merchant.pub(), false, cny(0));
    hkma->add_bank("hk-bank", merchant.pub(), true, hkd(1'000'000));
    hkma->add_bank("dealer", dealer_key.pub(), true, hkd(1'000'000));
    hkma->add_bank("dealer2", dealer2_key.pub(), true, hkd(1'000'000));
    pboc->start();
    hkma->start();
    REQUIRE(pboc->cli->mint("cn-bank", cny(100'000), "m-payer").ok());
    REQUIRE(hkma->cli->mint("dealer", hkd(200'000), "m-dealer-a").ok());
    REQUIRE(hkma->cli->mint("dealer", hkd(100'000), "m-dealer-b").ok());
    REQUIRE(hkma->cli->mint("dealer2", hkd(300'000), "m-dealer2").ok());

    auto d = fx::dealer::open(dealer_config("dealer", dealer_db.url(), 25), dealer_key);
    REQUIRE(d.ok());
    desk = std::move(*d);
  }

  auto dealer_config(const std::string& id, const std::string& db, std::int64_t spread_bp)
      -> fx::dealer_config {
    fx::dealer_config c;
    c.dealer_id = id;
    c.db_url = db;
    c.settle_spec = settle_svc->endpoint();
    c.endpoint = "tcp://127.0.0.1:0";
    c.spread_bp = spread_bp;
    REQUIRE(c.add_rate("CNY/HKD=1.0870").ok());
    c.central_banks[currency::cny] = pboc->svc->endpoint();
    c.central_banks[currency::hkd] = hkma->svc->endpoint();
    return c;
  }

  auto balance(const public_key& who, currency cur) -> std::int64_t {
    auto unspent = settle->list_unspent(who);
    REQUIRE(unspent.ok());
    std::int64_t sum = 0;
    for (const auto& t : *unspent) {
      sum += t.cur == cur ? t.amount_minor : 0;
    }
    return sum;
  }

  /// The payer's PvP for quote q to the merchant.
  auto pvp(const fx::quote& q) -> signed_tx {
    auto unspent = settle->list_unspent(payer.pub());
    REQUIRE(unspent.ok());
    auto tx = fx::build_pvp(q, payer, *unspent, merchant.pub(), ++nonce);
    REQUIRE(tx.ok());
    return *tx;
  }

  test::pg_scratch settle_db;
  test::pg_scratch dealer_db;
  key_pair pboc_key;
  key_pair hkma_key;
  key_pair payer;
  key_pair merchant;
  key_pair dealer_key;
  key_pair dealer2_key;
  std::unique_ptr<settlement::service> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<central_bank> pboc;
  std::unique_ptr<central_bank> hkma;
  std::unique_ptr<fx::dealer> desk;
  std::uint64_t nonce{0};
  std::int64_t now{1'700'000'000'000'000};
};

}  // namespace cbdc::test
