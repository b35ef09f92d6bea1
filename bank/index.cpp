// The bank's token index: what settlement's notifications say about the wallets it hosts (their
// tokens, balances and history), kept in PostgreSQL and in memory, caught up from settlement
// after a restart or a gap in the notifications, and read back for ListUnspent, balances and
// history. Part of class bank (bank.hpp).
#include <algorithm>
#include <pqxx/pqxx>

#include "bank/bank.hpp"
#include "bank/detail.hpp"
#include "payment/build.hpp"

namespace cbdc::bank {
using namespace detail;

auto bank::catch_up() -> status {
  if (m_config.settle_pub.empty()) {
    return ok_status();  // balances come from settlement itself
  }
  // Batches read again before the last one indexed: a cross-shard part commits under the
  // number of the batch that prepared it, which may be older than batches indexed since.
  constexpr std::uint64_t k_margin = 1'000;
  const raised filling(m_filling);
  for (std::uint32_t shard = 0; shard < m_settle.shard_count(); ++shard) {
    const auto seen = m_followed[shard];
    auto from = seen > k_margin ? seen - k_margin : 0;
    for (;;) {
      auto page = m_settle.settled_since(shard, from);
      if (!page) {
        return page.err();
      }
      wire::SettledBatch batch;
      for (auto& t : page->txs) {
        *batch.add_txs() = std::move(t);
      }
      if (auto indexed = index_many(batch); !indexed) {
        return indexed;
      }
      if (!page->more || page->through_batch_seq <= from) {
        break;
      }
      from = page->through_batch_seq;
    }
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    save_followed(tx);
    tx.commit();
    return ok_status();
  });
}

void bank::save_followed(pqxx::transaction_base& tx) {
  std::vector<std::int64_t> shards;
  std::vector<std::int64_t> seqs;
  for (const auto& [shard, seq] : m_followed) {
    shards.push_back(shard);
    seqs.push_back(static_cast<std::int64_t>(seq));
  }
  tx.exec_params(
      "INSERT INTO bank.follow (shard, batch_seq) SELECT s, b FROM unnest($1::int[], "
      "$2::bigint[]) AS f(s, b) ON CONFLICT (shard) DO UPDATE SET batch_seq = "
      "GREATEST(bank.follow.batch_seq, EXCLUDED.batch_seq)",
      pg::int_array(shards), pg::int_array(seqs));
}

auto bank::balance(const public_key& owner) -> result<std::int64_t> {
  if (!m_config.settle_pub.empty()) {
    // From the index, kept in memory as it follows settlement's notifications.
    const auto it = m_wallets.find(key_bytes(owner));
    if (it == m_wallets.end()) {
      return not_hosted(owner);
    }
    return it->second.balance_minor;
  }
  auto unspent = m_settle.list_unspent(owner);
  if (!unspent) {
    return unspent.err();
  }
  auto sums = payment::totals(*unspent);
  if (!sums) {
    return sums.err();
  }
  return (*sums)[m_config.limits.cur];
}

auto bank::index(const wire::TxSettled& settled) -> status {
  wire::SettledBatch one;
  *one.add_txs() = settled;
  return index_many(one);
}

