// One shard in process: starting its engine, publisher and query store, and answering
// settlement::interface from them (submissions through the engine, queries from the store and
// the engine's unspent registry).
#include "settlement/shard.hpp"

#include <algorithm>
#include <future>
#include <limits>

namespace cbdc::settlement {

auto shard::start(shard_config config) -> result<std::unique_ptr<shard>> {
  std::unique_ptr<shard> s(new shard(std::move(config)));
  {
    auto migrator = store::open(s->m_config.db_url);
    if (!migrator) {
      return migrator.err();
    }
    if (auto migrated = (*migrator)->migrate(); !migrated) {
      return migrated.err();
    }
  }
  auto query_db = store::open(s->m_config.db_url);
  if (!query_db) {
    return query_db.err();
  }
  s->m_query_db = std::move(*query_db);
  engine::settled_fn on_settled;
  if (!s->m_config.pub_endpoint.empty()) {
    s->m_publisher = std::make_unique<publisher>(s->m_config.pub_endpoint, s->m_config.net);
    if (auto bound = s->m_publisher->start(); !bound) {
      return bound.err();
    }
    on_settled = [pub = s->m_publisher.get()](const std::vector<const signed_tx*>& txs,
                                              const receipt& batch) { pub->publish(txs, batch); };
  }
  s->m_config.engine.net = s->m_config.net;
  auto eng = engine::start(
      s->m_config.engine, [url = s->m_config.db_url] { return store::open(url); },
      std::move(on_settled));
  if (!eng) {
    return eng.err();
  }
  s->m_engine = std::move(*eng);
  return s;
}

shard::~shard() {
  if (m_engine) {
    m_engine->stop();
  }
}

void shard::submit_async(const signed_tx& tx, const std::string& client_request_id,
                         receipt_fn done) {
  submit_async(signed_tx{tx}, client_request_id, std::move(done));
}

void shard::submit_async(signed_tx&& tx, std::string client_request_id, receipt_fn done) {
  m_engine->submit(std::move(tx), std::move(client_request_id),
                   [done = std::move(done)](const receipt& r) { done(r); });
}

auto shard::submit(const signed_tx& tx, const std::string& client_request_id) -> result<receipt> {
  std::promise<receipt> answered;
  auto answer = answered.get_future();
  m_engine->submit(tx, client_request_id, [&answered](const receipt& r) { answered.set_value(r); });
  return answer.get();
}

auto shard::find_tx(const hash256& id) -> result<std::pair<receipt, signed_tx>> {
  auto found = [&] {
    std::lock_guard lock(m_query_mutex);
    return m_query_db->find_tx(id, number());
  }();
  if (!found) {
    return found.err();
  }
  wire::SignedTx msg;
  CBDC_ASSERT(msg.ParseFromString(found->second));  // settlement wrote it
  auto stx = from_wire(msg);
  CBDC_ASSERT(stx.ok());
  return std::pair{found->first, std::move(*stx)};
}

auto shard::get_tx(const hash256& id) -> result<receipt> {
  auto found = find_tx(id);
  if (!found) {
    return found.err();
  }
  return found->first;
}

auto shard::get_signed_tx(const hash256& id) -> result<signed_tx> {
  auto found = find_tx(id);
  if (!found) {
    return found.err();
  }
  return std::move(found->second);
}

auto shard::get_token(const hash256& id) -> result<token_info> {
  std::lock_guard lock(m_query_mutex);
  return m_query_db->find_token(id);
}

auto shard::list_unspent(const public_key& owner, std::uint32_t limit)
    -> result<std::vector<token_info>> {
  return m_engine->list_unspent(owner, limit == 0 ? k_max_listed : std::min(limit, k_max_listed));
}

auto shard::supply(currency cur) -> result<supply_totals> {
  std::lock_guard lock(m_query_mutex);
  return m_query_db->supply(cur);
}

auto shard::balances(const std::vector<public_key>& owners, currency cur)
    -> result<std::vector<std::int64_t>> {
  if (owners.size() > k_max_balances) {
    return error{status_code::malformed,
                 "at most " + std::to_string(k_max_balances) + " keys a request"};
  }
  std::vector<std::int64_t> out;
  out.reserve(owners.size());
  for (const auto& owner : owners) {
    std::int64_t sum = 0;
    for (const auto& t : m_engine->list_unspent(owner, std::numeric_limits<std::size_t>::max())) {
      // A shard issues at most 1/K of 2^63-1: a key's unspent sum fits.
      sum += t.cur == cur ? t.amount_minor : 0;
    }
    out.push_back(sum);
  }
  return out;
}

auto shard::settled_since(std::uint32_t shard_number, std::uint64_t after, std::uint32_t limit)
    -> result<settled_page> {
  if (shard_number != number()) {
    return error{status_code::bad_request, "this is shard " + std::to_string(number()) + ", not " +
                                               std::to_string(shard_number)};
  }
  auto page = [&] {
    std::lock_guard lock(m_query_mutex);
    return m_query_db->settled_since(after,
                                     limit == 0 ? k_settled_page : std::min(limit, k_settled_page),
                                     number(), m_engine->last_batch_seq());
  }();
  if (!page) {
    return page.err();
  }
  settled_page out;
  out.txs.reserve(page->txs.size());
  for (const auto& [r, wire_tx] : page->txs) {
    wire::SignedTx msg;
    CBDC_ASSERT(msg.ParseFromString(wire_tx));
    auto stx = from_wire(msg);
    CBDC_ASSERT(stx.ok());  // settlement wrote it
    auto settled = settled_message(*stx, r);
    for (const auto& sig : stx->sigs) {
      settled.add_signers(bytes_to_wire(sig.signer.encode()));
    }
    out.txs.push_back(std::move(settled));
  }
  out.through_batch_seq = page->through_batch_seq;
  out.more = page->more;
  return out;
}

void shard::prepare(std::string gid, signed_tx tx, engine::prepared_fn done) {
  m_engine->prepare(std::move(gid), std::move(tx), std::move(done));
}

void shard::resolve(std::string gid, bool commit, engine::resolved_fn done) {
  m_engine->resolve(std::move(gid), commit, std::move(done));
}

}  // namespace cbdc::settlement
