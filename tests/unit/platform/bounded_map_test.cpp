// The bounded cache: capacity held, oldest evicted first.
#include "platform/bounded_map.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace cbdc {

TEST_CASE("bounded_map forgets the oldest entry past its capacity", "[platform]") {
  bounded_map<std::string, int> m(3);
  m.put("a", 1);
  m.put("b", 2);
  m.put("c", 3);
  m.put("a", 10);  // an update keeps a's place
  REQUIRE(m.size() == 3);
  REQUIRE(*m.find("a") == 10);
  m.put("d", 4);
  REQUIRE(m.size() == 3);
  REQUIRE(m.find("a") == nullptr);  // the oldest inserted goes first
  REQUIRE(*m.find("b") == 2);
  REQUIRE(m.contains("d"));
  m.put_if_absent("b", 20);
  REQUIRE(*m.find("b") == 2);
  m.put_if_absent("e", 5);
  REQUIRE(*m.find("e") == 5);
  REQUIRE(m.size() == 3);
}

TEST_CASE("bounded_map stays bounded when keys are erased and put again", "[platform]") {
  bounded_map<int, int> m(4);
  m.put(1, 1);
  m.put(2, 2);
  for (int round = 0; round < 10'000; ++round) {
    m.put(7, round);
    REQUIRE(*m.find(7) == round);
    m.erase(7);
    REQUIRE(m.size() <= 4);
  }
  // The erased key's old slots pushed out 1 and 2 (they were the oldest), and put again it
  // lives under its new slot: it is not evicted by a stale one.
  m.put(7, 1);
  m.put(8, 2);
  m.put(9, 3);
  REQUIRE(m.contains(7));
  REQUIRE(m.contains(8));
  REQUIRE(m.contains(9));
  REQUIRE(m.size() <= 4);
}

}  // namespace cbdc
