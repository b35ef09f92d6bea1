#pragma once

// The till: signed payment requests as QR codes, payments through its bank, settlement's
// notifications matched to requests, the day's takings.

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bank/client.hpp"
#include "core/crypto.hpp"
#include "core/money.hpp"
#include "settlement/client.hpp"
#include "wallet/request.hpp"

namespace cbdc::pos {

struct shop_config {
  std::string bank_endpoint;  ///< the merchant's bank (and the demo payers')
  std::string settle_spec;    ///< settlement::cluster spec
  std::string settle_pub;     ///< settlement's PUB endpoint: the merchant's receipts
  currency cur{currency::cny};
  std::int64_t request_ttl_s{300};
  int utc_offset_minutes{480};  ///< today's takings: the merchant's calendar day
  /// Demo payer wallets the payer page may pay from, by name (in the order given).
  std::vector<std::pair<std::string, key_pair>> payers;
  /// The till's node identity (role pos): it reads settlement, follows its notifications and
  /// pays through the bank.
  socket_options net;
  int rpc_timeout_ms{5000};  ///< each call to the bank or settlement, at most
};

/// One payment request of the till and what became of it.
struct till_request {
  std::uint64_t id{0};
  wallet::payment_request req;
  std::string uri;
  std::string state{"open"};  ///< open, paid, refused, expired
  std::string reason;         ///< a refusal's typed status and detail
  std::string tx_id;
  std::string payer_class;  ///< "I".."IV" when the payer's bank is the merchant's, else ""
  std::int64_t created_us{0};
  std::int64_t settled_us{0};
};

auto to_json(const till_request& r) -> boost::json::object;

/// The merchant's till: it makes signed payment requests, learns from settlement's
/// notifications which were paid (a payment's memo is the request's reference), and for the
/// demo pays requests from the configured payer wallets through their bank. Thread-safe.
class shop {
 public:
  /// merchant: the merchant wallet's key, which signs the payment requests.
  static auto start(shop_config config, key_pair merchant) -> result<std::unique_ptr<shop>>;
  ~shop();
  shop(const shop&) = delete;
  auto operator=(const shop&) -> shop& = delete;

  /// A new request for amount ("12.34") with the merchant's reference. Errors: parse_error,
  /// amount_invalid, too_large.
  auto create(const std::string& amount, const std::string& reference) -> result<till_request>;
  auto find(std::uint64_t id) -> result<till_request>;
  /// Today's paid requests, newest first, and their total.
  auto takings() -> std::pair<std::vector<till_request>, std::int64_t>;

  struct payer_view {
    std::string name;
    std::string key_hex;
    std::string wallet_class;
    std::int64_t balance_minor{0};
  };
  auto payers() -> std::vector<payer_view>;
  /// What a payer sees before paying: the verified request and the payer's balance.
  auto inspect(const std::string& uri, const std::string& payer)
      -> result<std::pair<wallet::payment_request, payer_view>>;
  /// Pays exactly what the URI asks from the named payer wallet, through the bank. A refusal
  /// (the payer's class limits, an expired request, ...) is recorded on the request.
  auto pay(const std::string& uri, const std::string& payer) -> result<settlement::receipt>;

  /// Called with each changed request as the live-update message, JSON text of
  /// {"type": "request", "request": to_json(r)}; the returned handle unsubscribes.
  [[nodiscard]] auto subscribe(std::function<void(const std::string&)> fn) -> std::shared_ptr<void>;

  [[nodiscard]] auto merchant_key() const -> const public_key& { return m_merchant.pub(); }

 private:
  shop(shop_config config, key_pair merchant);
  void follow_settlement();
  void on_settled(const wire::TxSettled& settled);
  /// Marks a request paid (once) and tells the subscribers.
  void mark_paid(std::uint64_t id, const hash256& tx_id, std::int64_t settled_us,
                 const public_key& payer);
  void mark(std::uint64_t id, const std::string& state, const std::string& reason);
  void expire_loop();
  void publish(const till_request& r);
  auto class_of(const public_key& payer) -> std::string;
  auto payer_key(const std::string& name) -> const key_pair*;

  shop_config m_config;
  key_pair m_merchant;
  std::mutex m_mutex;
  std::map<std::uint64_t, till_request> m_requests;
  std::uint64_t m_next_id{1};
  std::map<std::uint64_t, std::function<void(const std::string&)>> m_subscribers;
  std::uint64_t m_next_subscriber{0};
  std::mutex m_rpc_mutex;  ///< the clients below are used by one thread at a time
  std::unique_ptr<settlement::client> m_settle;
  std::unique_ptr<bank::client> m_bank;
  std::atomic<bool> m_stopping{false};
  std::thread m_follower;
  std::thread m_expirer;
};

}  // namespace cbdc::pos
