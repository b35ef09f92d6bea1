// A cross-border bridge in one process for tests: settlement, two central banks (CNY and HKD)
// as services with their controls, a mainland payer, a Hong Kong merchant, and FX dealers.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "fx/client.hpp"
#include "fx/dealer.hpp"
#include "fx/server.hpp"
#include "issuer/audit.hpp"
#include "issuer/client.hpp"
#include "issuer/issuer.hpp"
#include "issuer/server.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"

namespace cbdc::test {

inline auto cny(std::int64_t yuan) -> money {
  return money{yuan * 100, currency::cny};
}
inline auto hkd(std::int64_t dollars) -> money {
  return money{dollars * 100, currency::hkd};
}

/// The bridge's nodes, each with its key, at fixed endpoints (clients find servers' keys by
/// endpoint): settlement, the two central banks, two dealers, the payer's bank, the merchant's
/// bank, and an auditor reading settlement.
struct bridge_nodes {
  bridge_nodes() {
    std::mt19937 rng(std::random_device{}());
    const int base = 20'000 + static_cast<int>(rng() % 11'000);
    const auto ep = [&](int i) { return "tcp://127.0.0.1:" + std::to_string(base + i); };
    settle_ep = ep(0);
    pboc_ep = ep(1);
    hkma_ep = ep(2);
    dealer_ep = ep(3);
    dealer2_ep = ep(4);
    bank_ep = ep(5);
    extra_ep = ep(6);
    nodes.add("settle", role::shard, settle_ep)
        .add("pboc", role::issuer, pboc_ep)
        .add("hkma", role::issuer, hkma_ep)
        .add("sama", role::issuer, extra_ep)
        .add("dealer", role::dealer, dealer_ep)
        .add("dealer2", role::dealer, dealer2_ep)
        .add("cn-bank", role::bank, bank_ep)
        .add("hk-bank", role::bank)
        .add("auditor/test", role::operator_);
  }
  /// The options of node `name` (its identity; servers' keys from the directory).
  auto net(const std::string& name) -> socket_options {
    socket_options o;
    o.security = nodes.security(name);
    return o;
  }
  test_nodes nodes;
  std::string settle_ep, pboc_ep, hkma_ep, dealer_ep, dealer2_ep, bank_ep, extra_ep;
};

/// One central bank as a service, its banks registered and funded before it starts.
struct central_bank {
  central_bank(currency cur, std::uint64_t seed, const std::string& settle_ep,
               issuer::cross_border_controls controls, bridge_nodes& n, const std::string& name,
               const std::string& endpoint)
      : key(key_pair::from_seed(profile::ed25519, indexed_seed(seed, 0xcb))), nodes(n) {
    config.db_url = db.url();
    config.cur = cur;
    config.settle_endpoint = settle_ep;
    config.endpoint = endpoint;
    config.controls = std::move(controls);
    config.net = n.net(name);
  }
  /// A client of this central bank acting as node `who` (a bank for itself, a dealer).
  auto as(const std::string& who) -> issuer::client& {
    auto& c = clients[who];
    if (!c) {
      c = std::make_unique<issuer::client>(svc->endpoint(), nodes.net(who));
    }
    return *c;
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
    auto s = issuer::server::start(config, key);
    REQUIRE(s.ok());
    svc = std::move(*s);
  }
  test::pg_scratch db;
  key_pair key;
  bridge_nodes& nodes;
  issuer::issuer_config config;
  std::unique_ptr<issuer::server> svc;
  std::map<std::string, std::unique_ptr<issuer::client>> clients;
};

struct bridge : bridge_nodes {
  explicit bridge(issuer::cross_border_controls cny_controls = {})
      : pboc_key(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xcb))),
        hkma_key(key_pair::from_seed(profile::ed25519, indexed_seed(2, 0xcb))),
        payer(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x77))),
        merchant(key_pair::from_seed(profile::ed25519, indexed_seed(2, 0x77))),
        dealer_key(key_pair::from_seed(profile::ed25519, indexed_seed(3, 0x77))),
        dealer2_key(key_pair::from_seed(profile::ed25519, indexed_seed(4, 0x77))) {
    settlement::server_config sc;
    sc.db_url = settle_db.url();
    sc.endpoint = settle_ep;
    sc.engine.issuers[currency::cny] = pboc_key.pub();
    sc.engine.issuers[currency::hkd] = hkma_key.pub();
    sc.net = net("settle");
    settle_config = sc;
    auto s = settlement::server::start(sc);
    REQUIRE(s.ok());
    settle_svc = std::move(*s);
    settle = std::make_unique<settlement::client>(settle_svc->endpoint(), net("auditor/test"));

    pboc = std::make_unique<central_bank>(currency::cny, 1, settle_svc->endpoint(),
                                          std::move(cny_controls), *this, "pboc", pboc_ep);
    hkma = std::make_unique<central_bank>(currency::hkd, 2, settle_svc->endpoint(),
                                          issuer::cross_border_controls{}, *this, "hkma", hkma_ep);
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
    REQUIRE(pboc->as("cn-bank").mint("cn-bank", cny(100'000), "m-payer").ok());
    REQUIRE(hkma->as("dealer").mint("dealer", hkd(200'000), "m-dealer-a").ok());
    REQUIRE(hkma->as("dealer").mint("dealer", hkd(100'000), "m-dealer-b").ok());
    REQUIRE(hkma->as("dealer2").mint("dealer2", hkd(300'000), "m-dealer2").ok());

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
    c.endpoint = id == "dealer" ? dealer_ep : dealer2_ep;
    c.spread_bp = spread_bp;
    c.net = net(id);
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
  settlement::server_config settle_config;
  std::unique_ptr<settlement::server> settle_svc;
  std::unique_ptr<settlement::client> settle;
  std::unique_ptr<central_bank> pboc;
  std::unique_ptr<central_bank> hkma;
  std::unique_ptr<fx::dealer> desk;
  std::uint64_t nonce{0};
  std::int64_t now{1'700'000'000'000'000};
};

}  // namespace cbdc::test
