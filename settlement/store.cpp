// A shard's PostgreSQL store: migrations, batches committed in one transaction, two-phase
// commit, and the queries.
#include "settlement/store.hpp"

#include <algorithm>
#include <pqxx/pqxx>

namespace cbdc::settlement {
namespace {

auto hex_of(const pqxx::field& f) -> std::string {
  // bytea arrives as "\x0a1b..." text.
  const std::string_view text = f.c_str();
  return std::string{text.substr(2)};
}

auto id_of(const pqxx::field& f) -> hash256 {
  auto id = hash256::from_hex(hex_of(f));
  CBDC_ASSERT(id.ok());
  return *id;
}

auto token_of(const pqxx::row& row) -> token_info {
  token_info t;
  t.token_id = id_of(row[0]);
  auto cur = parse_currency(row[1].c_str());
  CBDC_ASSERT(cur.ok());
  t.cur = *cur;
  t.amount_minor = row[2].as<std::int64_t>();
  CBDC_ASSERT(t.amount_minor > 0);
  auto owner = public_key::from_hex(hex_of(row[3]));
  CBDC_ASSERT(owner.ok());
  t.owner = std::move(*owner);
  t.created_by = id_of(row[4]);
  t.spent = !row[5].is_null();
  if (t.spent) {
    t.spent_by = id_of(row[5]);
  }
  return t;
}

constexpr const char* k_token_columns =
    "t.token_id, t.currency, t.amount_minor, t.owner_key, t.created_by, s.spent_by";
constexpr const char* k_token_from =
    " FROM settlement.token AS t LEFT JOIN settlement.spent AS s ON s.token_id = t.token_id";

}  // namespace

namespace {

auto open_connection(const std::string& url) -> result<std::unique_ptr<pqxx::connection>> {
  auto conn = pg::connect(url);
  if (!conn) {
    return conn.err();
  }
  try {
    // A safety net: no statement of the engine may wait on a row lock for long.
    pqxx::nontransaction tx(**conn);
    tx.exec("SET lock_timeout = '5s'");
  } catch (const std::exception& e) {
    return error{status_code::unavailable, e.what()};
  }
  return conn;
}

}  // namespace

auto store::open(const std::string& url) -> result<std::unique_ptr<store>> {
  auto conn = open_connection(url);
  if (!conn) {
    return conn.err();
  }
  return std::unique_ptr<store>(new store(url, std::move(*conn)));
}

auto store::conn() -> pqxx::connection& {
  if (!m_conn->is_open()) {
    auto again = open_connection(m_url);
    if (!again) {
      throw pqxx::broken_connection{again.err().message};
    }
    m_conn = std::move(*again);
  }
  return *m_conn;
}

auto store::migrate() -> result<int> {
  return pg::migrate(*m_conn, "settlement", migrations());
}

auto store::load_unspent(const std::function<void(token_info&&)>& fn) -> status {
  return pg::guarded([&]() -> status {
    pqxx::read_transaction tx(conn());
    const auto rows = tx.exec(std::string{"SELECT "} + k_token_columns + k_token_from +
                              " WHERE s.spent_by IS NULL");
    for (const auto& row : rows) {
      fn(token_of(row));
    }
    return ok_status();
  });
}

auto store::last_batch_seq() -> result<std::uint64_t> {
  return pg::guarded([&]() -> result<std::uint64_t> {
    pqxx::read_transaction tx(conn());
    const auto row = tx.exec1("SELECT coalesce(max(batch_seq), 0) FROM settlement.tx");
    return row[0].as<std::uint64_t>();
  });
}

auto all_outputs(const signed_tx& tx) -> std::vector<std::uint32_t> {
  std::vector<std::uint32_t> out(tx.tx.outputs.size());
  for (std::uint32_t i = 0; i < out.size(); ++i) {
    out[i] = i;
  }
  return out;
}

namespace {

/// Writes the items' transactions, new tokens, spends and supply changes with one call of
/// settlement.commit_batch (a column per array-bound parameter): one round trip.
void write_items(pqxx::transaction_base& tx, std::uint64_t batch_seq, std::int64_t settled_at_us,
                 const std::vector<commit_item>& items) {
  using col = pg::binary_array;
  using el = pg::binary_array::element;
  col tx_ids(el::bytea);
  col kinds(el::int2);
  col wires(el::bytea);
  col request_ids(el::text);
  col tok_ids(el::bytea);
  col tok_tx(el::bytea);
  col tok_idx(el::int4);
  col tok_cur(el::text);
  col tok_amount(el::int8);
  col tok_owner(el::bytea);
  col spent_ids(el::bytea);
  col spent_by(el::bytea);
  std::map<currency, std::pair<std::int64_t, std::int64_t>> supply_delta;  // issued, redeemed
  std::string wire_bytes;
  for (const auto& item : items) {
    const auto& stx = *item.tx;
    const auto* id = stx.id.data.data();
    const auto id_size = stx.id.data.size();
    tx_ids.add(id, id_size);
    kinds.add_int(static_cast<std::int64_t>(stx.tx.kind));
    wire_bytes.clear();
    CBDC_ASSERT(cbdc::to_wire(stx).SerializeToString(&wire_bytes));
    wires.add(wire_bytes);
    request_ids.add(item.client_request_id);
    for (const auto i : item.outputs) {
      const auto& out = stx.tx.outputs.at(i);
      CBDC_ASSERT(out.amount_minor > 0);
      const auto token = token_id_of(stx.tx.prof, stx.id, i);
      tok_ids.add(token.data.data(), token.data.size());
      tok_tx.add(id, id_size);
      tok_idx.add_int(i);
      tok_cur.add(currency_code(out.cur));
      tok_amount.add_int(out.amount_minor);
      const auto owner = out.owner.encode();
      tok_owner.add(owner.data(), owner.size());
      if (stx.tx.kind == tx_kind::issue) {
        auto& issued = supply_delta[out.cur].first;
        auto sum = checked_add(issued, out.amount_minor);
        CBDC_ASSERT(sum.ok());
        issued = *sum;
      }
    }
    for (const auto& in : item.inputs) {
      spent_ids.add(in.token_id.data.data(), in.token_id.data.size());
      spent_by.add(id, id_size);
      if (stx.tx.kind == tx_kind::redeem) {
        auto& redeemed = supply_delta[in.cur].second;
        auto sum = checked_add(redeemed, in.amount_minor);
        CBDC_ASSERT(sum.ok());
        redeemed = *sum;
      }
    }
  }
  col supply_cur(el::text);
  col supply_issued(el::int8);
  col supply_redeemed(el::int8);
  for (const auto& [cur, delta] : supply_delta) {
    supply_cur.add(currency_code(cur));
    supply_issued.add_int(delta.first);
    supply_redeemed.add_int(delta.second);
  }
  // The registry said every input exists and is unspent; the database agrees or the whole
  // batch is refused: the primary key of settlement.spent refuses a second spend, and the
  // function refuses a spend of a token that is not in settlement.token.
  tx.exec_params(
      "SELECT settlement.commit_batch($1::bigint, $2::bigint, $3::bytea[], $4::int2[], "
      "$5::bytea[], $6::text[], $7::bytea[], $8::bytea[], $9::int4[], $10::text[], $11::int8[], "
      "$12::bytea[], $13::bytea[], $14::bytea[], $15::text[], $16::int8[], $17::int8[])",
      static_cast<std::int64_t>(batch_seq), settled_at_us, tx_ids.param(), kinds.param(),
      wires.param(), request_ids.param(), tok_ids.param(), tok_tx.param(), tok_idx.param(),
      tok_cur.param(), tok_amount.param(), tok_owner.param(), spent_ids.param(), spent_by.param(),
      supply_cur.param(), supply_issued.param(), supply_redeemed.param());
}

}  // namespace

auto store::commit_batch(std::uint64_t batch_seq, std::int64_t settled_at_us,
                         const std::vector<commit_item>& items) -> status {
  CBDC_ASSERT(batch_seq > 0);
  if (items.empty()) {
    return ok_status();
  }
  return pg::guarded([&]() -> status {
    // Outside a transaction block the call is its own transaction, committed and flushed
    // before the server answers: no BEGIN or COMMIT round trips.
    pqxx::nontransaction tx(conn());
    write_items(tx, batch_seq, settled_at_us, items);
    return ok_status();
  });
}

auto store::prepare(const std::string& gid, std::uint64_t batch_seq, std::int64_t settled_at_us,
                    const commit_item& item) -> status {
  CBDC_ASSERT(batch_seq > 0 && !gid.empty());
  return pg::guarded([&]() -> status {
    // PREPARE TRANSACTION ends the transaction block itself, so it runs on a nontransaction
    // with an explicit BEGIN rather than inside a pqxx::work.
    pqxx::nontransaction tx(conn());
    tx.exec("BEGIN");
    try {
      write_items(tx, batch_seq, settled_at_us, {item});
      tx.exec("PREPARE TRANSACTION " + tx.quote(gid));
    } catch (...) {
      try {
        tx.exec("ROLLBACK");
      } catch (const std::exception&) {
        // The connection is gone; the server rolled back.
      }
      throw;
    }
    return ok_status();
  });
}

auto store::finish_prepared(const std::string& gid, bool commit) -> status {
  return pg::guarded([&]() -> status {
    pqxx::nontransaction tx(conn());
    const auto found = tx.exec_params(
        "SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = "
        "current_database()",
        gid);
    if (found.empty()) {
      return error{status_code::not_found, "no prepared transaction " + gid};
    }
    tx.exec(std::string{commit ? "COMMIT PREPARED " : "ROLLBACK PREPARED "} + tx.quote(gid));
    return ok_status();
  });
}

auto store::list_prepared() -> result<std::vector<std::string>> {
  return pg::guarded([&]() -> result<std::vector<std::string>> {
    pqxx::nontransaction tx(conn());
    std::vector<std::string> out;
    for (const auto& row :
         tx.exec("SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER "
                 "BY prepared")) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  });
}

auto store::find_tx(const hash256& id, std::uint32_t shard)
    -> result<std::pair<receipt, std::string>> {
  return pg::guarded([&]() -> result<std::pair<receipt, std::string>> {
    pqxx::read_transaction tx(conn());
    const auto rows = tx.exec_params(
        "SELECT batch_seq, (extract(epoch FROM settled_at) * 1000000)::bigint, signed_tx FROM "
        "settlement.tx WHERE tx_id = decode($1, 'hex')",
        id.hex());
    if (rows.empty()) {
      return error{status_code::not_found, "transaction " + id.hex() + " was never settled"};
    }
    receipt r;
    r.status = status_code::ok;
    r.tx_id = id;
    r.shard = shard;
    r.batch_seq = rows[0][0].as<std::uint64_t>();
    r.settled_at_us = rows[0][1].as<std::int64_t>();
    const auto raw = from_hex(hex_of(rows[0][2]));
    CBDC_ASSERT(raw.ok());
    return std::make_pair(r, std::string(raw->begin(), raw->end()));
  });
}

auto store::settled_since(std::uint64_t after, std::size_t limit, std::uint32_t shard,
                          std::uint64_t last_seq) -> result<settled_page> {
  CBDC_ASSERT(limit > 0);
  return pg::guarded([&]() -> result<settled_page> {
    pqxx::read_transaction tx(conn());
    const auto read = [&](std::uint64_t through) {
      return tx.exec_params(
          "SELECT batch_seq, (extract(epoch FROM settled_at) * 1000000)::bigint, signed_tx, "
          "encode(tx_id, 'hex') FROM settlement.tx WHERE batch_seq > $1 AND batch_seq <= $2 "
          "ORDER BY batch_seq, tx_id LIMIT $3",
          static_cast<std::int64_t>(after), static_cast<std::int64_t>(through),
          static_cast<std::int64_t>(limit) + 1);
    };
    // A window of batches after `after`, doubled until it holds more than a page or reaches
    // the last batch: rows read in all stay within twice the page's (and its window's).
    constexpr std::uint64_t k_first_window = 64;
    const std::uint64_t end = std::max(after, last_seq);
    std::uint64_t window = k_first_window;
    pqxx::result rows;
    while (true) {
      const std::uint64_t through = end - after <= window ? end : after + window;
      rows = read(through);
      if (rows.size() > limit || through == end) {
        break;
      }
      window *= 2;
    }
    settled_page page;
    std::size_t take = rows.size();
    if (rows.size() > limit) {
      // Whole batches only: leave the last batch, cut by the limit, for the next page (unless
      // it is the only one, which is then read whole).
      page.more = true;
      const auto last = rows[rows.size() - 1][0].as<std::uint64_t>();
      take = rows.size() - 1;
      while (take > 0 && rows[take - 1][0].as<std::uint64_t>() == last) {
        --take;
      }
      if (take == 0) {
        const auto whole = tx.exec_params(
            "SELECT batch_seq, (extract(epoch FROM settled_at) * 1000000)::bigint, signed_tx, "
            "encode(tx_id, 'hex') FROM settlement.tx WHERE batch_seq = $1 ORDER BY tx_id",
            static_cast<std::int64_t>(last));
        return page_of(whole, whole.size(), shard, true);
      }
    }
    return page_of(rows, take, shard, page.more);
  });
}

auto store::page_of(const pqxx::result& rows, std::size_t take, std::uint32_t shard, bool more)
    -> settled_page {
  settled_page page;
  page.more = more;
  page.txs.reserve(take);
  for (std::size_t i = 0; i < take; ++i) {
    const auto& row = rows[static_cast<pqxx::result::size_type>(i)];
    receipt r;
    r.status = status_code::ok;
    auto id = hash256::from_hex(row[3].as<std::string>());
    CBDC_ASSERT(id.ok());
    r.tx_id = *id;
    r.shard = shard;
    r.batch_seq = row[0].as<std::uint64_t>();
    r.settled_at_us = row[1].as<std::int64_t>();
    const auto raw = from_hex(hex_of(row[2]));
    CBDC_ASSERT(raw.ok());
    page.through_batch_seq = r.batch_seq;
    page.txs.emplace_back(r, std::string(raw->begin(), raw->end()));
  }
  return page;
}

auto store::find_token(const hash256& id) -> result<token_info> {
  return pg::guarded([&]() -> result<token_info> {
    pqxx::read_transaction tx(conn());
    const auto rows = tx.exec_params(std::string{"SELECT "} + k_token_columns + k_token_from +
                                         " WHERE t.token_id = decode($1, 'hex')",
                                     id.hex());
    if (rows.empty()) {
      return error{status_code::not_found, "token " + id.hex() + " does not exist"};
    }
    return token_of(rows[0]);
  });
}

auto store::supply(currency cur) -> result<supply_totals> {
  return pg::guarded([&]() -> result<supply_totals> {
    pqxx::read_transaction tx(conn());
    const std::string code{currency_code(cur)};
    const auto totals = tx.exec_params(
        "SELECT coalesce((SELECT issued_minor FROM settlement.supply WHERE currency = $1), 0), "
        "coalesce((SELECT redeemed_minor FROM settlement.supply WHERE currency = $1), 0), "
        "coalesce((SELECT sum(t.amount_minor) FROM settlement.token AS t WHERE t.currency = $1 "
        "AND NOT EXISTS (SELECT 1 FROM settlement.spent AS s WHERE s.token_id = t.token_id)), "
        "0)::bigint",
        code);
    supply_totals out;
    out.issued_minor = totals[0][0].as<std::int64_t>();
    out.redeemed_minor = totals[0][1].as<std::int64_t>();
    out.unspent_minor = totals[0][2].as<std::int64_t>();
    return out;
  });
}

}  // namespace cbdc::settlement
