#pragma once

// Keys, signatures and hashes of a deployment's profile: Ed25519 with SHA-256, or SM2 with SM3.

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/ids.hpp"
#include "core/status.hpp"

namespace cbdc {

/// A deployment's cryptography. ed25519: Ed25519 signatures (libsodium), SHA-256 ids.
/// sm2: SM2 signatures with SM3 digests (OpenSSL 3), SM3 ids — the "national cryptography"
/// profile. The numeric values are recorded in every key and transaction.
enum class profile : std::uint8_t { ed25519 = 1, sm2 = 2 };

auto profile_name(profile prof) -> std::string_view;
auto parse_profile(std::string_view name) -> result<profile>;
auto profile_from_wire(std::uint32_t value) -> result<profile>;

/// The id hash of a profile: SHA-256 or SM3.
auto hash(profile prof, byte_view data) -> hash256;

/// A public key with its profile. Encoded as one profile byte then the raw key
/// (Ed25519: 32 bytes; SM2: the 65-byte uncompressed point).
struct public_key {
  profile prof{profile::ed25519};
  bytes raw;

  [[nodiscard]] auto encode() const -> bytes;
  [[nodiscard]] auto hex() const -> std::string { return to_hex(encode()); }
  static auto decode(byte_view encoded) -> result<public_key>;
  static auto from_hex(std::string_view hex) -> result<public_key>;

  friend auto operator==(const public_key&, const public_key&) -> bool = default;
};

/// Raw key length of a profile, without the profile byte.
auto public_key_size(profile prof) -> std::size_t;

/// A secret key. Both profiles derive the key pair from a 32-byte seed, so keys can be
/// generated deterministically (the simulator derives millions of wallets from its seed).
class key_pair {
 public:
  static auto generate(profile prof) -> key_pair;
  static auto from_seed(profile prof, const std::array<std::uint8_t, 32>& seed) -> key_pair;

  [[nodiscard]] auto pub() const -> const public_key& { return m_pub; }
  [[nodiscard]] auto seed() const -> const std::array<std::uint8_t, 32>& { return m_seed; }
  [[nodiscard]] auto sign(byte_view message) const -> bytes;

  /// Writes "cbdc-key v1" text with the profile, the public key and the seed, mode 0600.
  auto save(const std::filesystem::path& path) const -> status;
  static auto load(const std::filesystem::path& path) -> result<key_pair>;

 private:
  struct impl;
  key_pair(public_key pub, const std::array<std::uint8_t, 32>& seed, std::shared_ptr<impl> state);

  public_key m_pub;
  std::array<std::uint8_t, 32> m_seed{};
  std::shared_ptr<impl> m_impl;
};

/// A deterministic 32-byte seed for key number `index` of family `salt` (tests, benchmarks and
/// simulations derive many keys without storing them). Not secret: never for real keys.
auto indexed_seed(std::uint64_t index, std::uint8_t salt) -> std::array<std::uint8_t, 32>;

/// Verifies a signature made by key over message. False for any failure, including a key or
/// signature of the wrong size.
auto verify(const public_key& key, byte_view message, byte_view signature) -> bool;

/// Whether key is a usable point of its curve: Ed25519, canonical, not of small order and in
/// the main subgroup (about 40 us, as much as a verification); SM2, on the curve. A key that
/// verifies a signature is one already. A token to any other key could never be spent.
auto valid_point(const public_key& key) -> bool;

/// Hex of `count` bytes from the operating system's CSPRNG (libsodium): ids that must not be
/// guessed (two-phase-commit gids, quote ids). Not for the simulation, whose randomness is seeded.
auto random_hex(std::size_t count) -> std::string;

}  // namespace cbdc
