// Quotes and their integer arithmetic; building a PvP transaction from a quote and checking one.
#include "fx/quote.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "payment/build.hpp"

namespace cbdc::fx {
namespace {

__extension__ using i128 = __int128;

constexpr i128 k_int64_max = std::numeric_limits<std::int64_t>::max();

auto ceil_div(i128 a, i128 b) -> i128 {
  return a / b + (a % b != 0 ? 1 : 0);
}

auto fits(i128 v) -> bool {
  return v > 0 && v <= k_int64_max;
}

auto amount_error(const std::string& what) -> error {
  return error{status_code::amount_invalid, what};
}

}  // namespace

auto parse_rate(std::string_view text) -> result<rate> {
  const auto bad = [&] {
    return error{status_code::parse_error,
                 "a rate is a positive decimal such as 1.0870, not '" + std::string{text} + "'"};
  };
  const auto dot = text.find('.');
  const auto whole = text.substr(0, dot);
  const auto frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() || frac.size() > 8 || (dot != std::string_view::npos && frac.empty())) {
    return bad();
  }
  std::int64_t num = 0;
  std::int64_t den = 1;
  for (const auto part : {whole, frac}) {
    for (const char c : part) {
      if (c < '0' || c > '9' || num > 99'999'999'999) {
        return bad();
      }
      num = num * 10 + (c - '0');
    }
  }
  for (std::size_t i = 0; i < frac.size(); ++i) {
    den *= 10;
  }
  if (num == 0) {
    return bad();
  }
  return rate{num, den};
}

auto price_receive(rate mid, std::int64_t spread_bp, std::int64_t receive_minor) -> result<priced> {
  CBDC_ASSERT(mid.num > 0 && mid.den > 0 && spread_bp >= 0 && spread_bp < k_bp);
  if (receive_minor <= 0) {
    return amount_error("the amount received must be positive");
  }
  // pay = receive x den / num at mid; marked up by (1 + spread), both rounded up.
  const i128 mid_pay = ceil_div(i128{receive_minor} * mid.den, mid.num);
  const i128 pay =
      ceil_div(i128{receive_minor} * mid.den * (k_bp + spread_bp), i128{mid.num} * k_bp);
  if (!fits(pay) || !fits(mid_pay)) {
    return amount_error("the amount is out of range for this rate");
  }
  return priced{static_cast<std::int64_t>(pay), receive_minor, static_cast<std::int64_t>(mid_pay)};
}

auto price_pay(rate mid, std::int64_t spread_bp, std::int64_t pay_minor) -> result<priced> {
  CBDC_ASSERT(mid.num > 0 && mid.den > 0 && spread_bp >= 0 && spread_bp < k_bp);
  if (pay_minor <= 0) {
    return amount_error("the amount paid must be positive");
  }
  // receive = pay x num / den at mid, marked down by (1 - spread), rounded down.
  const i128 receive = i128{pay_minor} * mid.num * (k_bp - spread_bp) / (i128{mid.den} * k_bp);
  if (!fits(receive)) {
    return amount_error("the amount paid buys nothing, or is out of range, at this rate");
  }
  const i128 mid_pay = std::min<i128>(ceil_div(receive * mid.den, mid.num), pay_minor);
  return priced{pay_minor, static_cast<std::int64_t>(receive), static_cast<std::int64_t>(mid_pay)};
}

auto rate_text(const quote& q) -> std::string {
  constexpr i128 k_scale = 1'000'000;
  const i128 scaled = i128{q.receive.minor()} * k_scale / q.pay.minor();
  const auto whole = static_cast<std::int64_t>(scaled / k_scale);
  auto frac = std::to_string(static_cast<std::int64_t>(scaled % k_scale));
  frac.insert(0, 6 - frac.size(), '0');
  return "1 " + std::string{currency_code(q.pay.cur())} + " = " + std::to_string(whole) + "." +
         frac + " " + std::string{currency_code(q.receive.cur())};
}

auto to_wire(const quote& q) -> wire::FxQuote {
  wire::FxQuote m;
  m.set_quote_id(q.quote_id);
  m.set_dealer_id(q.dealer_id);
  m.set_payer_bank(q.payer_bank);
  m.set_dealer(bytes_to_wire(q.dealer.encode()));
  m.set_pay_currency(static_cast<std::uint32_t>(q.pay.cur()));
  m.set_pay_minor(q.pay.minor());
  m.set_receive_currency(static_cast<std::uint32_t>(q.receive.cur()));
  m.set_receive_minor(q.receive.minor());
  m.set_mid_pay_minor(q.mid_pay_minor);
  m.set_expires_at_us(q.expires_at_us);
  for (const auto& in : q.dealer_inputs) {
    m.add_dealer_inputs(id_to_wire(in));
  }
  m.set_dealer_change_minor(q.dealer_change_minor);
  return m;
}

