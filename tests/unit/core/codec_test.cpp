// The canonical transaction encoding: round trips, test vectors, malformed input.
#include <catch2/catch.hpp>

#include "core/codec.hpp"
#include "rpc/wire.hpp"
#include "tests/support/seeds.hpp"

using namespace cbdc;
using cbdc::test::seed_of;

namespace {

auto id_of(std::uint8_t b) -> hash256 {
  hash256 h;
  h.data.fill(b);
  return h;
}

/// The transactions of docs/protocol.md, "Test vectors".
auto vector_transfer(profile prof) -> transaction {
  const auto payer = key_pair::from_seed(prof, seed_of(0x01));
  const auto payee = key_pair::from_seed(prof, seed_of(0x02));
  transaction tx;
  tx.prof = prof;
  tx.kind = tx_kind::transfer;
  tx.nonce = 42;
  tx.inputs = {id_of(0x11), id_of(0x22)};
  tx.outputs = {tx_output{currency::cny, 1234, payee.pub()},
                tx_output{currency::cny, 8766, payer.pub()}};
  tx.memo = "coffee";
  return tx;
}

auto vector_issue() -> transaction {
  const auto vault = key_pair::from_seed(profile::ed25519, seed_of(0x02));
  transaction tx;
  tx.prof = profile::ed25519;
  tx.kind = tx_kind::issue;
  tx.nonce = 1;
  tx.outputs = {tx_output{currency::hkd, 100000, vault.pub()}};
  return tx;
}

auto hex_bytes(const std::string& hex) -> bytes {
  return *from_hex(hex);
}

// Expected bytes, ids and signature (docs/protocol.md). Frozen: a change here is a protocol
// change and needs a new codec version.
constexpr const char* k_transfer_ed25519_hex =
    "43425458010102000000000000002a0002"
    "1111111111111111111111111111111111111111111111111111111111111111"
    "2222222222222222222222222222222222222222222222222222222222222222"
    "0002"
    "0100000000000004d22101"
    "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
    "01000000000000223e2101"
    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    "0006636f66666565";
constexpr const char* k_transfer_ed25519_id =
    "928c28615e1edc1f59a3149a80ccd3170ffa0b5fa584a27455b09b76bb599a87";
constexpr const char* k_transfer_ed25519_token0 =
    "da974400142c1a83ad0ef464160c6f0556de3e7ed31dd11d904ddecc67a1a244";
constexpr const char* k_transfer_ed25519_sig =
    "de2aa25a16ecfdfc721e611793213a272be9ed91c6c6709a9248069fac83340eddd113abc299211650a04e172363bb"
    "0ab7e38e6be1bced593bf52c9a19754d06";
constexpr const char* k_issue_hex =
    "434254580101010000000000000001000000010200000000000186a021018139770ea87d175f56a35466c34c7ecccb"
    "8d8a91b4ee37a25df60f5b8fc9b3940000";
constexpr const char* k_issue_id =
    "ab5c43dbdacb5e38351e57079c4b1156fd71cd75528d6713d21f348d42b5c25c";
constexpr const char* k_transfer_sm2_id =
    "a36e47b3069b071584ea7dfe7d1eb0700906868dce9e085876d1993af10fa5d3";

}  // namespace

TEST_CASE("canonical encoding matches the test vectors byte for byte", "[codec]") {
  const auto tx = vector_transfer(profile::ed25519);
  const auto encoded = encode(tx);
  CHECK(to_hex(encoded) == k_transfer_ed25519_hex);
  CHECK(tx_id_of(tx.prof, encoded).hex() == k_transfer_ed25519_id);
  CHECK(token_id_of(tx.prof, tx_id_of(tx.prof, encoded), 0).hex() == k_transfer_ed25519_token0);
  const auto payer = key_pair::from_seed(profile::ed25519, seed_of(0x01));
  CHECK(to_hex(payer.sign(encoded)) == k_transfer_ed25519_sig);

  const auto issue = vector_issue();
  CHECK(to_hex(encode(issue)) == k_issue_hex);
  CHECK(tx_id_of(profile::ed25519, encode(issue)).hex() == k_issue_id);

  const auto sm2_tx = vector_transfer(profile::sm2);
  CHECK(tx_id_of(profile::sm2, encode(sm2_tx)).hex() == k_transfer_sm2_id);
}

TEST_CASE("decoding the vectors gives back the transactions", "[codec]") {
  auto decoded = decode_transaction(hex_bytes(k_transfer_ed25519_hex));
  REQUIRE(decoded.ok());
  CHECK(*decoded == vector_transfer(profile::ed25519));
  auto issue = decode_transaction(hex_bytes(k_issue_hex));
  REQUIRE(issue.ok());
  CHECK(*issue == vector_issue());
  const auto sm2_tx = vector_transfer(profile::sm2);
  auto sm2_decoded = decode_transaction(encode(sm2_tx));
  REQUIRE(sm2_decoded.ok());
  CHECK(*sm2_decoded == sm2_tx);
}

