#include "bank/bank.hpp"

#include <algorithm>
#include <limits>
#include <pqxx/pqxx>

#include "core/clock.hpp"

#include "payment/build.hpp"

namespace cbdc::bank {
namespace {

auto wallet_id_of(const public_key& owner) -> std::string {
  return "w" + hash(owner.prof, owner.encode()).hex().substr(0, 16);
}

auto kind_name(wallet_kind k) -> std::string {
  return k == wallet_kind::merchant ? "merchant" : "personal";
}

/// The map key of a hosted wallet: its owner key as encoded on the wire.
auto key_bytes(const public_key& owner) -> std::string {
  const auto raw = owner.encode();
  return {raw.begin(), raw.end()};
}

auto not_hosted(const public_key& owner) -> error {
  return error{status_code::unknown_wallet, "no wallet here for key " + owner.hex().substr(0, 18)};
}

/// A token id as notifications carry it (the key of m_live).
auto raw_of(const hash256& id) -> std::string {
  return {reinterpret_cast<const char*>(id.data.data()), id.data.size()};
}

/// Raises a flag for the life of a scope.
class raised {
 public:
  explicit raised(bool& flag) : m_flag(flag) { m_flag = true; }
  ~raised() { m_flag = false; }
  raised(const raised&) = delete;
  raised(raised&&) = delete;
  auto operator=(const raised&) -> raised& = delete;
  auto operator=(raised&&) -> raised& = delete;

