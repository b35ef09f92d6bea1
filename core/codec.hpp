#pragma once

// Transactions, tokens and their canonical encoding (docs/protocol.md): what is hashed into an
// id and signed.

#include <cstdint>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/money.hpp"
#include "core/status.hpp"

namespace cbdc {

/// What a transaction does. issue: no inputs, signed by the currency's issuer. transfer:
/// inputs and outputs, value conserved per currency. redeem: inputs only, back to the issuer.
enum class tx_kind : std::uint8_t { issue = 1, transfer = 2, redeem = 3 };

auto tx_kind_name(tx_kind kind) -> std::string_view;

struct tx_output {
  currency cur{currency::cny};
  std::int64_t amount_minor{0};
  public_key owner;

  friend auto operator==(const tx_output&, const tx_output&) -> bool = default;
};

/// The content of a transaction: exactly what is hashed into its id and signed.
struct transaction {
  profile prof{profile::ed25519};
  tx_kind kind{tx_kind::transfer};
  /// Chosen by the creator so that two otherwise equal transactions get different ids.
  std::uint64_t nonce{0};
  std::vector<hash256> inputs;
  std::vector<tx_output> outputs;
  std::string memo;

  friend auto operator==(const transaction&, const transaction&) -> bool = default;
};

/// Limits of the encoding; a transaction beyond them is too_large.
inline constexpr std::size_t k_max_inputs = 256;
inline constexpr std::size_t k_max_outputs = 256;
inline constexpr std::size_t k_max_memo_bytes = 256;
inline constexpr std::uint8_t k_codec_version = 1;

/// The canonical bytes (docs/protocol.md, "Canonical transaction encoding").
/// Precondition: the transaction is within the limits above.
auto encode(const transaction& tx) -> bytes;
/// Parses canonical bytes; anything else is malformed, too_large or profile_mismatch.
/// Re-encoding the result gives the same bytes.
auto decode_transaction(byte_view data) -> result<transaction>;

/// tx_id = H(canonical bytes), H of the transaction's profile.
auto tx_id_of(profile prof, byte_view canonical) -> hash256;
/// token_id = H(tx_id || index as 4 bytes big-endian).
auto token_id_of(profile prof, const hash256& tx_id, std::uint32_t index) -> hash256;

/// The shard that holds a token: shards own equal ranges of the first id byte.
constexpr auto shard_of(const hash256& token_id, std::uint32_t shard_count) -> std::uint32_t {
  return static_cast<std::uint32_t>(token_id.data[0]) * shard_count / 256U;
}

/// The shards a transaction touches: those of its inputs and of its outputs, ascending.
auto shards_of(const transaction& tx, const hash256& tx_id, std::uint32_t shard_count)
    -> std::vector<std::uint32_t>;

/// Sets tx.nonce, starting from start and counting up, to the first value whose outputs all
/// land on `shard` (so a payment whose inputs live there commits on one shard). Bounded:
/// returns false, nonce unchanged, after max_tries.
auto co_locate(transaction& tx, std::uint32_t shard, std::uint32_t shard_count, std::uint64_t start,
               int max_tries = 100'000) -> bool;

struct tx_signature {
  public_key signer;
  bytes sig;
};

/// A transaction with its canonical bytes, id and signatures over the canonical bytes.
struct signed_tx {
  transaction tx;
  bytes body;
  hash256 id;
  std::vector<tx_signature> sigs;

  /// Encodes tx and computes its id; no signatures yet.
  static auto make(transaction tx) -> signed_tx;
  /// Adds key's signature over the canonical bytes.
  void sign_with(const key_pair& key);
};

}  // namespace cbdc
