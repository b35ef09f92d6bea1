// The registration centre (DESIGN.md section 6): every hosted wallet key with its one hosting
// bank and class.
#include <pqxx/pqxx>

#include "issuer/issuer.hpp"

namespace cbdc::issuer {

auto issuer::register_wallets(const std::string& bank_id,
                              const std::vector<std::pair<bytes, std::uint32_t>>& wallets)
    -> status {
  constexpr std::size_t k_max_wallets = 10'000;
  if (wallets.empty() || wallets.size() > k_max_wallets) {
    return error{status_code::malformed, "1 to 10,000 wallets at once"};
  }
  pg::binary_array keys(pg::binary_array::element::bytea);
  pg::binary_array classes(pg::binary_array::element::int2);
  for (const auto& [key, cls] : wallets) {
    if (cls < 1 || cls > 4 || key.size() < 2 || key.size() > 80) {
      return error{status_code::malformed, "a wallet key and a class 1..4"};
    }
    keys.add(key.data(), key.size());
    classes.add_int(cls);
  }
  return pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    if (tx.exec_params("SELECT 1 FROM issuer.bank WHERE bank_id = $1", bank_id).empty()) {
      return error{status_code::unknown_bank, "no bank " + bank_id + " at this central bank"};
    }
    // A key at another bank stays there: the row is neither inserted nor updated, so fewer
    // rows come back than were asked.
    const auto done = tx.exec_params(
        "INSERT INTO issuer.wallet_register (owner_key, bank_id, wallet_class) SELECT k, $1, c "
        "FROM unnest($2::bytea[], $3::int2[]) AS w(k, c) ON CONFLICT (owner_key) DO UPDATE SET "
        "wallet_class = EXCLUDED.wallet_class WHERE issuer.wallet_register.bank_id = "
        "EXCLUDED.bank_id RETURNING owner_key",
        bank_id, keys.param(), classes.param());
    if (done.size() != wallets.size()) {
      const auto other = tx.exec_params(
          "SELECT encode(owner_key, 'hex'), bank_id FROM issuer.wallet_register WHERE owner_key "
          "= ANY($1::bytea[]) AND bank_id <> $2 LIMIT 1",
          keys.param(), bank_id);
      return error{status_code::hosted_elsewhere,
                   other.empty() ? std::string{"a wallet is registered at another bank"}
                                 : "wallet " + other[0][0].as<std::string>().substr(0, 18) +
                                       " is hosted at " + other[0][1].as<std::string>()};
    }
    tx.commit();
    return ok_status();
  });
}

auto issuer::register_wallets(const std::string& bank_id,
                              const std::vector<std::pair<public_key, std::uint32_t>>& wallets)
    -> status {
  std::vector<std::pair<bytes, std::uint32_t>> encoded;
  encoded.reserve(wallets.size());
  for (const auto& [key, cls] : wallets) {
    encoded.emplace_back(key.encode(), cls);
  }
  return register_wallets(bank_id, encoded);
}

auto issuer::wallet_bank(const bytes& owner) -> result<std::string> {
  return pg::guarded([&]() -> result<std::string> {
    pqxx::read_transaction tx(*m_conn);
    const auto rows = tx.exec_params(
        "SELECT bank_id FROM issuer.wallet_register WHERE owner_key = decode($1, 'hex')",
        to_hex(owner));
    if (rows.empty()) {
      return error{status_code::not_found, "no such wallet in the register"};
    }
    return rows[0][0].as<std::string>();
  });
}

}  // namespace cbdc::issuer
