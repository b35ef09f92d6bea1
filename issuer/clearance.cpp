// The central bank's controls on cross-border payments that pay its currency away (DESIGN.md
// section 7): clearing a PvP against the corridor and bank caps of its day, and releasing the
// clearance of a payment settlement refused.
#include <pqxx/pqxx>

#include "core/clock.hpp"
#include "issuer/issuer.hpp"

namespace cbdc::issuer {

auto issuer::clear_cross_border(const std::string& clearance_id, const std::string& bank_id,
                                money amount, currency to, const hash256& tx_id,
                                std::int64_t now_us) -> status {
  if (clearance_id.empty() || clearance_id.size() > 128) {
    return error{status_code::bad_request, "a clearance id has 1 to 128 characters"};
  }
  if (amount.cur() != m_config.cur) {
    return error{status_code::currency_mismatch, "this central bank clears payments of " +
                                                     std::string{currency_code(m_config.cur)} +
                                                     " only"};
  }
  if (to == m_config.cur) {
    return error{status_code::bad_request,
                 "not a cross-border corridor: " + std::string{currency_code(to)} + " to itself"};
  }
  if (amount.minor() <= 0) {
    return error{status_code::amount_invalid, "a cleared amount must be positive"};
  }
  const auto& c = m_config.controls;
  const std::string corridor =
      std::string{currency_code(m_config.cur)} + "->" + std::string{currency_code(to)};
  if (!c.permitted.empty() && !c.permitted.contains(to)) {
    return error{status_code::not_permitted, "the corridor " + corridor + " is not permitted"};
  }
  const std::int64_t day = local_day(now_us, c.utc_offset_minutes);
  const std::string to_code{currency_code(to)};
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    auto known = tx.exec_params("SELECT 1 FROM issuer.bank WHERE bank_id = $1", bank_id);
    if (known.empty()) {
      return error{status_code::unknown_bank, "no bank " + bank_id + " on this central bank"};
    }
    auto prior = tx.exec_params(
        "SELECT bank_id, to_currency, amount_minor, released, coalesce(encode(tx_id, 'hex'), '') "
        "FROM issuer.clearance WHERE clearance_id = $1 FOR UPDATE",
        clearance_id);
    if (!prior.empty()) {
      const auto& row = prior[0];
      if (row[0].as<std::string>() != bank_id || row[1].as<std::string>() != to_code ||
          row[2].as<std::int64_t>() != amount.minor() || row[4].as<std::string>() != tx_id.hex()) {
        return error{status_code::bad_request,
                     "clearance id " + clearance_id + " was used for another payment"};
      }
      if (!row[3].as<bool>()) {
        return ok_status();  // cleared before: a retry
      }
    }
    const auto sum_where = [&](const std::string& where, const std::string& arg) {
      return tx
          .exec_params1(
              "SELECT coalesce(sum(amount_minor), 0)::bigint FROM issuer.clearance "
              "WHERE NOT released AND day = $1 AND " +
                  where + " = $2",
              day, arg)[0]
          .as<std::int64_t>();
    };
    const auto fmt = [&](std::int64_t v) { return money{v, m_config.cur}.format(); };
    if (auto cap = c.corridor_cap_minor.find(to); cap != c.corridor_cap_minor.end()) {
      const auto used = sum_where("to_currency", to_code);
      if (amount.minor() > cap->second - used) {
        return error{status_code::corridor_cap_exceeded,
                     "corridor " + corridor + ": " + fmt(used) + " cleared today, cap " +
                         fmt(cap->second) + ", asked " + amount.format()};
      }
    }
    if (auto cap = c.bank_cap_minor.find(bank_id); cap != c.bank_cap_minor.end()) {
      const auto used = sum_where("bank_id", bank_id);
      if (amount.minor() > cap->second - used) {
        return error{status_code::bank_cap_exceeded, "bank " + bank_id + ": " + fmt(used) +
                                                         " cleared today, cap " + fmt(cap->second) +
                                                         ", asked " + amount.format()};
      }
    }
    tx.exec_params(
        "INSERT INTO issuer.clearance (clearance_id, bank_id, to_currency, amount_minor, day, "
        "tx_id) VALUES ($1, $2, $3, $4, $5, decode($6, 'hex')) ON CONFLICT (clearance_id) DO "
        "UPDATE SET released = false, day = EXCLUDED.day",
        clearance_id, bank_id, to_code, amount.minor(), day, tx_id.hex());
    tx.commit();
    return ok_status();
  });
}

auto issuer::clear_cross_border(const std::string& clearance_id, const std::string& bank_id,
                                money amount, currency to, const hash256& tx_id) -> status {
  return clear_cross_border(clearance_id, bank_id, amount, to, tx_id, unix_now_us());
}

auto issuer::release_cross_border(const std::string& clearance_id) -> status {
  auto paid_by = pg::guarded([&]() -> result<std::optional<hash256>> {
    pqxx::read_transaction rt(*m_conn);
    auto rows = rt.exec_params(
        "SELECT coalesce(encode(tx_id, 'hex'), '') FROM issuer.clearance WHERE clearance_id = $1",
        clearance_id);
    if (rows.empty()) {
      return error{status_code::not_found, "no clearance " + clearance_id};
    }
    const auto hex = rows[0][0].as<std::string>();
    if (hex.empty()) {
      return std::optional<hash256>{};
    }
    auto id = hash256::from_hex(hex);
    CBDC_ASSERT(id.ok());  // the column holds 32 bytes
    return std::optional<hash256>{*id};
  });
  if (!paid_by) {
    return paid_by.err();
  }
  // Only a refused payment gives its amount back: a dealer that released the clearance of a
  // settled PvP would pass any number of payments through a corridor's cap.
  if (*paid_by) {
    auto settled = m_settle.get_tx(**paid_by);
    if (settled) {
      return error{status_code::not_permitted, "the payment of clearance " + clearance_id +
                                                   " settled: its amount stays counted"};
    }
    if (settled.err().code != status_code::not_found) {
      return settled.err();
    }
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params("UPDATE issuer.clearance SET released = true WHERE clearance_id = $1",
                   clearance_id);
    tx.commit();
    return ok_status();
  });
}

auto issuer::released_clearances() -> result<std::vector<std::pair<std::string, hash256>>> {
  return pg::guarded([&]() -> result<std::vector<std::pair<std::string, hash256>>> {
    pqxx::read_transaction rt(*m_conn);
    std::vector<std::pair<std::string, hash256>> out;
    for (const auto& row : rt.exec("SELECT clearance_id, encode(tx_id, 'hex') FROM "
                                   "issuer.clearance WHERE released AND tx_id IS NOT NULL")) {
      auto id = hash256::from_hex(row[1].as<std::string>());
      CBDC_ASSERT(id.ok());
      out.emplace_back(row[0].as<std::string>(), *id);
    }
    return out;
  });
}

}  // namespace cbdc::issuer