auto bank::index_many(const wire::SettledBatch& batch) -> status {
  const auto hex_of = [](const std::string& raw) {
    return to_hex(byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
  };
  struct output {
    std::string raw_id;
    hosted_wallet* owner{nullptr};
    std::int64_t amount_minor{0};
    hash256 created_by;
  };
  std::vector<output> created;
  std::unordered_map<std::string, std::size_t> created_here;  ///< raw id -> index in created
  std::vector<std::string> tokens;
  std::vector<std::string> owners;
  std::vector<std::int64_t> amounts;
  std::vector<std::string> created_by;
  std::vector<std::string> spent_with;  ///< an output spent later in this batch: by what
  std::vector<std::string> spent;
  std::vector<std::string> spent_raw;
  std::vector<std::string> spent_by;
  const auto followed_before = m_followed;
  for (const auto& settled : batch.txs()) {
    auto& followed = m_followed[settled.shard()];
    if (!m_filling && followed > 0 && settled.batch_seq() > followed + 1) {
      // Batches between may have been lost on the way (settlement's buffer for this bank full):
      // read again from settlement by fill_gaps(), unless they arrive meanwhile (late).
      m_gaps.push_back(gap{settled.shard(), followed, settled.batch_seq()});
    } else if (!m_filling && settled.batch_seq() <= followed) {
      close_gaps(settled.shard(), settled.batch_seq());
    }
    followed = std::max<std::uint64_t>(followed, settled.batch_seq());
    const auto tx_id = hex_of(settled.tx_id());
    for (const auto& in : settled.spent()) {
      if (const auto here = created_here.find(in); here != created_here.end()) {
        // Created and spent within the batch. Its row may be there already (a batch read
        // again after a restart), where the insert changes nothing: the update marks it.
        spent_with[here->second] = tx_id;
        spent.push_back(hex_of(in));
        spent_by.push_back(tx_id);
      } else if (m_live.contains(in)) {
        spent.push_back(hex_of(in));
        spent_raw.push_back(in);
        spent_by.push_back(tx_id);
      }
    }
    for (const auto& out : settled.outputs()) {
      const auto hosted = m_wallets.find(out.owner());
      if (out.currency() == static_cast<std::uint32_t>(m_config.limits.cur) &&
          hosted != m_wallets.end()) {
        created_here[out.token_id()] = created.size();
        auto creator = id_from_wire(settled.tx_id());
        CBDC_ASSERT(creator.ok());  // settlement's own notification
        created.push_back(output{out.token_id(), &hosted->second, out.amount_minor(), *creator});
        tokens.push_back(hex_of(out.token_id()));
        owners.push_back(hex_of(out.owner()));
        amounts.push_back(out.amount_minor());
        created_by.push_back(tx_id);
        spent_with.emplace_back();
      }
    }
  }
  if (tokens.empty() && spent.empty()) {
    release_indexed(batch);
    return ok_status();  // nothing of ours
  }
  auto indexed = pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_prepared(k_index_settled, pg::text_array(tokens), pg::text_array(owners),
                     pg::int_array(amounts), pg::text_array(created_by), pg::text_array(spent),
                     pg::text_array(spent_by), pg::text_array(spent_with));
    save_followed(tx);
    tx.commit();
    for (std::size_t i = 0; i < created.size(); ++i) {
      if (spent_with[i].empty()) {
        token_live(std::move(created[i].raw_id), *created[i].owner, created[i].amount_minor,
                   created[i].created_by);
      } else {
        token_spent(created[i].raw_id);  // counted already when its payment was answered
      }
    }
    for (const auto& t : spent_raw) {
      token_spent(t);
    }
    release_indexed(batch);
    return ok_status();
  });
  if (!indexed && !m_filling) {
    // Not taken: what these notifications said is read again from settlement.
    for (const auto& [shard, seq] : m_followed) {
      const auto before = followed_before.find(shard);
      const auto from = before == followed_before.end() ? 0 : before->second;
      if (seq > from) {
        m_gaps.push_back(gap{shard, from, seq + 1});
      }
    }
    m_followed = followed_before;
  }
  return indexed;
}

void bank::close_gaps(std::uint32_t shard, std::uint64_t seq) {
  for (auto& g : m_gaps) {
    if (g.shard == shard && seq == g.after + 1) {
      g.after = seq;  // the first missing batch arrived after all
    }
  }
  std::erase_if(m_gaps, [](const gap& g) { return g.after + 1 >= g.before; });
}