 private:
  bool& m_flag;
};

constexpr const char* k_record_payments = "bank_record_payments";
constexpr const char* k_index_settled = "bank_index_settled";
constexpr const char* k_forget_intents = "bank_forget_intents";
constexpr const char* k_write_intents = "bank_write_intents";

}  // namespace

bank::bank(bank_config config, key_pair vault, std::unique_ptr<pqxx::connection> conn,
           const settlement::cluster& where)
    : m_config(std::move(config)),
      m_vault(std::move(vault)),
      m_conn(std::move(conn)),
      m_settle(where, m_config.net) {}

auto bank::open(bank_config config, key_pair vault) -> result<std::unique_ptr<bank>> {
  auto where = settlement::cluster::parse(config.settle_spec);
  if (!where) {
    return where.err();
  }
  auto conn = pg::connect_migrated(config.db_url, "bank", migrations());
  if (!conn) {
    return conn.err();
  }
  std::unique_ptr<bank> b(new bank(std::move(config), std::move(vault), std::move(*conn), *where));
  if (auto loaded = b->load(); !loaded) {
    return loaded.err();
  }
  return b;
}

auto bank::load() -> status {
  return pg::guarded([&]() -> status {
    // The two statements of the payment path, planned once: the generic plan looks each row up
    // by its key, whatever the length of the arrays. It is planned while the bank's tables are
    // small (empty, for a new bank), when scanning a whole table looks cheapest, and kept as
    // they grow: the index statement's spent-token update scanned all of bank.token_index on
    // every call (at national scale, half a million rows per bank, many times a second). With
    // sequential scans priced out, a plan scans a table only where no index serves.
    m_conn->set_variable("plan_cache_mode", "force_generic_plan");
    m_conn->set_variable("enable_seqscan", "off");
    m_conn->prepare(k_record_payments,
                    "INSERT INTO bank.payment (tx_id, wallet_id, local_day, amount_minor) "
                    "SELECT decode(r.t, 'hex'), r.w, r.d, r.a FROM unnest($1::text[], $2::text[], "
                    "$3::int[], $4::bigint[]) AS r(t, w, d, a) ON CONFLICT (tx_id) DO NOTHING "
                    "RETURNING encode(tx_id, 'hex')");
    // A recorded payment's intent, and those of payments finished without a record, removed in
    // the same transaction.
    m_conn->prepare(k_forget_intents, "DELETE FROM bank.intent WHERE tx_id = ANY($1::bytea[])");
    m_conn->prepare(k_write_intents,
                    "INSERT INTO bank.intent (tx_id, wallet_id, local_day, amount_minor, "
                    "signed_tx) SELECT * FROM unnest($1::bytea[], $2::text[], $3::int8[], "
                    "$4::int8[], $5::bytea[]) ON CONFLICT (tx_id) DO NOTHING");
    // The outputs to hosted wallets and the spent inputs in one statement, without waiting for
    // the disk at commit: the index is derived data that reconcile() rebuilds from settlement
    // after a crash (the WAL flush is shared by every service on the cluster, and each settled
    // transaction reaches every bank).
    m_conn->prepare(
        k_index_settled,
        "WITH fast AS (SELECT set_config('synchronous_commit', 'off', true)), "
        "ins AS (INSERT INTO bank.token_index (token_id, wallet_id, amount_minor, created_by, "
        " spent_by, spent_at) "
        " SELECT decode(o.t, 'hex'), w.wallet_id, o.a, decode(o.c, 'hex'), "
        " decode(NULLIF(o.s, ''), 'hex'), CASE WHEN o.s <> '' THEN now() END "
        " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $7::text[]) "
        " AS o(t, k, a, c, s) "
        " JOIN bank.wallet w ON w.owner_key = decode(o.k, 'hex') "
        " ON CONFLICT (token_id) DO NOTHING), "
        "upd AS (UPDATE bank.token_index i SET spent_by = decode(s.b, 'hex'), spent_at = now() "
        " FROM unnest($5::text[], $6::text[]) AS s(t, b) "
        " WHERE i.token_id = decode(s.t, 'hex') AND i.spent_by IS NULL) "
        "SELECT * FROM fast");
    pqxx::read_transaction tx(*m_conn);
    for (const auto& row : tx.exec("SELECT encode(owner_key, 'hex'), kind, class, parent_id, "
                                   "sub_cap_minor FROM bank.wallet")) {
      auto owner = public_key::from_hex(row[0].as<std::string>());
      CBDC_ASSERT(owner.ok());
      hosted_wallet w;
      w.kind =
          row[1].as<std::string>() == "merchant" ? wallet_kind::merchant : wallet_kind::personal;
      const auto cls = row[2].as<int>();
      CBDC_ASSERT(cls >= 1 && cls <= 4);
      w.cls = static_cast<wallet_class>(cls);
      if (!row[3].is_null()) {
        w.parent_id = row[3].as<std::string>();
      }
      if (!row[4].is_null()) {
        w.sub_cap_minor = row[4].as<std::int64_t>();
      }
      m_wallets.emplace(key_bytes(*owner), std::move(w));
    }
    // Each wallet's latest day with payments, from yesterday on (payments are dated by this
    // bank's clock); an earlier day is asked of the database (spent_on_day).
    m_loaded_from_day = local_day(unix_now_us(), m_config.utc_offset_minutes) - 1;
    for (const auto& row : tx.exec_params(
             "SELECT DISTINCT ON (p.wallet_id) encode(w.owner_key, 'hex'), p.local_day, "
             "sum(p.amount_minor)::bigint FROM bank.payment p JOIN bank.wallet w USING "
             "(wallet_id) WHERE p.local_day >= $1 GROUP BY p.wallet_id, w.owner_key, p.local_day "
             "ORDER BY p.wallet_id, p.local_day DESC",
             m_loaded_from_day)) {
      auto owner = public_key::from_hex(row[0].as<std::string>());
      CBDC_ASSERT(owner.ok());
      auto& w = m_wallets.at(key_bytes(*owner));
      w.day = row[1].as<std::int64_t>();
      w.day_minor = row[2].as<std::int64_t>();
    }
    // The index's unspent tokens, and so every wallet's balance.
    for (const auto& row :
         tx.exec("SELECT encode(i.token_id, 'hex'), encode(w.owner_key, 'hex'), i.amount_minor, "
                 "encode(i.created_by, 'hex') FROM bank.token_index i JOIN bank.wallet w USING "
                 "(wallet_id) WHERE i.spent_by IS NULL")) {
      auto token = hash256::from_hex(row[0].as<std::string>());
      auto owner = public_key::from_hex(row[1].as<std::string>());
      auto created_by = hash256::from_hex(row[3].as<std::string>());
      CBDC_ASSERT(token.ok() && owner.ok() && created_by.ok());
      token_live(raw_of(*token), m_wallets.at(key_bytes(*owner)), row[2].as<std::int64_t>(),
                 *created_by);
    }
    for (const auto& row : tx.exec("SELECT shard, batch_seq FROM bank.follow")) {
      m_followed[row[0].as<std::uint32_t>()] = row[1].as<std::uint64_t>();
    }
    // Payments a crash left in flight: held against their payers' days (and payees here) until
    // settlement answers them again.
    for (const auto& row : tx.exec("SELECT encode(signed_tx, 'hex'), wallet_id, local_day, "
                                   "amount_minor FROM bank.intent ORDER BY written_at")) {
      pending_payment p;
      p.tx = tx_from_record(row[0].as<std::string>());
      p.wallet_id = row[1].as<std::string>();
      p.day = row[2].as<std::int64_t>();
      p.amount_minor = row[3].as<std::int64_t>();
      auto parts = parts_of(p.tx);
      CBDC_ASSERT(parts.ok() && parts->amount_minor == p.amount_minor);
      p.payee = parts->payee;
      if (m_wallets.contains(key_bytes(p.payee))) {
        p.payee_hex = p.payee.hex();
      }
      if (m_pending_tx.contains(p.tx.id)) {
        continue;
      }
      const auto held = reserve(p);
      CBDC_ASSERT(held.ok());
      p.durable = true;
      m_recovered.push_back(std::move(p));
    }
    return ok_status();
  });
}

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

auto bank::record_of(const public_key& owner, const hosted_wallet& w) const -> wallet_record {
  return wallet_record{wallet_id_of(owner), owner, w.kind, w.cls, w.parent_id, w.sub_cap_minor};
}

auto bank::open_wallet(const public_key& owner, wallet_class cls, wallet_kind kind,
                       std::optional<std::string> parent_id,
                       std::optional<std::int64_t> sub_cap_minor) -> result<wallet_record> {
  if (sub_cap_minor && !parent_id) {
    return error{status_code::bad_request, "only a sub-wallet has a cap of its own"};
  }
  if (sub_cap_minor && *sub_cap_minor < 0) {
    return error{status_code::amount_invalid, "a sub-wallet cap cannot be negative"};
  }
  if (!valid_point(owner)) {
    return error{status_code::malformed, "the wallet key is not a point of its curve"};
  }
  auto key = key_bytes(owner);
  if (m_wallets.contains(key)) {
    return error{status_code::bad_request, "this key already has a wallet here"};
  }
  return pg::guarded([&]() -> result<wallet_record> {
    pqxx::work tx(*m_conn);
    if (parent_id &&
        tx.exec_params("SELECT 1 FROM bank.wallet WHERE wallet_id = $1", *parent_id).empty()) {
      return error{status_code::unknown_wallet, "no parent wallet '" + *parent_id + "'"};
    }
    hosted_wallet w{kind, cls, parent_id, sub_cap_minor};
    auto record = record_of(owner, w);
    // (A new wallet's tokens, if any arrived before it registered, come in by reconcile().)
    tx.exec_params(
        "INSERT INTO bank.wallet (wallet_id, owner_key, kind, class, parent_id, sub_cap_minor) "
        "VALUES ($1, decode($2, 'hex'), $3, $4, NULLIF($5, ''), NULLIF($6, '')::bigint)",
        record.wallet_id, owner.hex(), kind_name(kind), static_cast<int>(cls),
        parent_id.value_or(""), sub_cap_minor ? std::to_string(*sub_cap_minor) : std::string{});
    tx.commit();
    m_wallets.emplace(std::move(key), std::move(w));
    return record;
  });
}

auto bank::open_wallets(const std::vector<std::pair<public_key, wallet_class>>& owners,
                        wallet_kind kind) -> result<std::vector<wallet_record>> {
  std::vector<std::string> keys;
  std::vector<std::string> ids;
  std::vector<std::int64_t> classes;
  std::vector<wallet_record> out;
  std::unordered_map<std::string, wallet_class> asked;  // a key twice in one request: same class
  for (const auto& [owner, cls] : owners) {
    if (!valid_point(owner)) {
      return error{status_code::malformed,
                   "key " + owner.hex().substr(0, 18) + " is not a point of its curve"};
    }
    // A key hosted already must match.
    const auto known = m_wallets.find(key_bytes(owner));
    const auto [again, first] = asked.try_emplace(key_bytes(owner), cls);
    if ((known != m_wallets.end() && (known->second.cls != cls || known->second.kind != kind)) ||
        (!first && again->second != cls)) {
      return error{status_code::bad_request, "key " + owner.hex().substr(0, 18) +
                                                 " has a wallet here of another class or kind"};
    }
    keys.push_back(owner.hex());
    ids.push_back(wallet_id_of(owner));
    classes.push_back(static_cast<std::int64_t>(cls));
    out.push_back(wallet_record{ids.back(), owner, kind, cls, std::nullopt, std::nullopt});
  }
  return pg::guarded([&]() -> result<std::vector<wallet_record>> {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO bank.wallet (wallet_id, owner_key, kind, class) SELECT w, decode(k, 'hex'), "
        "$4, c FROM unnest($1::text[], $2::text[], $3::int[]) AS n(w, k, c) "
        "ON CONFLICT DO NOTHING",
        pg::text_array(ids), pg::text_array(keys), pg::int_array(classes), kind_name(kind));
    tx.commit();
    for (const auto& [owner, cls] : owners) {
      m_wallets.try_emplace(key_bytes(owner), hosted_wallet{kind, cls, std::nullopt, std::nullopt});
    }
    return out;
  });
}

