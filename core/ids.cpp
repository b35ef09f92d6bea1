#include "core/ids.hpp"

namespace cbdc {

auto to_hex(byte_view data) -> std::string {
  static constexpr std::string_view k_digits = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (const auto b : data) {
    out += k_digits[b >> 4U];
    out += k_digits[b & 0x0fU];
  }
  return out;
}

namespace {
auto nibble(char c) -> int {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}
}  // namespace

auto from_hex(std::string_view hex) -> result<bytes> {
  if (hex.size() % 2 != 0) {
    return error{status_code::parse_error, "hex has an odd number of digits"};
  }
  bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return error{status_code::parse_error, "not a hex digit in '" + std::string{hex} + "'"};
    }
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

auto hash256::from_bytes(byte_view raw) -> result<hash256> {
  if (raw.size() != 32) {
    return error{status_code::parse_error, "an id is 32 bytes, got " + std::to_string(raw.size())};
  }
  hash256 out;
  std::copy(raw.begin(), raw.end(), out.data.begin());
  return out;
}

auto hash256::from_hex(std::string_view hex) -> result<hash256> {
  auto raw = cbdc::from_hex(hex);
  if (!raw) {
    return raw.err();
  }
  return from_bytes(*raw);
}

}  // namespace cbdc
