// The FX dealer's desk: its configuration, firm quotes from integer rates with the inventory
// they reserve, indicative two-way prices, quotes declined or expired. Execution is in
// execution.cpp.
#include "fx/dealer.hpp"

#include <algorithm>
#include <limits>
#include <pqxx/pqxx>

#include "core/clock.hpp"
#include "payment/build.hpp"

namespace cbdc::fx {
namespace {

auto bank_id_ok(const std::string& id) -> bool {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

auto code_of(currency cur) -> std::string {
  return std::string{currency_code(cur)};
}

}  // namespace

auto dealer_config::add_rate(const std::string& spec) -> status {
  const auto slash = spec.find('/');
  const auto eq = spec.find('=');
  if (slash == std::string::npos || eq == std::string::npos || slash > eq) {
    return error{status_code::parse_error, "a rate is PAY/RECEIVE=DECIMAL, e.g. CNY/HKD=1.0870"};
  }
  auto base = parse_currency(spec.substr(0, slash));
  auto quoted = parse_currency(spec.substr(slash + 1, eq - slash - 1));
  auto r = parse_rate(spec.substr(eq + 1));
  if (!base || !quoted) {
    return base ? quoted.err() : base.err();
  }
  if (!r) {
    return r.err();
  }
  if (*base == *quoted) {
    return error{status_code::parse_error, "a rate needs two currencies: " + spec};
  }
  rates[{*base, *quoted}] = *r;
  rates[{*quoted, *base}] = r->inverse();
  return ok_status();
}

dealer::dealer(dealer_config config, key_pair key, std::unique_ptr<pqxx::connection> conn,
               const settlement::cluster& where)
    : m_config(std::move(config)),
      m_key(std::move(key)),
      m_conn(std::move(conn)),
      m_settle(where, m_config.net) {
  for (const auto& [cur, endpoint] : m_config.central_banks) {
    m_central_banks[cur] = std::make_unique<issuer::client>(endpoint, m_config.net);
  }
}

auto dealer::open(dealer_config config, key_pair key) -> result<std::unique_ptr<dealer>> {
  if (!bank_id_ok(config.dealer_id)) {
    return error{status_code::bad_request, "a dealer id is a bank id: [a-z0-9_.-], 1 to 64"};
  }
  if (config.spread_bp < 0 || config.spread_bp >= k_bp / 10 || config.quote_ttl_ms <= 0 ||
      config.settle_attempts <= 0) {
    return error{status_code::bad_request,
                 "spread 0..999 bp, a positive quote lifetime and settlement attempts"};
  }
  auto where = settlement::cluster::parse(config.settle_spec);
  if (!where) {
    return where.err();
  }
  auto conn = pg::connect_migrated(config.db_url, "fx", migrations());
  if (!conn) {
    return conn.err();
  }
  std::unique_ptr<dealer> d(
      new dealer(std::move(config), std::move(key), std::move(*conn), *where));
  // Quote ids stay unique across restarts: each start numbers its quotes under its start time.
  return d;
}

auto dealer::central_bank(currency cur) -> issuer::client* {
  auto it = m_central_banks.find(cur);
  return it == m_central_banks.end() ? nullptr : it->second.get();
}

void dealer::forget_expired(std::int64_t now_us) {
  for (auto it = m_open.begin(); it != m_open.end();) {
    if (it->second.expires_at_us < now_us) {
      for (const auto& in : it->second.dealer_inputs) {
        m_reserved.erase(in);
      }
      m_expired.push_back(it->first);
      if (m_expired.size() > k_expired_remembered) {
        m_expired.pop_front();
      }
      it = m_open.erase(it);
    } else {
      ++it;
    }
  }
}

auto dealer::request_quote(const std::string& payer_bank, currency pay, currency receive,
                           std::int64_t amount_minor, bool fixed_pay, std::int64_t now_us)
    -> result<quote> {
  if (!bank_id_ok(payer_bank)) {
    return error{status_code::bad_request, "the payer's bank id is [a-z0-9_.-], 1 to 64"};
  }
  if (pay == receive) {
    return error{status_code::bad_request, "a quote needs two different currencies"};
  }
  const auto mid = m_config.rates.find({pay, receive});
  if (mid == m_config.rates.end()) {
    return error{status_code::no_quote,
                 m_config.dealer_id + " does not deal " + code_of(pay) + "/" + code_of(receive)};
  }
  if (central_bank(pay) == nullptr) {
    return error{status_code::no_quote,
                 m_config.dealer_id + " has no central bank of " + code_of(pay) + " to clear with"};
  }
  auto amounts = fixed_pay ? price_pay(mid->second, m_config.spread_bp, amount_minor)
                           : price_receive(mid->second, m_config.spread_bp, amount_minor);
  if (!amounts) {
    return amounts.err();
  }
  forget_expired(now_us);
  // One bank may not tie up the desk: a bounded count of open quotes, and of reserved value.
  std::size_t open_for_bank = 0;
  for (const auto& [id, open] : m_open) {
    open_for_bank += open.payer_bank == payer_bank ? 1U : 0U;
  }
  if (open_for_bank >= m_config.max_open_quotes_per_bank) {
    return error{status_code::overloaded,
                 payer_bank + " holds " + std::to_string(open_for_bank) +
                     " open quotes, the most one bank may; execute or decline one first"};
  }
  auto inventory = m_settle.list_unspent(m_key.pub());
  if (!inventory) {
    return inventory.err();
  }
  std::vector<settlement::token_info> free;
  std::int64_t desk_minor = 0;
  for (auto& t : *inventory) {
    if (t.cur != receive) {
      continue;
    }
    const auto sum = checked_add(desk_minor, t.amount_minor);
    desk_minor = sum ? *sum : std::numeric_limits<std::int64_t>::max();
    if (!m_reserved.contains(t.token_id)) {
      free.push_back(std::move(t));
    }
  }
  // What the bank's open quotes commit the desk to pay, with this one, as a share of what the
  // desk holds in that currency (in steps that cannot overflow).
  std::int64_t quoted_for_bank = amounts->receive_minor;
  for (const auto& [id, open] : m_open) {
    if (open.payer_bank == payer_bank && open.receive.cur() == receive) {
      const auto sum = checked_add(quoted_for_bank, open.receive.minor());
      quoted_for_bank = sum ? *sum : std::numeric_limits<std::int64_t>::max();
    }
  }
  const auto share = m_config.max_reserved_share_bp;
  const auto allowed_minor = desk_minor / k_bp * share + desk_minor % k_bp * share / k_bp;
  if (quoted_for_bank > allowed_minor) {
    return error{status_code::no_quote, m_config.dealer_id + " keeps its " + code_of(receive) +
                                            " inventory for other " + "banks: " + payer_bank +
                                            "'s open quotes would commit more than " +
                                            std::to_string(share / 100) + "% of it"};
  }
  auto chosen = payment::select_tokens(free, m_key.pub(), money{amounts->receive_minor, receive});
  if (!chosen) {
    return error{status_code::no_quote, m_config.dealer_id + " cannot pay " +
                                            money{amounts->receive_minor, receive}.format() + ": " +
                                            chosen.err().message};
  }
  quote q;
  // Unguessable: a quote id is all another party needs to decline or clear it.
  q.quote_id = m_config.dealer_id + "-" + random_hex(16);
  ++m_quotes_given;
  q.dealer_id = m_config.dealer_id;
  q.payer_bank = payer_bank;
  q.dealer = m_key.pub();
  q.pay = money{amounts->pay_minor, pay};
  q.receive = money{amounts->receive_minor, receive};
  q.mid_pay_minor = amounts->mid_pay_minor;
  q.expires_at_us = now_us + m_config.quote_ttl_ms * 1000;
  std::int64_t have = 0;
  for (const auto* t : *chosen) {
    q.dealer_inputs.push_back(t->token_id);
    m_reserved.insert(t->token_id);
    have += t->amount_minor;
  }
  q.dealer_change_minor = have - amounts->receive_minor;
  m_open[q.quote_id] = q;
  return q;
}

auto dealer::request_quote(const std::string& payer_bank, currency pay, currency receive,
                           std::int64_t amount_minor, bool fixed_pay) -> result<quote> {
  return request_quote(payer_bank, pay, receive, amount_minor, fixed_pay, unix_now_us());
}

auto dealer::price_two_way(money size, currency quote_cur) -> result<two_way> {
  return price_two_way(size, quote_cur, unix_now_us());
}

auto dealer::price_two_way(money size, currency quote_cur, std::int64_t now_us) -> result<two_way> {
  const auto sell = m_config.rates.find({size.cur(), quote_cur});  // base -> quote
  const auto buy = m_config.rates.find({quote_cur, size.cur()});   // quote -> base
  if (sell == m_config.rates.end() || buy == m_config.rates.end()) {
    return error{status_code::no_quote, m_config.dealer_id + " does not deal " +
                                            code_of(size.cur()) + "/" + code_of(quote_cur)};
  }
  // Bid: the customer sells `size` of base and receives quote currency.
  auto bid = price_pay(sell->second, m_config.spread_bp, size.minor());
  // Ask: the customer receives `size` of base and pays quote currency.
  auto ask = price_receive(buy->second, m_config.spread_bp, size.minor());
  if (!bid || !ask) {
    return bid ? ask.err() : bid.err();
  }
  return two_way{m_config.dealer_id, size,           quote_cur,
                 bid->receive_minor, ask->pay_minor, now_us + m_config.quote_ttl_ms * 1000};
}

auto dealer::quote_bank(const std::string& quote_id) -> result<std::string> {
  if (const auto open = m_open.find(quote_id); open != m_open.end()) {
    return open->second.payer_bank;
  }
  auto executed = pg::guarded([&]() -> result<std::string> {
    pqxx::read_transaction rt(*m_conn);
    auto rows = rt.exec_params("SELECT payer_bank FROM fx.execution WHERE quote_id = $1", quote_id);
    if (rows.empty()) {
      return error{status_code::quote_unknown, "no quote " + quote_id};
    }
    return rows[0][0].as<std::string>();
  });
  return executed;
}

auto dealer::decline(const std::string& quote_id) -> status {
  const auto open = m_open.find(quote_id);
  if (open == m_open.end()) {
    return error{status_code::quote_unknown, "no open quote " + quote_id};
  }
  for (const auto& in : open->second.dealer_inputs) {
    m_reserved.erase(in);
  }
  m_open.erase(open);
  return ok_status();
}

}  // namespace cbdc::fx
