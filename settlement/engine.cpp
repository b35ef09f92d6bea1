#include "settlement/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <unordered_set>

namespace cbdc::settlement {
namespace {

auto now_us() -> std::int64_t {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

auto short_key(const public_key& key) -> std::string {
  return key.hex().substr(0, 18);
}

}  // namespace

auto check_stateless(const signed_tx& stx, const engine_config& config) -> status {
  const auto& tx = stx.tx;
  if (tx.prof != config.prof) {
    return error{status_code::profile_mismatch,
                 "a " + std::string{profile_name(tx.prof)} + " transaction on a " +
                     std::string{profile_name(config.prof)} + " deployment"};
  }
  // The shape of each kind.
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
  std::map<currency, std::int64_t> out_sums;
  for (const auto& out : tx.outputs) {
    if (out.amount_minor <= 0) {
      return error{status_code::amount_invalid,
                   "output amount " + std::to_string(out.amount_minor) + " is not positive"};
    }
    auto sum = checked_add(out_sums[out.cur], out.amount_minor);
    if (!sum) {
      return error{status_code::amount_invalid, "outputs overflow 64 bits"};
    }
    out_sums[out.cur] = *sum;
  }
  {
    std::unordered_set<hash256> seen;
    for (const auto& in : tx.inputs) {
      if (!seen.insert(in).second) {
        return error{status_code::duplicate_input, "input " + in.hex() + " appears twice"};
      }
    }
  }
  if (stx.sigs.empty()) {
    return error{status_code::missing_signature, "the transaction carries no signature"};
  }
  std::set<bytes> signers;
  for (const auto& s : stx.sigs) {
    if (!signers.insert(s.signer.encode()).second) {
      return error{status_code::malformed, "two signatures by key " + short_key(s.signer)};
    }
  }
  for (const auto& s : stx.sigs) {
    if (!verify(s.signer, stx.body, s.sig)) {
      return error{status_code::bad_signature,
                   "signature by " + short_key(s.signer) + " does not verify"};
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

auto engine::start(engine_config config, std::unique_ptr<store> db, settled_fn on_settled)
    -> result<std::unique_ptr<engine>> {
  CBDC_ASSERT(db != nullptr);
  CBDC_ASSERT(config.max_batch > 0 && config.queue_capacity > 0);
  std::unique_ptr<engine> e(new engine(std::move(config), std::move(db), std::move(on_settled)));
  auto loaded = e->m_db->load_unspent([&](token_info&& t) {
    const auto id = t.token_id;
    e->m_unspent.emplace(id, std::move(t));
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
  unsigned n = e->m_config.verify_threads;
  if (n == 0) {
    n = std::max(1U, std::thread::hardware_concurrency());
  }
  for (unsigned i = 0; i < n; ++i) {
    e->m_verifiers.emplace_back([raw = e.get()] { raw->verify_loop(); });
  }
  e->m_batcher = std::thread([raw = e.get()] { raw->batch_loop(); });
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
}

void engine::submit(signed_tx tx, std::string client_request_id, done_fn done) {
  const auto id = tx.id;
  pending p{std::move(tx), std::move(client_request_id), std::move(done), ok_status()};
  if (!m_incoming.try_push(p)) {
    receipt r;
    r.status = status_code::overloaded;
    r.detail = "settlement queue is full; retry later";
    r.tx_id = id;
    r.shard = m_config.shard;
    p.done(r);
  }
}

void engine::verify_loop() {
  while (auto p = m_incoming.pop()) {
    p->verified = check_stateless(p->tx, m_config);
    if (!m_verified.try_push(*p)) {
      receipt r;
      r.status = status_code::overloaded;
      r.detail = "settlement queue is full; retry later";
      r.tx_id = p->tx.id;
      r.shard = m_config.shard;
      p->done(r);
    }
  }
}

void engine::batch_loop() {
  std::vector<pending> batch;
  batch.reserve(m_config.max_batch);
  bool open = true;
  while (open) {
    batch.clear();
    // Wait for a first transaction, then give the batch batch_wait_ms to fill.
    open = m_verified.pop_some(batch, m_config.max_batch,
                               std::chrono::steady_clock::now() + std::chrono::milliseconds{200});
    if (batch.empty()) {
      continue;
    }
    const auto fill_until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds{m_config.batch_wait_ms};
    while (batch.size() < m_config.max_batch && std::chrono::steady_clock::now() < fill_until) {
      if (!m_verified.pop_some(batch, m_config.max_batch, fill_until)) {
        break;
      }
    }
    settle_batch(batch);
  }
}

auto engine::check_against_registry(pending& p, std::unordered_map<hash256, token_info>& spent_here,
                                    std::vector<token_info>& inputs) -> receipt {
  const auto& stx = p.tx;
  const auto& tx = stx.tx;
  receipt r;
  r.tx_id = stx.id;
  r.shard = m_config.shard;
  const auto refuse = [&](status_code code, std::string detail) {
    r.status = code;
    r.detail = std::move(detail);
    return r;
  };
  const auto settled_before = [&]() -> std::optional<receipt> {
    auto found = m_db->find_tx(stx.id, m_config.shard);
    if (!found) {
      return std::nullopt;
    }
    receipt first = found->first;
    first.status = status_code::already_settled;
    first.detail = "settled before in batch " + std::to_string(first.batch_seq);
    return first;
  };
  std::set<bytes> signers;
  for (const auto& s : stx.sigs) {
    signers.insert(s.signer.encode());
  }
  std::set<bytes> required;

  if (tx.kind == tx_kind::issue) {
    const currency cur = tx.outputs.front().cur;
    for (const auto& out : tx.outputs) {
      if (out.cur != cur) {
        return refuse(status_code::currency_mismatch, "an issuance is in one currency");
      }
    }
    const auto issuer = m_config.issuers.find(cur);
    if (issuer == m_config.issuers.end()) {
      return refuse(status_code::not_permitted,
                    "no " + std::string{currency_code(cur)} + " issuer on this shard");
    }
    required.insert(issuer->second.encode());
    if (m_unspent.contains(token_id_of(tx.prof, stx.id, 0))) {
      if (auto first = settled_before()) {
        return *first;
      }
    }
  } else {
    bool missing = false;
    for (const auto& in : tx.inputs) {
      if (const auto it = m_unspent.find(in); it != m_unspent.end()) {
        inputs.push_back(it->second);
        continue;
      }
      if (const auto it = spent_here.find(in); it != spent_here.end()) {
        return refuse(status_code::input_spent,
                      "input " + in.hex() + " spent by " + it->second.spent_by.hex());
      }
      missing = true;
      break;
    }
    if (missing) {
      if (auto first = settled_before()) {
        return *first;
      }
      for (const auto& in : tx.inputs) {
        if (m_unspent.contains(in)) {
          continue;
        }
        auto known = m_db->find_token(in);
        if (known) {
          return refuse(status_code::input_spent,
                        "input " + in.hex() + " spent by " + known->spent_by.hex());
        }
        if (known.code() != status_code::not_found) {
          return refuse(known.code(), known.err().message);
        }
        return refuse(status_code::input_unknown, "input " + in.hex() + " does not exist");
      }
    }
    for (const auto& t : inputs) {
      required.insert(t.owner.encode());
    }
    std::map<currency, std::int64_t> in_sums;
    std::map<currency, std::int64_t> out_sums;
    for (const auto& t : inputs) {
      auto sum = checked_add(in_sums[t.cur], t.amount_minor);
      if (!sum) {
        return refuse(status_code::amount_invalid, "inputs overflow 64 bits");
      }
      in_sums[t.cur] = *sum;
    }
    for (const auto& o : tx.outputs) {
      out_sums[o.cur] += o.amount_minor;  // checked in check_stateless
    }
    if (tx.kind == tx_kind::redeem) {
      if (in_sums.size() != 1) {
        return refuse(status_code::currency_mismatch, "a redemption is in one currency");
      }
      const auto issuer = m_config.issuers.find(in_sums.begin()->first);
      if (issuer == m_config.issuers.end()) {
        return refuse(
            status_code::not_permitted,
            "no " + std::string{currency_code(in_sums.begin()->first)} + " issuer on this shard");
      }
      required.insert(issuer->second.encode());
    } else {
      for (const auto& [cur, amount] : out_sums) {
        if (!in_sums.contains(cur)) {
          return refuse(status_code::currency_mismatch,
                        "outputs in " + std::string{currency_code(cur)} + " but no inputs");
        }
      }
      for (const auto& [cur, amount] : in_sums) {
        const auto out = out_sums.find(cur);
        if (out == out_sums.end()) {
          return refuse(status_code::currency_mismatch,
                        "inputs in " + std::string{currency_code(cur)} + " but no outputs");
        }
        if (out->second != amount) {
          return refuse(status_code::value_not_conserved,
                        std::string{currency_code(cur)} + " inputs " + std::to_string(amount) +
                            " != outputs " + std::to_string(out->second));
        }
      }
    }
  }
  for (const auto& key : required) {
    if (!signers.contains(key)) {
      return refuse(status_code::missing_signature, "no signature by " + to_hex(key).substr(0, 18));
    }
  }
  for (const auto& key : signers) {
    if (!required.contains(key)) {
      return refuse(status_code::bad_signature,
                    "signature by " + to_hex(key).substr(0, 18) + ", which owns no input");
    }
  }
  r.status = status_code::ok;
  return r;
}

void engine::settle_batch(std::vector<pending>& batch) {
  std::vector<receipt> receipts(batch.size());
  std::vector<commit_item> accepted;
  std::vector<std::size_t> accepted_index;
  std::unordered_map<hash256, std::size_t> in_batch;  // tx id -> index of its first copy
  std::unordered_map<hash256, token_info> spent_here;
  std::vector<hash256> created_here;
  std::vector<std::size_t> duplicates;

  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& p = batch[i];
    if (!p.verified) {
      receipts[i] =
          receipt{p.verified.code(), p.verified.err().message, p.tx.id, m_config.shard, 0, 0};
      continue;
    }
    if (in_batch.contains(p.tx.id)) {
      duplicates.push_back(i);
      continue;
    }
    std::vector<token_info> inputs;
    receipts[i] = check_against_registry(p, spent_here, inputs);
    if (receipts[i].status != status_code::ok) {
      continue;
    }
    in_batch.emplace(p.tx.id, i);
    for (auto& t : inputs) {
      m_unspent.erase(t.token_id);
      t.spent = true;
      t.spent_by = p.tx.id;
      spent_here.emplace(t.token_id, t);
    }
    const auto& tx = p.tx.tx;
    for (std::uint32_t k = 0; k < tx.outputs.size(); ++k) {
      const auto tid = token_id_of(tx.prof, p.tx.id, k);
      m_unspent.emplace(tid, token_info{tid,
                                        tx.outputs[k].cur,
                                        tx.outputs[k].amount_minor,
                                        tx.outputs[k].owner,
                                        p.tx.id,
                                        false,
                                        {}});
      created_here.push_back(tid);
    }
    accepted.push_back(commit_item{&p.tx, p.client_request_id, std::move(inputs)});
    accepted_index.push_back(i);
  }

  if (!accepted.empty()) {
    const auto seq = m_batch_seq + 1;
    const auto at = now_us();
    auto committed = m_db->commit_batch(seq, at, accepted);
    if (!committed && committed.code() == status_code::internal) {
      // The database and memory disagree or the commit is in doubt: stop; the restart
      // reloads the truth from PostgreSQL and clients retry with the same ids.
      std::fprintf(stderr, "cbdc-settle: fatal: %s\n", to_string(committed.err()).c_str());
      std::abort();
    }
    if (!committed) {
      for (const auto& tid : created_here) {
        m_unspent.erase(tid);
      }
      for (auto& [tid, t] : spent_here) {
        t.spent = false;
        t.spent_by = {};
        m_unspent.emplace(tid, std::move(t));
      }
      for (const auto i : accepted_index) {
        receipts[i].status = committed.code();
        receipts[i].detail = committed.err().message;
      }
    } else {
      m_batch_seq = seq;
      for (const auto i : accepted_index) {
        receipts[i].batch_seq = seq;
        receipts[i].settled_at_us = at;
      }
      if (m_on_settled) {
        std::vector<const signed_tx*> txs;
        txs.reserve(accepted.size());
        for (const auto& item : accepted) {
          txs.push_back(item.tx);
        }
        m_on_settled(txs, receipts[accepted_index.front()]);
      }
    }
  }
  for (const auto i : duplicates) {
    receipts[i] = receipts[in_batch.at(batch[i].tx.id)];
    if (receipts[i].status == status_code::ok) {
      receipts[i].status = status_code::already_settled;
      receipts[i].detail = "settled before in batch " + std::to_string(receipts[i].batch_seq);
    }
  }
  m_unspent_count = m_unspent.size();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(receipts[i]);
  }
}

}  // namespace cbdc::settlement
