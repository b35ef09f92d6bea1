// The central bank's reserve ledger and issuance: operator banks and their reserve accounts,
// minting against the reserve, redemption, and the ledger's own check. Cross-border clearance is
// in clearance.cpp, the registration centre in register.cpp.
#include "issuer/issuer.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "core/clock.hpp"
#include "platform/metrics.hpp"

namespace cbdc::issuer {
namespace {

auto unhex(const pqxx::field& f) -> bytes {
  auto raw = from_hex(std::string_view{f.c_str()}.substr(2));
  CBDC_ASSERT(raw.ok());
  return *raw;
}

/// The mint transaction of a request: deterministic, so a retried request re-sends the same
/// transaction and settlement answers already_settled instead of issuing twice.
auto mint_tx(const key_pair& key, const public_key& vault, money amount,
             const std::string& request_id) -> signed_tx {
  transaction tx;
  tx.prof = key.pub().prof;
  tx.kind = tx_kind::issue;
  const auto digest =
      hash(tx.prof,
           byte_view{reinterpret_cast<const std::uint8_t*>(request_id.data()), request_id.size()});
  for (std::size_t i = 0; i < 8; ++i) {
    tx.nonce = (tx.nonce << 8U) | digest.data[i];
  }
  tx.outputs.push_back(tx_output{amount.cur(), amount.minor(), vault});
  tx.memo = "mint " + request_id.substr(0, 64);
  auto stx = signed_tx::make(std::move(tx));
  stx.sign_with(key);
  return stx;
}

auto balance_of(pqxx::transaction_base& tx, const std::string& account) -> std::int64_t {
  return tx
      .exec_params1(
          "SELECT coalesce(sum(amount_minor), 0)::bigint FROM issuer.entry WHERE "
          "account = $1",
          account)[0]
      .as<std::int64_t>();
}

/// Records a movement and its entries (zero amounts left out); the deferred trigger checks that
/// they balance at commit.
void record_movement(pqxx::transaction_base& tx, const std::string& kind,
                     const std::string& request_id, const std::string& bank_id, std::int64_t amount,
                     const std::string& tx_id_hex,
                     const std::vector<std::pair<std::string, std::int64_t>>& entries) {
  const auto id = tx.exec_params1(
                        "INSERT INTO issuer.movement (kind, request_id, bank_id, amount_minor, "
                        "tx_id) VALUES ($1, $2, $3, $4, CASE WHEN $5 = '' THEN NULL ELSE "
                        "decode($5, 'hex') END) RETURNING movement_id",
                        kind, kind + ":" + request_id, bank_id, amount, tx_id_hex)[0]
                      .as<std::int64_t>();
  for (const auto& [account, value] : entries) {
    if (value != 0) {
      tx.exec_params(
          "INSERT INTO issuer.entry (movement_id, account, amount_minor) VALUES ($1, $2, $3)", id,
          account, value);
    }
  }
}

/// Issuance and redemption totals per currency for /metrics, in minor units.
void count_movement(const std::string& name, money amount) {
  auto& m = metrics::registry::global();
  m.describe("cbdc_issued_minor_total", metrics::kind::counter,
             "CBDC issued by this central bank since start, minor units, per currency");
  m.describe("cbdc_redeemed_minor_total", metrics::kind::counter,
             "CBDC redeemed at this central bank since start, minor units, per currency");
  m.inc(name, {{"currency", std::string{currency_code(amount.cur())}}},
        static_cast<double>(amount.minor()));
}

/// A domestic bank's vault key, in a transaction. Errors: unknown_bank, not_domestic.
auto domestic_vault(pqxx::transaction_base& tx, const std::string& bank_id, currency cur)
    -> result<public_key> {
  const auto rows = tx.exec_params(
      "SELECT domestic, encode(vault_key, 'hex') FROM issuer.bank WHERE bank_id = $1", bank_id);
  if (rows.empty()) {
    return error{status_code::unknown_bank, "no bank '" + bank_id + "'"};
  }
  if (!rows[0][0].as<bool>()) {
    return error{status_code::not_domestic, "bank '" + bank_id + "' is not a domestic " +
                                                std::string{currency_code(cur)} + " bank"};
  }
  auto vault = public_key::from_hex(rows[0][1].as<std::string>());
  CBDC_ASSERT(vault.ok());
  return *vault;
}

}  // namespace

auto backing_for(std::int64_t amount_minor, std::int64_t ratio_bp) -> result<std::int64_t> {
  CBDC_ASSERT(ratio_bp >= 0 && ratio_bp <= k_full_reserve_bp);
  std::int64_t product = 0;
  if (__builtin_mul_overflow(amount_minor, ratio_bp, &product)) {
    return error{status_code::overflow, "amount too large for the reserve computation"};
  }
  return product / k_full_reserve_bp + (product % k_full_reserve_bp != 0 ? 1 : 0);
}

issuer::issuer(issuer_config config, key_pair key, std::unique_ptr<pqxx::connection> conn,
               const settlement::cluster& where)
    : m_config(std::move(config)),
      m_key(std::move(key)),
      m_conn(std::move(conn)),
      m_settle(where, m_config.net) {}

auto issuer::open(issuer_config config, key_pair key) -> result<std::unique_ptr<issuer>> {
  auto where = settlement::cluster::parse(config.settle_endpoint);
  if (!where) {
    return where.err();
  }
  auto conn = pg::connect_migrated(config.db_url, "issuer", migrations());
  if (!conn) {
    return conn.err();
  }
  return std::unique_ptr<issuer>(
      new issuer(std::move(config), std::move(key), std::move(*conn), *where));
}

auto issuer::add_bank(const std::string& bank_id, const public_key& vault, bool domestic,
                      std::optional<std::int64_t> quota_minor) -> status {
  if (quota_minor && *quota_minor < 0) {
    return error{status_code::amount_invalid, "a quota cannot be negative"};
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO issuer.bank (bank_id, currency, domestic, vault_key, quota_minor) VALUES ($1, "
        "$2, $3, decode($4, 'hex'), NULLIF($5, '')::bigint) ON CONFLICT (bank_id) DO UPDATE SET "
        "domestic = EXCLUDED.domestic, vault_key = EXCLUDED.vault_key, quota_minor = "
        "EXCLUDED.quota_minor",
        bank_id, std::string{currency_code(m_config.cur)}, domestic, vault.hex(),
        quota_minor ? std::to_string(*quota_minor) : std::string{});
    tx.commit();
    return ok_status();
  });
}

