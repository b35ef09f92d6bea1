// A wallet's key file.
#include "wallet/wallet.hpp"

namespace cbdc::wallet {

auto key_path(const std::filesystem::path& dir) -> std::filesystem::path {
  return dir / "wallet.key";
}

auto init(const std::filesystem::path& dir, profile prof) -> result<key_pair> {
  if (std::filesystem::exists(key_path(dir))) {
    return error{status_code::bad_request, "a wallet already exists in " + dir.string()};
  }
  auto key = key_pair::generate(prof);
  if (auto saved = key.save(key_path(dir)); !saved) {
    return saved.err();
  }
  return key;
}

auto open(const std::filesystem::path& dir) -> result<key_pair> {
  return key_pair::load(key_path(dir));
}

}  // namespace cbdc::wallet
