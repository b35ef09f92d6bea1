// The settlement engine of one shard: submissions verified on worker threads, batched, checked
// against the unspent registry and handed to the committer (commit.cpp); the receipts and
// notifications of a settled batch. The validator is in validate.cpp, the registry in
// registry.cpp, two-phase commit in participant.cpp.
#include "settlement/engine.hpp"

#include "platform/metrics.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <optional>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>
#include "core/clock.hpp"

#include "platform/log.hpp"
#include "rpc/transport.hpp"

namespace cbdc::settlement {
namespace {

constexpr int k_verify_nice = 10;

auto overloaded_error() -> error {
  return error{status_code::overloaded, "settlement queue is full; retry later"};
}

}  // namespace

engine::engine(engine_config config, std::unique_ptr<store> db, settled_fn on_settled)
    : m_config(std::move(config)),
      m_db(std::move(db)),
      m_on_settled(std::move(on_settled)),
      m_incoming(m_config.queue_capacity),
      m_verified(2 * m_config.queue_capacity + 64) {}

auto engine::start(engine_config config, const store_factory& open_store, settled_fn on_settled)
    -> result<std::unique_ptr<engine>> {
  CBDC_ASSERT(config.max_batch > 0 && config.queue_capacity > 0);
  CBDC_ASSERT(config.shard_count > 0 && config.shard < config.shard_count);
  auto db = open_store();
  if (!db) {
    return db.err();
  }
  std::unique_ptr<engine> e(new engine(std::move(config), std::move(*db), std::move(on_settled)));
  for (unsigned i = 0; i < e->m_config.commit_threads; ++i) {
    auto extra = open_store();
    if (!extra) {
      return extra.err();
    }
    e->m_commit_dbs.push_back(std::move(*extra));
  }
  if (auto resolved = e->resolve_in_doubt(); !resolved) {
    return resolved.err();
  }
  auto loaded = e->m_db->load_unspent([&](token_info&& t) {
    const auto id = t.token_id;
    e->put_unspent(id, unspent_token{std::move(t), 0});
  });
  if (!loaded) {
    return loaded.err();
  }
  e->m_unspent_count = e->m_unspent.size();
  auto seq = e->m_db->last_batch_seq();
  if (!seq) {
    return seq.err();
  }
  e->m_batch_seq = *seq;
  for (const auto cur : k_all_currencies) {
    auto totals = e->m_db->supply(cur);
    if (!totals) {
      return totals.err();
    }
    if (totals->issued_minor != 0 || totals->redeemed_minor != 0) {
      e->m_supply[cur] = {totals->issued_minor, totals->redeemed_minor};
    }
  }
  unsigned n = e->m_config.verify_threads;
  if (n == 0) {
    n = std::max(1U, std::thread::hardware_concurrency());
  }
  for (unsigned i = 0; i < n; ++i) {
    e->m_verifiers.emplace_back([raw = e.get()] { raw->verify_loop(); });
  }
  for (auto& db_conn : e->m_commit_dbs) {
    e->m_committers.emplace_back(
        [raw = e.get(), conn = db_conn.get()] { raw->commit_loop(*conn); });
  }
  e->m_batcher = std::thread([raw = e.get()] { raw->batch_loop(); });
  auto& m = metrics::registry::global();
  m.describe("cbdc_settle_queue_depth", metrics::kind::gauge,
             "Transactions waiting, by queue (incoming: to verify; verified: to batch)");
  m.describe("cbdc_settle_unspent_tokens", metrics::kind::gauge, "Tokens in the unspent set");
  auto* raw = e.get();
  e->m_gauges.push_back(m.gauge_fn("cbdc_settle_queue_depth", {{"queue", "incoming"}},
                                   [raw] { return static_cast<double>(raw->m_incoming.depth()); }));
  e->m_gauges.push_back(m.gauge_fn("cbdc_settle_queue_depth", {{"queue", "verified"}},
                                   [raw] { return static_cast<double>(raw->m_verified.depth()); }));
  e->m_gauges.push_back(m.gauge_fn("cbdc_settle_unspent_tokens", {},
                                   [raw] { return static_cast<double>(raw->m_unspent_count); }));
  return e;
}

engine::~engine() {
  stop();
}

void engine::stop() {
  if (m_stopped.exchange(true)) {
    return;
  }
  m_incoming.close();
  for (auto& t : m_verifiers) {
    t.join();
  }
  m_verified.close();
  m_batcher.join();
  m_commits.close();
  for (auto& t : m_committers) {
    t.join();
  }
}

void engine::drain() {
  std::unique_lock lock(m_jobs_mutex);
  m_job_done.wait(lock, [&] { return m_in_flight.empty(); });
}

void engine::refuse(pending& p, const error& err) {
  metrics::registry::global().inc("cbdc_settlements_total",
                                  {{"status", std::string{to_string(err.code)}}});
  switch (p.what) {
    case op::submit: {
      receipt r;
      r.status = err.code;
      r.detail = err.message;
      r.tx_id = p.tx.id;
      r.shard = m_config.shard;
      p.done(r);
      break;
    }
    case op::prepare: p.on_prepared(err, {}); break;
    case op::resolve: p.on_resolved(err); break;
  }
}

void engine::enqueue(pending&& p) {
  if (!m_incoming.try_push(p)) {
    refuse(p, overloaded_error());
  }
}

void engine::submit(signed_tx tx, std::string client_request_id, done_fn done) {
  pending p;
  p.what = op::submit;
  p.tx = std::move(tx);
  p.client_request_id = std::move(client_request_id);
  p.done = std::move(done);
  enqueue(std::move(p));
}

void engine::verify_loop() {
  // Verification is the bulk of the CPU and can wait a little; the batcher, the commit threads
  // and PostgreSQL's backends are each a step of every payment's path. Nice 10 lets those run
  // as soon as they wake, rather than a slice later, so a lightly loaded shard answers in a few
  // milliseconds; verification still takes all the CPU they leave. (Linux: per thread.)
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), k_verify_nice) != 0) {
    logging::warn("could not lower the verifiers' priority: {}", std::strerror(errno));
  }
  while (auto p = m_incoming.pop()) {
    if (p->what != op::resolve) {
      p->verified = check_stateless(p->tx, m_config, p->what == op::submit);
    }
    if (!m_verified.try_push(*p)) {
      refuse(*p, overloaded_error());
    }
  }
}

