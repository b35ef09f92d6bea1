// The project's command-line tools as a test runs them: where the build put them, and a run
// that must succeed. Needs CBDC_BUILD_DIR (the build folder), which tests/CMakeLists.txt sets.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "platform/process.hpp"

namespace cbdc::test {

inline constexpr std::string_view k_build = CBDC_BUILD_DIR;

/// The path of a tool: build/<preset>/<folder>/<name> (cbdc-settle lives in settlement/).
inline auto tool(const std::string& name) -> std::string {
  const std::string folder = name == "cbdc-settle" ? "settlement" : name.substr(5);
  return std::string{k_build} + "/" + folder + "/" + name;
}

inline auto trim(std::string s) -> std::string {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

/// Runs a command that must exit 0; its output, trimmed.
inline auto ok_run(const std::vector<std::string>& argv) -> std::string {
  auto r = run(argv);
  INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << " printed: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  return trim(r.out);
}

}  // namespace cbdc::test