TEST_CASE("every truncation of a valid encoding is malformed", "[codec]") {
  const auto full = hex_bytes(k_transfer_ed25519_hex);
  for (std::size_t n = 0; n < full.size(); ++n) {
    const bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    INFO("length " << n);
    CHECK(decode_transaction(cut).code() == status_code::malformed);
  }
  auto longer = full;
  longer.push_back(0);
  CHECK(decode_transaction(longer).code() == status_code::malformed);
}

TEST_CASE("bad fields are refused with typed errors", "[codec]") {
  const auto full = hex_bytes(k_transfer_ed25519_hex);
  auto bad = full;
  bad[0] = 'X';  // magic
  CHECK(decode_transaction(bad).code() == status_code::malformed);
  bad = full;
  bad[4] = 2;  // version
  CHECK(decode_transaction(bad).code() == status_code::malformed);
  bad = full;
  bad[5] = 9;  // profile
  CHECK(decode_transaction(bad).code() == status_code::malformed);
  bad = full;
  bad[6] = 4;  // kind
  CHECK(decode_transaction(bad).code() == status_code::malformed);
  bad = full;
  bad[4 + 3 + 8 + 2 + 64 + 2] = 0;  // first output's currency
  CHECK(decode_transaction(bad).code() == status_code::malformed);
  bad = full;
  bad[5] = 2;  // says sm2 while its owner keys are ed25519
  CHECK(decode_transaction(bad).code() == status_code::profile_mismatch);
}

TEST_CASE("a memo that is not UTF-8 is malformed", "[codec]") {
  auto tx = vector_transfer(profile::ed25519);
  for (const std::string& good :
       {std::string{"caf\xc3\xa9"}, std::string{"\xe7\xba\xa2\xe5\x8c\x85"},
        std::string{"\xf0\x9f\xa7\xa7"}, std::string{}}) {
    tx.memo = good;
    CHECK(decode_transaction(encode(tx)).ok());
  }
  // a cut multi-byte character (a 48-byte cut of a reference did this), a lone continuation
  // byte, an overlong form, a surrogate, past U+10FFFF, a byte never in UTF-8
  for (const std::string& bad :
       {std::string{"order \xe7\xba"}, std::string{"\x80"}, std::string{"\xc0\xaf"},
        std::string{"\xed\xa0\x80"}, std::string{"\xf4\x90\x80\x80"}, std::string{"\xff"}}) {
    INFO(bad.size());
    tx.memo = bad;
    auto decoded = decode_transaction(encode(tx));
    CHECK(decoded.code() == status_code::malformed);
  }
}

TEST_CASE("limits are too_large", "[codec]") {
  auto tx = vector_transfer(profile::ed25519);
  auto bytes_of = [](const transaction& t) { return encode(t); };
  // 257 inputs: build the encoding by hand past the encoder's precondition.
  auto enc = bytes_of(tx);
  bytes many(enc.begin(), enc.begin() + 15);
  many.push_back(0x01);
  many.push_back(0x01);  // 257
  CHECK(decode_transaction(many).code() == status_code::too_large);
  tx.memo.assign(k_max_memo_bytes, 'm');
  auto at_limit = bytes_of(tx);
  CHECK(decode_transaction(at_limit).ok());
  // Rewrite the memo length to 257.
  at_limit[at_limit.size() - k_max_memo_bytes - 2] = 0x01;
  at_limit[at_limit.size() - k_max_memo_bytes - 1] = 0x01;
  at_limit.push_back('m');
  CHECK(decode_transaction(at_limit).code() == status_code::too_large);
}

TEST_CASE("the wire form carries body and signatures", "[codec]") {
  const auto payer = key_pair::from_seed(profile::ed25519, seed_of(0x01));
  auto stx = signed_tx::make(vector_transfer(profile::ed25519));
  stx.sign_with(payer);
  auto back = from_wire(to_wire(stx));
  REQUIRE(back.ok());
  CHECK(back->id == stx.id);
  CHECK(back->tx == stx.tx);
  REQUIRE(back->sigs.size() == 1);
  CHECK(back->sigs[0].signer == payer.pub());

  auto msg = to_wire(stx);
  msg.mutable_sigs(0)->set_signer("\x01\x02");
  CHECK(from_wire(msg).code() == status_code::malformed);
  const auto sm2_key = key_pair::from_seed(profile::sm2, seed_of(0x01));
  msg = to_wire(stx);
  const auto enc = sm2_key.pub().encode();
  msg.mutable_sigs(0)->set_signer(std::string(enc.begin(), enc.end()));
  CHECK(from_wire(msg).code() == status_code::profile_mismatch);
}