auto bank::find_wallet(const public_key& owner) -> result<wallet_record> {
  const auto it = m_wallets.find(key_bytes(owner));
  if (it == m_wallets.end()) {
    return not_hosted(owner);
  }
  return record_of(owner, it->second);
}

auto bank::spent_on_day(const std::string& key, std::int64_t day) -> result<std::int64_t> {
  const auto& w = m_wallets.at(key);
  if (day == w.day) {
    return w.day_minor;
  }
  if (day > w.day && day >= m_loaded_from_day) {
    return std::int64_t{0};
  }
  // An earlier day (the clock went back): the database, and what it has not recorded yet.
  std::int64_t unrecorded = 0;
  for (const auto& r : m_unrecorded) {
    if (r.key == key && r.day == day) {
      unrecorded += r.amount_minor;
    }
  }
  return pg::guarded([&]() -> result<std::int64_t> {
    pqxx::read_transaction tx(*m_conn);
    return unrecorded +
           tx.exec_params1(
                 "SELECT coalesce(sum(p.amount_minor), 0)::bigint FROM bank.payment p JOIN "
                 "bank.wallet w USING (wallet_id) WHERE w.owner_key = $1 AND p.local_day = $2",
                 pg::bytea_param(key.data(), key.size()), day)[0]
               .as<std::int64_t>();
  });
}

void bank::count_payment(const std::string& key, std::int64_t day, std::int64_t amount_minor) {
  auto& w = m_wallets.at(key);
  if (day > w.day) {
    w.day = day;
    w.day_minor = 0;
  }
  if (day == w.day) {
    // An earlier day's payment is in the database only. A day's total can pass 2^63-1 (the
    // same money paid round again): it stays at the top, where every cap refuses.
    w.day_minor = saturating_add(w.day_minor, amount_minor);
  }
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
  // As settlement lists them: the largest first, then by id.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.amount_minor != b.amount_minor ? a.amount_minor > b.amount_minor
                                            : a.token_id < b.token_id;
  });
  if (out.size() > limit) {
    out.resize(limit);
  }
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

auto bank::has_balance_cap(const wallet_record& w) const -> bool {
  const auto& caps = m_config.limits.by_class;
  const auto cls_caps = caps.find(w.cls);
  return w.sub_cap_minor.has_value() ||
         (cls_caps != caps.end() && cls_caps->second.balance_minor.has_value());
}

