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

#include "rpc/transport.hpp"

namespace cbdc::settlement {
namespace {

auto short_key(const bytes& encoded) -> std::string {
  return to_hex(encoded).substr(0, 18);
}

/// PostgreSQL's prepared-transaction ids are unique across a whole cluster, and shards may share
/// one: each shard prepares the coordinator's gid under "<gid>.s<shard>".
auto local_gid(const std::string& gid, std::uint32_t shard) -> std::string {
  return gid + ".s" + std::to_string(shard);
}

auto coordinator_gid(const std::string& local) -> std::string {
  return local.substr(0, local.rfind(".s"));
}

constexpr int k_verify_nice = 10;

/// Sums per currency in a fixed array (a transaction touches one or two currencies; a map per
/// check allocated a node per currency, on every payment).
class per_currency {
 public:
  /// Adds amount to cur's sum; false when the sum would overflow 64 bits (nothing added).
  auto add(currency cur, std::int64_t amount) -> bool {
    auto& slot = m_sums.at(index(cur));
    auto sum = checked_add(slot, amount);
    if (!sum) {
      return false;
    }
    slot = *sum;
    m_present.at(index(cur)) = true;
    return true;
  }
  [[nodiscard]] auto has(currency cur) const -> bool { return m_present.at(index(cur)); }
  [[nodiscard]] auto sum(currency cur) const -> std::int64_t { return m_sums.at(index(cur)); }
  /// The one currency present, if exactly one is.
  [[nodiscard]] auto only() const -> std::optional<currency> {
    std::optional<currency> found;
    for (const auto cur : k_all_currencies) {
      if (has(cur)) {
        if (found) {
          return std::nullopt;
        }
        found = cur;
      }
    }
    return found;
  }

