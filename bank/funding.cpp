// The bank's vault: funding hosted wallets from it (Fund, FundMany) and exchange between a
// wallet's e-CNY and its deposit account (Exchange both ways). Part of class bank (bank.hpp).
#include <algorithm>
#include <pqxx/pqxx>

#include "bank/bank.hpp"
#include "bank/detail.hpp"
#include "payment/build.hpp"

namespace cbdc::bank {
using namespace detail;

auto bank::fund(const public_key& wallet_owner, money amount) -> result<settlement::receipt> {
  m_vault_cache.reset();  // spends vault tokens on its own
  if (amount.cur() != m_config.limits.cur || amount.minor() <= 0) {
    return error{status_code::amount_invalid, "funding is a positive amount in " +
                                                  std::string{currency_code(m_config.limits.cur)}};
  }
  if (auto room = room_for(wallet_owner, amount.minor()); !room) {
    return room.err();
  }
  auto unspent = m_settle.list_unspent(m_vault.pub());
  if (!unspent) {
    return unspent.err();
  }
  auto stx = payment::build_payment(m_vault, *unspent, wallet_owner, amount,
                                    payment::random_nonce(), "fund", m_settle.shard_count());
  if (!stx) {
    return stx.err();
  }
  if (auto held = m_incoming.reserve(stx->id, key_bytes(wallet_owner), amount.minor()); !held) {
    return held.err();
  }
  auto receipt = settlement::submit_with_retry(m_settle, *stx, "fund:" + stx->id.hex());
  settle_incoming(*stx, receipt);
  return receipt;
}

auto bank::fund_many(const std::vector<tx_output>& payouts, const std::string& request_id)
    -> result<settlement::receipt> {
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request, "a pay-out needs a request id of 1 to 128 characters"};
  }
  auto recorded = pg::guarded([&]() -> result<std::optional<signed_tx>> {
    pqxx::read_transaction tx(*m_conn);
    const auto seen = tx.exec_params(
        "SELECT encode(signed_tx, 'hex') FROM bank.payout WHERE request_id = $1", request_id);
    if (seen.empty()) {
      return std::optional<signed_tx>{};
    }
    return std::optional<signed_tx>{tx_from_record(seen[0][0].as<std::string>())};
  });
  if (!recorded) {
    return recorded.err();
  }
  if (*recorded) {
    const auto& outs = (*recorded)->tx.outputs;
    const bool same =
        outs.size() >= payouts.size() && std::equal(payouts.begin(), payouts.end(), outs.begin());
    if (!same) {
      return error{status_code::bad_request,
                   "request id '" + request_id + "' was used for other pay-outs"};
    }
    return settlement::submit_with_retry(m_settle, **recorded, "payout:" + request_id);
  }
  // Pay-outs to one wallet in the same request add up against its cap.
  std::unordered_map<std::string, std::int64_t> asked;
  for (const auto& p : payouts) {
    if (p.cur != m_config.limits.cur) {
      return error{status_code::currency_mismatch,
                   "this bank pays out " + std::string{currency_code(m_config.limits.cur)}};
    }
    auto& before = asked[key_bytes(p.owner)];
    if (auto room = room_for(p.owner, p.amount_minor, before); !room) {
      return room.err();
    }
    before = saturating_add(before, p.amount_minor);
  }
  // The vault's unspent tokens, kept from the last pay-out: asking settlement each time costs
  // a scan of the vault's whole history (one spent token per pay-out). Refreshed when stale.
  const bool fresh = !m_vault_cache;
  if (fresh) {
    auto unspent = m_settle.list_unspent(m_vault.pub());
    if (!unspent) {
      return unspent.err();
    }
    m_vault_cache = std::move(*unspent);
  }
  auto stx = payment::build_transfer(m_vault, *m_vault_cache, payouts, payment::random_nonce(),
                                     "payout " + request_id.substr(0, 64), m_settle.shard_count());
  if (!stx && stx.code() == status_code::insufficient_funds && !fresh) {
    m_vault_cache.reset();  // a mint may have arrived since: look again, once
    return fund_many(payouts, request_id);
  }
  if (!stx) {
    return stx.err();
  }
  auto saved = pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO bank.payout (request_id, tx_id, signed_tx) VALUES ($1, decode($2, 'hex'), "
        "decode($3, 'hex'))",
        request_id, stx->id.hex(), tx_record(*stx));
    tx.commit();
    return ok_status();
  });
  if (!saved) {
    m_vault_cache.reset();
    return saved.err();
  }
  for (const auto& [owner, amount] : asked) {
    if (auto held = m_incoming.reserve(stx->id, owner, amount); !held) {
      m_incoming.release(stx->id);
      return held.err();
    }
  }
  auto receipt = settlement::submit_with_retry(m_settle, *stx, "payout:" + request_id);
  settle_incoming(*stx, receipt);
  if (receipt && receipt->settled()) {
    std::erase_if(*m_vault_cache, [&](const settlement::token_info& t) {
      return std::find(stx->tx.inputs.begin(), stx->tx.inputs.end(), t.token_id) !=
             stx->tx.inputs.end();
    });
    for (std::uint32_t i = 0; i < stx->tx.outputs.size(); ++i) {
      const auto& out = stx->tx.outputs[i];
      if (out.owner == m_vault.pub()) {
        m_vault_cache->push_back(settlement::token_info{token_id_of(stx->tx.prof, stx->id, i),
                                                        out.cur,
                                                        out.amount_minor,
                                                        out.owner,
                                                        stx->id,
                                                        false,
                                                        {}});
      }
    }
  } else {
    m_vault_cache.reset();
  }
  return receipt;
}

