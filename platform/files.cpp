// Whole files read in one call (platform/files.hpp).
#include "platform/files.hpp"

#include <fstream>
#include <iterator>

namespace cbdc {

auto read_file(const std::filesystem::path& path) -> result<std::string> {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return error{status_code::io_error, "cannot read " + path.string()};
  }
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    return error{status_code::io_error, "cannot read " + path.string()};
  }
  return text;
}

auto read_file_bytes(const std::filesystem::path& path) -> result<bytes> {
  auto text = read_file(path);
  if (!text) {
    return text.err();
  }
  return bytes{text->begin(), text->end()};
}

}  // namespace cbdc
