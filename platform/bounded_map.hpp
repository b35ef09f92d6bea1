#pragma once

// A map that holds at most a fixed number of entries: a daemon's cache must not grow with every
// key it ever meets.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <utility>

#include "core/assert.hpp"

namespace cbdc {

/// Keeps at most `capacity` entries and forgets the oldest inserted first. For caches, whose
/// misses cost time (a question asked again), never correctness.
template <class K, class V, class Hash = std::hash<K>>
class bounded_map {
 public:
  explicit bounded_map(std::size_t capacity) : m_capacity(capacity) { CBDC_ASSERT(capacity > 0); }

  /// The value of key, or nullptr.
  [[nodiscard]] auto find(const K& key) const -> const V* {
    const auto it = m_entries.find(key);
    return it == m_entries.end() ? nullptr : &it->second.first;
  }
  [[nodiscard]] auto contains(const K& key) const -> bool { return m_entries.contains(key); }
  [[nodiscard]] auto size() const -> std::size_t { return m_entries.size(); }

  /// Sets key's value (a new key may push out the oldest entry).
  void put(const K& key, V value) {
    if (auto it = m_entries.find(key); it != m_entries.end()) {
      it->second.first = std::move(value);
      return;
    }
    insert(key, std::move(value));
  }
  /// Sets key's value unless it has one.
  void put_if_absent(const K& key, V value) {
    if (!m_entries.contains(key)) {
      insert(key, std::move(value));
    }
  }
  void erase(const K& key) { m_entries.erase(key); }

 private:
  void insert(const K& key, V value) {
    const auto generation = m_next_generation++;
    m_entries.emplace(key, std::make_pair(std::move(value), generation));
    m_order.emplace_back(key, generation);
    // The order holds one slot per insertion; a slot whose entry was erased (or erased and put
    // again, under a later generation) is dropped without touching the entry.
    while (m_order.size() > m_capacity) {
      const auto& [oldest, born] = m_order.front();
      if (auto it = m_entries.find(oldest); it != m_entries.end() && it->second.second == born) {
        m_entries.erase(it);
      }
      m_order.pop_front();
    }
    CBDC_ASSERT(m_entries.size() <= m_capacity);
  }

  std::size_t m_capacity;
  std::unordered_map<K, std::pair<V, std::uint64_t>, Hash> m_entries;
  std::deque<std::pair<K, std::uint64_t>> m_order;
  std::uint64_t m_next_generation{0};
};

}  // namespace cbdc
