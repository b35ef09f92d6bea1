// A payment in flight at the payer's bank: the payee's bank asked for room (CanReceive), the
// durable intent flushed with the records of settled payments, the submission to settlement,
// its answer recorded, and the payments a crash left in flight sent again.
#include "bank/server.hpp"

#include "bank/detail.hpp"
#include "platform/log.hpp"

namespace cbdc::bank {

using detail::receipt_answer;

void server::ask_peer(pending_payment p, const rpc_server::reply_fn& reply, std::size_t next) {
  const auto payee_hex = p.payee.hex();
  const auto* home = m_payee_home.find(payee_hex);
  const bool cached = home != nullptr;
  const std::size_t peer = cached ? *home : next;
  if (peer >= m_peers.size()) {
    submit(std::move(p), reply);  // no bank we know hosts the payee: settlement decides
    return;
  }
  wire::Envelope req;
  auto* m = req.mutable_can_receive();
  m->set_owner(bytes_to_wire(p.payee.encode()));
  m->set_amount_minor(p.amount_minor);
  m->set_currency(static_cast<std::uint32_t>(m_bank->cur()));
  m->set_tx_id(id_to_wire(p.tx.id));  // the payee's bank keeps the room for this payment
  auto shared = std::make_shared<pending_payment>(std::move(p));
  m_peers[peer]->call_async(std::move(req), [this, shared, reply, peer, cached,
                                             payee_hex](result<wire::Envelope> answer) {
    m_server->post_task(
        [this, shared, reply, peer, cached, payee_hex, answer = std::move(answer)]() mutable {
          auto env = expect_payload(std::move(answer), wire::Envelope::kReceiveVerdict);
          const auto code =
              env ? static_cast<status_code>(env->receive_verdict().status()) : env.code();
          if (code == status_code::unknown_wallet) {
            if (cached) {
              m_payee_home.erase(payee_hex);  // moved banks: ask everyone again
            }
            ask_peer(std::move(*shared), reply, cached ? 0 : peer + 1);
            return;
          }
          if (code == status_code::ok) {
            m_payee_home.put(payee_hex, peer);
            if (!env->receive_verdict().capped()) {
              m_uncapped.put(payee_hex, true);  // nothing to check for this payee again
            }
            submit(std::move(*shared), reply);
            return;
          }
          const std::string detail = env ? env->receive_verdict().detail() : env.err().message;
          finish(*shared, error{code, detail}, reply);
        });
  });
}

void server::submit(pending_payment p, const rpc_server::reply_fn& reply) {
  if (!p.reserved || p.durable) {
    send(std::move(p), reply);  // a repeat of a payment in flight, or one recorded already
    return;
  }
  m_unsent.emplace_back(std::move(p), reply);
  queue_flush();
}

void server::flush() {
  m_flush_queued = false;
  auto unsent = std::exchange(m_unsent, {});
  auto unanswered = std::exchange(m_unanswered, {});
  std::vector<const pending_payment*> payments;
  payments.reserve(unsent.size());
  for (const auto& [p, reply] : unsent) {
    payments.push_back(&p);
  }
  const auto written = m_bank->commit_durable(payments);
  for (auto& [reply, receipt] : unanswered) {
    reply(written ? receipt_answer(receipt) : receipt_answer(written.err()));
  }
  for (auto& [p, reply] : unsent) {
    if (!written) {
      finish(p,
             error{written.code(),
                   "the payment could not be recorded before sending it: " + written.err().message},
             reply);
      continue;
    }
    p.durable = true;
    send(std::move(p), reply);
  }
}

void server::queue_flush() {
  if (!m_flush_queued) {
    m_flush_queued = true;
    m_server->post_task([this] { flush(); });
  }
}

void server::recover() {
  auto recovered = m_bank->take_recovered();
  if (!recovered.empty()) {
    logging::info("sending again {} payments left in flight by a crash", recovered.size());
  }
  for (auto& p : recovered) {
    send(std::move(p), [](const wire::Envelope&) {});
  }
}

void server::send(pending_payment p, const rpc_server::reply_fn& reply) {
  constexpr int k_attempts = 5;
  ++p.attempts;
  auto shared = std::make_shared<pending_payment>(std::move(p));
  m_bank->settlement_client().submit_async(
      shared->tx, shared->tx.id.hex(), [this, shared, reply](result<settlement::receipt> r) {
        m_server->post_task([this, shared, reply, r = std::move(r)]() mutable {
          const auto code = r ? r->status : r.code();
          if (is_transient(code)) {
            // Back off, then send the same transaction again (the reservation stays). Past
            // k_attempts the customer hears that the outcome is not known yet, and the bank
            // goes on every 2 s until settlement answers for certain: the payment may have
            // settled, and then it counts in the payer's day.
            auto later = reply;
            if (shared->attempts == k_attempts) {
              reply(receipt_answer(r));
            }
            if (shared->attempts >= k_attempts) {
              later = [](const wire::Envelope&) {};
            }
            const int wait_ms = shared->attempts < k_attempts ? 100 << shared->attempts : 2'000;
            m_server->post_task_after(wait_ms,
                                      [this, shared, later] { send(std::move(*shared), later); });
            return;
          }
          finish(*shared, std::move(r), reply);
        });
      });
}

void server::finish(const pending_payment& p, result<settlement::receipt> answer,
                    const rpc_server::reply_fn& reply) {
  auto finished = m_bank->pay_finish(p, std::move(answer));
  if (!finished || !finished->settled()) {
    reply(receipt_answer(finished));  // nothing to record
    return;
  }
  m_unanswered.emplace_back(reply, std::move(*finished));
  queue_flush();
}

}  // namespace cbdc::bank
