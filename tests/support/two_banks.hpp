// Two banks as services over one settlement shard, each the other's peer, with operator
// clients; optionally each certified for dual-offline payments. For the tests of what passes
// between banks.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "bank/client.hpp"
#include "bank/server.hpp"
#include "core/clock.hpp"
#include "offline/device.hpp"
#include "payment/build.hpp"
#include "settlement/server.hpp"
#include "tests/support/nodes.hpp"
#include "tests/support/pg_scratch.hpp"

namespace cbdc::test {

inline auto cny(std::int64_t yuan) -> money {
  return money{yuan * 100, currency::cny};
}

/// A folder of its own under the temporary directory, removed with it.
class scratch_dir {
 public:
  scratch_dir()
      : m_path(std::filesystem::temp_directory_path() /
               ("cbdc-test-" + std::to_string(std::random_device{}()))) {
    std::filesystem::create_directories(m_path);
  }
  ~scratch_dir() { std::filesystem::remove_all(m_path); }
  scratch_dir(const scratch_dir&) = delete;
  auto operator=(const scratch_dir&) -> scratch_dir& = delete;
  [[nodiscard]] auto path() const -> const std::filesystem::path& { return m_path; }

 private:
  std::filesystem::path m_path;
};

struct two_banks {
  /// with_offline: each bank certified by the central bank (the issuer's key) and so certifying
  /// its wallets' offline devices.
  explicit two_banks(bool with_offline = false)
      : issuer(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xe1))),
        vault_a(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xa1))),
        vault_b(key_pair::from_seed(profile::ed25519, indexed_seed(1, 0xb1))) {
    // Each bank names the other as its peer, and finds its key by endpoint in the nodes file,
    // so the ports are chosen first.
    std::mt19937 rng(std::random_device{}());
    const int base = 20'000 + static_cast<int>(rng() % 11'000);
    const auto ep = [&](int i) { return "tcp://127.0.0.1:" + std::to_string(base + i); };
    ep_a = ep(0);
    ep_b = ep(1);
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
    if (with_offline) {
      const auto year_s = std::int64_t{365} * 24 * 3600;
      const auto now_s = unix_now_us() / 1'000'000;
      a.offline = offline_files("a", vault_a, now_s + year_s);
      b.offline = offline_files("b", vault_b, now_s + year_s);
    }
    config_a = a;
    config_b = b;
    auto sa = bank::server::start(a, vault_a, ep_a);
    auto sb = bank::server::start(b, vault_b, ep_b);
    REQUIRE(sa.ok());
    REQUIRE(sb.ok());
    bank_a = std::move(*sa);
    bank_b = std::move(*sb);
    client_a = std::make_unique<bank::client>(ep_a, nodes.client("a/ops", "a"));
    client_b = std::make_unique<bank::client>(ep_b, nodes.client("b/ops", "b"));
  }

  auto wallet(bank::client& at, std::uint64_t n, bank::wallet_class cls, bool merchant,
              money funded) -> key_pair {
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

  /// The central bank's certificate of a bank's key, as a file, and the bank's offline config.
  auto offline_files(const std::string& bank_id, const key_pair& vault, std::int64_t expires_s)
      -> bank::offline_config {
    const auto cert = offline::certify_bank(issuer, bank_id, vault.pub(), currency::cny, expires_s);
    const auto path = cert_dir.path() / (bank_id + ".cert");
    const auto encoded = offline::encode(cert);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(encoded.data()),
               static_cast<std::streamsize>(encoded.size()));
    bank::offline_config c;
    c.bank_cert_path = path.string();
    c.central_bank_key_hex = issuer.pub().hex();
    return c;
  }

  /// A customer of a bank: a fresh CURVE key of its own, every request signed by `wallet`.
  auto customer(const std::string& endpoint, const key_pair& wallet)
      -> std::unique_ptr<bank::client> {
    socket_options o;
    o.security = std::make_shared<node_security>(node_key::generate(),
                                                 *node_directory::parse(nodes.text(), "test"));
    o.timeout_ms = 10'000;
    auto c = std::make_unique<bank::client>(endpoint, o);
    c->sign_as(wallet);
    return c;
  }

  /// Stops bank a (as a crash would leave its database) and starts it again.
  void restart_a() {
    client_a.reset();
    bank_a.reset();
    auto sa = bank::server::start(config_a, vault_a, ep_a);
    REQUIRE(sa.ok());
    bank_a = std::move(*sa);
    client_a = std::make_unique<bank::client>(ep_a, nodes.client("a/ops", "a"));
  }

  test::scratch_dir cert_dir;
  std::string ep_a;
  std::string ep_b;
  bank::bank_config config_a;
  bank::bank_config config_b;
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

}  // namespace cbdc::test
