// The engine's unspent registry: the shard's unspent tokens in memory, by id and by owner
// (ListUnspent), with tokens of batches not yet committed left out of what is listed.
#include "settlement/engine.hpp"

#include <algorithm>

namespace cbdc::settlement {

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
  order_as_listed(out, limit);
  return out;
}

}  // namespace cbdc::settlement
