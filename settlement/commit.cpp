// The engine's committer: the commit thread that writes each batch in one PostgreSQL transaction
// and only then answers its receipts, what it does when a commit fails (the outcome looked up
// by transaction id, never blindly resent), and the registry's unwinding of a failed batch.
#include "settlement/engine.hpp"

#include "platform/metrics.hpp"

#include <algorithm>

#include "core/clock.hpp"
#include "platform/log.hpp"

namespace cbdc::settlement {

void engine::commit_loop(store& db) {
  while (auto job = m_commits.pop()) {
    auto& j = **job;
    {
      // The jobs it waits for were handed over earlier, so they are committing on another
      // thread or done: the wait ends, and PostgreSQL sees what this job spends.
      std::unique_lock lock(m_jobs_mutex);
      m_job_done.wait(lock, [&] {
        return std::none_of(j.after.begin(), j.after.end(),
                            [&](std::uint64_t t) { return m_in_flight.contains(t); });
      });
    }
    commit(db, j);
  }
}

void engine::mark_committed(std::uint64_t ticket) {
  {
    std::lock_guard lock(m_jobs_mutex);
    m_in_flight.erase(ticket);
    m_committed_through = m_in_flight.empty() ? m_tickets_issued : *m_in_flight.begin() - 1;
  }
  m_job_done.notify_all();
}

void engine::wait_for_creator(commit_job& job, std::uint64_t created_by_job) const {
  if (created_by_job == job.ticket || created_by_job <= m_committed_through.load()) {
    return;  // written by this job itself, or committed
  }
  if (std::find(job.after.begin(), job.after.end(), created_by_job) == job.after.end()) {
    job.after.push_back(created_by_job);  // a handful at most: the jobs still committing
  }
}

void engine::hand_over(std::unique_ptr<commit_job> job) {
  CBDC_ASSERT(job->ticket == next_ticket());
  {
    std::lock_guard lock(m_jobs_mutex);
    m_in_flight.insert(job->ticket);
    m_tickets_issued = job->ticket;
  }
  if (m_committers.empty()) {
    commit(*m_db, *job);
    return;
  }
  const bool queued = m_commits.push_wait(job);
  CBDC_ASSERT(queued);
}

namespace {

/// A committed batch in the metrics: its size, its PostgreSQL commit time, its outcomes.
void record_batch(std::size_t size, std::size_t settled, std::size_t repeats, double seconds) {
  auto& m = metrics::registry::global();
  m.describe("cbdc_settlements_total", metrics::kind::counter,
             "Submitted transactions by outcome: ok, already_settled, or the refusal's status");
  m.describe("cbdc_settle_batch_size", metrics::kind::histogram, "Transactions per committed batch",
             metrics::size_buckets());
  m.describe("cbdc_settle_commit_seconds", metrics::kind::histogram,
             "PostgreSQL commit time of a batch");
  m.observe("cbdc_settle_batch_size", {}, static_cast<double>(size));
  m.observe("cbdc_settle_commit_seconds", {}, seconds);
  m.inc("cbdc_settlements_total", {{"status", "ok"}}, static_cast<double>(settled));
  if (repeats > 0) {
    m.inc("cbdc_settlements_total", {{"status", "already_settled"}}, static_cast<double>(repeats));
  }
}

}  // namespace

void engine::commit(store& db, commit_job& job) {
  if (job.what != commit_job::kind::batch) {
    commit_two_phase(db, job);
    return;
  }
  if (m_config.slow_commit_ms > 0) {  // fault injection: a slow database
    std::this_thread::sleep_for(std::chrono::milliseconds(m_config.slow_commit_ms));
  }
  const auto at = unix_now_us();
  const auto commit_start = std::chrono::steady_clock::now();
  auto committed = db.commit_batch(job.seq, at, job.items);
  std::vector<status> outcome(job.items.size(), ok_status());
  if (!committed) {
    logging::warn("batch {} of {} did not commit ({}); committing it in parts", job.seq,
                  job.items.size(), to_string(committed.err()));
    commit_failed(db, job, at, 0, job.items.size(), committed.err(), outcome);
  }
  const auto failed = static_cast<std::size_t>(
      std::count_if(outcome.begin(), outcome.end(), [](const status& s) { return !s.ok(); }));
  record_batch(
      job.items.size(), job.accepted.size() - failed, job.repeats.size(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_start).count());
  if (failed > 0) {
    // Queued before the job counts as committed, so the batch thread gives the inputs back
    // before any later job of its own could find them missing.
    std::scoped_lock lock(m_unwind_mutex, m_registry_mutex);
    for (std::size_t i = 0; i < job.items.size(); ++i) {
      if (!outcome[i].ok()) {
        const auto& tx = *job.items[i].tx;
        for (std::uint32_t k = 0; k < tx.tx.outputs.size(); ++k) {
          m_void.insert(token_id_of(tx.tx.prof, tx.id, k));
        }
        m_unwinds.push_back(unwind{tx, job.items[i].inputs});
      }
    }
    m_has_unwinds = true;
  }
  // Committed: what the batch wrote may be spent by later jobs and listed, before its
  // receipts go out (a payer may list its change as soon as it has the receipt).
  mark_committed(job.ticket);
  std::vector<const signed_tx*> txs;
  txs.reserve(job.items.size());
  const receipt* first_settled = nullptr;
  for (std::size_t i = 0; i < job.items.size(); ++i) {
    auto& r = job.receipts[i];
    if (outcome[i].ok()) {
      r.batch_seq = job.seq;
      r.settled_at_us = at;
      txs.push_back(job.items[i].tx);
      first_settled = first_settled != nullptr ? first_settled : &r;
    } else {
      r.status = outcome[i].code();
      r.detail = outcome[i].err().message;
      metrics::registry::global().inc("cbdc_settlements_total",
                                      {{"status", std::string{to_string(r.status)}}});
    }
  }
  if (first_settled != nullptr) {
    publish(txs, *first_settled);
  }
  std::unordered_map<hash256, const receipt*> by_id;
  for (std::size_t i = 0; i < job.accepted.size(); ++i) {
    job.accepted[i].done(job.receipts[i]);
    by_id.emplace(job.receipts[i].tx_id, &job.receipts[i]);
  }
  for (auto& p : job.repeats) {
    receipt r = *by_id.at(p.tx.id);
    if (r.status == status_code::ok) {
      r.status = status_code::already_settled;
      r.detail = "settled before in batch " + std::to_string(r.batch_seq);
    }
    p.done(r);
  }
}

namespace {

/// A failure after which the batch may or may not have committed.
auto outcome_unknown(const error& e) -> bool {
  return e.code == status_code::unavailable || e.code == status_code::internal;
}

}  // namespace

void engine::commit_failed(store& db, commit_job& job, std::int64_t at, std::size_t from,
                           std::size_t to, error failed, std::vector<status>& outcome) {
  CBDC_ASSERT(from < to && to <= job.items.size());
  const std::vector<commit_item> part(job.items.begin() + static_cast<std::ptrdiff_t>(from),
                                      job.items.begin() + static_cast<std::ptrdiff_t>(to));
  while (outcome_unknown(failed)) {
    // A part commits whole or not at all: its first transaction says which.
    auto in_ledger = landed(db, part.front().tx->id);
    if (!in_ledger) {
      for (std::size_t i = from; i < to; ++i) {  // stopping: the client resends, safely
        outcome[i] = error{status_code::unavailable,
                           "settlement stopped before PostgreSQL said whether the payment "
                           "committed; send it again (a settled payment answers "
                           "already_settled)"};
      }
      return;
    }
    if (*in_ledger) {
      return;
    }
    auto again = db.commit_batch(job.seq, at, part);
    if (again) {
      return;
    }
    failed = again.err();
  }
  if (to - from == 1) {
    outcome[from] =
        error{status_code::internal, "PostgreSQL refused the payment: " + failed.message};
    return;
  }
  const auto mid = from + (to - from) / 2;
  for (const auto& [a, b] : {std::pair{from, mid}, std::pair{mid, to}}) {
    const std::vector<commit_item> half(job.items.begin() + static_cast<std::ptrdiff_t>(a),
                                        job.items.begin() + static_cast<std::ptrdiff_t>(b));
    if (auto done = db.commit_batch(job.seq, at, half); !done) {
      commit_failed(db, job, at, a, b, done.err(), outcome);
    }
  }
}

auto engine::landed(store& db, const hash256& tx_id) -> result<bool> {
  for (int attempt = 0; !m_stopped; ++attempt) {
    auto found = db.find_tx(tx_id, m_config.shard);
    if (found) {
      return true;
    }
    if (found.code() == status_code::not_found) {
      return false;
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds{std::min(1000, 50 << std::min(attempt, 5))});
  }
  return error{status_code::unavailable, "stopping"};
}

void engine::apply_unwinds() {
  std::vector<unwind> todo;
  {
    std::lock_guard lock(m_unwind_mutex);
    todo.swap(m_unwinds);
    m_has_unwinds = false;
  }
  for (auto& u : todo) {
    (void)count_supply(u.tx, u.inputs, nullptr, -1);
    for (std::uint32_t k = 0; k < u.tx.tx.outputs.size(); ++k) {
      take_unspent(token_id_of(u.tx.tx.prof, u.tx.id, k));
    }
    for (auto& t : u.inputs) {
      bool made_by_failed = false;
      {
        std::lock_guard lock(m_registry_mutex);
        made_by_failed = m_void.contains(t.token_id);
      }
      if (made_by_failed) {
        continue;
      }
      t.spent = false;
      t.spent_by = {};
      const auto id = t.token_id;
      put_unspent(id, unspent_token{std::move(t), 0});  // its creator committed before
    }
  }
  std::scoped_lock lock(m_jobs_mutex, m_registry_mutex);
  if (m_in_flight.empty() && !m_has_unwinds) {
    m_void.clear();  // no job left that could spend a void token
  }
}

}  // namespace cbdc::settlement
