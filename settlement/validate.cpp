// Settlement's validator: what a transaction must satisfy before the registry is asked
// (check_stateless: profile, amounts, shape, signatures, shard) and once its input tokens are
// known (check_value_and_signers: value conserved per currency, exactly the right signers), and
// the form of a two-phase-commit gid. Pure functions, declared in engine.hpp; the shards and
// the coordinator both call them.
#include "settlement/engine.hpp"

#include <algorithm>

namespace cbdc::settlement {
namespace {

auto short_key(const bytes& encoded) -> std::string {
  return to_hex(encoded).substr(0, 18);
}

/// Sums per currency in a fixed array (a transaction touches one or two currencies; a map per
/// check allocated a node per currency, on every payment).
class per_currency {
 public:
  /// Adds amount to cur's sum; false when the sum would overflow 64 bits (nothing added).
  auto add(currency cur, std::int64_t amount) -> bool {
    auto& slot = m_sums.at(index(cur));
    auto sum = checked_add(slot, amount);
    if (!sum) {
      return false;
    }
    slot = *sum;
    m_present.at(index(cur)) = true;
    return true;
  }
  [[nodiscard]] auto has(currency cur) const -> bool { return m_present.at(index(cur)); }
  [[nodiscard]] auto sum(currency cur) const -> std::int64_t { return m_sums.at(index(cur)); }
  /// The one currency present, if exactly one is.
  [[nodiscard]] auto only() const -> std::optional<currency> {
    std::optional<currency> found;
    for (const auto cur : k_all_currencies) {
      if (has(cur)) {
        if (found) {
          return std::nullopt;
        }
        found = cur;
      }
    }
    return found;
  }