void engine::batch_loop() {
  std::vector<pending> batch;
  batch.reserve(m_config.max_batch);
  bool open = true;
  while (open) {
    batch.clear();
    open = m_verified.pop_some(batch, m_config.max_batch,
                               std::chrono::steady_clock::now() + std::chrono::milliseconds{200});
    if (batch.empty()) {
      continue;
    }
    // Give the batch batch_wait_ms to fill after its first arrival, sleeping through it rather
    // than waking for each arrival (at light load that was a wake-up per payment), then take
    // what came.
    if (open && batch.size() < m_config.max_batch && m_config.batch_wait_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds{m_config.batch_wait_ms});
      open = m_verified.pop_some(batch, m_config.max_batch, std::chrono::steady_clock::now());
    }
    settle_batch(batch);
  }
}

auto engine::settled_before(const hash256& id) -> std::optional<receipt> {
  drain();
  if (m_has_unwinds) {
    apply_unwinds();  // a payment that failed meanwhile gives back what memory still holds
  }
  auto found = m_db->find_tx(id, m_config.shard);
  if (!found) {
    return std::nullopt;
  }
  receipt first = found->first;
  first.status = status_code::already_settled;
  first.detail = "settled before in batch " + std::to_string(first.batch_seq);
  return first;
}

auto engine::collect_inputs(const signed_tx& stx, bool local_only,
                            const id_map<token_info>& spent_here, std::vector<token_info>& inputs,
                            std::vector<std::uint64_t>& creators) -> receipt {
  receipt r;
  r.tx_id = stx.id;
  r.shard = m_config.shard;
  const auto refuse_with = [&](status_code code, std::string detail) {
    r.status = code;
    r.detail = std::move(detail);
    return r;
  };
  bool missing = false;
  for (const auto& in : stx.tx.inputs) {
    if (local_only && shard_of(in, m_config.shard_count) != m_config.shard) {
      continue;
    }
    if (const auto it = m_unspent.find(in); it != m_unspent.end()) {
      inputs.push_back(it->second.info);
      creators.push_back(it->second.created_by_job);
      continue;
    }
    if (const auto it = spent_here.find(in); it != spent_here.end()) {
      return refuse_with(status_code::input_spent,
                         "input " + in.hex() + " spent by " + it->second.spent_by.hex());
    }
    if (const auto it = m_locked.find(in); it != m_locked.end()) {
      return refuse_with(status_code::input_locked,
                         "input " + in.hex() + " is held by cross-shard transaction " + it->second);
    }
    missing = true;
    break;
  }
  if (!missing) {
    r.status = status_code::ok;
    return r;
  }
  if (auto first = settled_before(stx.id)) {
    return *first;
  }
  for (const auto& in : stx.tx.inputs) {
    if (m_unspent.contains(in) ||
        (local_only && shard_of(in, m_config.shard_count) != m_config.shard)) {
      continue;
    }
    auto known = m_db->find_token(in);
    if (known && known->spent) {
      return refuse_with(status_code::input_spent,
                         "input " + in.hex() + " spent by " + known->spent_by.hex());
    }
    if (known.code() != status_code::not_found && !known.ok()) {
      return refuse_with(known.code(), known.err().message);
    }
    if (known) {  // a failed payment's input, not yet given back to memory
      return refuse_with(status_code::unavailable,
                         "input " + in.hex() + " is being given back; send the payment again");
    }
    return refuse_with(status_code::input_unknown, "input " + in.hex() + " does not exist");
  }
  CBDC_ASSERT(false && "a missing input was not found again");
  return r;
}

