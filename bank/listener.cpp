// The bank's side of settlement's notifications: the listener thread that hands settled batches
// to the worker, catch-up on start and the re-reading of gaps in a shard's batch numbers.
#include "bank/service.hpp"

#include "platform/log.hpp"
#include "settlement/notify.hpp"

namespace cbdc::bank {

void service::catch_up() {
  if (auto caught = m_bank->catch_up(); !caught) {
    logging::warn("catching up with settlement: {}; trying again in 1 s", to_string(caught.err()));
    m_worker.post_after(1000, [this] { catch_up(); });
  }
}

void service::fill_gaps() {
  m_gaps_queued = false;
  if (auto filled = m_bank->fill_gaps(); !filled) {
    logging::warn("reading skipped batches from settlement: {}", to_string(filled.err()));
  }
  if (m_bank->has_gaps() && !m_gaps_queued) {
    m_gaps_queued = true;
    m_worker.post_after(k_gap_wait_ms, [this] { fill_gaps(); });
  }
}

void service::index(const wire::SettledBatch& batch) {
  // (Indexed where it lies: a copy of a thousand notifications costs more than the index.)
  if (auto indexed = m_bank->index_many(batch); !indexed) {
    logging::error("index: {}", to_string(indexed.err()));
  }
  if (m_bank->has_gaps() && !m_gaps_queued) {
    // A little later: a notification that is only late arrives meanwhile.
    m_gaps_queued = true;
    m_worker.post_after(k_gap_wait_ms, [this] { fill_gaps(); });
  }
}

void service::listen(const std::string& pub_endpoint, currency cur, const socket_options& net) {
  // Every settled transaction in the bank's currency, once; the worker keeps what concerns it.
  settlement::subscriber sub(pub_endpoint,
                             {settlement::all_topic(cur), settlement::k_all_redeemed_topic}, net);
  while (!m_stop) {
    auto settled = sub.next(200);
    if (!settled) {
      continue;
    }
    // What arrives in the next few milliseconds goes along: one database transaction for the
    // lot (the index is a little behind settlement in any case; a longer wait means fewer,
    // larger statements on a busy bank).
    auto batch = std::make_shared<wire::SettledBatch>();
    *batch->add_txs() = std::move(*settled);
    constexpr int k_max_batch = 1000;
    constexpr auto k_gather = std::chrono::milliseconds(20);
    const auto until = std::chrono::steady_clock::now() + k_gather;
    while (batch->txs_size() < k_max_batch) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      auto more = sub.next(static_cast<int>(std::max<std::int64_t>(0, left.count())));
      if (!more) {
        break;
      }
      *batch->add_txs() = std::move(*more);
    }
    // A full queue holds the listener back (settlement's PUB socket buffers meanwhile) rather
    // than drop notifications: dropped ones would have to be read again from settlement.
    worker::task indexed = [this, batch] { index(*batch); };
    while (!m_worker.try_post(indexed) && !m_stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

}  // namespace cbdc::bank