auto bank::fill_gaps() -> status {
  const raised filling(m_filling);
  // Pages kept small: most gaps are batches with nothing in this bank's currency (or a
  // cross-shard part's prepare), a few rows.
  constexpr std::uint32_t k_page = 200;
  // Overlapping or adjacent gaps of a shard are read as one.
  auto gaps = std::exchange(m_gaps, {});
  std::sort(gaps.begin(), gaps.end(), [](const gap& a, const gap& b) {
    return a.shard != b.shard ? a.shard < b.shard : a.after < b.after;
  });
  std::vector<gap> merged;
  for (const auto& g : gaps) {
    if (!merged.empty() && merged.back().shard == g.shard && g.after < merged.back().before) {
      merged.back().before = std::max(merged.back().before, g.before);
    } else {
      merged.push_back(g);
    }
  }
  gaps = std::move(merged);
  for (std::size_t i = 0; i < gaps.size(); ++i) {
    auto& g = gaps[i];
    for (;;) {
      auto page = m_settle.settled_since(g.shard, g.after, k_page);
      wire::SettledBatch batch;
      if (page) {
        for (auto& t : page->txs) {
          *batch.add_txs() = std::move(t);
        }
      }
      auto indexed = page ? index_many(batch) : status{page.err()};
      if (!indexed) {
        m_gaps.insert(m_gaps.end(), gaps.begin() + static_cast<std::ptrdiff_t>(i), gaps.end());
        return indexed;
      }
      if (!page->more || page->through_batch_seq + 1 >= g.before) {
        break;
      }
      g.after = page->through_batch_seq;
    }
  }
  return ok_status();
}

void bank::release_indexed(const wire::SettledBatch& batch) {
  if (m_incoming.size() == 0) {
    return;
  }
  for (const auto& settled : batch.txs()) {
    if (auto id = id_from_wire(settled.tx_id())) {
      m_incoming.release(*id);  // another bank's payment that this one made room for
    }
  }
}

void bank::token_live(std::string raw_id, hosted_wallet& owner, std::int64_t amount_minor,
                      const hash256& created_by) {
  const auto [it, fresh] =
      m_live.try_emplace(std::move(raw_id), live_token{&owner, amount_minor, created_by});
  if (fresh) {
    owner.balance_minor += amount_minor;
    owner.live.insert(&it->first);
  }
}

void bank::token_answered_spent(const std::string& raw_id) {
  const auto it = m_live.find(raw_id);
  if (it == m_live.end() || it->second.answered_spent) {
    return;
  }
  auto& owner = *it->second.owner;
  owner.balance_minor -= it->second.amount_minor;
  CBDC_ASSERT(owner.balance_minor >= 0);
  owner.live.erase(&it->first);
  it->second.answered_spent = true;
}

void bank::token_spent(const std::string& raw_id) {
  token_answered_spent(raw_id);
  const auto it = m_live.find(raw_id);
  if (it != m_live.end()) {
    m_live.erase(it);
  }
}

auto bank::unspent(const public_key& owner, std::size_t limit)
    -> result<std::vector<settlement::token_info>> {
  const auto hosted = m_wallets.find(key_bytes(owner));
  if (hosted == m_wallets.end()) {
    return not_hosted(owner);
  }
  std::vector<settlement::token_info> out;
  if (m_config.settle_pub.empty()) {
    auto listed = m_settle.list_unspent(owner);
    if (!listed) {
      return listed.err();
    }
    for (auto& t : *listed) {
      if (t.cur == m_config.limits.cur) {
        out.push_back(std::move(t));
      }
    }
  } else {
    out.reserve(hosted->second.live.size());
    for (const auto* raw : hosted->second.live) {
      const auto& t = m_live.at(*raw);
      hash256 id;
      CBDC_ASSERT(raw->size() == id.data.size());
      std::copy(raw->begin(), raw->end(), id.data.begin());
      out.push_back(settlement::token_info{
          id, m_config.limits.cur, t.amount_minor, owner, t.created_by, false, {}});
    }
  }
  order_as_listed(out, limit);  // as settlement lists them
  return out;
}

