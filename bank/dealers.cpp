// The bank's customers paying across the border: quotes asked of its FX dealers as the bank,
// a quote executed with the customer's signed PvP transaction, or declined.
#include "bank/service.hpp"

namespace cbdc::bank {

auto service::request_quote(currency pay, currency receive, std::int64_t amount_minor,
                            bool fixed_pay) -> result<fx::quote> {
  return on_worker([&]() -> result<fx::quote> {
    if (m_dealers.empty()) {
      return error{status_code::no_quote, "this bank has no FX dealers (--dealer)"};
    }
    std::vector<fx::interface*> asked;
    for (auto& d : m_dealers) {
      asked.push_back(d.get());
    }
    // The quote is for this bank (the dealers check that it asks for itself).
    auto best = fx::request_best_quote(asked, m_name, pay, receive, amount_minor, fixed_pay);
    if (!best) {
      return best.err();
    }
    m_quote_dealer.put(best->q.quote_id, best->dealer);
    return best->q;
  });
}

auto service::execute_quote(const std::string& quote_id, const signed_tx& tx)
    -> result<settlement::receipt> {
  return on_worker([&]() -> result<settlement::receipt> {
    auto* const* dealer = m_quote_dealer.find(quote_id);
    if (dealer == nullptr) {
      return error{status_code::quote_unknown, "this bank gave no quote " + quote_id};
    }
    // The payer is one of this bank's wallets: the quote was given to this bank for it.
    const bool hosted_payer = std::any_of(tx.sigs.begin(), tx.sigs.end(), [&](const auto& sig) {
      return m_bank->find_wallet(sig.signer).ok();
    });
    if (!hosted_payer) {
      return error{status_code::unknown_wallet,
                   "no signer of the payment is a wallet of this bank"};
    }
    // A retry after a lost answer is safe: the dealer answers the first execution's receipt.
    return settled_or_error((*dealer)->execute(quote_id, tx));
  });
}

auto service::decline_quote(const std::string& quote_id) -> status {
  return on_worker([&]() -> status {
    auto* const* dealer = m_quote_dealer.find(quote_id);
    if (dealer == nullptr) {
      return error{status_code::quote_unknown, "this bank gave no quote " + quote_id};
    }
    auto done = (*dealer)->decline(quote_id);
    if (done) {
      m_quote_dealer.erase(quote_id);
    }
    return done;
  });
}

}  // namespace cbdc::bank