auto bank::receiving_check(const public_key& payee, payment_check& check) -> status {
  auto hosted = find_wallet(payee);
  if (!hosted) {
    // A payee at another bank: its own bank checks what it may receive.
    return hosted.code() == status_code::unknown_wallet ? ok_status() : status{hosted.err()};
  }
  check.payee_class = hosted->cls;
  check.payee_sub_cap_minor = hosted->sub_cap_minor;
  if (!has_balance_cap(*hosted)) {
    return ok_status();  // no cap to check (class I, a merchant say): no need for the balance
  }
  auto held = balance(payee);
  if (!held) {
    return held.err();
  }
  check.payee_balance_minor = *held;
  return ok_status();
}

auto bank::pay(const signed_tx& tx, std::int64_t now_us) -> result<settlement::receipt> {
  auto begun = pay_begin(tx, now_us);
  if (!begun) {
    return begun.err();
  }
  result<settlement::receipt> sent = error{status_code::internal, "not sent"};
  if (begun->settled_before) {
    sent = *begun->settled_before;
  } else if (auto written = begun->reserved ? commit_durable({&*begun}) : ok_status(); !written) {
    sent = written.err();  // not recorded before sending: not sent
  } else {
    begun->durable = begun->reserved;
    sent = settlement::submit_with_retry(m_settle, tx, tx.id.hex());
  }
  auto answer = pay_finish(*begun, std::move(sent));
  if (auto recorded = commit_durable({}); !recorded && answer) {
    return recorded.err();
  }
  return answer;
}

auto bank::parts_of(const signed_tx& tx) -> result<payment_parts> {
  if (tx.tx.kind != tx_kind::transfer || tx.sigs.size() != 1) {
    return error{status_code::bad_request, "a wallet payment is a transfer signed by its payer"};
  }
  const auto& payer_key = tx.sigs.front().signer;
  // The payment is what leaves the payer (change comes back); one payee per payment.
  std::int64_t amount = 0;
  std::optional<public_key> payee;
  for (const auto& out : tx.tx.outputs) {
    if (out.owner == payer_key) {
      continue;
    }
    if (out.cur != m_config.limits.cur) {
      return error{status_code::currency_mismatch,
                   "this bank's wallets pay in " + std::string{currency_code(m_config.limits.cur)}};
    }
    if (payee && !(out.owner == *payee)) {
      return error{status_code::bad_request, "a wallet payment has one payee"};
    }
    payee = out.owner;
    auto sum = checked_add(amount, out.amount_minor);
    if (!sum) {
      return sum.err();
    }
    amount = *sum;
  }
  if (!payee) {
    return error{status_code::bad_request, "the payment pays nobody but its payer"};
  }
  if (!payee_on_curve(*payee)) {
    return error{status_code::malformed,
                 "the payee's key is not a point of its curve: the payment could never be spent"};
  }
  return payment_parts{amount, *payee};
}

auto bank::pay_begin(const signed_tx& tx, std::int64_t now_us) -> result<pending_payment> {
  auto parts = parts_of(tx);
  if (!parts) {
    return parts.err();
  }
  const auto& payer_key = tx.sigs.front().signer;
  auto payer = find_wallet(payer_key);
  if (!payer) {
    return payer.err();
  }
  const auto day = local_day(now_us, m_config.utc_offset_minutes);
  auto spent = spent_on_day(key_bytes(payer_key), day);
  if (!spent) {
    return spent.err();
  }
  pending_payment p;
  p.tx = tx;
  p.wallet_id = payer->wallet_id;
  p.day = day;
  p.amount_minor = parts->amount_minor;
  p.payee = parts->payee;
  if (m_pending_tx.contains(tx.id)) {
    return p;  // the same payment again while the first is in flight: settlement decides
  }
  // A refusal by the limits may be a resend of a payment that settled (and counts in them).
  const auto refused = [&](error why) -> result<pending_payment> {
    if (auto receipt = settled_before(tx.id)) {
      p.settled_before = std::move(receipt);
      return p;
    }
    return why;
  };
  payment_check check;
  check.payer_class = payer->cls;
  check.amount_minor = p.amount_minor;
  const auto out_key = std::make_pair(payer->wallet_id, day);
  check.payer_spent_today_minor =
      saturating_add(*spent, m_pending_out.contains(out_key) ? m_pending_out[out_key] : 0);
  if (auto receiving = receiving_check(p.payee, check); !receiving) {
    return refused(receiving.err());
  }
  if (check.payee_class) {
    p.payee_hex = p.payee.hex();
    check.payee_balance_minor =
        saturating_add(check.payee_balance_minor, m_incoming.held_for(key_bytes(p.payee)));
  }
  if (auto allowed = check_payment(m_config.limits, check); !allowed) {
    return refused(allowed.err());
  }
  if (auto held = reserve(p); !held) {
    return refused(held.err());
  }
  return p;
}

auto bank::reserve(pending_payment& p) -> status {
  // Payments under way may spend the same tokens (all but one will be refused), so their sum
  // is not bounded by the supply: past 2^63-1 the payment is refused rather than wrap.
  const auto out_key = std::make_pair(p.wallet_id, p.day);
  const auto out_before = m_pending_out.contains(out_key) ? m_pending_out[out_key] : 0;
  auto out_after = checked_add(out_before, p.amount_minor);
  if (!out_after) {
    return error{status_code::amount_invalid, "payments under way would pass 2^63-1 minor units"};
  }
  if (p.payee_hex) {
    if (auto held = m_incoming.reserve(p.tx.id, key_bytes(p.payee), p.amount_minor); !held) {
      return held;
    }
  }
  m_pending_out[out_key] = *out_after;
  p.hold = ++m_last_hold;
  m_pending_tx[p.tx.id] = hold{p.hold, p.wallet_id, p.day, p.amount_minor};
  p.reserved = true;
  return ok_status();
}