auto issuer::deposit(const std::string& bank_id, money amount, const std::string& request_id)
    -> status {
  if (amount.cur() != m_config.cur) {
    return error{status_code::currency_mismatch,
                 "reserves here are in " + std::string{currency_code(m_config.cur)}};
  }
  if (amount.minor() <= 0) {
    return error{status_code::amount_invalid, "a deposit must be positive"};
  }
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request, "a deposit needs a request id of 1 to 128 characters"};
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    if (tx.exec_params("SELECT 1 FROM issuer.bank WHERE bank_id = $1 FOR UPDATE", bank_id)
            .empty()) {
      return error{status_code::unknown_bank, "no bank '" + bank_id + "'"};
    }
    const auto seen =
        tx.exec_params("SELECT bank_id, amount_minor FROM issuer.movement WHERE request_id = $1",
                       "deposit:" + request_id);
    if (!seen.empty()) {
      if (seen[0][0].as<std::string>() != bank_id ||
          seen[0][1].as<std::int64_t>() != amount.minor()) {
        return error{status_code::bad_request,
                     "request id '" + request_id + "' was used for another deposit"};
      }
      return ok_status();
    }
    record_movement(tx, "deposit", request_id, bank_id, amount.minor(), "",
                    {{"external", -amount.minor()}, {"reserve:" + bank_id, amount.minor()}});
    tx.commit();
    return ok_status();
  });
}

auto issuer::certify_bank(const std::string& bank_id, std::int64_t expires_s)
    -> result<offline::bank_cert> {
  auto vault = pg::guarded([&]() -> result<public_key> {
    pqxx::read_transaction tx(*m_conn);
    return domestic_vault(tx, bank_id, m_config.cur);
  });
  if (!vault) {
    return vault.err();
  }
  return offline::certify_bank(m_key, bank_id, *vault, m_config.cur, expires_s);
}

