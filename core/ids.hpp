#pragma once

// Bytes, hex and 32-byte ids (transaction and token ids).

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace cbdc {

using bytes = std::vector<std::uint8_t>;
using byte_view = std::span<const std::uint8_t>;

/// Lower-case hex of any bytes.
auto to_hex(byte_view data) -> std::string;
/// Parses hex (either case, even length).
auto from_hex(std::string_view hex) -> result<bytes>;

/// A 32-byte hash: transaction and token ids.
struct hash256 {
  std::array<std::uint8_t, 32> data{};

  [[nodiscard]] auto hex() const -> std::string { return to_hex(data); }
  [[nodiscard]] auto view() const -> byte_view { return data; }
  static auto from_hex(std::string_view hex) -> result<hash256>;
  static auto from_bytes(byte_view raw) -> result<hash256>;

  friend auto operator==(const hash256&, const hash256&) -> bool = default;
  // (clang-tidy 14 sees a literal 0 in the defaulted comparison's synthesized code.)
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const hash256&, const hash256&) = default;
};

}  // namespace cbdc

template <>
struct std::hash<cbdc::hash256> {
  auto operator()(const cbdc::hash256& h) const noexcept -> std::size_t {
    // Ids are uniformly distributed hashes already; their first bytes are a fine hash.
    std::size_t out = 0;
    for (std::size_t i = 0; i < sizeof(std::size_t); ++i) {
      out = (out << 8U) | h.data[i];
    }
    return out;
  }
};
