// Every fuzz target over its corpus (tests/fuzz/corpus/<name>/: the seeds and every input that
// once crashed), in each ordinary build: a crash found by scripts/fuzz, once its input is kept
// there, stays fixed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/fuzz/target.hpp"

namespace cbdc::fuzz {

auto targets() -> std::map<std::string, target_fn>& {
  static std::map<std::string, target_fn> all;
  return all;
}

}  // namespace cbdc::fuzz

TEST_CASE("every fuzz target runs its corpus without a crash", "[fuzz]") {
  const std::filesystem::path corpus = CBDC_FUZZ_CORPUS;
  REQUIRE(cbdc::fuzz::targets().size() == 7);
  for (const auto& [name, run] : cbdc::fuzz::targets()) {
    const auto dir = corpus / name;
    INFO(dir.string());
    REQUIRE(std::filesystem::is_directory(dir));
    std::size_t inputs = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
    CHECK(inputs > 0);
  }
}
