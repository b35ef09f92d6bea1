#pragma once

// A wallet on disk: its key file.

#include <filesystem>

#include "core/crypto.hpp"

namespace cbdc::wallet {

/// A wallet on disk: a folder holding wallet.key (mode 0600).
auto key_path(const std::filesystem::path& dir) -> std::filesystem::path;
/// Creates a wallet's key; refuses (bad_request) to overwrite an existing one.
auto init(const std::filesystem::path& dir, profile prof) -> result<key_pair>;
auto open(const std::filesystem::path& dir) -> result<key_pair>;

}  // namespace cbdc::wallet
