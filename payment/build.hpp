#pragma once

// Spending tokens, shared by every node that pays (wallet, bank, dealer, POS): coin selection,
// building and signing a transfer, and a payment straight to settlement.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/codec.hpp"
#include "core/crypto.hpp"
#include "core/money.hpp"
#include "settlement/client.hpp"

namespace cbdc::payment {

/// Sum of unspent tokens per currency.
auto totals(const std::vector<settlement::token_info>& unspent)
    -> result<std::map<currency, std::int64_t>>;

/// The owner's unspent tokens of amount's currency that pay it: one exact token if there is
/// one, else the largest first (fewest inputs). Errors: insufficient_funds, too_large (more than
/// the codec's input limit).
auto select_tokens(const std::vector<settlement::token_info>& unspent, const public_key& owner,
                   money amount) -> result<std::vector<const settlement::token_info*>>;

/// Builds and signs a transfer of `amount` from payer's tokens to payee: the largest tokens of
/// the currency first, change back to the payer. With several shards, when the chosen tokens
/// live on one shard the nonce is chosen (from `nonce` up) so that the outputs live there too and
/// the payment commits on that shard alone. Errors: amount_invalid, insufficient_funds,
/// too_large (would need more than the codec's input limit), profile_mismatch.
auto build_payment(const key_pair& payer, const std::vector<settlement::token_info>& unspent,
                   const public_key& payee, money amount, std::uint64_t nonce,
                   const std::string& memo, std::uint32_t shard_count = 1) -> result<signed_tx>;

/// The same for several payees at once (a bank paying out red envelopes, say): outputs in the
/// order given, change last. Errors as build_payment's, and too_large past the output limit.
auto build_transfer(const key_pair& payer, const std::vector<settlement::token_info>& unspent,
                    const std::vector<tx_output>& payees, std::uint64_t nonce,
                    const std::string& memo, std::uint32_t shard_count = 1) -> result<signed_tx>;

/// A fresh random nonce for a transaction.
auto random_nonce() -> std::uint64_t;

/// Looks up the payer's tokens, builds, signs and submits a payment.
auto pay(settlement::interface& settle, const key_pair& payer, const public_key& payee,
         money amount, const std::string& memo) -> result<settlement::receipt>;

}  // namespace cbdc::payment
