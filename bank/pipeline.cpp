// A payment in flight at the payer's bank: its checks, the payee's bank asked for room
// (CanReceive), the durable intent flushed with the records of settled payments, the
// submission to settlement, its answer recorded, and the payments a crash left in flight sent
// again. Everything here runs on the service's worker.
#include "bank/service.hpp"

#include "core/clock.hpp"
#include "platform/log.hpp"

namespace cbdc::bank {

void service::pay_async(const signed_tx& tx, const std::string& payee_bank, receipt_fn done) {
  if (m_worker.on_worker()) {
    pay_now(tx, payee_bank, std::move(done));
    return;
  }
  m_worker.post([this, tx, payee_bank, done = std::move(done)]() mutable {
    pay_now(tx, payee_bank, std::move(done));
  });
}

void service::pay_now(const signed_tx& tx, const std::string& payee_bank, receipt_fn done) {
  // The payment's own signatures are its proof: checked before it holds any allowance.
  for (const auto& sig : tx.sigs) {
    if (!verify(sig.signer, tx.body, sig.sig)) {
      done(error{status_code::bad_signature, "a signature of the payment does not verify"});
      return;
    }
  }
  auto begun = m_bank->pay_begin(tx, unix_now_us());
  if (!begun) {
    done(begun.err());
    return;
  }
  if (begun->settled_before) {  // a resend of a settled payment: its receipt
    auto receipt = *begun->settled_before;
    finish(*begun, std::move(receipt), done);
    return;
  }
  // Settlement answers later; meanwhile the worker checks the next requests. A payee at
  // another bank is first checked there (its balance cap).
  if (!begun->payee_hex && !m_peers.empty() && !m_uncapped.contains(begun->payee.hex())) {
    // The payee's bank as its payment request names it is asked first (then, should it not
    // host the payee, every peer in turn).
    const auto hinted = m_peer_ids.find(payee_bank);
    if (hinted != m_peer_ids.end()) {
      m_payee_home.put_if_absent(begun->payee.hex(), hinted->second);
    }
    ask_peer(std::move(*begun), std::move(done), 0);
  } else {
    submit(std::move(*begun), std::move(done));
  }
}

void service::ask_peer(pending_payment p, receipt_fn done, std::size_t next) {
  const auto payee_hex = p.payee.hex();
  const auto* home = m_payee_home.find(payee_hex);
  const bool cached = home != nullptr;
  const std::size_t peer = cached ? *home : next;
  if (peer >= m_peers.size()) {
    submit(std::move(p), std::move(done));  // no bank we know hosts the payee: settlement decides
    return;
  }
  wire::Envelope req;
  auto* m = req.mutable_can_receive();
  m->set_owner(bytes_to_wire(p.payee.encode()));
  m->set_amount_minor(p.amount_minor);
  m->set_currency(static_cast<std::uint32_t>(m_bank->cur()));
  m->set_tx_id(id_to_wire(p.tx.id));  // the payee's bank keeps the room for this payment
  auto shared = std::make_shared<pending_payment>(std::move(p));
  m_peers[peer]->call_async(
      std::move(req), [this, shared, done, peer, cached, payee_hex](result<wire::Envelope> answer) {
        m_worker.post(
            [this, shared, done, peer, cached, payee_hex, answer = std::move(answer)]() mutable {
              auto env = expect_payload(std::move(answer), wire::Envelope::kReceiveVerdict);
              const auto code =
                  env ? static_cast<status_code>(env->receive_verdict().status()) : env.code();
              if (code == status_code::unknown_wallet) {
                if (cached) {
                  m_payee_home.erase(payee_hex);  // moved banks: ask everyone again
                }
                ask_peer(std::move(*shared), std::move(done), cached ? 0 : peer + 1);
                return;
              }
              if (code == status_code::ok) {
                m_payee_home.put(payee_hex, peer);
                if (!env->receive_verdict().capped()) {
                  m_uncapped.put(payee_hex, true);  // nothing to check for this payee again
                }
                submit(std::move(*shared), std::move(done));
                return;
              }
              const std::string detail = env ? env->receive_verdict().detail() : env.err().message;
              finish(*shared, error{code, detail}, done);
            });
      });
}

void service::submit(pending_payment p, receipt_fn done) {
  if (!p.reserved || p.durable) {
    send(std::move(p), done);  // a repeat of a payment in flight, or one recorded
    return;
  }
  m_unsent.emplace_back(std::move(p), std::move(done));
  queue_flush();
}

void service::flush() {
  m_flush_queued = false;
  auto unsent = std::exchange(m_unsent, {});
  std::vector<const pending_payment*> payments;
  payments.reserve(unsent.size());
  for (const auto& [p, done] : unsent) {
    payments.push_back(&p);
  }
  const auto written = m_bank->commit_durable(payments);
  if (!written) {
    // The records of settled payments wait in memory for the next try; their intents stay.
    logging::warn("recording payments: {}; trying again in 1 s", to_string(written.err()));
    m_worker.post_after(1000, [this] { queue_flush(); });
  }
  for (auto& [p, done] : unsent) {
    if (!written) {
      finish(p,
             error{written.code(),
                   "the payment could not be recorded before sending it: " + written.err().message},
             done);
      continue;
    }
    p.durable = true;
    send(std::move(p), done);
  }
}

void service::queue_flush() {
  if (!m_flush_queued) {
    m_flush_queued = true;
    m_worker.post([this] { flush(); });
  }
}

void service::recover() {
  auto recovered = m_bank->take_recovered();
  if (!recovered.empty()) {
    logging::info("sending again {} payments left in flight by a crash", recovered.size());
  }
  for (auto& p : recovered) {
    send(std::move(p), [](const result<settlement::receipt>&) {});
  }
}

void service::send(pending_payment p, const receipt_fn& done) {
  constexpr int k_attempts = 5;
  ++p.attempts;
  auto shared = std::make_shared<pending_payment>(std::move(p));
  m_bank->settlement_client().submit_async(
      shared->tx, shared->tx.id.hex(), [this, shared, done](result<settlement::receipt> r) {
        m_worker.post([this, shared, done, r = std::move(r)]() mutable {
          const auto code = r ? r->status : r.code();
          if (is_transient(code)) {
            // Back off, then send the same transaction again (the reservation stays). Past
            // k_attempts the customer hears that the outcome is not known yet, and the bank
            // goes on every 2 s until settlement answers for certain: the payment may have
            // settled, and then it counts in the payer's day.
            auto later = done;
            if (shared->attempts == k_attempts) {
              done(settled_or_error(std::move(r)));
            }
            if (shared->attempts >= k_attempts) {
              later = [](const result<settlement::receipt>&) {};
            }
            const int wait_ms = shared->attempts < k_attempts ? 100 << shared->attempts : 2'000;
            m_worker.post_after(wait_ms,
                                [this, shared, later] { send(std::move(*shared), later); });
            return;
          }
          finish(*shared, std::move(r), done);
        });
      });
}

void service::finish(const pending_payment& p, result<settlement::receipt> answer,
                     const receipt_fn& done) {
  auto finished = m_bank->pay_finish(p, std::move(answer));
  if (finished && finished->settled()) {
    // Its record for the day goes in the next flush; the customer need not wait for it. Until
    // then the payment's durable intent (or, for a repeat, the first send's) stands for it: a
    // crash before the record is written leaves the intent, which the restarted bank sends
    // again and records as already settled.
    queue_flush();
  }
  done(settled_or_error(std::move(finished)));
}

}  // namespace cbdc::bank