auto issuer::reserve(const std::string& bank_id) -> result<reserve_balance> {
  return pg::guarded([&]() -> result<reserve_balance> {
    pqxx::read_transaction tx(*m_conn);
    if (tx.exec_params("SELECT 1 FROM issuer.bank WHERE bank_id = $1", bank_id).empty()) {
      return error{status_code::unknown_bank, "no bank '" + bank_id + "'"};
    }
    return reserve_balance{balance_of(tx, "reserve:" + bank_id),
                           balance_of(tx, "backing:" + bank_id),
                           balance_of(tx, "issued:" + bank_id)};
  });
}

auto issuer::mint(const std::string& bank_id, money amount, const std::string& request_id)
    -> result<mint_result> {
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request, "a mint needs a request id of 1 to 128 characters"};
  }
  if (amount.cur() != m_config.cur) {
    return error{status_code::currency_mismatch,
                 "this central bank issues " + std::string{currency_code(m_config.cur)} + ", not " +
                     std::string{currency_code(amount.cur())}};
  }
  if (amount.minor() <= 0) {
    return error{status_code::amount_invalid, "a mint must be positive, not " + amount.format()};
  }
  // Record the request and its transaction first, so that a crash after settlement and before
  // the answer is repaired by the retry.
  auto recorded = pg::guarded([&]() -> result<std::pair<signed_tx, bool>> {
    pqxx::work tx(*m_conn);
    const auto bank = tx.exec_params(
        "SELECT domestic, currency, vault_key, quota_minor FROM issuer.bank WHERE bank_id = $1 "
        "FOR UPDATE",
        bank_id);
    if (bank.empty()) {
      return error{status_code::unknown_bank, "no bank '" + bank_id + "'"};
    }
    if (!bank[0][0].as<bool>()) {
      return error{status_code::not_domestic, "bank '" + bank_id + "' is not a domestic " +
                                                  std::string{currency_code(m_config.cur)} +
                                                  " bank"};
    }
    auto vault = public_key::decode(unhex(bank[0][2]));
    CBDC_ASSERT(vault.ok());
    const auto existing = tx.exec_params(
        "SELECT bank_id, amount_minor, signed_tx, settled FROM issuer.mint WHERE request_id = $1",
        request_id);
    if (!existing.empty()) {
      if (existing[0][0].as<std::string>() != bank_id ||
          existing[0][1].as<std::int64_t>() != amount.minor()) {
        return error{status_code::bad_request,
                     "request id '" + request_id + "' was used for another mint"};
      }
      const auto raw = unhex(existing[0][2]);
      wire::SignedTx msg;
      CBDC_ASSERT(msg.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      auto stx = from_wire(msg);
      CBDC_ASSERT(stx.ok());
      return std::make_pair(std::move(*stx), true);
    }
    // The reserve ratio and the quota, from the ledger, under the bank row's lock.
    const auto issued = balance_of(tx, "issued:" + bank_id);
    if (!bank[0][3].is_null()) {
      const auto quota = bank[0][3].as<std::int64_t>();
      if (issued + amount.minor() > quota) {
        return error{status_code::quota_exceeded,
                     "bank '" + bank_id + "' holds " + money{issued, amount.cur()}.format() +
                         " of its quota " + money{quota, amount.cur()}.format() + "; minting " +
                         amount.format() + " would pass it"};
      }
    }
    auto backing = backing_for(amount.minor(), m_config.reserve_ratio_bp);
    if (!backing) {
      return backing.err();
    }
    const auto free_reserve = balance_of(tx, "reserve:" + bank_id);
    if (free_reserve < *backing) {
      return error{status_code::insufficient_reserve,
                   "minting " + amount.format() + " needs " +
                       money{*backing, amount.cur()}.format() + " of reserve; bank '" + bank_id +
                       "' has " + money{free_reserve, amount.cur()}.format()};
    }
    auto stx = mint_tx(m_key, *vault, amount, request_id);
    record_movement(tx, "mint", request_id, bank_id, amount.minor(), stx.id.hex(),
                    {{"reserve:" + bank_id, -*backing},
                     {"backing:" + bank_id, *backing},
                     {"issued:" + bank_id, amount.minor()},
                     {"issuance", -amount.minor()}});
    std::string wire_bytes;
    CBDC_ASSERT(cbdc::to_wire(stx).SerializeToString(&wire_bytes));
    tx.exec_params(
        "INSERT INTO issuer.mint (request_id, bank_id, currency, amount_minor, tx_id, signed_tx) "
        "VALUES ($1, $2, $3, $4, decode($5, 'hex'), decode($6, 'hex'))",
        request_id, bank_id, std::string{currency_code(amount.cur())}, amount.minor(), stx.id.hex(),
        to_hex(byte_view{reinterpret_cast<const std::uint8_t*>(wire_bytes.data()),
                         wire_bytes.size()}));
    tx.commit();
    return std::make_pair(std::move(stx), false);
  });
  if (!recorded) {
    return recorded.err();
  }
  const auto& stx = recorded->first;
  auto receipt = settlement::submit_with_retry(m_settle, stx, "mint:" + request_id);
  if (!receipt) {
    return receipt.err();
  }
  if (!receipt->settled()) {
    if (!is_transient(receipt->status)) {
      // Refused for good: nothing was issued, so the mint and its movement go.
      (void)pg::guarded([&]() -> status {
        pqxx::work tx(*m_conn);
        tx.exec_params(
            "DELETE FROM issuer.entry WHERE movement_id = (SELECT movement_id FROM "
            "issuer.movement WHERE request_id = $1)",
            "mint:" + request_id);
        tx.exec_params("DELETE FROM issuer.movement WHERE request_id = $1", "mint:" + request_id);
        tx.exec_params("DELETE FROM issuer.mint WHERE request_id = $1", request_id);
        tx.commit();
        return ok_status();
      });
    }
    return error{receipt->status, "settlement refused the mint: " + receipt->detail};
  }
  auto marked = pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params("UPDATE issuer.mint SET settled = true WHERE request_id = $1", request_id);
    tx.commit();
    return ok_status();
  });
  if (!marked) {
    return marked.err();
  }
  mint_result out;
  out.tx_id = stx.id;
  out.already = recorded->second;
  if (!out.already) {
    count_movement("cbdc_issued_minor_total", amount);
  }
  for (std::uint32_t i = 0; i < stx.tx.outputs.size(); ++i) {
    out.token_ids.push_back(token_id_of(stx.tx.prof, stx.id, i));
  }
  return out;
}