void bank::release_hold(const signed_tx& tx, const result<settlement::receipt>& answer) {
  const auto it = m_pending_tx.find(tx.id);
  CBDC_ASSERT(it != m_pending_tx.end());
  const auto& h = it->second;
  const auto out_key = std::make_pair(h.wallet_id, h.day);
  CBDC_ASSERT(m_pending_out[out_key] >= h.amount_minor);
  if ((m_pending_out[out_key] -= h.amount_minor) == 0) {
    m_pending_out.erase(out_key);
  }
  settle_incoming(tx, answer);  // a payee here: settled, it counts in its balance at once
  m_pending_tx.erase(it);
}

auto bank::settled_before(const hash256& tx_id) -> std::optional<settlement::receipt> {
  auto found = m_settle.get_tx(tx_id);
  if (!found) {
    return std::nullopt;  // not settled, or settlement cannot say now: the refusal stands
  }
  found->status = status_code::already_settled;
  found->detail = "settled before in batch " + std::to_string(found->batch_seq);
  return std::move(*found);
}

auto bank::take_recovered() -> std::vector<pending_payment> {
  return std::exchange(m_recovered, {});
}

auto bank::payee_on_curve(const public_key& payee) -> bool {
  // A wallet hosted here was checked when it opened; others once each (the check costs as much
  // as a signature's verification, and payees repeat).
  constexpr std::size_t k_remembered = 100'000;
  auto key = key_bytes(payee);
  if (m_wallets.contains(key) || m_valid_payees.contains(key)) {
    return true;
  }
  if (!valid_point(payee)) {
    return false;
  }
  if (m_valid_payees.size() >= k_remembered) {
    m_valid_payees.clear();
  }
  m_valid_payees.insert(std::move(key));
  return true;
}

auto bank::can_receive(const public_key& owner, std::int64_t amount_minor, bool& capped,
                       const std::optional<hash256>& tx_id, std::int64_t now_us) -> status {
  m_incoming.expire(now_us);
  if (amount_minor <= 0) {
    return error{status_code::amount_invalid, "a payment in is a positive amount"};
  }
  auto hosted = find_wallet(owner);
  if (!hosted) {
    return hosted.err();
  }
  capped = has_balance_cap(*hosted);
  if (tx_id && m_incoming.holds(*tx_id, key_bytes(owner))) {
    return ok_status();  // asked again about the same payment: its room is held already
  }
  if (auto room = room_for(owner, amount_minor); !room) {
    return room;
  }
  if (capped && tx_id) {
    return m_incoming.reserve(*tx_id, key_bytes(owner), amount_minor,
                              now_us + k_can_receive_ttl_us);
  }
  return ok_status();
}