auto engine::check_against_registry(pending& p, id_map<token_info>& spent_here,
                                    std::vector<token_info>& inputs,
                                    std::vector<std::uint64_t>& creators) -> receipt {
  const auto& stx = p.tx;
  if (stx.tx.kind == tx_kind::issue) {
    // A repeated issuance: its first output exists already.
    if (m_unspent.contains(token_id_of(stx.tx.prof, stx.id, 0))) {
      if (auto first = settled_before(stx.id)) {
        return *first;
      }
    }
  } else {
    auto collected = collect_inputs(stx, false, spent_here, inputs, creators);
    if (collected.status != status_code::ok) {
      return collected;
    }
  }
  receipt r;
  r.tx_id = stx.id;
  r.shard = m_config.shard;
  if (auto checked = check_value_and_signers(stx, inputs, m_config); !checked) {
    r.status = checked.code();
    r.detail = checked.err().message;
    return r;
  }
  r.status = status_code::ok;
  return r;
}

auto engine::count_supply(const signed_tx& stx, const std::vector<token_info>& inputs,
                          const std::vector<std::uint32_t>* outputs, int sign) -> status {
  const auto& tx = stx.tx;
  if (tx.kind == tx_kind::transfer) {
    return ok_status();
  }
  // Sums of what this transaction adds, per currency, then the totals after it.
  std::map<currency, std::int64_t> adds;
  const auto add = [&](currency cur, std::int64_t amount) {
    auto sum = checked_add(adds[cur], amount);
    if (!sum) {
      return false;
    }
    adds[cur] = *sum;
    return true;
  };
  bool fits = true;
  if (tx.kind == tx_kind::issue) {
    const auto count = static_cast<std::uint32_t>(tx.outputs.size());
    for (std::uint32_t k = 0; k < count; ++k) {
      const bool here =
          outputs == nullptr || std::find(outputs->begin(), outputs->end(), k) != outputs->end();
      fits = fits && (!here || add(tx.outputs[k].cur, tx.outputs[k].amount_minor));
    }
  } else {
    for (const auto& t : inputs) {
      fits = fits && add(t.cur, t.amount_minor);
    }
  }
  // What is outstanding on every shard together fits in 64 bits, so any sum of tokens (a
  // wallet's balance at its bank, a payment's inputs) does too: each shard's issued - redeemed
  // stays within 1/shard_count of 2^63-1.
  const std::int64_t bound =
      std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(m_config.shard_count);
  std::map<currency, std::int64_t> after;
  for (const auto& [cur, amount] : adds) {
    const auto& [issued, redeemed] = m_supply[cur];
    const auto total = tx.kind == tx_kind::issue ? issued : redeemed;
    auto next = sign > 0 ? checked_add(total, amount) : result<std::int64_t>{total - amount};
    const bool bounded =
        !next || tx.kind != tx_kind::issue || sign < 0 || *next - redeemed <= bound;
    if (!fits || !next || !bounded) {
      return error{status_code::amount_invalid,
                   std::string{tx.kind == tx_kind::issue ? "issued" : "redeemed"} + " " +
                       std::string{currency_code(cur)} + " would pass " +
                       (next ? "the shard's share of 2^63-1 minor units outstanding"
                             : "2^63-1 minor units")};
    }
    after[cur] = *next;
  }
  if (!fits) {
    return error{status_code::amount_invalid, "the amounts overflow 64 bits"};
  }
  for (const auto& [cur, total] : after) {
    auto& entry = m_supply[cur];
    (tx.kind == tx_kind::issue ? entry.first : entry.second) = total;
  }
  return ok_status();
}