auto bank::credit_deposit(const public_key& owner, money amount, const std::string& request_id)
    -> status {
  if (amount.cur() != m_config.limits.cur || amount.minor() <= 0) {
    return error{status_code::amount_invalid, "a deposit credit is a positive amount in " +
                                                  std::string{currency_code(m_config.limits.cur)}};
  }
  auto w = find_wallet(owner);
  if (!w) {
    return w.err();
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    const auto seen = tx.exec_params(
        "INSERT INTO bank.exchange (request_id, wallet_id, direction, amount_minor, done) VALUES "
        "($1, $2, 'credit', $3, true) ON CONFLICT (request_id) DO NOTHING RETURNING 1",
        request_id, w->wallet_id, amount.minor());
    if (seen.empty()) {
      return ok_status();  // credited before
    }
    tx.exec_params(
        "INSERT INTO bank.deposit_account (wallet_id, balance_minor) VALUES ($1, $2) ON CONFLICT "
        "(wallet_id) DO UPDATE SET balance_minor = deposit_account.balance_minor + $2",
        w->wallet_id, amount.minor());
    tx.commit();
    return ok_status();
  });
}

auto bank::deposit_balance(const public_key& owner) -> result<std::int64_t> {
  auto w = find_wallet(owner);
  if (!w) {
    return w.err();
  }
  return pg::guarded([&]() -> result<std::int64_t> {
    pqxx::read_transaction tx(*m_conn);
    return tx
        .exec_params1(
            "SELECT coalesce((SELECT balance_minor FROM bank.deposit_account "
            "WHERE wallet_id = $1), 0)::bigint",
            w->wallet_id)[0]
        .as<std::int64_t>();
  });
}