auto bank::room_for(const public_key& payee, std::int64_t amount, std::int64_t also) -> status {
  payment_check check;
  check.payer_class = wallet_class::i;  // the payer's caps are its own business
  check.amount_minor = amount;
  if (auto receiving = receiving_check(payee, check); !receiving) {
    return receiving;
  }
  if (!check.payee_class) {
    return not_hosted(payee);
  }
  check.payee_balance_minor = saturating_add(
      saturating_add(check.payee_balance_minor, m_incoming.held_for(key_bytes(payee))), also);
  return check_payment(m_config.limits, check);
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

auto bank::pay_finish(const pending_payment& p, result<settlement::receipt> answer)
    -> result<settlement::receipt> {
  const bool settled = answer && answer->settled();
  if (p.reserved) {
    if (m_released_holds.erase(p.hold) == 0) {
      CBDC_ASSERT(m_pending_tx.at(p.tx.id).id == p.hold);
      release_hold(p.tx, answer);
    }
  } else if (const auto first = m_pending_tx.find(p.tx.id);
             settled && first != m_pending_tx.end()) {
    // A repeat answered as settled while the first send still waits for its answer (which can
    // only say the same): the first's hold ends now, or the payment would count twice, in
    // flight and in the day.
    m_released_holds.insert(first->second.id);
    release_hold(p.tx, answer);
  }
  // A settled payment's intent goes with its record; one whose outcome is not known (settlement
  // did not answer) stays, to be sent again after a restart.
  if (p.durable && !settled && !is_transient(answer ? answer->status : answer.code())) {
    m_intents_done.push_back(p.tx.id);
  }
  if (!answer) {
    return answer;
  }
  // Settled now: it counts for the payer's day at once. Settled before (a retry): it counts
  // when its record turns out to be new (commit_durable), so that nothing counts twice.
  const bool now = answer->status == status_code::ok;
  if (now || answer->status == status_code::already_settled) {
    const auto& payer = p.tx.sigs.front().signer;
    auto key = key_bytes(payer);
    if (now) {
      count_payment(key, p.day, p.amount_minor);
    }
    m_unrecorded.push_back(
        payment_record{p.tx.id, std::move(key), p.wallet_id, p.day, p.amount_minor, now});
  }
  return answer;
}

auto bank::commit_durable(const std::vector<const pending_payment*>& intents) -> status {
  if (intents.empty() && m_unrecorded.empty() && m_intents_done.empty()) {
    return ok_status();
  }
  using el = pg::binary_array::element;
  return pg::guarded([&]() -> status {
    std::vector<std::string> ids;
    std::vector<std::string> wallet_ids;
    std::vector<std::int64_t> days;
    std::vector<std::int64_t> amounts;
    pg::binary_array forget(el::bytea);
    for (const auto& r : m_unrecorded) {
      ids.push_back(r.tx_id.hex());
      wallet_ids.push_back(r.wallet_id);
      days.push_back(r.day);
      amounts.push_back(r.amount_minor);
      forget.add(r.tx_id.data.data(), r.tx_id.data.size());
    }
    for (const auto& id : m_intents_done) {
      forget.add(id.data.data(), id.data.size());
    }
    pg::binary_array intent_ids(el::bytea);
    pg::binary_array intent_wallets(el::text);
    pg::binary_array intent_days(el::int8);
    pg::binary_array intent_amounts(el::int8);
    pg::binary_array intent_txs(el::bytea);
    for (const auto* p : intents) {
      CBDC_ASSERT(p->reserved && !p->durable);
      intent_ids.add(p->tx.id.data.data(), p->tx.id.data.size());
      intent_wallets.add(p->wallet_id);
      intent_days.add_int(p->day);
      intent_amounts.add_int(p->amount_minor);
      intent_txs.add(to_wire(p->tx).SerializeAsString());
    }
    pqxx::work w(*m_conn);
    pqxx::result fresh;
    if (!ids.empty()) {
      fresh = w.exec_prepared(k_record_payments, pg::text_array(ids), pg::text_array(wallet_ids),
                              pg::int_array(days), pg::int_array(amounts));
    }
    if (forget.size() > 0) {
      w.exec_prepared(k_forget_intents, forget.param());
    }
    if (intent_ids.size() > 0) {
      w.exec_prepared(k_write_intents, intent_ids.param(), intent_wallets.param(),
                      intent_days.param(), intent_amounts.param(), intent_txs.param());
    }
    w.commit();
    m_intents_done.clear();
    std::unordered_set<std::string> inserted;
    for (const auto& row : fresh) {
      inserted.insert(row[0].as<std::string>());
    }
    // A new record of a payment settled before counts once (the same payment may be here twice,
    // its first answer and a retry's).
    for (std::size_t i = 0; i < m_unrecorded.size(); ++i) {
      if (m_unrecorded[i].counted) {
        inserted.erase(ids[i]);
      }
    }
    for (std::size_t i = 0; i < m_unrecorded.size(); ++i) {
      const auto& r = m_unrecorded[i];
      if (!r.counted && inserted.erase(ids[i]) > 0) {
        count_payment(r.key, r.day, r.amount_minor);
      }
    }
    m_unrecorded.clear();
    return ok_status();
  });
}

auto bank::fund(const public_key& wallet_owner, money amount) -> result<settlement::receipt> {
  m_vault_cache.reset();  // spends vault tokens on its own
  if (amount.cur() != m_config.limits.cur || amount.minor() <= 0) {
    return error{status_code::amount_invalid, "funding is a positive amount in " +
                                                  std::string{currency_code(m_config.limits.cur)}};
  }
  if (auto room = room_for(wallet_owner, amount.minor()); !room) {
    return room.err();
  }
  auto unspent = m_settle.list_unspent(m_vault.pub());
  if (!unspent) {
    return unspent.err();
  }
  auto stx = payment::build_payment(m_vault, *unspent, wallet_owner, amount,
                                    payment::random_nonce(), "fund", m_settle.shard_count());
  if (!stx) {
    return stx.err();
  }
  if (auto held = m_incoming.reserve(stx->id, key_bytes(wallet_owner), amount.minor()); !held) {
    return held.err();
  }
  auto receipt = settlement::submit_with_retry(m_settle, *stx, "fund:" + stx->id.hex());
  settle_incoming(*stx, receipt);
  return receipt;
}

auto bank::fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
    -> result<settlement::receipt> {
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request, "a pay-out needs a request id of 1 to 128 characters"};
  }
  auto recorded = pg::guarded([&]() -> result<std::optional<signed_tx>> {
    pqxx::read_transaction tx(*m_conn);
    const auto seen = tx.exec_params(
        "SELECT encode(signed_tx, 'hex') FROM bank.payout WHERE request_id = $1", request_id);
    if (seen.empty()) {
      return std::optional<signed_tx>{};
    }
    return std::optional<signed_tx>{tx_from_record(seen[0][0].as<std::string>())};
  });
  if (!recorded) {
    return recorded.err();
  }
  if (*recorded) {
    const auto& outs = (*recorded)->tx.outputs;
    const bool same =
        outs.size() >= payouts.size() && std::equal(payouts.begin(), payouts.end(), outs.begin());
    if (!same) {
      return error{status_code::bad_request,
                   "request id '" + request_id + "' was used for other pay-outs"};
    }
    return settlement::submit_with_retry(m_settle, **recorded, "payout:" + request_id);
  }
  // Pay-outs to one wallet in the same request add up against its cap.
  std::unordered_map<std::string, std::int64_t> asked;
  for (const auto& p : payouts) {
    if (p.cur != m_config.limits.cur) {
      return error{status_code::currency_mismatch,
                   "this bank pays out " + std::string{currency_code(m_config.limits.cur)}};
    }
    auto& before = asked[key_bytes(p.owner)];
    if (auto room = room_for(p.owner, p.amount_minor, before); !room) {
      return room.err();
    }
    before = saturating_add(before, p.amount_minor);
  }
  // The vault's unspent tokens, kept from the last pay-out: asking settlement each time costs
  // a scan of the vault's whole history (one spent token per pay-out). Refreshed when stale.
  const bool fresh = !m_vault_cache;
  if (fresh) {
    auto unspent = m_settle.list_unspent(m_vault.pub());
    if (!unspent) {
      return unspent.err();
    }
    m_vault_cache = std::move(*unspent);
  }
  auto stx = payment::build_transfer(m_vault, *m_vault_cache, payouts, payment::random_nonce(),
                                     "payout " + request_id.substr(0, 64), m_settle.shard_count());
  if (!stx && stx.code() == status_code::insufficient_funds && !fresh) {
    m_vault_cache.reset();  // a mint may have arrived since: look again, once
    return fund_many(payouts, request_id);
  }
  if (!stx) {
    return stx.err();
  }
  auto saved = pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO bank.payout (request_id, tx_id, signed_tx) VALUES ($1, decode($2, 'hex'), "
        "decode($3, 'hex'))",
        request_id, stx->id.hex(), tx_record(*stx));
    tx.commit();
    return ok_status();
  });
  if (!saved) {
    m_vault_cache.reset();
    return saved.err();
  }
  for (const auto& [owner, amount] : asked) {
    if (auto held = m_incoming.reserve(stx->id, owner, amount); !held) {
      m_incoming.release(stx->id);
      return held.err();
    }
  }
  auto receipt = settlement::submit_with_retry(m_settle, *stx, "payout:" + request_id);
  settle_incoming(*stx, receipt);
  if (receipt && receipt->settled()) {
    std::erase_if(*m_vault_cache, [&](const settlement::token_info& t) {
      return std::find(stx->tx.inputs.begin(), stx->tx.inputs.end(), t.token_id) !=
             stx->tx.inputs.end();
    });
    for (std::uint32_t i = 0; i < stx->tx.outputs.size(); ++i) {
      const auto& out = stx->tx.outputs[i];
      if (out.owner == m_vault.pub()) {
        m_vault_cache->push_back(settlement::token_info{token_id_of(stx->tx.prof, stx->id, i),
                                                        out.cur,
                                                        out.amount_minor,
                                                        out.owner,
                                                        stx->id,
                                                        false,
                                                        {}});
      }
    }
  } else {
    m_vault_cache.reset();
  }
  return receipt;
}

