// The engine as a participant in cross-shard two-phase commit: preparing a part
// (PREPARE TRANSACTION, its inputs held), resolving it on the coordinator's decision (COMMIT or
// ROLLBACK PREPARED), and parts left in doubt by a crash resolved at start.
#include "settlement/engine.hpp"

#include <algorithm>

#include "core/clock.hpp"
#include "platform/log.hpp"

namespace cbdc::settlement {
namespace {

/// PostgreSQL's prepared-transaction ids are unique across a whole cluster, and shards may share
/// one: each shard prepares the coordinator's gid under "<gid>.s<shard>".
auto local_gid(const std::string& gid, std::uint32_t shard) -> std::string {
  return gid + ".s" + std::to_string(shard);
}

auto coordinator_gid(const std::string& local) -> std::string {
  return local.substr(0, local.rfind(".s"));
}

}  // namespace

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
      logging::info("prepared {} rolled back (one shard, no coordinator)", local);
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
        logging::info("in-doubt {} resolved: {}", gid, commit ? "commit" : "abort");
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

void engine::commit_two_phase(store& db, commit_job& job) {
  auto& p = job.accepted.front();
  if (job.what == commit_job::kind::prepare) {
    commit_item item{&job.tx, p.client_request_id, job.items.front().inputs, job.outputs};
    auto prepared = db.prepare(job.local_gid, job.seq, unix_now_us(), item);
    mark_committed(job.ticket);
    if (!prepared) {
      // Memory holds the inputs for this gid until the coordinator, told of the failure,
      // aborts it (a prepare that did happen unseen is then rolled back too).
      logging::warn("prepare {} failed: {}", job.local_gid, to_string(prepared.err()));
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
    logging::warn("{} {} failed: {}", job.commit ? "commit" : "rollback", job.local_gid,
                  to_string(finished.err()));
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