auto bank::exchange_to_ecny(const public_key& owner, money amount, const std::string& request_id)
    -> result<settlement::receipt> {
  m_vault_cache.reset();  // spends vault tokens on its own
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request, "an exchange needs a request id of 1 to 128 characters"};
  }
  if (amount.cur() != m_config.limits.cur || amount.minor() <= 0) {
    return error{status_code::amount_invalid, "an exchange is a positive amount in " +
                                                  std::string{currency_code(m_config.limits.cur)}};
  }
  auto w = find_wallet(owner);
  if (!w) {
    return w.err();
  }
  // Step 1, once: check, then debit the deposit and record the vault's signed payment in one
  // database transaction. A retry finds the recorded payment and sends it again.
  auto recorded = pg::guarded([&]() -> result<std::optional<signed_tx>> {
    pqxx::read_transaction tx(*m_conn);
    const auto seen = tx.exec_params(
        "SELECT wallet_id, amount_minor, direction, encode(signed_tx, 'hex') FROM bank.exchange "
        "WHERE request_id = $1",
        request_id);
    if (seen.empty()) {
      return std::optional<signed_tx>{};
    }
    if (seen[0][0].as<std::string>() != w->wallet_id ||
        seen[0][1].as<std::int64_t>() != amount.minor() ||
        seen[0][2].as<std::string>() != "to_ecny") {
      return error{status_code::bad_request,
                   "request id '" + request_id + "' was used for another exchange"};
    }
    return std::optional<signed_tx>{tx_from_record(seen[0][3].as<std::string>())};
  });
  if (!recorded) {
    return recorded.err();
  }
  auto prepared = [&]() -> result<signed_tx> {
    if (*recorded) {
      return std::move(**recorded);
    }
    if (auto room = room_for(owner, amount.minor()); !room) {
      return room.err();
    }
    auto unspent = m_settle.list_unspent(m_vault.pub());
    if (!unspent) {
      return unspent.err();
    }
    auto stx =
        payment::build_payment(m_vault, *unspent, owner, amount, payment::random_nonce(),
                               "exchange " + request_id.substr(0, 64), m_settle.shard_count());
    if (!stx) {
      return stx.err();
    }
    return pg::guarded([&]() -> result<signed_tx> {
      pqxx::work tx(*m_conn);
      const auto debited = tx.exec_params(
          "UPDATE bank.deposit_account SET balance_minor = balance_minor - $2 WHERE wallet_id = "
          "$1 AND balance_minor >= $2 RETURNING 1",
          w->wallet_id, amount.minor());
      if (debited.empty()) {
        return error{status_code::insufficient_funds,
                     "the deposit account holds less than " + amount.format()};
      }
      tx.exec_params(
          "INSERT INTO bank.exchange (request_id, wallet_id, direction, amount_minor, signed_tx, "
          "tx_id) VALUES ($1, $2, 'to_ecny', $3, decode($4, 'hex'), decode($5, 'hex'))",
          request_id, w->wallet_id, amount.minor(), tx_record(*stx), stx->id.hex());
      tx.commit();
      return *stx;
    });
  }();
  if (!prepared) {
    return prepared.err();
  }
  // Step 2: settle that very transaction (a retry answers already_settled), its amount held
  // against the wallet's cap until it counts in the balance.
  if (auto held = m_incoming.reserve(prepared->id, key_bytes(owner), amount.minor()); !held) {
    return held.err();
  }
  auto receipt = settlement::submit_with_retry(m_settle, *prepared, "exchange:" + request_id);
  settle_incoming(*prepared, receipt);
  if (!receipt) {
    return receipt.err();
  }
  if (receipt->settled()) {
    (void)pg::guarded([&]() -> status {
      pqxx::work tx(*m_conn);
      tx.exec_params("UPDATE bank.exchange SET done = true WHERE request_id = $1", request_id);
      tx.commit();
      return ok_status();
    });
  } else if (!is_transient(receipt->status)) {
    // Refused for good (the vault's tokens moved meanwhile): give the deposit back.
    (void)pg::guarded([&]() -> status {
      pqxx::work tx(*m_conn);
      tx.exec_params("DELETE FROM bank.exchange WHERE request_id = $1 AND NOT done", request_id);
      tx.exec_params(
          "UPDATE bank.deposit_account SET balance_minor = balance_minor + $2 WHERE wallet_id = $1",
          w->wallet_id, amount.minor());
      tx.commit();
      return ok_status();
    });
  }
  return receipt;
}

auto bank::exchange_to_deposit(const signed_tx& tx, const std::string& request_id)
    -> result<settlement::receipt> {
  if (tx.tx.kind != tx_kind::transfer || tx.sigs.size() != 1) {
    return error{status_code::bad_request, "an exchange is a transfer signed by the wallet"};
  }
  auto w = find_wallet(tx.sigs.front().signer);
  if (!w) {
    return w.err();
  }
  std::int64_t amount = 0;
  for (const auto& out : tx.tx.outputs) {
    if (out.owner == m_vault.pub()) {
      if (out.cur != m_config.limits.cur) {
        return error{status_code::currency_mismatch,
                     "the vault takes " + std::string{currency_code(m_config.limits.cur)}};
      }
      amount += out.amount_minor;  // bounded by check_stateless's overflow check
    } else if (!(out.owner == w->owner)) {
      return error{status_code::bad_request, "an exchange pays only the bank's vault"};
    }
  }
  if (amount <= 0) {
    return error{status_code::bad_request, "the transaction pays nothing to the bank's vault"};
  }
  auto receipt = settlement::submit_with_retry(m_settle, tx, "exchange:" + request_id);
  if (!receipt) {
    return receipt.err();
  }
  if (!receipt->settled()) {
    return receipt;
  }
  auto credited = pg::guarded([&]() -> status {
    pqxx::work db(*m_conn);
    const auto fresh = db.exec_params(
        "INSERT INTO bank.exchange (request_id, wallet_id, direction, amount_minor, tx_id, done) "
        "VALUES ($1, $2, 'to_deposit', $3, decode($4, 'hex'), true) ON CONFLICT DO NOTHING "
        "RETURNING 1",
        request_id, w->wallet_id, amount, tx.id.hex());
    if (!fresh.empty()) {
      db.exec_params(
          "INSERT INTO bank.deposit_account (wallet_id, balance_minor) VALUES ($1, $2) ON "
          "CONFLICT (wallet_id) DO UPDATE SET balance_minor = deposit_account.balance_minor + $2",
          w->wallet_id, amount);
    }
    db.commit();
    return ok_status();
  });
  if (!credited) {
    return credited.err();
  }
  return receipt;
}

}  // namespace cbdc::bank