auto bank::credit_deposit(const public_key& owner, money amount, const std::string& request_id)
    -> status {
  if (amount.cur() != m_config.limits.cur || amount.minor() <= 0) {
    return error{status_code::amount_invalid, "a deposit credit is a positive amount in " +
                                                  std::string{currency_code(m_config.limits.cur)}};
  }
  auto w = find_wallet(owner);
  if (!w) {
    return w.err();
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    const auto seen = tx.exec_params(
        "INSERT INTO bank.exchange (request_id, wallet_id, direction, amount_minor, done) VALUES "
        "($1, $2, 'credit', $3, true) ON CONFLICT (request_id) DO NOTHING RETURNING 1",
        request_id, w->wallet_id, amount.minor());
    if (seen.empty()) {
      return ok_status();  // credited before
    }
    tx.exec_params(
        "INSERT INTO bank.deposit_account (wallet_id, balance_minor) VALUES ($1, $2) ON CONFLICT "
        "(wallet_id) DO UPDATE SET balance_minor = deposit_account.balance_minor + $2",
        w->wallet_id, amount.minor());
    tx.commit();
    return ok_status();
  });
}

auto bank::deposit_balance(const public_key& owner) -> result<std::int64_t> {
  auto w = find_wallet(owner);
  if (!w) {
    return w.err();
  }
  return pg::guarded([&]() -> result<std::int64_t> {
    pqxx::read_transaction tx(*m_conn);
    return tx
        .exec_params1(
            "SELECT coalesce((SELECT balance_minor FROM bank.deposit_account "
            "WHERE wallet_id = $1), 0)::bigint",
            w->wallet_id)[0]
        .as<std::int64_t>();
  });
}

