// A quote executed: the payer's PvP transaction checked against the quote, cleared by the
// central bank of the currency paid away, recorded, co-signed and settled; an execution whose
// answer a crash lost is sent again on start.
#include <pqxx/pqxx>

#include "core/clock.hpp"
#include "fx/dealer.hpp"

namespace cbdc::fx {

auto dealer::execute(const std::string& quote_id, const signed_tx& tx)
    -> result<settlement::receipt> {
  auto done = execute(quote_id, tx, unix_now_us());
  if (done && !done->settled()) {
    return error{done->status, done->detail};
  }
  return done;
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
        quote_id, q.payer_bank, std::string{currency_code(q.pay.cur())}, q.pay.minor(),
        std::string{currency_code(q.receive.cur())}, q.receive.minor(), q.mid_pay_minor,
        tx.id.hex(), tx_record(signed_by_both));
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