auto issuer::minted_total() -> result<std::int64_t> {
  return pg::guarded([&]() -> result<std::int64_t> {
    pqxx::read_transaction tx(*m_conn);
    const auto row = tx.exec_params1(
        "SELECT coalesce(sum(amount_minor), 0)::bigint FROM issuer.mint WHERE settled AND "
        "currency = $1",
        std::string{currency_code(m_config.cur)});
    return row[0].as<std::int64_t>();
  });
}

auto issuer::redeem(const std::string& bank_id, const signed_tx& to_redeem,
                    const std::string& request_id) -> result<redeem_result> {
  signed_tx tx = to_redeem;  // co-signed below
  if (request_id.empty() || request_id.size() > 128) {
    return error{status_code::bad_request,
                 "a redemption needs a request id of 1 to 128 characters"};
  }
  if (tx.tx.kind != tx_kind::redeem || tx.tx.inputs.empty() || !tx.tx.outputs.empty()) {
    return error{status_code::bad_request, "not a redemption: inputs and no outputs"};
  }
  auto bank = pg::guarded([&]() -> result<std::pair<public_key, std::optional<redeem_result>>> {
    pqxx::read_transaction rtx(*m_conn);
    auto vault = domestic_vault(rtx, bank_id, m_config.cur);
    if (!vault) {
      return vault.err();
    }
    const auto seen = rtx.exec_params(
        "SELECT bank_id, amount_minor, encode(tx_id, 'hex') FROM issuer.movement WHERE "
        "request_id = $1",
        "redeem:" + request_id);
    std::optional<redeem_result> already;
    if (!seen.empty()) {
      auto id = hash256::from_hex(seen[0][2].as<std::string>());
      CBDC_ASSERT(id.ok());
      if (seen[0][0].as<std::string>() != bank_id || *id != tx.id) {
        return error{status_code::bad_request,
                     "request id '" + request_id + "' was used for another redemption"};
      }
      already = redeem_result{*id, seen[0][1].as<std::int64_t>(), true};
    }
    return std::make_pair(std::move(*vault), already);
  });
  if (!bank) {
    return bank.err();
  }
  if (bank->second) {
    return *bank->second;
  }
  // Every input must be a token of this currency held by the bank's vault (or already spent by
  // this very redemption, when a retry follows a crash).
  std::int64_t amount = 0;
  for (const auto& in : tx.tx.inputs) {
    auto token = m_settle.get_token(in);
    if (!token) {
      return token.code() == status_code::not_found
                 ? error{status_code::input_unknown, "token " + in.hex() + " does not exist"}
                 : token.err();
    }
    if (token->owner != bank->first) {
      return error{status_code::bad_request,
                   "token " + in.hex() + " is not in the vault of '" + bank_id + "'"};
    }
    if (token->cur != m_config.cur) {
      return error{status_code::currency_mismatch,
                   "this central bank redeems " + std::string{currency_code(m_config.cur)}};
    }
    if (token->spent && token->spent_by != tx.id) {
      return error{status_code::input_spent, "token " + in.hex() + " is spent"};
    }
    auto sum = checked_add(amount, token->amount_minor);
    if (!sum) {
      return sum.err();
    }
    amount = *sum;
  }
  if (std::none_of(tx.sigs.begin(), tx.sigs.end(),
                   [&](const tx_signature& s) { return s.signer == m_key.pub(); })) {
    tx.sign_with(m_key);
  }
  auto receipt = settlement::submit_with_retry(m_settle, tx, "redeem:" + request_id);
  if (!receipt) {
    return receipt.err();
  }
  if (!receipt->settled()) {
    return error{receipt->status, "settlement refused the redemption: " + receipt->detail};
  }
  if (auto recorded = record_redemption(bank_id, tx, amount, request_id); !recorded) {
    return recorded.err();
  }
  count_movement("cbdc_redeemed_minor_total", money{amount, m_config.cur});
  return redeem_result{tx.id, amount, false};
}