auto bank::exchange_to_ecny(const public_key& owner, money amount, const std::string& request_id)
    -> result<settlement::receipt> {
  m_vault_cache.reset();  // spends vault tokens on its own
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request, "an exchange needs a request id of 1 to 128 characters"};
  }
  if (amount.cur() != m_config.limits.cur || amount.minor() <= 0) {
    return error{status_code::amount_invalid, "an exchange is a positive amount in " +
                                                  std::string{currency_code(m_config.limits.cur)}};
  }
  auto w = find_wallet(owner);
  if (!w) {
    return w.err();
  }
  // Step 1, once: check, then debit the deposit and record the vault's signed payment in one
  // database transaction. A retry finds the recorded payment and sends it again.
  auto recorded = pg::guarded([&]() -> result<std::optional<signed_tx>> {
    pqxx::read_transaction tx(*m_conn);
    const auto seen = tx.exec_params(
        "SELECT wallet_id, amount_minor, direction, encode(signed_tx, 'hex') FROM bank.exchange "
        "WHERE request_id = $1",
        request_id);
    if (seen.empty()) {
      return std::optional<signed_tx>{};
    }
    if (seen[0][0].as<std::string>() != w->wallet_id ||
        seen[0][1].as<std::int64_t>() != amount.minor() ||
        seen[0][2].as<std::string>() != "to_ecny") {
      return error{status_code::bad_request,
                   "request id '" + request_id + "' was used for another exchange"};
    }
    return std::optional<signed_tx>{tx_from_record(seen[0][3].as<std::string>())};
  });
  if (!recorded) {
    return recorded.err();
  }
  auto prepared = [&]() -> result<signed_tx> {
    if (*recorded) {
      return std::move(**recorded);
    }
    if (auto room = room_for(owner, amount.minor()); !room) {
      return room.err();
    }
    auto unspent = m_settle.list_unspent(m_vault.pub());
    if (!unspent) {
      return unspent.err();
    }
    auto stx =
        payment::build_payment(m_vault, *unspent, owner, amount, payment::random_nonce(),
                               "exchange " + request_id.substr(0, 64), m_settle.shard_count());
    if (!stx) {
      return stx.err();
    }
    return pg::guarded([&]() -> result<signed_tx> {
      pqxx::work tx(*m_conn);
      const auto debited = tx.exec_params(
          "UPDATE bank.deposit_account SET balance_minor = balance_minor - $2 WHERE wallet_id = "
          "$1 AND balance_minor >= $2 RETURNING 1",
          w->wallet_id, amount.minor());
      if (debited.empty()) {
        return error{status_code::insufficient_funds,
                     "the deposit account holds less than " + amount.format()};
      }
      tx.exec_params(
          "INSERT INTO bank.exchange (request_id, wallet_id, direction, amount_minor, signed_tx, "
          "tx_id) VALUES ($1, $2, 'to_ecny', $3, decode($4, 'hex'), decode($5, 'hex'))",
          request_id, w->wallet_id, amount.minor(), tx_record(*stx), stx->id.hex());
      tx.commit();
      return *stx;
    });
  }();
  if (!prepared) {
    return prepared.err();
  }
  // Step 2: settle that very transaction (a retry answers already_settled), its amount held
  // against the wallet's cap until it counts in the balance.
  if (auto held = m_incoming.reserve(prepared->id, key_bytes(owner), amount.minor()); !held) {
    return held.err();
  }
  auto receipt = settlement::submit_with_retry(m_settle, *prepared, "exchange:" + request_id);
  settle_incoming(*prepared, receipt);
  if (!receipt) {
    return receipt.err();
  }
  if (receipt->settled()) {
    (void)pg::guarded([&]() -> status {
      pqxx::work tx(*m_conn);
      tx.exec_params("UPDATE bank.exchange SET done = true WHERE request_id = $1", request_id);
      tx.commit();
      return ok_status();
    });
  } else if (!is_transient(receipt->status)) {
    // Refused for good (the vault's tokens moved meanwhile): give the deposit back.
    (void)pg::guarded([&]() -> status {
      pqxx::work tx(*m_conn);
      tx.exec_params("DELETE FROM bank.exchange WHERE request_id = $1 AND NOT done", request_id);
      tx.exec_params(
          "UPDATE bank.deposit_account SET balance_minor = balance_minor + $2 WHERE wallet_id = $1",
          w->wallet_id, amount.minor());
      tx.commit();
      return ok_status();
    });
  }
  return receipt;
}

auto bank::exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
    -> result<settlement::receipt> {
  if (tx.tx.kind != tx_kind::transfer || tx.sigs.size() != 1) {
    return error{status_code::bad_request, "an exchange is a transfer signed by the wallet"};
  }
  auto w = find_wallet(tx.sigs.front().signer);
  if (!w) {
    return w.err();
  }
  std::int64_t amount = 0;
  for (const auto& out : tx.tx.outputs) {
    if (out.owner == m_vault.pub()) {
      if (out.cur != m_config.limits.cur) {
        return error{status_code::currency_mismatch,
                     "the vault takes " + std::string{currency_code(m_config.limits.cur)}};
      }
      amount += out.amount_minor;  // bounded by check_stateless's overflow check
    } else if (!(out.owner == w->owner)) {
      return error{status_code::bad_request, "an exchange pays only the bank's vault"};
    }
  }
  if (amount <= 0) {
    return error{status_code::bad_request, "the transaction pays nothing to the bank's vault"};
  }
  auto receipt = settlement::submit_with_retry(m_settle, tx, "exchange:" + request_id);
  if (!receipt) {
    return receipt.err();
  }
  if (!receipt->settled()) {
    return receipt;
  }
  auto credited = pg::guarded([&]() -> status {
    pqxx::work db(*m_conn);
    const auto fresh = db.exec_params(
        "INSERT INTO bank.exchange (request_id, wallet_id, direction, amount_minor, tx_id, done) "
        "VALUES ($1, $2, 'to_deposit', $3, decode($4, 'hex'), true) ON CONFLICT DO NOTHING "
        "RETURNING 1",
        request_id, w->wallet_id, amount, tx.id.hex());
    if (!fresh.empty()) {
      db.exec_params(
          "INSERT INTO bank.deposit_account (wallet_id, balance_minor) VALUES ($1, $2) ON "
          "CONFLICT (wallet_id) DO UPDATE SET balance_minor = deposit_account.balance_minor + $2",
          w->wallet_id, amount);
    }
    db.commit();
    return ok_status();
  });
  if (!credited) {
    return credited.err();
  }
  return receipt;
}

}  // namespace cbdc::bank
