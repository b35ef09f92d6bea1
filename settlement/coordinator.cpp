// The coordinator: cross-shard transactions by PostgreSQL two-phase commit, its decision logged
// durably first, in-doubt transactions resolved after a crash.
#include "settlement/coordinator.hpp"

#include <chrono>

#include <cstdio>
#include <future>
#include <pqxx/pqxx>
#include "core/clock.hpp"
#include "platform/log.hpp"

namespace cbdc::settlement {
namespace {

auto shards_literal(const std::vector<std::uint32_t>& shards) -> std::string {
  std::vector<std::int64_t> v(shards.begin(), shards.end());
  return pg::int_array(v);
}

auto parse_shards(const std::string& literal) -> std::vector<std::uint32_t> {
  // "{0,2}"
  std::vector<std::uint32_t> out;
  std::uint32_t cur = 0;
  bool any = false;
  for (const char c : literal) {
    if (c >= '0' && c <= '9') {
      cur = cur * 10 + static_cast<std::uint32_t>(c - '0');
      any = true;
    } else if (any) {
      out.push_back(cur);
      cur = 0;
      any = false;
    }
  }
  return out;
}

enum : std::uint32_t { k_outcome_commit = 1, k_outcome_abort = 2, k_outcome_pending = 3 };

}  // namespace

auto coordinator_roles() -> role_table {
  return role_table{"the coordinator",
                    {
                        {wire::Envelope::kSubmitTx, k_operator_nodes},
                        {wire::Envelope::kGetDecision, {role::shard}},
                    }};
}

coordinator::coordinator(coordinator_config config) : m_config(std::move(config)), m_jobs(10'000) {}

auto coordinator::start(coordinator_config config) -> result<std::unique_ptr<coordinator>> {
  if (config.shard_endpoints.size() < 2) {
    return error{status_code::bad_request, "a coordinator needs at least two shards"};
  }
  config.rules.shard_count = static_cast<std::uint32_t>(config.shard_endpoints.size());
  std::unique_ptr<coordinator> c(new coordinator(std::move(config)));
  socket_options opts = c->m_config.net;
  opts.timeout_ms = 5000;
  for (const auto& ep : c->m_config.shard_endpoints) {
    c->m_shards.push_back(std::make_unique<rpc_client>(ep, opts));
  }
  auto conn = pg::connect_migrated(c->m_config.db_url, "coordinator", coordinator_migrations());
  if (!conn) {
    return conn.err();
  }
  try {
    // What was being prepared when the last incarnation stopped is aborted (presumed abort).
    pqxx::work tx(**conn);
    const auto aborted = tx.exec(
        "UPDATE coordinator.decision SET state = 'abort', decided_at = now() WHERE state = "
        "'preparing'");
    tx.commit();
    if (aborted.affected_rows() > 0) {
      logging::info("coordinator: {} unfinished prepare(s) aborted", aborted.affected_rows());
    }
  } catch (const std::exception& e) {
    return error{status_code::db_error, e.what()};
  }
  for (unsigned i = 0; i < c->m_config.workers; ++i) {
    c->m_workers.emplace_back([raw = c.get()] { raw->work(); });
  }
  c->m_redriver = std::thread([raw = c.get()] { raw->redrive_loop(); });
  c->m_server = std::make_unique<rpc_server>(
      c->m_config.endpoint,
      [raw = c.get()](wire::Envelope&& req, const peer&, const rpc_server::reply_fn& reply) {
        job j{std::move(req), reply};
        if (!raw->m_jobs.try_push(j)) {
          reply(error_envelope(0, error{status_code::overloaded, "coordinator queue is full"}));
        }
      },
      coordinator_roles(), c->m_config.net);
  if (auto bound = c->m_server->start(); !bound) {
    return bound.err();
  }
  return c;
}

coordinator::~coordinator() {
  if (m_server) {
    m_server->stop();
  }
  m_stop = true;
  m_jobs.close();
  for (auto& w : m_workers) {
    w.join();
  }
  if (m_redriver.joinable()) {
    m_redriver.join();
  }
}

void coordinator::work() {
  auto conn = pg::connect(m_config.db_url);
  CBDC_ASSERT(conn.ok());
  auto& db = **conn;
  while (auto j = m_jobs.pop()) {
    wire::Envelope answer;
    if (j->request.payload_case() == wire::Envelope::kGetDecision) {
      j->reply(decision_of(db, j->request.get_decision().gid()));
      continue;
    }
    if (j->request.payload_case() != wire::Envelope::kSubmitTx) {
      j->reply(error_envelope(
          0, error{status_code::malformed, "the coordinator answers SubmitTx and GetDecision"}));
      continue;
    }
    auto tx = from_wire(j->request.submit_tx().tx());
    receipt r;
    if (!tx) {
      r.status = tx.code();
      r.detail = tx.err().message;
    } else {
      bool mine = false;
      {
        std::lock_guard lock(m_in_flight_mutex);
        mine = m_in_flight.insert(tx->id).second;
      }
      if (!mine) {
        r.tx_id = tx->id;
        r.status = status_code::input_locked;
        r.detail = "the same transaction is being committed now";
      } else {
        r = settle(db, *tx);
        std::lock_guard lock(m_in_flight_mutex);
        m_in_flight.erase(tx->id);
      }
    }
    r.shard = m_config.rules.shard_count;  // the coordinator's number: one past the shards
    *answer.mutable_receipt() = to_wire(r);
    j->reply(std::move(answer));
  }
}

auto coordinator::decision_of(pqxx::connection& db, const std::string& gid) -> wire::Envelope {
  wire::Envelope answer;
  auto* d = answer.mutable_decision();
  try {
    pqxx::read_transaction tx(db);
    const auto rows = tx.exec_params("SELECT state FROM coordinator.decision WHERE gid = $1", gid);
    // A gid never logged was never prepared by this coordinator's protocol: abort.
    std::uint32_t outcome = k_outcome_abort;
    if (!rows.empty()) {
      const auto state = rows[0][0].as<std::string>();
      outcome = state == "commit"  ? k_outcome_commit
                : state == "abort" ? k_outcome_abort
                                   : k_outcome_pending;
    }
    d->set_status(0);
    d->set_outcome(outcome);
  } catch (const std::exception& e) {
    return error_envelope(0, error{status_code::db_error, e.what()});
  }
  return answer;
}

auto coordinator::settle(pqxx::connection& db, const signed_tx& stx) -> receipt {
  receipt r;
  r.tx_id = stx.id;
  const auto refuse = [&](status_code code, std::string detail) {
    r.status = code;
    r.detail = std::move(detail);
    return r;
  };
  if (auto checked = check_stateless(stx, m_config.rules, false); !checked) {
    return refuse(checked.code(), checked.err().message);
  }
  const auto shards = shards_of(stx.tx, stx.id, m_config.rules.shard_count);
  if (shards.size() < 2) {
    return refuse(status_code::wrong_shard, "the transaction lives on shard " +
                                                std::to_string(shards.front()) + "; send it there");
  }
  std::string gid;
  try {
    pqxx::work tx(db);
    const auto prior = tx.exec_params(
        "SELECT (extract(epoch FROM decided_at) * 1000000)::bigint FROM coordinator.decision "
        "WHERE tx_id = decode($1, 'hex') AND state = 'commit'",
        stx.id.hex());
    if (!prior.empty()) {
      r.status = status_code::already_settled;
      r.detail = "committed across shards before";
      r.settled_at_us = prior[0][0].as<std::int64_t>();
      return r;
    }
    // Unguessable, so that nobody can address a part of it to a shard before the coordinator.
    gid = "cbdc-" + random_hex(16);
    tx.exec_params(
        "INSERT INTO coordinator.decision (gid, tx_id, shards, state) VALUES ($1, decode($2, "
        "'hex'), $3::int[], 'preparing')",
        gid, stx.id.hex(), shards_literal(shards));
    tx.commit();
  } catch (const std::exception& e) {
    return refuse(status_code::db_error, e.what());
  }

  // Phase one: every shard prepares its part, all at once.
  std::vector<std::promise<result<wire::Envelope>>> answers(shards.size());
  for (std::size_t i = 0; i < shards.size(); ++i) {
    wire::Envelope req;
    req.mutable_prepare()->set_gid(gid);
    *req.mutable_prepare()->mutable_tx() = to_wire(stx);
    m_shards[shards[i]]->call_async(std::move(req), [&answers, i](result<wire::Envelope> a) {
      answers[i].set_value(std::move(a));
    });
  }
  std::vector<token_info> inputs;
  error refusal{status_code::ok, ""};
  for (auto& a : answers) {
    auto got = a.get_future().get();
    if (!got) {
      refusal = refusal.code == status_code::ok ? got.err() : refusal;
      continue;
    }
    const auto status = answer_status(*got);
    if (status.code != status_code::ok) {
      refusal = refusal.code == status_code::ok ? status : refusal;
      continue;
    }
    for (const auto& t : got->prepared().inputs()) {
      auto token = token_from_wire(t);
      if (token) {
        inputs.push_back(std::move(*token));
      }
    }
  }
  if (m_config.crash_after == "prepare") {
    logging::critical("coordinator: crash after prepare (test hook)");
    std::abort();
  }
  if (refusal.code == status_code::ok) {
    if (inputs.size() != stx.tx.inputs.size()) {
      refusal =
          error{status_code::internal, "shards returned " + std::to_string(inputs.size()) + " of " +
                                           std::to_string(stx.tx.inputs.size()) + " inputs"};
    } else if (auto checked = check_value_and_signers(stx, inputs, m_config.rules); !checked) {
      refusal = checked.err();
    }
  }
  const bool commit = refusal.code == status_code::ok;
  // The decision, durably, before any shard hears it.
  try {
    pqxx::work tx(db);
    tx.exec_params(
        "UPDATE coordinator.decision SET state = $2, status = $3, decided_at = now() WHERE gid = "
        "$1",
        gid, std::string{commit ? "commit" : "abort"}, static_cast<std::int64_t>(refusal.code));
    tx.commit();
  } catch (const std::exception& e) {
    // Not logged: the decision is abort (the restart aborts 'preparing' rows); tell the shards.
    carry_out(db, gid, shards, false);
    return refuse(status_code::db_error, e.what());
  }
  if (m_config.crash_after == "decision") {
    logging::critical("coordinator: crash after decision (test hook)");
    std::abort();
  }
  carry_out(db, gid, shards, commit);
  if (!commit) {
    return refuse(refusal.code, refusal.message);
  }
  r.status = status_code::ok;
  r.settled_at_us = unix_now_us();
  return r;
}

auto coordinator::carry_out(pqxx::connection& db, const std::string& gid,
                            const std::vector<std::uint32_t>& shards, bool commit) -> bool {
  bool all = true;
  for (const auto s : shards) {
    bool done = false;
    for (int attempt = 0; attempt < 3 && !done && !m_stop; ++attempt) {
      wire::Envelope req;
      req.mutable_resolve()->set_gid(gid);
      req.mutable_resolve()->set_commit(commit);
      auto answer = m_shards.at(s)->call(std::move(req));
      done = answer.ok() && answer_status(*answer).code == status_code::ok;
    }
    all = all && done;
  }
  if (all) {
    try {
      // "done" only spares the redriver a repeat (shards answer repeats with ok), so it need
      // not wait for its own fsync.
      pqxx::work tx(db);
      tx.exec("SET LOCAL synchronous_commit = off");
      tx.exec_params("UPDATE coordinator.decision SET done = true WHERE gid = $1", gid);
      tx.commit();
    } catch (const std::exception&) {
      return false;  // the redriver will send it again; shards answer a repeat with ok
    }
  }
  return all;
}

void coordinator::redrive_loop() {
  auto conn = pg::connect(m_config.db_url);
  CBDC_ASSERT(conn.ok());
  while (!m_stop) {
    std::vector<std::tuple<std::string, std::vector<std::uint32_t>, bool>> open;
    try {
      pqxx::read_transaction tx(**conn);
      for (const auto& row :
           tx.exec("SELECT gid, shards::text, state = 'commit' FROM coordinator.decision WHERE NOT "
                   "done AND state <> 'preparing' AND decided_at < now() - interval '2 seconds' "
                   "ORDER BY created_at LIMIT 1000")) {
        open.emplace_back(row[0].as<std::string>(), parse_shards(row[1].as<std::string>()),
                          row[2].as<bool>());
      }
    } catch (const std::exception&) {
      open.clear();
    }
    for (const auto& [gid, shards, commit] : open) {
      carry_out(**conn, gid, shards, commit);
    }
    for (int i = 0; i < 10 && !m_stop; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }
}

}  // namespace cbdc::settlement
