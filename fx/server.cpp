// cbdc-fx's server: the dealer's role table and its answers behind a ROUTER socket.
#include "fx/server.hpp"

#include "core/clock.hpp"

namespace cbdc::fx {

auto dealer_roles() -> role_table {
  using E = wire::Envelope;
  return role_table{"the dealer",
                    {
                        // A dealing bank pays across the border too, at other dealers.
                        {E::kRequestQuote, {role::bank, role::dealer}},
                        {E::kExecuteQuote, {role::bank, role::dealer}},
                        {E::kDeclineQuote, {role::bank, role::dealer}},
                        {E::kGetTwoWay, {role::bank, role::dealer, role::issuer, role::pos}},
                    }};
}

auto server::start(dealer_config config, key_pair key) -> result<std::unique_ptr<server>> {
  std::unique_ptr<server> s(new server());
  const auto endpoint = config.endpoint;
  const auto net = config.net;
  if (net.security) {
    const auto self = net.security->self();
    if (!self || self->r != role::dealer || self->name != config.dealer_id) {
      return error{status_code::key_error,
                   "the nodes file lists no dealer " + config.dealer_id + " with this node's key"};
    }
  }
  auto d = dealer::open(std::move(config), std::move(key));
  if (!d) {
    return d.err();
  }
  if (auto recovered = (*d)->recover(); !recovered) {
    return recovered.err();
  }
  s->m_dealer = std::move(*d);
  s->m_server = std::make_unique<serial_server>(
      endpoint,
      [raw = s.get()](const wire::Envelope& req, const peer& from) {
        return raw->answer(req, from);
      },
      dealer_roles(), net, 1000);
  if (auto bound = s->m_server->start(); !bound) {
    return bound.err();
  }
  return s;
}

server::~server() {
  m_server.reset();
}

auto server::answer(const wire::Envelope& request, const peer& from) -> wire::Envelope {
  wire::Envelope answer;
  // A quote is its bank's: only that bank executes or declines it.
  const auto owned = [&](const std::string& quote_id) -> status {
    auto bank = m_dealer->quote_bank(quote_id);
    return bank ? from.must_be(*bank, "the quote's bank") : status{bank.err()};
  };
  if (request.payload_case() == wire::Envelope::kRequestQuote) {
    const auto& r = request.request_quote();
    auto pay = currency_from_wire(r.pay_currency());
    auto receive = currency_from_wire(r.receive_currency());
    auto caller = from.must_be(r.payer_bank(), "payer_bank");
    result<quote> q = !caller ? result<quote>{caller.err()}
                      : !pay  ? result<quote>{pay.err()}
                      : !receive
                          ? result<quote>{receive.err()}
                          : m_dealer->request_quote(r.payer_bank(), *pay, *receive,
                                                    r.amount_minor(), r.fixed_pay(), unix_now_us());
    auto* out = answer.mutable_fx_quote();
    if (q) {
      *out = to_wire(*q);
    } else {
      out->set_status(static_cast<std::uint32_t>(q.code()));
      out->set_detail(q.err().message);
    }
    return answer;
  }
  if (request.payload_case() == wire::Envelope::kExecuteQuote) {
    const auto& e = request.execute_quote();
    auto stx = from_wire(e.tx());
    auto mine = owned(e.quote_id());
    auto done = !mine ? result<settlement::receipt>{mine.err()}
                : stx ? m_dealer->execute(e.quote_id(), *stx, unix_now_us())
                      : result<settlement::receipt>{stx.err()};
    *answer.mutable_receipt() = settlement::to_wire(done);
    return answer;
  }
  if (request.payload_case() == wire::Envelope::kGetTwoWay) {
    const auto& g = request.get_two_way();
    auto base = currency_from_wire(g.base());
    auto quote_cur = currency_from_wire(g.quote());
    auto priced = !base        ? result<two_way>{base.err()}
                  : !quote_cur ? result<two_way>{quote_cur.err()}
                               : m_dealer->price_two_way(money{g.size_minor(), *base}, *quote_cur,
                                                         unix_now_us());
    auto* out = answer.mutable_two_way();
    out->set_status(static_cast<std::uint32_t>(priced.code()));
    if (!priced) {
      out->set_detail(priced.err().message);
      return answer;
    }
    out->set_dealer_id(priced->dealer_id);
    out->set_base(g.base());
    out->set_quote(g.quote());
    out->set_size_minor(priced->size.minor());
    out->set_bid_minor(priced->bid_minor);
    out->set_ask_minor(priced->ask_minor);
    out->set_expires_at_us(priced->expires_at_us);
    return answer;
  }
  if (request.payload_case() == wire::Envelope::kDeclineQuote) {
    auto done = owned(request.decline_quote().quote_id());
    if (done) {
      done = m_dealer->decline(request.decline_quote().quote_id());
    }
    auto* out = answer.mutable_quote_declined();
    out->set_status(static_cast<std::uint32_t>(done.code()));
    if (!done) {
      out->set_detail(done.err().message);
    }
    return answer;
  }
  CBDC_ASSERT(false);  // the role table admits nothing else
  return answer;
}

}  // namespace cbdc::fx
