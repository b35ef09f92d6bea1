#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.hpp"
#include "core/money.hpp"
#include "core/pg.hpp"
#include "core/queue.hpp"
#include "core/transport.hpp"
#include "settlement/client.hpp"

namespace cbdc::issuer {

auto migrations() -> std::vector<pg::migration>;

struct mint_result {
  hash256 tx_id;
  std::vector<hash256> token_ids;
  bool already{false};  ///< the request id had been answered before
};

struct issuer_config {
  std::string db_url;
  currency cur{currency::cny};
  std::string settle_endpoint{"tcp://127.0.0.1:7100"};  ///< a settlement::cluster spec
  std::string endpoint{"tcp://127.0.0.1:7200"};
};

/// The central bank of one currency: knows its operator banks and mints to their vaults.
/// Not thread-safe; the service runs it on one worker thread.
class issuer {
 public:
  static auto open(issuer_config config, key_pair key) -> result<std::unique_ptr<issuer>>;

  /// Registers an operator bank and its vault key. domestic=false records a foreign bank,
  /// which may hold this currency but not ask for issuance.
  auto add_bank(const std::string& bank_id, const public_key& vault, bool domestic) -> status;

  /// Issues amount to the bank's vault. Idempotent per request id: the same id returns the
  /// first result; the same id with other content is bad_request. Errors: unknown_bank,
  /// not_domestic, amount_invalid, currency_mismatch, and settlement's refusals.
  auto mint(const std::string& bank_id, money amount, const std::string& request_id)
      -> result<mint_result>;

  /// Total minted (settled) in this currency, from the issuer's own records.
  auto minted_total() -> result<std::int64_t>;

 private:
  issuer(issuer_config config, key_pair key, std::unique_ptr<pqxx::connection> conn,
         const settlement::cluster& where);
  issuer_config m_config;
  key_pair m_key;
  std::unique_ptr<pqxx::connection> m_conn;
  settlement::client m_settle;
};

/// The issuer behind a ROUTER socket; requests run one at a time on a worker thread.
class service {
 public:
  static auto start(issuer_config config, key_pair key) -> result<std::unique_ptr<service>>;
  ~service();
  service(const service&) = delete;
  auto operator=(const service&) -> service& = delete;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_server->endpoint(); }

 private:
  struct job {
    wire::Envelope request;
    rpc_server::reply_fn reply;
  };
  service() : m_jobs(1000) {}
  void work();

  std::unique_ptr<issuer> m_issuer;
  bounded_queue<job> m_jobs;
  std::thread m_worker;
  std::unique_ptr<rpc_server> m_server;
};

/// A client of cbdc-issuer.
class client {
 public:
  explicit client(std::string endpoint, socket_options opts = {});
  auto mint(const std::string& bank_id, money amount, const std::string& request_id)
      -> result<mint_result>;

 private:
  rpc_client m_rpc;
};

/// What `cbdc-issuer audit` checks, per currency: settlement's issued - redeemed == its
/// unspent supply, and settlement's issued total == what this issuer minted.
struct audit_report {
  currency cur{currency::cny};
  std::int64_t minted_minor{0};
  std::int64_t issued_minor{0};
  std::int64_t redeemed_minor{0};
  std::int64_t unspent_minor{0};
  std::vector<std::string> problems;
  [[nodiscard]] auto passed() const -> bool { return problems.empty(); }
};

auto audit(issuer& iss, settlement::client& settle, currency cur) -> result<audit_report>;

}  // namespace cbdc::issuer
