#pragma once

// Whole files read in one call, with the typed error every caller gives.

#include <filesystem>
#include <string>

#include "core/ids.hpp"
#include "core/status.hpp"

namespace cbdc {

/// A file's bytes, as text. Errors: io_error naming the file.
auto read_file(const std::filesystem::path& path) -> result<std::string>;
/// The same as bytes.
auto read_file_bytes(const std::filesystem::path& path) -> result<bytes>;

}  // namespace cbdc