 private:
  static auto index(currency cur) -> std::size_t { return static_cast<std::size_t>(cur); }
  std::array<std::int64_t, 8> m_sums{};
  std::array<bool, 8> m_present{};
};

}  // namespace

auto check_stateless(const signed_tx& stx, const engine_config& config, bool whole_on_this_shard)
    -> status {
  const auto& tx = stx.tx;
  if (tx.prof != config.prof) {
    return error{status_code::profile_mismatch,
                 "a " + std::string{profile_name(tx.prof)} + " transaction on a " +
                     std::string{profile_name(config.prof)} + " deployment"};
  }
  switch (tx.kind) {
    case tx_kind::issue:
      if (!tx.inputs.empty() || tx.outputs.empty()) {
        return error{status_code::malformed, "an issuance has outputs and no inputs"};
      }
      break;
    case tx_kind::transfer:
      if (tx.inputs.empty() || tx.outputs.empty()) {
        return error{status_code::malformed, "a transfer has inputs and outputs"};
      }
      break;
    case tx_kind::redeem:
      if (tx.inputs.empty() || !tx.outputs.empty()) {
        return error{status_code::malformed, "a redemption has inputs and no outputs"};
      }
      break;
  }
  per_currency out_sums;
  for (const auto& out : tx.outputs) {
    if (out.amount_minor <= 0) {
      return error{status_code::amount_invalid,
                   "output amount " + std::to_string(out.amount_minor) + " is not positive"};
    }
    if (!out_sums.add(out.cur, out.amount_minor)) {
      return error{status_code::amount_invalid, "outputs overflow 64 bits"};
    }
  }
  {
    id_set seen;
    for (const auto& in : tx.inputs) {
      if (!seen.insert(in).second) {
        return error{status_code::duplicate_input, "input " + in.hex() + " appears twice"};
      }
    }
  }
  if (whole_on_this_shard && config.shard_count > 1) {
    const auto shards = shards_of(tx, stx.id, config.shard_count);
    if (shards.size() != 1 || shards.front() != config.shard) {
      return error{status_code::wrong_shard,
                   "the transaction touches " + std::to_string(shards.size()) +
                       " shard(s), not only shard " + std::to_string(config.shard) +
                       "; send it to the coordinator or its shard"};
    }
  }
  if (stx.sigs.empty()) {
    return error{status_code::missing_signature, "the transaction carries no signature"};
  }
  for (std::size_t i = 0; i < stx.sigs.size(); ++i) {
    const auto& signer = stx.sigs[i].signer;
    for (std::size_t j = 0; j < i; ++j) {
      if (stx.sigs[j].signer == signer) {
        return error{status_code::malformed, "two signatures by key " + short_key(signer.encode())};
      }
    }
  }
  for (const auto& s : stx.sigs) {
    if (!verify(s.signer, stx.body, s.sig)) {
      return error{status_code::bad_signature,
                   "signature by " + short_key(s.signer.encode()) + " does not verify"};
    }
  }
  return ok_status();
}

auto valid_gid(const std::string& gid, bool legacy) -> bool {
  const auto hex = [](std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
  };
  const auto digits = [](std::string_view text) {
    return !text.empty() && text.size() <= 9 &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!gid.starts_with("cbdc-")) {
    return false;
  }
  const std::string_view rest{gid.data() + 5, gid.size() - 5};
  if (rest.size() == 32 && hex(rest)) {
    return true;
  }
  return legacy && rest.size() > 65 && rest[64] == '-' && hex(rest.substr(0, 64)) &&
         digits(rest.substr(65));
}

auto check_value_and_signers(const signed_tx& stx, const std::vector<token_info>& inputs,
                             const engine_config& config, bool some_inputs) -> status {
  const auto& tx = stx.tx;
  // Few keys sign a transaction: linear lists, no allocation per key.
  std::vector<const public_key*> required;
  const auto require = [&](const public_key& key) {
    if (std::none_of(required.begin(), required.end(),
                     [&](const public_key* k) { return *k == key; })) {
      required.push_back(&key);
    }
  };
  if (tx.kind == tx_kind::issue) {
    const currency cur = tx.outputs.front().cur;
    for (const auto& out : tx.outputs) {
      if (out.cur != cur) {
        return error{status_code::currency_mismatch, "an issuance is in one currency"};
      }
    }
    const auto issuer = config.issuers.find(cur);
    if (issuer == config.issuers.end()) {
      return error{status_code::not_permitted,
                   "no " + std::string{currency_code(cur)} + " issuer on this deployment"};
    }
    require(issuer->second);
  } else {
    per_currency in_sums;
    per_currency out_sums;
    for (const auto& t : inputs) {
      require(t.owner);
      if (!in_sums.add(t.cur, t.amount_minor)) {
        return error{status_code::amount_invalid, "inputs overflow 64 bits"};
      }
    }
    for (const auto& o : tx.outputs) {
      out_sums.add(o.cur, o.amount_minor);  // overflow refused by check_stateless
    }
    if (some_inputs && tx.kind == tx_kind::redeem) {
      // The issuer co-signs every redemption; the coordinator checks the currency over all.
      for (const auto& t : inputs) {
        const auto issuer = config.issuers.find(t.cur);
        if (issuer == config.issuers.end()) {
          return error{status_code::not_permitted,
                       "no " + std::string{currency_code(t.cur)} + " issuer on this deployment"};
        }
        require(issuer->second);
      }
    } else if (some_inputs) {
      // Value is conserved over every shard's inputs: the coordinator checks it.
    } else if (tx.kind == tx_kind::redeem) {
      const auto only = in_sums.only();
      if (!only) {
        return error{status_code::currency_mismatch, "a redemption is in one currency"};
      }
      const auto issuer = config.issuers.find(*only);
      if (issuer == config.issuers.end()) {
        return error{status_code::not_permitted,
                     "no " + std::string{currency_code(*only)} + " issuer on this deployment"};
      }
      require(issuer->second);
    } else {
      for (const auto cur : k_all_currencies) {
        if (out_sums.has(cur) && !in_sums.has(cur)) {
          return error{status_code::currency_mismatch,
                       "outputs in " + std::string{currency_code(cur)} + " but no inputs"};
        }
      }
      for (const auto cur : k_all_currencies) {
        if (!in_sums.has(cur)) {
          continue;
        }
        if (!out_sums.has(cur)) {
          return error{status_code::currency_mismatch,
                       "inputs in " + std::string{currency_code(cur)} + " but no outputs"};
        }
        if (out_sums.sum(cur) != in_sums.sum(cur)) {
          return error{status_code::value_not_conserved,
                       std::string{currency_code(cur)} + " inputs " +
                           std::to_string(in_sums.sum(cur)) + " != outputs " +
                           std::to_string(out_sums.sum(cur))};
        }
      }
    }
  }
  const auto signed_by = [&](const public_key& key) {
    return std::any_of(stx.sigs.begin(), stx.sigs.end(),
                       [&](const auto& sig) { return sig.signer == key; });
  };
  for (const auto* key : required) {
    if (!signed_by(*key)) {
      return error{status_code::missing_signature, "no signature by " + short_key(key->encode())};
    }
  }
  for (const auto& sig : stx.sigs) {
    if (some_inputs) {
      break;  // other signatures sign inputs on other shards
    }
    if (std::none_of(required.begin(), required.end(),
                     [&](const public_key* k) { return *k == sig.signer; })) {
      return error{status_code::bad_signature,
                   "signature by " + short_key(sig.signer.encode()) + ", which owns no input"};
    }
  }
  return ok_status();
}

}  // namespace cbdc::settlement
