// The bank's customers paying across the border: quotes asked of its FX dealers as the bank,
// a quote executed with the customer's signed PvP transaction, or declined.
#include "bank/server.hpp"

#include "bank/detail.hpp"

namespace cbdc::bank {

using detail::receipt_answer;

auto server::quote(const wire::RequestQuote& r) -> wire::Envelope {
  wire::Envelope answer;
  auto* out = answer.mutable_fx_quote();
  auto pay = currency_from_wire(r.pay_currency());
  auto receive = currency_from_wire(r.receive_currency());
  std::vector<fx::interface*> asked;
  for (auto& d : m_dealers) {
    asked.push_back(d.get());
  }
  // The quote is for this bank (the dealers check that it asks for itself).
  auto best =
      !pay       ? result<fx::best_offer>{pay.err()}
      : !receive ? result<fx::best_offer>{receive.err()}
      : asked.empty()
          ? result<fx::best_offer>{error{status_code::no_quote,
                                         "this bank has no FX dealers (--dealer)"}}
          : fx::request_best_quote(asked, m_name, *pay, *receive, r.amount_minor(), r.fixed_pay());
  if (!best) {
    out->set_status(static_cast<std::uint32_t>(best.code()));
    out->set_detail(best.err().message);
    return answer;
  }
  m_quote_dealer.put(best->q.quote_id, best->dealer);
  *out = fx::to_wire(best->q);
  return answer;
}

auto server::execute_quote(const wire::ExecuteQuote& e) -> wire::Envelope {
  auto* const* dealer = m_quote_dealer.find(e.quote_id());
  if (dealer == nullptr) {
    return receipt_answer(
        error{status_code::quote_unknown, "this bank gave no quote " + e.quote_id()});
  }
  auto tx = from_wire(e.tx());
  if (!tx) {
    return receipt_answer(tx.err());
  }
  // The payer is one of this bank's wallets: the quote was given to this bank for it.
  const bool hosted_payer = std::any_of(tx->sigs.begin(), tx->sigs.end(), [&](const auto& sig) {
    return m_bank->find_wallet(sig.signer).ok();
  });
  if (!hosted_payer) {
    return receipt_answer(
        error{status_code::unknown_wallet, "no signer of the payment is a wallet of this bank"});
  }
  // A retry after a lost answer is safe: the dealer answers the first execution's receipt.
  return receipt_answer((*dealer)->execute(e.quote_id(), *tx));
}

auto server::decline_quote(const wire::DeclineQuote& d) -> wire::Envelope {
  wire::Envelope answer;
  auto* const* dealer = m_quote_dealer.find(d.quote_id());
  const auto done =
      dealer == nullptr
          ? status{error{status_code::quote_unknown, "this bank gave no quote " + d.quote_id()}}
          : (*dealer)->decline(d.quote_id());
  if (dealer != nullptr && done) {
    m_quote_dealer.erase(d.quote_id());
  }
  answer.mutable_quote_declined()->set_status(static_cast<std::uint32_t>(done.code()));
  if (!done) {
    answer.mutable_quote_declined()->set_detail(done.err().message);
  }
  return answer;
}

}  // namespace cbdc::bank