 private:
  static auto index(currency cur) -> std::size_t { return static_cast<std::size_t>(cur); }
  std::array<std::int64_t, 8> m_sums{};
  std::array<bool, 8> m_present{};
};

auto overloaded_error() -> error {
  return error{status_code::overloaded, "settlement queue is full; retry later"};
}

}  // namespace

auto check_stateless(const signed_tx& stx, const engine_config& config, bool whole_on_this_shard)
    -> status {
  const auto& tx = stx.tx;
  if (tx.prof != config.prof) {
    return error{status_code::profile_mismatch,
                 "a " + std::string{profile_name(tx.prof)} + " transaction on a " +
                     std::string{profile_name(config.prof)} + " deployment"};
  }
  switch (tx.kind) {
    case tx_kind::issue:
      if (!tx.inputs.empty() || tx.outputs.empty()) {
        return error{status_code::malformed, "an issuance has outputs and no inputs"};
      }
      break;
    case tx_kind::transfer:
      if (tx.inputs.empty() || tx.outputs.empty()) {
        return error{status_code::malformed, "a transfer has inputs and outputs"};
      }
      break;
    case tx_kind::redeem:
      if (tx.inputs.empty() || !tx.outputs.empty()) {
        return error{status_code::malformed, "a redemption has inputs and no outputs"};
      }
      break;
  }
  per_currency out_sums;
  for (const auto& out : tx.outputs) {
    if (out.amount_minor <= 0) {
      return error{status_code::amount_invalid,
                   "output amount " + std::to_string(out.amount_minor) + " is not positive"};
    }
    if (!out_sums.add(out.cur, out.amount_minor)) {
      return error{status_code::amount_invalid, "outputs overflow 64 bits"};
    }
  }
  {
    id_set seen;
    for (const auto& in : tx.inputs) {
      if (!seen.insert(in).second) {
        return error{status_code::duplicate_input, "input " + in.hex() + " appears twice"};
      }
    }
  }
  if (whole_on_this_shard && config.shard_count > 1) {
    const auto shards = shards_of(tx, stx.id, config.shard_count);
    if (shards.size() != 1 || shards.front() != config.shard) {
      return error{status_code::wrong_shard,
                   "the transaction touches " + std::to_string(shards.size()) +
                       " shard(s), not only shard " + std::to_string(config.shard) +
                       "; send it to the coordinator or its shard"};
    }
  }
  if (stx.sigs.empty()) {
    return error{status_code::missing_signature, "the transaction carries no signature"};
  }
  for (std::size_t i = 0; i < stx.sigs.size(); ++i) {
    const auto& signer = stx.sigs[i].signer;
    for (std::size_t j = 0; j < i; ++j) {
      if (stx.sigs[j].signer == signer) {
        return error{status_code::malformed, "two signatures by key " + short_key(signer.encode())};
      }
    }
  }
  for (const auto& s : stx.sigs) {
    if (!verify(s.signer, stx.body, s.sig)) {
      return error{status_code::bad_signature,
                   "signature by " + short_key(s.signer.encode()) + " does not verify"};
    }
  }
  return ok_status();
}

auto valid_gid(const std::string& gid, bool legacy) -> bool {
  const auto hex = [](std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
  };
  const auto digits = [](std::string_view text) {
    return !text.empty() && text.size() <= 9 &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!gid.starts_with("cbdc-")) {
    return false;
  }
  const std::string_view rest{gid.data() + 5, gid.size() - 5};
  if (rest.size() == 32 && hex(rest)) {
    return true;
  }
  return legacy && rest.size() > 65 && rest[64] == '-' && hex(rest.substr(0, 64)) &&
         digits(rest.substr(65));
}

auto check_value_and_signers(const signed_tx& stx, const std::vector<token_info>& inputs,
                             const engine_config& config, bool some_inputs) -> status {
  const auto& tx = stx.tx;
  // Few keys sign a transaction: linear lists, no allocation per key.
  std::vector<const public_key*> required;
  const auto require = [&](const public_key& key) {
    if (std::none_of(required.begin(), required.end(),
                     [&](const public_key* k) { return *k == key; })) {
      required.push_back(&key);
    }
  };
  if (tx.kind == tx_kind::issue) {
    const currency cur = tx.outputs.front().cur;
    for (const auto& out : tx.outputs) {
      if (out.cur != cur) {
        return error{status_code::currency_mismatch, "an issuance is in one currency"};
      }
    }
    const auto issuer = config.issuers.find(cur);
    if (issuer == config.issuers.end()) {
      return error{status_code::not_permitted,
                   "no " + std::string{currency_code(cur)} + " issuer on this deployment"};
    }
    require(issuer->second);
  } else {
    per_currency in_sums;
    per_currency out_sums;
    for (const auto& t : inputs) {
      require(t.owner);
      if (!in_sums.add(t.cur, t.amount_minor)) {
        return error{status_code::amount_invalid, "inputs overflow 64 bits"};
      }
    }
    for (const auto& o : tx.outputs) {
      out_sums.add(o.cur, o.amount_minor);  // overflow refused by check_stateless
    }
    if (some_inputs && tx.kind == tx_kind::redeem) {
      // The issuer co-signs every redemption; the coordinator checks the currency over all.
      for (const auto& t : inputs) {
        const auto issuer = config.issuers.find(t.cur);
        if (issuer == config.issuers.end()) {
          return error{status_code::not_permitted,
                       "no " + std::string{currency_code(t.cur)} + " issuer on this deployment"};
        }
        require(issuer->second);
      }
    } else if (some_inputs) {
      // Value is conserved over every shard's inputs: the coordinator checks it.
    } else if (tx.kind == tx_kind::redeem) {
      const auto only = in_sums.only();
      if (!only) {
        return error{status_code::currency_mismatch, "a redemption is in one currency"};
      }
      const auto issuer = config.issuers.find(*only);
      if (issuer == config.issuers.end()) {
        return error{status_code::not_permitted,
                     "no " + std::string{currency_code(*only)} + " issuer on this deployment"};
      }
      require(issuer->second);
    } else {
      for (const auto cur : k_all_currencies) {
        if (out_sums.has(cur) && !in_sums.has(cur)) {
          return error{status_code::currency_mismatch,
                       "outputs in " + std::string{currency_code(cur)} + " but no inputs"};
        }
      }
      for (const auto cur : k_all_currencies) {
        if (!in_sums.has(cur)) {
          continue;
        }
        if (!out_sums.has(cur)) {
          return error{status_code::currency_mismatch,
                       "inputs in " + std::string{currency_code(cur)} + " but no outputs"};
        }
        if (out_sums.sum(cur) != in_sums.sum(cur)) {
          return error{status_code::value_not_conserved,
                       std::string{currency_code(cur)} + " inputs " +
                           std::to_string(in_sums.sum(cur)) + " != outputs " +
                           std::to_string(out_sums.sum(cur))};
        }
      }
    }
  }
  const auto signed_by = [&](const public_key& key) {
    return std::any_of(stx.sigs.begin(), stx.sigs.end(),
                       [&](const auto& sig) { return sig.signer == key; });
  };
  for (const auto* key : required) {
    if (!signed_by(*key)) {
      return error{status_code::missing_signature, "no signature by " + short_key(key->encode())};
    }
  }
  for (const auto& sig : stx.sigs) {
    if (some_inputs) {
      break;  // other signatures sign inputs on other shards
    }
    if (std::none_of(required.begin(), required.end(),
                     [&](const public_key* k) { return *k == sig.signer; })) {
      return error{status_code::bad_signature,
                   "signature by " + short_key(sig.signer.encode()) + ", which owns no input"};
    }
  }
  return ok_status();
}

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

auto engine::resolve_in_doubt() -> status {
  auto gids = m_db->list_prepared();
  if (!gids) {
    return gids.err();
  }
  if (gids->empty()) {
    return ok_status();
  }
  if (m_config.shard_count == 1 && m_config.coordinator_endpoint.empty()) {
    // A deployment of one shard has no coordinator, so nobody can have decided to commit a
    // part prepared here: each is rolled back (presumed abort).
    for (const auto& local : *gids) {
      if (local.rfind("cbdc-", 0) != 0 || !local.ends_with(".s" + std::to_string(m_config.shard))) {
        continue;
      }
      if (auto rolled = m_db->finish_prepared(local, false);
          !rolled && rolled.code() != status_code::not_found) {
        return rolled.err();
      }
      std::fprintf(stderr, "cbdc-settle: prepared %s rolled back (one shard, no coordinator)\n",
                   local.c_str());
    }
    return ok_status();
  }
  if (m_config.coordinator_endpoint.empty()) {
    return error{status_code::unavailable,
                 std::to_string(gids->size()) +
                     " in-doubt prepared transaction(s) and no --coordinator to ask about them"};
  }
  socket_options opts = m_config.net;
  opts.timeout_ms = 2000;
  rpc_client coordinator(m_config.coordinator_endpoint, opts);
  constexpr int k_max_rounds = 60;  // about two minutes with the coordinator away
  for (const auto& local : *gids) {
    const auto suffix = local.rfind(".s");
    if (local.rfind("cbdc-", 0) != 0 || suffix == std::string::npos ||
        local.substr(suffix + 2) != std::to_string(m_config.shard)) {
      continue;  // not a settlement shard's, or another shard's in the same database
    }
    const auto gid = coordinator_gid(local);
    bool done = false;
    for (int round = 0; round < k_max_rounds && !done; ++round) {
      wire::Envelope req;
      req.mutable_get_decision()->set_gid(gid);
      auto answer = coordinator.call(std::move(req));
      if (answer && answer->payload_case() == wire::Envelope::kDecision &&
          answer->decision().outcome() != 3) {
        const bool commit = answer->decision().outcome() == 1;
        if (auto finished = m_db->finish_prepared(local, commit);
            !finished && finished.code() != status_code::not_found) {
          return finished.err();
        }
        std::fprintf(stderr, "cbdc-settle: in-doubt %s resolved: %s\n", gid.c_str(),
                     commit ? "commit" : "abort");
        done = true;
      } else {
        std::this_thread::sleep_for(std::chrono::seconds{1});
      }
    }
    if (!done) {
      return error{status_code::unavailable, "the coordinator did not decide " + gid};
    }
  }
  return ok_status();
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

void engine::commit_two_phase(store& db, commit_job& job) {
  auto& p = job.accepted.front();
  if (job.what == commit_job::kind::prepare) {
    commit_item item{&job.tx, p.client_request_id, job.items.front().inputs, job.outputs};
    auto prepared = db.prepare(job.local_gid, job.seq, unix_now_us(), item);
    mark_committed(job.ticket);
    if (!prepared) {
      // Memory holds the inputs for this gid until the coordinator, told of the failure,
      // aborts it (a prepare that did happen unseen is then rolled back too).
      std::fprintf(stderr, "cbdc-settle: prepare %s failed: %s\n", job.local_gid.c_str(),
                   to_string(prepared.err()).c_str());
      p.on_prepared(prepared.err(), {});
      return;
    }
    p.on_prepared(error{status_code::ok, ""}, item.inputs);
    return;
  }
  auto finished = db.finish_prepared(job.local_gid, job.commit);
  mark_committed(job.ticket);
  if (!finished && finished.code() != status_code::not_found) {
    // The decision is durable at the coordinator, which sends it again until it is done.
    std::fprintf(stderr, "cbdc-settle: %s %s failed: %s\n", job.commit ? "commit" : "rollback",
                 job.local_gid.c_str(), to_string(finished.err()).c_str());
    p.on_resolved(finished.err());
    return;
  }
  if (job.commit && !job.outputs.empty()) {
    receipt r;
    r.tx_id = job.tx.id;
    r.shard = m_config.shard;
    r.batch_seq = job.seq;
    r.settled_at_us = unix_now_us();
    publish({&job.tx}, r);
  }
  // Not found: resolved before (a repeated word from the coordinator).
  p.on_resolved(error{status_code::ok, ""});
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
    std::fprintf(stderr,
                 "cbdc-settle: batch %llu of %zu did not commit (%s); committing it in parts\n",
                 static_cast<unsigned long long>(job.seq), job.items.size(),
                 to_string(committed.err()).c_str());
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

void engine::prepare(std::string gid, signed_tx tx, prepared_fn done) {
  pending p;
  p.what = op::prepare;
  p.tx = std::move(tx);
  p.client_request_id = std::move(gid);
  p.on_prepared = std::move(done);
  enqueue(std::move(p));
}

void engine::resolve(std::string gid, bool commit, resolved_fn done) {
  pending p;
  p.what = op::resolve;
  p.client_request_id = std::move(gid);
  p.commit = commit;
  p.on_resolved = std::move(done);
  enqueue(std::move(p));
}

void engine::verify_loop() {
  // Verification is the bulk of the CPU and can wait a little; the batcher, the commit threads
  // and PostgreSQL's backends are each a step of every payment's path. Nice 10 lets those run
  // as soon as they wake, rather than a slice later, so a lightly loaded shard answers in a few
  // milliseconds; verification still takes all the CPU they leave. (Linux: per thread.)
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), k_verify_nice) != 0) {
    std::fprintf(stderr, "cbdc-settle: could not lower the verifiers' priority: %s\n",
                 std::strerror(errno));
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

void engine::add_unspent(const signed_tx& stx, std::uint32_t index, std::uint64_t ticket) {
  const auto& out = stx.tx.outputs.at(index);
  const auto id = token_id_of(stx.tx.prof, stx.id, index);
  put_unspent(id,
              unspent_token{token_info{id, out.cur, out.amount_minor, out.owner, stx.id, false, {}},
                            ticket});
}

namespace {

auto owner_hash(const public_key& owner) -> std::uint64_t {
  const std::string_view raw{reinterpret_cast<const char*>(owner.raw.data()), owner.raw.size()};
  return std::hash<std::string_view>{}(raw) ^ static_cast<std::uint64_t>(owner.prof);
}

}  // namespace

void engine::put_unspent(const hash256& id, unspent_token t) {
  const auto owner = owner_hash(t.info.owner);
  std::lock_guard lock(m_registry_mutex);
  m_void.erase(id);  // made again, by the same transaction sent again
  m_unspent.emplace(id, std::move(t));
  auto& ids = m_by_owner[owner];
  if (ids.size() == ids.capacity()) {
    compact(ids);  // before it would grow: amortised over the appends since the last time
  }
  ids.push_back(id);
  if (m_by_owner.size() >= m_owner_sweep_at) {
    sweep_owners();
  }
}

void engine::sweep_owners() {
  for (auto& [owner, ids] : m_by_owner) {
    compact(ids);
    ids.shrink_to_fit();
  }
  boost::unordered::erase_if(m_by_owner, [](const auto& entry) { return entry.second.empty(); });
  m_owner_sweep_at = std::max<std::size_t>(1024, 2 * m_by_owner.size());
}

void engine::take_unspent(const hash256& id) {
  std::lock_guard lock(m_registry_mutex);
  m_unspent.erase(id);
}

void engine::compact(std::vector<hash256>& ids) const {
  std::erase_if(ids, [&](const hash256& id) { return !m_unspent.contains(id); });
  // A token given back by an aborted cross-shard transaction is appended again.
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

auto engine::list_unspent(const public_key& owner, std::size_t limit) -> std::vector<token_info> {
  std::set<std::uint64_t> in_flight;
  std::uint64_t issued = 0;
  {
    std::lock_guard lock(m_jobs_mutex);
    in_flight = m_in_flight;
    issued = m_tickets_issued;
  }
  const auto committed = [&](std::uint64_t ticket) {
    return ticket == 0 || (ticket <= issued && !in_flight.contains(ticket));
  };
  std::vector<token_info> out;
  {
    std::lock_guard lock(m_registry_mutex);
    const auto it = m_by_owner.find(owner_hash(owner));
    if (it == m_by_owner.end()) {
      return out;
    }
    auto& ids = it->second;
    compact(ids);
    if (ids.empty()) {
      m_by_owner.erase(it);
      return out;
    }
    for (const auto& id : ids) {
      const auto& t = m_unspent.at(id);
      if (t.info.owner == owner && committed(t.created_by_job) && !m_void.contains(id)) {
        out.push_back(t.info);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const token_info& a, const token_info& b) {
    return a.amount_minor != b.amount_minor ? a.amount_minor > b.amount_minor
                                            : a.token_id < b.token_id;
  });
  if (out.size() > limit) {
    out.resize(limit);
  }
  return out;
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

void engine::do_prepare(pending& p) {
  const auto& gid = p.client_request_id;
  if (!valid_gid(gid)) {
    p.on_prepared(error{status_code::malformed, "a gid is \"cbdc-\" and 32 hex digits"}, {});
    return;
  }
  if (!p.verified) {
    p.on_prepared(p.verified.err(), {});
    return;
  }
  if (m_reservations.contains(gid)) {
    p.on_prepared(error{status_code::bad_request, gid + " is prepared already"}, {});
    return;
  }
  if (m_reservations.size() >= m_config.max_prepared) {
    p.on_prepared(error{status_code::overloaded, std::to_string(m_reservations.size()) +
                                                     " cross-shard parts are prepared here, the "
                                                     "most at once; retry later"},
                  {});
    return;
  }
  std::vector<token_info> inputs;
  std::vector<std::uint64_t> creators;
  const auto collected = collect_inputs(p.tx, true, {}, inputs, creators);
  if (collected.status != status_code::ok) {
    p.on_prepared(error{collected.status, collected.detail}, {});
    return;
  }
  if (p.tx.tx.kind == tx_kind::issue || inputs.empty()) {
    // No input here: a replay of a settled transaction shows as its tx row.
    if (auto first = settled_before(p.tx.id)) {
      p.on_prepared(error{status_code::already_settled, first->detail}, {});
      return;
    }
  }
  // The same validator as a submission's: whatever this shard can see of the transaction
  // (its inputs here, the signatures of their owners, the issuer's rules) is checked here.
  const bool every_input_here = inputs.size() == p.tx.tx.inputs.size();
  if (auto checked = check_value_and_signers(p.tx, inputs, m_config, !every_input_here); !checked) {
    p.on_prepared(checked.err(), {});
    return;
  }
  auto job = std::make_unique<commit_job>();
  job->ticket = next_ticket();
  for (const auto c : creators) {
    wait_for_creator(*job, c);
  }
  reservation held{p.tx, inputs, {}, job->ticket};
  for (std::uint32_t k = 0; k < p.tx.tx.outputs.size(); ++k) {
    if (shard_of(token_id_of(p.tx.tx.prof, p.tx.id, k), m_config.shard_count) == m_config.shard) {
      held.outputs.push_back(k);
    }
  }
  if (auto counted = count_supply(p.tx, inputs, &held.outputs); !counted) {
    p.on_prepared(counted.err(), {});
    return;
  }
  // Hold the inputs now; the commit thread writes and prepares, then answers.
  for (const auto& t : inputs) {
    take_unspent(t.token_id);
    m_locked.emplace(t.token_id, gid);
  }
  job->what = commit_job::kind::prepare;
  job->seq = ++m_batch_seq;
  job->local_gid = local_gid(gid, m_config.shard);
  job->tx = p.tx;
  job->outputs = held.outputs;
  job->items.push_back(commit_item{nullptr, gid, std::move(inputs), {}});
  m_reservations.emplace(gid, std::move(held));
  job->accepted.push_back(std::move(p));
  hand_over(std::move(job));
}

void engine::do_resolve(pending& p) {
  const auto& gid = p.client_request_id;
  if (!valid_gid(gid, true)) {
    p.on_resolved(error{status_code::malformed, "a gid is \"cbdc-\" and 32 hex digits"});
    return;
  }
  auto job = std::make_unique<commit_job>();
  job->ticket = next_ticket();
  job->what = commit_job::kind::finish;
  job->seq = m_batch_seq;
  job->local_gid = local_gid(gid, m_config.shard);
  job->commit = p.commit;
  const auto it = m_reservations.find(gid);
  if (it != m_reservations.end()) {
    // The coordinator's decision is durable, so memory takes it now; the commit thread makes
    // PostgreSQL follow before answering. A later spend of a new output, or of an input given
    // back, commits after this job (its ticket), and this job after the prepare.
    auto& held = it->second;
    wait_for_creator(*job, held.prepared_by);
    if (!p.commit) {
      (void)count_supply(held.tx, held.inputs, &held.outputs, -1);
    }
    for (const auto& t : held.inputs) {
      m_locked.erase(t.token_id);
      if (!p.commit) {
        put_unspent(t.token_id, unspent_token{t, job->ticket});
      }
    }
    if (p.commit) {
      for (const auto k : held.outputs) {
        add_unspent(held.tx, k, job->ticket);
      }
    }
    job->tx = std::move(held.tx);
    job->outputs = std::move(held.outputs);
    m_reservations.erase(it);
  }
  job->accepted.push_back(std::move(p));
  hand_over(std::move(job));
}

}  // namespace cbdc::settlement