void engine::publish(const std::vector<const signed_tx*>& txs, const receipt& r) {
  std::lock_guard lock(m_publish_mutex);
  if (m_on_settled && !txs.empty()) {
    m_on_settled(txs, r);
  }
}

void engine::settle_batch(std::vector<pending>& batch) {
  if (m_has_unwinds) {
    apply_unwinds();
  }
  auto job = std::make_unique<commit_job>();
  job->ticket = next_ticket();
  id_set in_batch;
  id_map<token_info> spent_here;
  std::vector<std::vector<token_info>> inputs_of;
  std::vector<std::uint64_t> creators;
  std::vector<std::size_t> two_phase;

  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& p = batch[i];
    if (p.what != op::submit) {
      two_phase.push_back(i);  // cross-shard steps run after the batch, in order
      continue;
    }
    if (!p.verified) {
      p.done(receipt{p.verified.code(), p.verified.err().message, p.tx.id, m_config.shard, 0, 0});
      continue;
    }
    if (in_batch.contains(p.tx.id)) {
      job->repeats.push_back(std::move(p));
      continue;
    }
    std::vector<token_info> inputs;
    creators.clear();
    auto r = check_against_registry(p, spent_here, inputs, creators);
    if (r.status == status_code::ok) {
      if (auto counted = count_supply(p.tx, inputs, nullptr); !counted) {
        r.status = counted.code();
        r.detail = counted.err().message;
      }
    }
    if (r.status != status_code::ok) {
      p.done(r);
      continue;
    }
    in_batch.insert(p.tx.id);
    for (const auto c : creators) {
      wait_for_creator(*job, c);
    }
    for (auto& t : inputs) {
      take_unspent(t.token_id);
      t.spent = true;
      t.spent_by = p.tx.id;
      spent_here.emplace(t.token_id, t);
    }
    for (std::uint32_t k = 0; k < p.tx.tx.outputs.size(); ++k) {
      add_unspent(p.tx, k, job->ticket);
    }
    job->receipts.push_back(r);
    job->accepted.push_back(std::move(p));
    inputs_of.push_back(std::move(inputs));
  }

  if (!job->accepted.empty()) {
    job->seq = ++m_batch_seq;
    // The items point into job->accepted, which no longer changes.
    for (std::size_t k = 0; k < job->accepted.size(); ++k) {
      auto& p = job->accepted[k];
      job->items.push_back(
          commit_item{&p.tx, p.client_request_id, std::move(inputs_of[k]), all_outputs(p.tx)});
    }
    hand_over(std::move(job));
  } else {
    // Repeats of nothing accepted in this batch cannot exist.
    CBDC_ASSERT(job->repeats.empty());
  }
  for (const auto i : two_phase) {
    if (batch[i].what == op::prepare) {
      do_prepare(batch[i]);
    } else {
      do_resolve(batch[i]);
    }
  }
  m_unspent_count = m_unspent.size();
}

}  // namespace cbdc::settlement