auto bank::reconcile(const public_key& owner) -> status {
  if (!m_wallets.contains(key_bytes(owner))) {
    return not_hosted(owner);
  }
  auto unspent = m_settle.list_unspent(owner);
  if (!unspent) {
    return unspent.err();
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    std::vector<std::string> live;
    for (const auto& t : *unspent) {
      if (t.cur != m_config.limits.cur) {
        continue;
      }
      live.push_back(t.token_id.hex());
      tx.exec_params(
          "INSERT INTO bank.token_index (token_id, wallet_id, amount_minor, created_by) SELECT "
          "decode($1, 'hex'), wallet_id, $2, decode($3, 'hex') FROM bank.wallet WHERE owner_key = "
          "decode($4, 'hex') ON CONFLICT (token_id) DO NOTHING",
          t.token_id.hex(), t.amount_minor, t.created_by.hex(), owner.hex());
    }
    // Indexed as unspent but no longer unspent in settlement: spent while we were not listening.
    const auto gone = tx.exec_params(
        "UPDATE bank.token_index i SET spent_by = decode(repeat('00', 32), 'hex'), spent_at = "
        "now() FROM bank.wallet "
        "w WHERE w.wallet_id = i.wallet_id AND w.owner_key = decode($1, 'hex') AND i.spent_by IS "
        "NULL AND NOT (encode(i.token_id, 'hex') = ANY ($2::text[])) "
        "RETURNING encode(i.token_id, 'hex')",
        owner.hex(), pg::text_array(live));
    tx.commit();
    auto& w = m_wallets.at(key_bytes(owner));
    for (const auto& t : *unspent) {
      if (t.cur == m_config.limits.cur) {
        token_live(raw_of(t.token_id), w, t.amount_minor, t.created_by);
      }
    }
    for (const auto& row : gone) {
      auto token = hash256::from_hex(row[0].as<std::string>());
      CBDC_ASSERT(token.ok());
      token_spent(raw_of(*token));
    }
    return ok_status();
  });
}

auto bank::history(const public_key& owner, std::size_t limit)
    -> result<std::vector<history_entry>> {
  return pg::guarded([&]() -> result<std::vector<history_entry>> {
    pqxx::read_transaction tx(*m_conn);
    std::vector<history_entry> out;
    // Per transaction: what it brought the wallet minus what it took (change nets out).
    for (const auto& row : tx.exec_params(
             "WITH mine AS (SELECT i.* FROM bank.token_index i JOIN bank.wallet w USING "
             "(wallet_id) WHERE w.owner_key = decode($1, 'hex')), moves AS ("
             " SELECT created_by AS tx, received_at AS at, amount_minor AS amount FROM mine"
             " UNION ALL"
             " SELECT spent_by, spent_at, -amount_minor FROM mine WHERE spent_by IS NOT NULL) "
             "SELECT (extract(epoch FROM min(at)) * 1000000)::bigint, sum(amount)::bigint, "
             "encode(tx, 'hex') FROM moves GROUP BY tx HAVING sum(amount) <> 0 "
             // Notifications indexed together share a time: a movement that spends comes
             // after one that only brought (newest first), then by id, so the order is stable.
             "ORDER BY min(at) DESC, bool_or(amount < 0) DESC, tx LIMIT $2",
             owner.hex(), static_cast<std::int64_t>(limit))) {
      const auto at_us = row[0].as<std::int64_t>();
      const auto amount = row[1].as<std::int64_t>();
      auto id = hash256::from_hex(row[2].as<std::string>());
      CBDC_ASSERT(id.ok());
      out.push_back(history_entry{at_us, amount, *id});
    }
    return out;
  });
}

void bank::settle_incoming(const signed_tx& stx, const result<settlement::receipt>& answer) {
  const bool settled = answer && answer->settled();
  if (settled && !m_config.settle_pub.empty()) {  // balances from the index: count it now
    for (const auto& in : stx.tx.inputs) {
      token_answered_spent(raw_of(in));
    }
    for (std::uint32_t k = 0; k < stx.tx.outputs.size(); ++k) {
      const auto& out = stx.tx.outputs[k];
      const auto hosted = m_wallets.find(key_bytes(out.owner));
      if (out.cur == m_config.limits.cur && hosted != m_wallets.end()) {
        token_live(raw_of(token_id_of(stx.tx.prof, stx.id, k)), hosted->second, out.amount_minor,
                   stx.id);
      }
    }
  }
  m_incoming.release(stx.id);
}

}  // namespace cbdc::bank
