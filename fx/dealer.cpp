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

auto dealer::execute(const std::string& quote_id, const signed_tx& tx, std::int64_t now_us)
    -> result<settlement::receipt> {
  // Executed before: the same transaction gets its first answer (or is sent again while its
  // outcome is open); another one is refused.
  auto prior = pg::guarded([&]() -> result<std::optional<pqxx::row>> {
    pqxx::read_transaction rt(*m_conn);
    auto rows = rt.exec_params(
        "SELECT encode(tx_id, 'hex'), state, status, shard, batch_seq, settled_at_us, "
        "encode(signed_tx, 'hex') FROM fx.execution WHERE quote_id = $1",
        quote_id);
    return rows.empty() ? std::nullopt : std::optional<pqxx::row>{rows[0]};
  });
  if (!prior) {
    return prior.err();
  }
  if (*prior) {
    const auto& row = **prior;
    if (row[0].as<std::string>() != tx.id.hex()) {
      return error{status_code::bad_request, "quote " + quote_id + " was executed already"};
    }
    if (row[1].as<std::string>() == "executing") {
      // Its answer never came: send the recorded transaction again (it settles at most once),
      // then answer from the record.
      if (auto resent = recover(); !resent) {
        return resent.err();
      }
      return execute(quote_id, tx, now_us);
    }
    settlement::receipt r;
    r.status = static_cast<status_code>(row[2].as<std::uint32_t>());
    r.tx_id = tx.id;
    r.shard = row[3].as<std::uint32_t>();
    r.batch_seq = row[4].as<std::uint64_t>();
    r.settled_at_us = row[5].as<std::int64_t>();
    if (r.status == status_code::ok) {
      r.status = status_code::already_settled;
    }
    return r;
  }
  forget_expired(now_us);
  const auto open = m_open.find(quote_id);
  if (open == m_open.end()) {
    const bool expired = std::find(m_expired.begin(), m_expired.end(), quote_id) != m_expired.end();
    return expired ? error{status_code::quote_expired, "quote " + quote_id + " expired"}
                   : error{status_code::quote_unknown, "no open quote " + quote_id};
  }
  const quote q = open->second;
  if (auto legs = check_dealer_legs(q, tx.tx); !legs) {
    return legs.err();
  }
  // The dealer's signature covers every input it owns: the transaction may spend no other.
  const std::set<hash256> quoted(q.dealer_inputs.begin(), q.dealer_inputs.end());
  for (const auto& in : tx.tx.inputs) {
    if (quoted.contains(in)) {
      continue;
    }
    auto token = m_settle.get_token(in);
    if (token && token->owner == m_key.pub()) {
      return error{status_code::bad_request,
                   "the transaction spends a token of the dealer's "
                   "that the quote does not name"};
    }
  }
  auto* cb = central_bank(q.pay.cur());
  CBDC_ASSERT(cb != nullptr);  // request_quote quotes only currencies with a central bank
  if (auto cleared = cb->clear_cross_border(quote_id, q.payer_bank, q.pay, q.receive.cur(), tx.id);
      !cleared) {
    return cleared.err();
  }
  signed_tx signed_by_both = tx;
  signed_by_both.sign_with(m_key);
  auto recorded = pg::guarded([&]() -> status {
    pqxx::work w(*m_conn);
    w.exec_params(
        "INSERT INTO fx.execution (quote_id, payer_bank, pay_currency, pay_minor, "
        "receive_currency, receive_minor, mid_pay_minor, tx_id, signed_tx, state) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7, decode($8, 'hex'), decode($9, 'hex'), 'executing')",
        quote_id, q.payer_bank, code_of(q.pay.cur()), q.pay.minor(), code_of(q.receive.cur()),
        q.receive.minor(), q.mid_pay_minor, tx.id.hex(), tx_record(signed_by_both));
    w.commit();
    return ok_status();
  });
  if (!recorded) {
    (void)cb->release_cross_border(quote_id);
    return recorded.err();
  }
  m_open.erase(quote_id);
  auto answer = settlement::submit_with_retry(m_settle, signed_by_both, "fx-" + quote_id,
                                              m_config.settle_attempts);
  return finish(q, std::move(answer));
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

auto dealer::finish(const quote& q, result<settlement::receipt> answer)
    -> result<settlement::receipt> {
  for (const auto& in : q.dealer_inputs) {
    m_reserved.erase(in);
  }
  if (!answer) {
    return answer.err();  // no answer: the row stays 'executing' and recover() sends it again
  }
  const bool settled = answer->settled();
  if (!settled) {
    if (auto* cb = central_bank(q.pay.cur()); cb != nullptr) {
      if (auto released = cb->release_cross_border(q.quote_id); !released) {
        return released.err();  // retried by recover(): the row stays 'executing'
      }
    }
  }
  auto stored = pg::guarded([&]() -> status {
    pqxx::work w(*m_conn);
    w.exec_params(
        "UPDATE fx.execution SET state = $2, status = $3, shard = $4, batch_seq = $5, "
        "settled_at_us = $6 WHERE quote_id = $1",
        q.quote_id, settled ? "settled" : "refused",
        static_cast<std::uint32_t>(settled ? status_code::ok : answer->status), answer->shard,
        answer->batch_seq, answer->settled_at_us);
    w.commit();
    return ok_status();
  });
  if (!stored) {
    return stored.err();
  }
  return answer;
}

auto dealer::recover() -> status {
  auto open = pg::guarded([&]() -> result<std::vector<std::pair<quote, signed_tx>>> {
    pqxx::read_transaction rt(*m_conn);
    std::vector<std::pair<quote, signed_tx>> out;
    for (const auto& row :
         rt.exec("SELECT quote_id, payer_bank, pay_currency, pay_minor, receive_currency, "
                 "receive_minor, mid_pay_minor, encode(signed_tx, 'hex') FROM fx.execution WHERE "
                 "state = 'executing' ORDER BY created_at")) {
      quote q;
      q.quote_id = row[0].as<std::string>();
      q.payer_bank = row[1].as<std::string>();
      auto pay = parse_currency(row[2].as<std::string>());
      auto receive = parse_currency(row[4].as<std::string>());
      CBDC_ASSERT(pay.ok() && receive.ok());  // the table's own values
      q.pay = money{row[3].as<std::int64_t>(), *pay};
      q.receive = money{row[5].as<std::int64_t>(), *receive};
      q.mid_pay_minor = row[6].as<std::int64_t>();
      out.emplace_back(std::move(q), tx_from_record(row[7].as<std::string>()));
    }
    return out;
  });
  if (!open) {
    return open.err();
  }
  for (const auto& [q, tx] : *open) {
    auto answer =
        settlement::submit_with_retry(m_settle, tx, "fx-" + q.quote_id, m_config.settle_attempts);
    if (auto done = finish(q, std::move(answer)); !done) {
      return done.err();
    }
  }
  return ok_status();
}

}  // namespace cbdc::fx
