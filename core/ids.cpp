// Bytes, hex and 32-byte ids.
#include "core/ids.hpp"

#include <sodium.h>

namespace cbdc {

auto to_hex(byte_view data) -> std::string {
  // libsodium's, in constant time (ids and keys, but also seeds, are printed with it). Its
  // pointers are declared never null, which an empty span's may be.
  if (data.empty()) {
    return {};
  }
  std::string out(data.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data.data(), data.size());
  out.pop_back();  // its terminating NUL
  return out;
}

auto from_hex(std::string_view hex) -> result<bytes> {
  if (hex.size() % 2 != 0) {
    return error{status_code::parse_error, "hex has an odd number of digits"};
  }
  if (hex.empty()) {
    return bytes{};  // (libsodium's pointers may not be null, as an empty one's may be)
  }
  bytes out(hex.size() / 2);
  std::size_t written = 0;
  const char* end = nullptr;
  // Digits of either case, nothing ignored: any other character stops it short.
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, &end) !=
          0 ||
      written != out.size() || end != hex.data() + hex.size()) {
    return error{status_code::parse_error, "not a hex digit in '" + std::string{hex} + "'"};
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