auto issuer::record_redemption(const std::string& bank_id, const signed_tx& tx, std::int64_t amount,
                               const std::string& request_id) -> status {
  return pg::guarded([&]() -> status {
    pqxx::work w(*m_conn);
    w.exec_params("SELECT 1 FROM issuer.bank WHERE bank_id = $1 FOR UPDATE", bank_id);
    if (!w.exec_params("SELECT 1 FROM issuer.movement WHERE request_id = $1",
                       "redeem:" + request_id)
             .empty()) {
      return ok_status();
    }
    auto release = backing_for(amount, m_config.reserve_ratio_bp);
    if (!release) {
      return release.err();
    }
    const auto held = balance_of(w, "backing:" + bank_id);
    const auto freed = std::min(held, *release);
    record_movement(w, "redeem", request_id, bank_id, amount, tx.id.hex(),
                    {{"issued:" + bank_id, -amount},
                     {"issuance", amount},
                     {"backing:" + bank_id, -freed},
                     {"reserve:" + bank_id, freed}});
    w.commit();
    return ok_status();
  });
}

auto issuer::check_ledger() -> result<ledger_check> {
  return pg::guarded([&]() -> result<ledger_check> {
    pqxx::read_transaction tx(*m_conn);
    ledger_check out;
    out.entries_sum = tx.exec1("SELECT coalesce(sum(amount_minor), 0)::bigint FROM issuer.entry")[0]
                          .as<std::int64_t>();
    // Outstanding: redemptions, and mints that settlement confirmed.
    out.outstanding_minor =
        -tx.exec1(
               "SELECT coalesce(sum(e.amount_minor), 0)::bigint FROM issuer.entry e JOIN "
               "issuer.movement m USING (movement_id) WHERE e.account = 'issuance' AND "
               "(m.kind = 'redeem' OR (m.kind = 'mint' AND EXISTS (SELECT 1 FROM issuer.mint "
               "i WHERE 'mint:' || i.request_id = m.request_id AND i.settled)))")[0]
             .as<std::int64_t>();
    for (const auto& row :
         tx.exec("SELECT account, sum(amount_minor)::bigint FROM issuer.entry WHERE account LIKE "
                 "'reserve:%' OR account LIKE 'backing:%' OR account LIKE 'issued:%' GROUP BY "
                 "account HAVING sum(amount_minor) < 0 ORDER BY account")) {
      out.problems.push_back("account " + row[0].as<std::string>() + " is negative: " +
                             money{row[1].as<std::int64_t>(), m_config.cur}.format());
    }
    if (out.entries_sum != 0) {
      out.problems.push_back("the ledger's entries sum to " +
                             money{out.entries_sum, m_config.cur}.format() + ", not 0");
    }
    return out;
  });
}

}  // namespace cbdc::issuer
