#pragma once

// The client of cbdc-fx (what a bank asks a dealer), and asking several dealers for the best
// quote. Core and rpc only.

#include <string>
#include <vector>

#include "core/codec.hpp"
#include "core/money.hpp"
#include "fx/interface.hpp"
#include "fx/quote.hpp"
#include "rpc/transport.hpp"
#include "settlement/receipt.hpp"

namespace cbdc::fx {

/// A client of cbdc-fx.
class client final : public interface {
 public:
  explicit client(std::string endpoint, socket_options opts = {});
  auto request_quote(const std::string& payer_bank, currency pay, currency receive,
                     std::int64_t amount_minor, bool fixed_pay) -> result<quote> override;
  auto execute(const std::string& quote_id, const signed_tx& tx)
      -> result<settlement::receipt> override;
  auto decline(const std::string& quote_id) -> status override;
  auto price_two_way(money size, currency quote_cur) -> result<two_way> override;

 private:
  rpc_client m_rpc;
};

/// The best quote and the dealer that gave it (to execute it there).
struct best_offer {
  quote q;
  interface* dealer{nullptr};
};

/// Asks every dealer and keeps the best quote for the payer (fx::best_quote); the other quotes
/// are declined, so that their dealers free the tokens they reserved.
auto request_best_quote(const std::vector<interface*>& dealers, const std::string& payer_bank,
                        currency pay, currency receive, std::int64_t amount_minor, bool fixed_pay)
    -> result<best_offer>;

}  // namespace cbdc::fx
