#pragma once

// The FX dealer's implementation: firm quotes, reserved inventory, execution of PvP payments
// cleared by the central banks, recovery after a crash. Its database is schema fx.

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fx/interface.hpp"
#include "fx/quote.hpp"
#include "issuer/client.hpp"
#include "platform/pg.hpp"
#include "settlement/client.hpp"

namespace cbdc::fx {

auto migrations() -> std::vector<pg::migration>;

struct dealer_config {
  std::string dealer_id;
  std::string db_url;
  std::string settle_spec{"tcp://127.0.0.1:7100"};  ///< a settlement::cluster spec
  std::string endpoint{"tcp://127.0.0.1:7400"};
  /// Mid rates by (pay, receive) currency; add_rate fills both directions.
  std::map<std::pair<currency, currency>, rate> rates;
  std::int64_t spread_bp{25};
  std::int64_t quote_ttl_ms{30'000};
  /// Sends of a PvP to settlement while the answer is transient, before leaving it to recover().
  int settle_attempts{5};
  /// The central bank (cbdc-issuer endpoint) of each currency the dealer buys: it clears every
  /// payment of its currency away across the border.
  std::map<currency, std::string> central_banks;
  /// Open quotes one bank may hold at once, and the share (basis points) of the dealer's
  /// inventory in a currency that one bank's open quotes may commit it to pay.
  std::size_t max_open_quotes_per_bank{16};
  std::int64_t max_reserved_share_bp{10'000};
  /// The node's identity: CURVE on its socket and towards settlement and the central banks.
  socket_options net;

  /// "CNY/HKD=1.0870": 1 CNY buys 1.0870 HKD; the reverse direction is the inverse.
  auto add_rate(const std::string& spec) -> status;
};

/// What an executed quote came to.
struct execution {
  settlement::receipt receipt;
  quote q;
};

/// The FX desk of a dealing bank on the bridge: it quotes firm integer amounts, reserves the
/// tokens it will pay with until the quote expires, and executes a quote by checking the payer's
/// PvP transaction against it, having it cleared by the central bank of the currency paid away,
/// signing and settling it. Not thread-safe: its service runs it on one worker thread.
class dealer final : public interface {
 public:
  static auto open(dealer_config config, key_pair key) -> result<std::unique_ptr<dealer>>;

  /// A firm quote for payer_bank. amount_minor is what the payee receives, or with fixed_pay
  /// what the payer pays. Errors: bad_request (same currency, bad bank id), amount_invalid,
  /// no_quote (pair not dealt, no central bank for the pay currency, not enough inventory).
  auto request_quote(const std::string& payer_bank, currency pay, currency receive,
                     std::int64_t amount_minor, bool fixed_pay, std::int64_t now_us)
      -> result<quote>;

  /// The interface's requests, at the time of the system clock.
  auto request_quote(const std::string& payer_bank, currency pay, currency receive,
                     std::int64_t amount_minor, bool fixed_pay) -> result<quote> override;
  auto price_two_way(money size, currency quote_cur) -> result<two_way> override;
  /// As execute() below, settlement's refusal being an error.
  auto execute(const std::string& quote_id, const signed_tx& tx)
      -> result<settlement::receipt> override;

  /// The dealer's two-way price for size of its currency against quote_cur. Errors: no_quote
  /// (pair not dealt), amount_invalid.
  auto price_two_way(money size, currency quote_cur, std::int64_t now_us) -> result<two_way>;

  /// Executes a quote with the payer's signed PvP transaction. Once per quote: executing it
  /// again with the same transaction answers the first receipt (already_settled), after
  /// sending it to settlement again if its first answer never came. Errors:
  /// quote_unknown, quote_expired, bad_request (the transaction differs from the quote or
  /// spends other tokens of the dealer), the central bank's not_permitted,
  /// corridor_cap_exceeded and bank_cap_exceeded, and settlement's refusals (as the receipt).
  auto execute(const std::string& quote_id, const signed_tx& tx, std::int64_t now_us)
      -> result<settlement::receipt>;

  /// Forgets an open quote the payer will not execute and frees its tokens. Errors:
  /// quote_unknown.
  auto decline(const std::string& quote_id) -> status override;

  /// The bank a quote (open or executed) was given to. Errors: quote_unknown.
  auto quote_bank(const std::string& quote_id) -> result<std::string>;

  /// Finishes executions a crash left between clearance and settlement's answer: sends their
  /// recorded transaction again (settlement answers already_settled or refuses), then records
  /// the outcome and releases the clearance of a refused one.
  auto recover() -> status;

  [[nodiscard]] auto key() const -> const public_key& { return m_key.pub(); }

 private:
  dealer(dealer_config config, key_pair key, std::unique_ptr<pqxx::connection> conn,
         const settlement::cluster& where);
  auto central_bank(currency cur) -> issuer::client*;
  void forget_expired(std::int64_t now_us);
  /// Records settlement's answer to an execution (releasing the clearance of a refusal).
  auto finish(const quote& q, result<settlement::receipt> answer) -> result<settlement::receipt>;

  dealer_config m_config;
  key_pair m_key;
  std::unique_ptr<pqxx::connection> m_conn;
  settlement::client m_settle;
  std::map<currency, std::unique_ptr<issuer::client>> m_central_banks;
  std::map<std::string, quote> m_open;  ///< quotes given and not executed, by id
  std::set<hash256> m_reserved;         ///< the inputs of open quotes
  std::deque<std::string> m_expired;    ///< ids of the latest expired quotes, oldest first
  static constexpr std::size_t k_expired_remembered = 10'000;
  std::uint64_t m_quotes_given{0};
};

}  // namespace cbdc::fx
