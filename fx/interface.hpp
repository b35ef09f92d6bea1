#pragma once

// An FX dealer as its callers hold it, whether in process (fx::dealer) or over ZeroMQ
// (fx::client): firm quotes, their execution or decline, indicative two-way prices. Every
// request is safe to send again: executing a quote again with the same transaction answers
// the first receipt.

#include <cstdint>
#include <string>

#include "core/codec.hpp"
#include "core/money.hpp"
#include "fx/quote.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::fx {

class interface {
 public:
  interface() = default;
  virtual ~interface() = default;
  interface(const interface&) = delete;
  auto operator=(const interface&) -> interface& = delete;

  /// A firm quote for payer_bank. amount_minor is what the payee receives, or with fixed_pay
  /// what the payer pays. Errors: bad_request, amount_invalid, no_quote.
  virtual auto request_quote(const std::string& payer_bank, currency pay, currency receive,
                             std::int64_t amount_minor, bool fixed_pay) -> result<quote> = 0;
  /// Executes a quote with the payer's signed PvP transaction: settlement's receipt (ok, or
  /// already_settled for a repeat). A refusal is an error: quote_unknown, quote_expired,
  /// bad_request, the central bank's caps, or settlement's status.
  virtual auto execute(const std::string& quote_id, const signed_tx& tx)
      -> result<settlement::receipt> = 0;
  /// Forgets an open quote the payer will not execute, freeing its tokens. Errors:
  /// quote_unknown.
  virtual auto decline(const std::string& quote_id) -> status = 0;
  /// The dealer's indicative bid and ask for size of one currency against quote_cur. Errors:
  /// no_quote, amount_invalid.
  virtual auto price_two_way(money size, currency quote_cur) -> result<two_way> = 0;
};

}  // namespace cbdc::fx