auto quote_from_wire(const wire::FxQuote& msg) -> result<quote> {
  quote q;
  q.quote_id = msg.quote_id();
  q.dealer_id = msg.dealer_id();
  q.payer_bank = msg.payer_bank();
  const auto& raw = msg.dealer();
  auto dealer =
      public_key::decode(byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
  auto pay_cur = currency_from_wire(msg.pay_currency());
  auto receive_cur = currency_from_wire(msg.receive_currency());
  if (!dealer) {
    return dealer.err();
  }
  if (!pay_cur || !receive_cur) {
    return pay_cur ? receive_cur.err() : pay_cur.err();
  }
  if (q.quote_id.empty() || *pay_cur == *receive_cur) {
    return error{status_code::malformed, "a quote needs an id and two different currencies"};
  }
  if (msg.pay_minor() <= 0 || msg.receive_minor() <= 0 || msg.mid_pay_minor() <= 0 ||
      msg.mid_pay_minor() > msg.pay_minor() || msg.dealer_change_minor() < 0) {
    return amount_error("a quote's amounts must be positive, its mid payment at most its payment");
  }
  q.dealer = *dealer;
  q.pay = money{msg.pay_minor(), *pay_cur};
  q.receive = money{msg.receive_minor(), *receive_cur};
  q.mid_pay_minor = msg.mid_pay_minor();
  q.expires_at_us = msg.expires_at_us();
  q.dealer_change_minor = msg.dealer_change_minor();
  for (const auto& in : msg.dealer_inputs()) {
    auto id = id_from_wire(in);
    if (!id) {
      return id.err();
    }
    q.dealer_inputs.push_back(*id);
  }
  if (q.dealer_inputs.empty()) {
    return error{status_code::malformed, "a quote names the dealer's inputs"};
  }
  return q;
}

auto build_pvp(const quote& q, const key_pair& payer,
               const std::vector<settlement::token_info>& unspent, const public_key& payee,
               std::uint64_t nonce) -> result<signed_tx> {
  if (payer.pub().prof != q.dealer.prof || payee.prof != q.dealer.prof) {
    return error{status_code::profile_mismatch, "payer, payee and dealer need one key profile"};
  }
  auto chosen = payment::select_tokens(unspent, payer.pub(), q.pay);
  if (!chosen) {
    return chosen.err();
  }
  if (chosen->size() + q.dealer_inputs.size() > k_max_inputs) {
    return error{status_code::too_large, "the payment would need too many tokens"};
  }
  transaction tx;
  tx.prof = payer.pub().prof;
  tx.kind = tx_kind::transfer;
  tx.nonce = nonce;
  tx.memo = "fx " + q.quote_id.substr(0, 200);
  std::int64_t have = 0;
  for (const auto* t : *chosen) {
    tx.inputs.push_back(t->token_id);
    have += t->amount_minor;
  }
  tx.inputs.insert(tx.inputs.end(), q.dealer_inputs.begin(), q.dealer_inputs.end());
  tx.outputs.push_back(tx_output{q.pay.cur(), q.pay.minor(), q.dealer});
  tx.outputs.push_back(tx_output{q.receive.cur(), q.receive.minor(), payee});
  if (have > q.pay.minor()) {
    tx.outputs.push_back(tx_output{q.pay.cur(), have - q.pay.minor(), payer.pub()});
  }
  if (q.dealer_change_minor > 0) {
    tx.outputs.push_back(tx_output{q.receive.cur(), q.dealer_change_minor, q.dealer});
  }
  auto stx = signed_tx::make(std::move(tx));
  stx.sign_with(payer);
  return stx;
}

auto check_dealer_legs(const quote& q, const transaction& tx) -> status {
  const auto bad = [](const std::string& what) {
    return error{status_code::bad_request, "the transaction does not match the quote: " + what};
  };
  if (tx.kind != tx_kind::transfer) {
    return bad("not a transfer");
  }
  const std::set<hash256> inputs(tx.inputs.begin(), tx.inputs.end());
  for (const auto& in : q.dealer_inputs) {
    if (!inputs.contains(in)) {
      return bad("a quoted dealer input is missing");
    }
  }
  std::int64_t pay_to_dealer = 0;
  std::int64_t change_to_dealer = 0;
  for (const auto& out : tx.outputs) {
    if (out.owner != q.dealer) {
      continue;
    }
    if (out.cur == q.pay.cur() && pay_to_dealer == 0 && out.amount_minor == q.pay.minor()) {
      pay_to_dealer = out.amount_minor;
    } else if (out.cur == q.receive.cur() && change_to_dealer == 0 &&
               out.amount_minor == q.dealer_change_minor) {
      change_to_dealer = out.amount_minor;
    } else {
      return bad("an output to the dealer that the quote does not have");
    }
  }
  if (pay_to_dealer != q.pay.minor()) {
    return bad("the dealer is not paid " + q.pay.format());
  }
  if (change_to_dealer != q.dealer_change_minor) {
    return bad("the dealer's change is not " +
               money{q.dealer_change_minor, q.receive.cur()}.format());
  }
  return ok_status();
}

auto best_quote(const std::vector<result<quote>>& answers, bool fixed_pay) -> result<quote> {
  const quote* best = nullptr;
  const error* first_refusal = nullptr;
  for (const auto& a : answers) {
    if (!a) {
      first_refusal = first_refusal != nullptr ? first_refusal : &a.err();
      continue;
    }
    const bool better = best == nullptr || (fixed_pay ? a->receive.minor() > best->receive.minor()
                                                      : a->pay.minor() < best->pay.minor());
    if (better) {
      best = &*a;
    }
  }
  if (best == nullptr) {
    return error{status_code::no_quote, first_refusal != nullptr
                                            ? "no dealer quoted: " + to_string(*first_refusal)
                                            : "no dealer to ask"};
  }
  return *best;
}

}  // namespace cbdc::fx
