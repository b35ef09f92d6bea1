#pragma once

// A bank's (or a dealer's) vault key on disk, and funding a wallet from it.

#include <filesystem>

#include "core/crypto.hpp"
#include "core/money.hpp"
#include "settlement/client.hpp"

namespace cbdc::payment {

/// An operator bank's vault: the key the central bank mints to, and from which the bank
/// moves e-CNY into its customers' wallets. Kept in a folder like a wallet (vault.key).
auto vault_key_path(const std::filesystem::path& dir) -> std::filesystem::path;
auto init_vault(const std::filesystem::path& dir, profile prof) -> result<key_pair>;
auto open_vault(const std::filesystem::path& dir) -> result<key_pair>;

/// Moves amount from the vault to a customer's wallet key.
auto fund_wallet(settlement::interface& settle, const key_pair& vault, const public_key& wallet,
                 money amount) -> result<settlement::receipt>;

}  // namespace cbdc::payment
