// A vault's key file and funding a wallet from the vault.
#include "payment/vault.hpp"

#include "payment/build.hpp"

namespace cbdc::payment {

auto vault_key_path(const std::filesystem::path& dir) -> std::filesystem::path {
  return dir / "vault.key";
}

auto init_vault(const std::filesystem::path& dir, profile prof) -> result<key_pair> {
  if (std::filesystem::exists(vault_key_path(dir))) {
    return error{status_code::bad_request, "a vault already exists in " + dir.string()};
  }
  auto key = key_pair::generate(prof);
  if (auto saved = key.save(vault_key_path(dir)); !saved) {
    return saved.err();
  }
  return key;
}

auto open_vault(const std::filesystem::path& dir) -> result<key_pair> {
  return key_pair::load(vault_key_path(dir));
}

auto fund_wallet(settlement::interface& settle, const key_pair& vault, const public_key& wallet,
                 money amount) -> result<settlement::receipt> {
  return pay(settle, vault, wallet, amount, "bank funding");
}

}  // namespace cbdc::payment
