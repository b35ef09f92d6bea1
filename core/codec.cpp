// The canonical transaction encoding (docs/protocol.md): what is hashed into an id and signed.
#include "core/codec.hpp"

#include <algorithm>
#include <array>

namespace cbdc {
namespace {

/// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
auto valid_utf8(byte_view text) -> bool {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::uint8_t c = text[i];
    std::size_t extra = 0;
    std::uint32_t min = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0U) == 0xC0U) {
      extra = 1;
      min = 0x80;
      cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0U) {
      extra = 2;
      min = 0x800;
      cp = c & 0x0FU;
    } else if ((c & 0xF8U) == 0xF0U) {
      extra = 3;
      min = 0x10000;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (i + extra >= text.size()) {
      return false;  // truncated
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const std::uint8_t next = text[i + k];
      if ((next & 0xC0U) != 0x80U) {
        return false;
      }
      cp = (cp << 6U) | (next & 0x3FU);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

constexpr std::array<std::uint8_t, 4> k_magic{'C', 'B', 'T', 'X'};

void put_u8(bytes& out, std::uint8_t v) {
  out.push_back(v);
}

void put_be(bytes& out, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
}

/// Reads the canonical encoding front to back; every read is bounds checked.
class reader {
 public:
  explicit reader(byte_view data) : m_data(data) {}

  auto u8(std::uint8_t& v) -> bool {
    if (m_pos + 1 > m_data.size()) {
      return false;
    }
    v = m_data[m_pos++];
    return true;
  }
  auto be(std::uint64_t& v, std::size_t width) -> bool {
    if (m_pos + width > m_data.size()) {
      return false;
    }
    v = 0;
    for (std::size_t i = 0; i < width; ++i) {
      v = (v << 8U) | m_data[m_pos++];
    }
    return true;
  }
  auto take(std::size_t n, byte_view& out) -> bool {
    if (m_pos + n > m_data.size()) {
      return false;
    }
    out = m_data.subspan(m_pos, n);
    m_pos += n;
    return true;
  }
  [[nodiscard]] auto done() const -> bool { return m_pos == m_data.size(); }

 private:
  byte_view m_data;
  std::size_t m_pos{0};
};

auto malformed(const std::string& why) -> error {
  return error{status_code::malformed, "transaction encoding: " + why};
}

}  // namespace

auto tx_kind_name(tx_kind kind) -> std::string_view {
  switch (kind) {
    case tx_kind::issue: return "issue";
    case tx_kind::transfer: return "transfer";
    case tx_kind::redeem: return "redeem";
  }
  return "unknown";
}

auto encode(const transaction& tx) -> bytes {
  CBDC_ASSERT(tx.inputs.size() <= k_max_inputs);
  CBDC_ASSERT(tx.outputs.size() <= k_max_outputs);
  CBDC_ASSERT(tx.memo.size() <= k_max_memo_bytes);
  bytes out;
  out.reserve(20 + tx.inputs.size() * 32 + tx.outputs.size() * 80 + tx.memo.size());
  out.insert(out.end(), k_magic.begin(), k_magic.end());
  put_u8(out, k_codec_version);
  put_u8(out, static_cast<std::uint8_t>(tx.prof));
  put_u8(out, static_cast<std::uint8_t>(tx.kind));
  put_be(out, tx.nonce, 8);
  put_be(out, tx.inputs.size(), 2);
  for (const auto& in : tx.inputs) {
    out.insert(out.end(), in.data.begin(), in.data.end());
  }
  put_be(out, tx.outputs.size(), 2);
  for (const auto& o : tx.outputs) {
    put_u8(out, static_cast<std::uint8_t>(o.cur));
    put_be(out, static_cast<std::uint64_t>(o.amount_minor), 8);
    const bytes key = o.owner.encode();
    CBDC_ASSERT(key.size() <= 255);
    put_u8(out, static_cast<std::uint8_t>(key.size()));
    out.insert(out.end(), key.begin(), key.end());
  }
  put_be(out, tx.memo.size(), 2);
  out.insert(out.end(), tx.memo.begin(), tx.memo.end());
  return out;
}

auto decode_transaction(byte_view data) -> result<transaction> {
  reader in(data);
  byte_view magic;
  if (!in.take(k_magic.size(), magic) || !std::equal(magic.begin(), magic.end(), k_magic.begin())) {
    return malformed("missing CBTX magic");
  }
  std::uint8_t version = 0;
  std::uint8_t prof_raw = 0;
  std::uint8_t kind_raw = 0;
  if (!in.u8(version) || !in.u8(prof_raw) || !in.u8(kind_raw)) {
    return malformed("truncated header");
  }
  if (version != k_codec_version) {
    return malformed("unsupported version " + std::to_string(version));
  }
  auto prof = profile_from_wire(prof_raw);
  if (!prof) {
    return malformed(prof.err().message);
  }
  if (kind_raw < 1 || kind_raw > 3) {
    return malformed("unknown kind " + std::to_string(kind_raw));
  }
  transaction tx;
  tx.prof = *prof;
  tx.kind = static_cast<tx_kind>(kind_raw);
  std::uint64_t n = 0;
  if (!in.be(tx.nonce, 8) || !in.be(n, 2)) {
    return malformed("truncated header");
  }
  if (n > k_max_inputs) {
    return error{status_code::too_large,
                 std::to_string(n) + " inputs, at most " + std::to_string(k_max_inputs)};
  }
  tx.inputs.resize(n);
  for (auto& input : tx.inputs) {
    byte_view raw;
    if (!in.take(32, raw)) {
      return malformed("truncated input");
    }
    std::copy(raw.begin(), raw.end(), input.data.begin());
  }
  if (!in.be(n, 2)) {
    return malformed("truncated output count");
  }
  if (n > k_max_outputs) {
    return error{status_code::too_large,
                 std::to_string(n) + " outputs, at most " + std::to_string(k_max_outputs)};
  }
  tx.outputs.resize(n);
  for (auto& o : tx.outputs) {
    std::uint8_t cur_raw = 0;
    std::uint64_t amount = 0;
    std::uint8_t key_len = 0;
    byte_view key;
    if (!in.u8(cur_raw) || !in.be(amount, 8) || !in.u8(key_len) || !in.take(key_len, key)) {
      return malformed("truncated output");
    }
    auto cur = currency_from_wire(cur_raw);
    if (!cur) {
      return malformed(cur.err().message);
    }
    auto owner = public_key::decode(key);
    if (!owner) {
      return malformed("output owner: " + owner.err().message);
    }
    if (owner->prof != tx.prof) {
      return error{status_code::profile_mismatch,
                   "output owner key is " + std::string{profile_name(owner->prof)} + " in a " +
                       std::string{profile_name(tx.prof)} + " transaction"};
    }
    o.cur = *cur;
    o.amount_minor = static_cast<std::int64_t>(amount);
    o.owner = std::move(*owner);
  }
  byte_view memo;
  if (!in.be(n, 2)) {
    return malformed("truncated memo length");
  }
  if (n > k_max_memo_bytes) {
    return error{status_code::too_large, "memo of " + std::to_string(n) + " bytes, at most " +
                                             std::to_string(k_max_memo_bytes)};
  }
  if (!in.take(n, memo)) {
    return malformed("truncated memo");
  }
  if (!valid_utf8(memo)) {
    return malformed("the memo is not UTF-8");
  }
  tx.memo.assign(memo.begin(), memo.end());
  if (!in.done()) {
    return malformed("trailing bytes");
  }
  return tx;
}

auto tx_id_of(profile prof, byte_view canonical) -> hash256 {
  return hash(prof, canonical);
}

auto token_id_of(profile prof, const hash256& tx_id, std::uint32_t index) -> hash256 {
  std::array<std::uint8_t, 36> buf{};
  std::copy(tx_id.data.begin(), tx_id.data.end(), buf.begin());
  for (std::size_t i = 0; i < 4; ++i) {
    buf[32 + i] = static_cast<std::uint8_t>(index >> (8 * (3 - i)));
  }
  return hash(prof, buf);
}

auto shards_of(const transaction& tx, const hash256& tx_id, std::uint32_t shard_count)
    -> std::vector<std::uint32_t> {
  CBDC_ASSERT(shard_count > 0);
  std::vector<std::uint32_t> out;
  const auto add = [&](std::uint32_t s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) {
      out.push_back(s);
    }
  };
  for (const auto& in : tx.inputs) {
    add(shard_of(in, shard_count));
  }
  for (std::uint32_t i = 0; i < tx.outputs.size(); ++i) {
    add(shard_of(token_id_of(tx.prof, tx_id, i), shard_count));
  }
  std::sort(out.begin(), out.end());
  return out;
}

auto co_locate(transaction& tx, std::uint32_t shard, std::uint32_t shard_count, std::uint64_t start,
               int max_tries) -> bool {
  CBDC_ASSERT(shard < shard_count);
  const auto original = tx.nonce;
  for (int i = 0; i < max_tries; ++i) {
    tx.nonce = start + static_cast<std::uint64_t>(i);
    const auto id = tx_id_of(tx.prof, encode(tx));
    bool all_here = true;
    for (std::uint32_t k = 0; k < tx.outputs.size() && all_here; ++k) {
      all_here = shard_of(token_id_of(tx.prof, id, k), shard_count) == shard;
    }
    if (all_here) {
      return true;
    }
  }
  tx.nonce = original;
  return false;
}

auto signed_tx::make(transaction tx) -> signed_tx {
  signed_tx out;
  out.body = encode(tx);
  out.id = tx_id_of(tx.prof, out.body);
  out.tx = std::move(tx);
  return out;
}

void signed_tx::sign_with(const key_pair& key) {
  sigs.push_back(tx_signature{key.pub(), key.sign(body)});
}

}  // namespace cbdc
