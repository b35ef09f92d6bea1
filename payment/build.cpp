// Coin selection, building and signing a transfer, and a payment straight to settlement.
#include "payment/build.hpp"

#include <sodium.h>

#include <algorithm>

namespace cbdc::payment {

auto totals(const std::vector<settlement::token_info>& unspent)
    -> result<std::map<currency, std::int64_t>> {
  std::map<currency, std::int64_t> out;
  for (const auto& t : unspent) {
    auto sum = checked_add(out[t.cur], t.amount_minor);
    if (!sum) {
      return sum.err();
    }
    out[t.cur] = *sum;
  }
  return out;
}

auto select_tokens(const std::vector<settlement::token_info>& unspent, const public_key& owner,
                   money amount) -> result<std::vector<const settlement::token_info*>> {
  std::vector<const settlement::token_info*> mine;
  for (const auto& t : unspent) {
    if (t.cur == amount.cur() && !t.spent && t.owner == owner) {
      mine.push_back(&t);
    }
  }
  // An exact token if there is one, else the largest first (fewest inputs).
  std::sort(mine.begin(), mine.end(), [](const auto* a, const auto* b) {
    return a->amount_minor != b->amount_minor ? a->amount_minor > b->amount_minor
                                              : a->token_id < b->token_id;
  });
  std::vector<const settlement::token_info*> chosen;
  if (const auto exact =
          std::find_if(mine.begin(), mine.end(),
                       [&](const auto* t) { return t->amount_minor == amount.minor(); });
      exact != mine.end()) {
    chosen.push_back(*exact);
  } else {
    std::int64_t have = 0;
    for (const auto* t : mine) {
      if (have >= amount.minor()) {
        break;
      }
      chosen.push_back(t);
      have += t->amount_minor;  // cannot overflow: the supply fits in int64
    }
  }
  std::int64_t have = 0;
  for (const auto* t : chosen) {
    have += t->amount_minor;
  }
  if (have < amount.minor()) {
    std::int64_t total = 0;
    for (const auto* t : mine) {
      total += t->amount_minor;
    }
    return error{status_code::insufficient_funds,
                 "balance " + money{total, amount.cur()}.format() + ", payment " + amount.format()};
  }
  if (chosen.size() > k_max_inputs) {
    return error{status_code::too_large, "the payment would need " + std::to_string(chosen.size()) +
                                             " tokens, at most " + std::to_string(k_max_inputs)};
  }
  return chosen;
}

auto build_payment(const key_pair& payer, const std::vector<settlement::token_info>& unspent,
                   const public_key& payee, money amount, std::uint64_t nonce,
                   const std::string& memo, std::uint32_t shard_count) -> result<signed_tx> {
  return build_transfer(payer, unspent, {tx_output{amount.cur(), amount.minor(), payee}}, nonce,
                        memo, shard_count);
}

auto build_transfer(const key_pair& payer, const std::vector<settlement::token_info>& unspent,
                    const std::vector<tx_output>& payees, std::uint64_t nonce,
                    const std::string& memo, std::uint32_t shard_count) -> result<signed_tx> {
  if (payees.empty() || payees.size() >= k_max_outputs) {
    return error{status_code::too_large,
                 "a transfer pays 1 to " + std::to_string(k_max_outputs - 1) + " payees"};
  }
  const currency cur = payees.front().cur;
  std::int64_t total_out = 0;
  for (const auto& p : payees) {
    if (p.amount_minor <= 0) {
      return error{status_code::amount_invalid,
                   "a payment must be positive, not " + money{p.amount_minor, p.cur}.format()};
    }
    if (p.cur != cur) {
      return error{status_code::currency_mismatch, "one currency per transfer"};
    }
    if (p.owner.prof != payer.pub().prof) {
      return error{status_code::profile_mismatch,
                   "payee key is " + std::string{profile_name(p.owner.prof)} + ", this wallet is " +
                       std::string{profile_name(payer.pub().prof)}};
    }
    auto sum = checked_add(total_out, p.amount_minor);
    if (!sum) {
      return sum.err();
    }
    total_out = *sum;
  }
  const money amount{total_out, cur};
  if (memo.size() > k_max_memo_bytes) {
    return error{status_code::too_large, "memo longer than " + std::to_string(k_max_memo_bytes)};
  }
  auto chosen = select_tokens(unspent, payer.pub(), amount);
  if (!chosen) {
    return chosen.err();
  }
  std::int64_t have = 0;
  for (const auto* t : *chosen) {
    have += t->amount_minor;
  }
  transaction tx;
  tx.prof = payer.pub().prof;
  tx.kind = tx_kind::transfer;
  tx.nonce = nonce;
  tx.memo = memo;
  for (const auto* t : *chosen) {
    tx.inputs.push_back(t->token_id);
  }
  tx.outputs = payees;
  if (have > amount.minor()) {
    tx.outputs.push_back(tx_output{amount.cur(), have - amount.minor(), payer.pub()});
  }
  if (shard_count > 1) {
    const auto home = shard_of(tx.inputs.front(), shard_count);
    const bool one_shard = std::all_of(tx.inputs.begin(), tx.inputs.end(), [&](const hash256& in) {
      return shard_of(in, shard_count) == home;
    });
    if (one_shard) {
      // Expected tries: shard_count ^ outputs; bounded, else the coordinator takes it.
      co_locate(tx, home, shard_count, nonce);
    }
  }
  auto stx = signed_tx::make(std::move(tx));
  stx.sign_with(payer);
  return stx;
}

auto random_nonce() -> std::uint64_t {
  CBDC_ASSERT(sodium_init() >= 0);
  std::uint64_t n = 0;
  randombytes_buf(&n, sizeof n);
  return n;
}

auto pay(settlement::interface& settle, const key_pair& payer, const public_key& payee,
         money amount, const std::string& memo) -> result<settlement::receipt> {
  auto unspent = settle.list_unspent(payer.pub());
  if (!unspent) {
    return unspent.err();
  }
  auto tx =
      build_payment(payer, *unspent, payee, amount, random_nonce(), memo, settle.shard_count());
  if (!tx) {
    return tx.err();
  }
  return settlement::submit_with_retry(settle, *tx, tx->id.hex());
}

}  // namespace cbdc::payment
