// A dealer's ZeroMQ client and the best of several dealers' quotes.
#include "fx/client.hpp"

#include "core/assert.hpp"

namespace cbdc::fx {

client::client(std::string endpoint, socket_options opts)
    : m_rpc(std::move(endpoint), std::move(opts)) {}

auto client::request_quote(const std::string& payer_bank, currency pay, currency receive,
                           std::int64_t amount_minor, bool fixed_pay) -> result<quote> {
  wire::Envelope req;
  auto* r = req.mutable_request_quote();
  r->set_payer_bank(payer_bank);
  r->set_pay_currency(static_cast<std::uint32_t>(pay));
  r->set_receive_currency(static_cast<std::uint32_t>(receive));
  r->set_amount_minor(amount_minor);
  r->set_fixed_pay(fixed_pay);
  auto answer = expect_ok(m_rpc.call(std::move(req)), wire::Envelope::kFxQuote);
  if (!answer) {
    return answer.err();
  }
  return quote_from_wire(answer->fx_quote());
}

auto client::execute(const std::string& quote_id, const signed_tx& tx)
    -> result<settlement::receipt> {
  wire::Envelope req;
  auto* e = req.mutable_execute_quote();
  e->set_quote_id(quote_id);
  *e->mutable_tx() = to_wire(tx);
  auto answer = expect_payload(m_rpc.call(std::move(req)), wire::Envelope::kReceipt);
  if (!answer) {
    return answer.err();
  }
  auto r = settlement::receipt_from_wire(answer->receipt());
  if (!r.settled()) {
    return error{r.status, r.detail};
  }
  return r;
}

auto client::price_two_way(money size, currency quote_cur) -> result<two_way> {
  wire::Envelope req;
  auto* g = req.mutable_get_two_way();
  g->set_base(static_cast<std::uint32_t>(size.cur()));
  g->set_quote(static_cast<std::uint32_t>(quote_cur));
  g->set_size_minor(size.minor());
  auto answer = expect_ok(m_rpc.call(std::move(req)), wire::Envelope::kTwoWay);
  if (!answer) {
    return answer.err();
  }
  const auto& t = answer->two_way();
  if (t.bid_minor() <= 0 || t.ask_minor() <= 0) {
    return error{status_code::malformed, "a two-way price has positive amounts"};
  }
  return two_way{t.dealer_id(), size, quote_cur, t.bid_minor(), t.ask_minor(), t.expires_at_us()};
}

auto client::decline(const std::string& quote_id) -> status {
  wire::Envelope req;
  req.mutable_decline_quote()->set_quote_id(quote_id);
  auto answer = expect_ok(m_rpc.call(std::move(req)), wire::Envelope::kQuoteDeclined);
  if (!answer) {
    return answer.err();
  }
  return ok_status();
}

auto request_best_quote(const std::vector<interface*>& dealers, const std::string& payer_bank,
                        currency pay, currency receive, std::int64_t amount_minor, bool fixed_pay)
    -> result<best_offer> {
  std::vector<result<quote>> answers;
  answers.reserve(dealers.size());
  for (auto* d : dealers) {
    answers.push_back(d->request_quote(payer_bank, pay, receive, amount_minor, fixed_pay));
  }
  auto best = best_quote(answers, fixed_pay);
  if (!best) {
    return best.err();
  }
  interface* from = nullptr;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i]) {
      continue;
    }
    if (answers[i]->quote_id == best->quote_id && from == nullptr) {
      from = dealers[i];
    } else {
      (void)dealers[i]->decline(answers[i]->quote_id);  // best effort: it expires anyway
    }
  }
  CBDC_ASSERT(from != nullptr);  // best_quote returns one of the answers
  return best_offer{*best, from};
}

}  // namespace cbdc::fx
