// Identifiers and status names: hex, 32-byte hashes, stable names.
#include <catch2/catch.hpp>

#include "core/ids.hpp"
#include "core/status.hpp"

using namespace cbdc;

TEST_CASE("hex round-trips and refuses bad input", "[ids]") {
  const bytes raw{0x00, 0x0f, 0xa0, 0xff};
  CHECK(to_hex(raw) == "000fa0ff");
  CHECK(*from_hex("000FA0ff") == raw);
  CHECK(from_hex("abc").code() == status_code::parse_error);
  CHECK(from_hex("zz").code() == status_code::parse_error);
  // A bad digit anywhere, a separator or a NUL: refused, never read up to it.
  CHECK(from_hex("00g0").code() == status_code::parse_error);
  CHECK(from_hex("00 0").code() == status_code::parse_error);
  CHECK(from_hex("00:0").code() == status_code::parse_error);
  CHECK(from_hex(std::string_view{"00\0f", 4}).code() == status_code::parse_error);
  CHECK(from_hex("")->empty());
  CHECK(to_hex(bytes{}).empty());
}

TEST_CASE("hash256 needs exactly 32 bytes", "[ids]") {
  const std::string hex(64, 'a');
  auto id = hash256::from_hex(hex);
  REQUIRE(id.ok());
  CHECK(id->hex() == hex);
  CHECK(hash256::from_hex("aa").code() == status_code::parse_error);
  CHECK(hash256::from_hex(std::string(66, 'a')).code() == status_code::parse_error);
}

TEST_CASE("status names are stable", "[status]") {
  CHECK(to_string(status_code::input_spent) == "input_spent");
  CHECK(to_string(status_code::already_settled) == "already_settled");
  CHECK(is_transient(status_code::overloaded));
  CHECK_FALSE(is_transient(status_code::bad_signature));
}
