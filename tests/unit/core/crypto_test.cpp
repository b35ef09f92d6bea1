// Keys, signatures and hashes in both profiles (Ed25519, SM2/SM3).
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/crypto.hpp"
#include "tests/support/seeds.hpp"

using namespace cbdc;
using cbdc::test::seed_of;

namespace {
auto msg(const char* text) -> bytes {
  return bytes(text, text + std::strlen(text));
}
}  // namespace

TEST_CASE("sign and verify in both profiles", "[crypto]") {
  for (const auto prof : {profile::ed25519, profile::sm2}) {
    SECTION(std::string{profile_name(prof)}) {
      const auto key = key_pair::generate(prof);
      const auto m = msg("pay 12.34 CNY");
      const auto sig = key.sign(m);
      CHECK(key.pub().prof == prof);
      CHECK(key.pub().raw.size() == public_key_size(prof));
      CHECK(verify(key.pub(), m, sig));

      auto tampered = m;
      tampered[0] ^= 1U;
      CHECK_FALSE(verify(key.pub(), tampered, sig));

      auto bad_sig = sig;
      bad_sig[bad_sig.size() / 2] ^= 1U;
      CHECK_FALSE(verify(key.pub(), m, bad_sig));

      const auto other = key_pair::generate(prof);
      CHECK_FALSE(verify(other.pub(), m, sig));

      CHECK_FALSE(verify(key.pub(), m, bytes{}));
    }
  }
}

TEST_CASE("a signature does not verify under the other profile", "[crypto]") {
  const auto ed = key_pair::generate(profile::ed25519);
  const auto sm = key_pair::generate(profile::sm2);
  const auto m = msg("hello");
  // An Ed25519 key presented as SM2 (and the reverse) has the wrong size and fails.
  const public_key ed_as_sm2{profile::sm2, ed.pub().raw};
  const public_key sm_as_ed{profile::ed25519, sm.pub().raw};
  CHECK_FALSE(verify(ed_as_sm2, m, ed.sign(m)));
  CHECK_FALSE(verify(sm_as_ed, m, sm.sign(m)));
  CHECK_FALSE(verify(ed.pub(), m, sm.sign(m)));
}

TEST_CASE("keys derive deterministically from a seed", "[crypto]") {
  for (const auto prof : {profile::ed25519, profile::sm2}) {
    const auto a = key_pair::from_seed(prof, seed_of(7));
    const auto b = key_pair::from_seed(prof, seed_of(7));
    const auto c = key_pair::from_seed(prof, seed_of(8));
    CHECK(a.pub() == b.pub());
    CHECK_FALSE(a.pub() == c.pub());
  }
  // Ed25519 signatures are deterministic; RFC 8032 test 1 seed gives its public key.
  auto rfc_seed = from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  std::array<std::uint8_t, 32> s{};
  std::copy(rfc_seed->begin(), rfc_seed->end(), s.begin());
  const auto rfc = key_pair::from_seed(profile::ed25519, s);
  CHECK(to_hex(rfc.pub().raw) ==
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  CHECK(to_hex(rfc.sign(bytes{})) ==
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701c"
        "f9b4"
        "6bd25bf5f0595bbe24655141438e7a100b");
}

TEST_CASE("ids hash with the profile's function", "[crypto]") {
  const auto m = msg("abc");
  // FIPS 180-2 and GB/T 32905 test vectors for "abc".
  CHECK(hash(profile::ed25519, m).hex() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hash(profile::sm2, m).hex() ==
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

TEST_CASE("key files round-trip and refuse damage", "[crypto]") {
  const auto dir = std::filesystem::temp_directory_path() / "cbdc_crypto_test";
  std::filesystem::remove_all(dir);
  for (const auto prof : {profile::ed25519, profile::sm2}) {
    const auto key = key_pair::generate(prof);
    const auto path = dir / (std::string{profile_name(prof)} + ".key");
    REQUIRE(key.save(path).ok());
    CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::others_read) ==
          std::filesystem::perms::none);
    auto loaded = key_pair::load(path);
    REQUIRE(loaded.ok());
    CHECK(loaded->pub() == key.pub());
    const auto m = msg("x");
    CHECK(verify(key.pub(), m, loaded->sign(m)));
  }
  CHECK(key_pair::load(dir / "missing.key").code() == status_code::io_error);
  {
    std::ofstream bad(dir / "bad.key");
    bad << "not a key\n";
  }
  CHECK(key_pair::load(dir / "bad.key").code() == status_code::key_error);
  {
    const auto other = key_pair::generate(profile::ed25519);
    std::ofstream bad(dir / "mismatch.key");
    bad << "cbdc-key v1\nprofile ed25519\npublic " << other.pub().hex() << "\nseed "
        << std::string(64, '1') << "\n";
  }
  CHECK(key_pair::load(dir / "mismatch.key").code() == status_code::key_error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("public keys decode with their profile", "[crypto]") {
  const auto key = key_pair::generate(profile::sm2);
  auto decoded = public_key::decode(key.pub().encode());
  REQUIRE(decoded.ok());
  CHECK(*decoded == key.pub());
  CHECK(public_key::decode(bytes{}).code() == status_code::key_error);
  CHECK(public_key::decode(bytes{9, 1, 2}).code() == status_code::key_error);
  CHECK(public_key::decode(bytes{1, 1, 2}).code() == status_code::key_error);
  CHECK(parse_profile("rsa").code() == status_code::parse_error);
}

TEST_CASE("keys that are not points of their curve are told apart", "[crypto]") {
  for (const auto prof : {profile::ed25519, profile::sm2}) {
    CHECK(valid_point(key_pair::from_seed(prof, indexed_seed(5, 1)).pub()));
  }
  public_key identity{profile::ed25519, bytes(32, 0)};
  identity.raw[0] = 1;  // the neutral element: of small order
  CHECK_FALSE(valid_point(identity));
  CHECK_FALSE(valid_point(public_key{profile::ed25519, bytes(32, 0xff)}));  // not canonical
  CHECK_FALSE(valid_point(public_key{profile::ed25519, bytes(31, 7)}));     // short
  auto sm2 = key_pair::from_seed(profile::sm2, indexed_seed(5, 1)).pub();
  sm2.raw.back() ^= 1;  // y moved off the curve
  CHECK_FALSE(valid_point(sm2));
}
