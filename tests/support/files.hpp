// Reading what a program under test wrote.
#pragma once

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace cbdc::test {

/// A file's bytes ("" when it cannot be read).
inline auto file_text(const std::filesystem::path& p) -> std::string {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A JSON file (a summary.json, say), parsed; throws on bad JSON, failing the test.
inline auto read_json(const std::filesystem::path& p) -> boost::json::value {
  return boost::json::parse(file_text(p));
}

}  // namespace cbdc::test
