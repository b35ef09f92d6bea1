// The bank's offline desk (bank/offline_desk.hpp): certified devices, vouchers, double spends,
// revocations.
#include "bank/offline_desk.hpp"

#include <pqxx/pqxx>

#include "platform/files.hpp"

namespace cbdc::bank {
namespace {

auto hex_of(const bytes& b) -> std::string {
  return to_hex(b);
}

}  // namespace

offline_desk::offline_desk(std::unique_ptr<pqxx::connection> conn, key_pair signer,
                           offline::bank_cert cert, public_key central_bank, offline_config config)
    : m_conn(std::move(conn)),
      m_signer(std::move(signer)),
      m_cert(std::move(cert)),
      m_central_bank(std::move(central_bank)),
      m_config(std::move(config)) {}

offline_desk::~offline_desk() = default;

auto offline_desk::open(const std::string& db_url, const offline_config& config, key_pair signer,
                        const std::string& bank_id) -> result<std::unique_ptr<offline_desk>> {
  auto raw = read_file_bytes(config.bank_cert_path);
  if (!raw) {
    return raw.err();
  }
  auto cert = offline::decode_bank_cert(*raw);
  auto central = public_key::from_hex(config.central_bank_key_hex);
  if (!cert || !central) {
    return error{status_code::bad_request, cert
                                               ? "--central-bank-key: " + central.err().message
                                               : config.bank_cert_path + ": " + cert.err().message};
  }
  if (!verify(*central, cert->signed_bytes(), cert->sig)) {
    return error{status_code::certificate_invalid,
                 config.bank_cert_path + " is not signed by the central bank's key"};
  }
  if (!(cert->bank_key == signer.pub()) || cert->bank_id != bank_id) {
    return error{status_code::certificate_invalid, config.bank_cert_path + " certifies " +
                                                       cert->bank_id + "'s key, not this bank's (" +
                                                       bank_id + ")"};
  }
  if (!config.limits.valid()) {
    return error{status_code::bad_request, "the bank's offline limits must be positive"};
  }
  auto conn = pg::connect_migrated(db_url, "bank", {});
  if (!conn) {
    return conn.err();
  }
  std::unique_ptr<offline_desk> d(
      new offline_desk(std::move(*conn), std::move(signer), std::move(*cert), *central, config));
  if (auto loaded = d->load(); !loaded) {
    return loaded.err();
  }
  return d;
}

auto offline_desk::load() -> status {
  return pg::guarded([&]() -> status {
    pqxx::read_transaction tx(*m_conn);
    for (const auto& row :
         tx.exec("SELECT encode(device_key, 'hex'), encode(owner_key, 'hex'), wallet_class, "
                 "expires_s, revoked_s FROM bank.device")) {
      auto owner = public_key::from_hex(row[1].as<std::string>());
      CBDC_ASSERT(owner.ok());
      m_devices[row[0].as<std::string>()] = device_row{
          *owner, static_cast<wallet_class>(row[2].as<int>()), row[3].as<std::int64_t>(),
          row[4].is_null() ? std::nullopt : std::optional<std::int64_t>{row[4].as<std::int64_t>()}};
    }
    for (const auto& row :
         tx.exec("SELECT encode(list, 'hex'), encode(cert, 'hex') FROM bank.peer_revocations")) {
      auto list = from_hex(row[0].as<std::string>());
      auto cert = from_hex(row[1].as<std::string>());
      CBDC_ASSERT(list.ok() && cert.ok());
      auto l = offline::decode_revocations(*list);
      auto c = offline::decode_bank_cert(*cert);
      CBDC_ASSERT(l.ok() && c.ok());
      m_peer_lists[l->bank_id] = {*l, *c};
    }
    return ok_status();
  });
}

auto offline_desk::cert_of(const public_key& key, const device_row& row) const
    -> offline::device_cert {
  const auto cls = static_cast<std::uint8_t>(row.cls);
  auto l = m_config.limits.limits_for(cls);
  CBDC_ASSERT(l.ok());
  return offline::certify_device(m_signer, m_cert.bank_id, key, cls, *l, row.expires_s);
}

auto offline_desk::issue(const public_key& owner, wallet_class cls, const public_key& device,
                         std::int64_t now_s) -> result<offline::device_cert> {
  const auto hex = device.hex();
  if (const auto it = m_devices.find(hex); it != m_devices.end()) {
    if (!(it->second.owner == owner)) {
      return error{status_code::bad_request, "the device is another wallet's"};
    }
    if (it->second.revoked_s) {
      return error{status_code::device_revoked, "device " + hex.substr(0, 16)};
    }
    return cert_of(device, it->second);
  }
  device_row row{owner, cls, now_s + m_config.device_validity_s, std::nullopt};
  auto written = pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO bank.device (device_key, owner_key, wallet_class, expires_s) VALUES "
        "(decode($1, 'hex'), decode($2, 'hex'), $3, $4)",
        hex, owner.hex(), static_cast<int>(cls), row.expires_s);
    tx.commit();
    return ok_status();
  });
  if (!written) {
    return written.err();
  }
  m_devices[hex] = row;
  return cert_of(device, row);
}

auto offline_desk::device(const public_key& key) const -> result<offline::device_cert> {
  const auto it = m_devices.find(key.hex());
  if (it == m_devices.end()) {
    return error{status_code::not_found, "no device of this bank: " + key.hex().substr(0, 16)};
  }
  if (it->second.revoked_s) {
    return error{status_code::device_revoked, "device " + key.hex().substr(0, 16)};
  }
  return cert_of(key, it->second);
}

auto offline_desk::vouchers_for(const signed_tx& tx) const -> std::vector<offline::voucher> {
  std::vector<offline::voucher> out;
  for (std::uint32_t i = 0; i < tx.tx.outputs.size(); ++i) {
    const auto& o = tx.tx.outputs[i];
    if (o.cur == m_cert.cur && m_devices.contains(o.owner.hex())) {
      out.push_back(offline::vouch(m_signer, m_cert.bank_id, token_id_of(tx.tx.prof, tx.id, i),
                                   money{o.amount_minor, o.cur}, o.owner));
    }
  }
  return out;
}

auto offline_desk::record_double_spend(const offline::double_spend_evidence& e, std::int64_t now_s)
    -> result<bool> {
  const auto hex = e.device.hex();
  const auto it = m_devices.find(hex);
  const bool mine = it != m_devices.end();
  const bool revoke_now = mine && !it->second.revoked_s;
  auto written = pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO bank.double_spend (token_id, refused_tx, settled_tx, device_key) VALUES "
        "(decode($1, 'hex'), decode($2, 'hex'), decode($3, 'hex'), decode($4, 'hex')) "
        "ON CONFLICT DO NOTHING",
        e.token_id.hex(), e.second_tx.hex(), e.first_tx.hex(), hex);
    if (revoke_now) {
      tx.exec_params(
          "UPDATE bank.device SET revoked_s = $2 WHERE device_key = decode($1, 'hex') AND "
          "revoked_s IS NULL",
          hex, now_s);
    }
    tx.commit();
    return ok_status();
  });
  if (!written) {
    return written.err();
  }
  if (revoke_now) {
    it->second.revoked_s = now_s;
  }
  return mine;
}

auto offline_desk::own_list(std::int64_t now_s) const -> offline::revocation_list {
  std::vector<public_key> revoked;
  for (const auto& [hex, row] : m_devices) {
    if (row.revoked_s) {
      auto key = public_key::from_hex(hex);
      CBDC_ASSERT(key.ok());
      revoked.push_back(*key);
    }
  }
  return offline::revoke(m_signer, m_cert.bank_id, std::move(revoked), now_s);
}

auto offline_desk::take_peer_list(const offline::revocation_list& list,
                                  const offline::bank_cert& cert) -> status {
  if (!verify(m_central_bank, cert.signed_bytes(), cert.sig) || cert.bank_id != list.bank_id ||
      !verify(cert.bank_key, list.signed_bytes(), list.sig)) {
    return error{status_code::certificate_invalid,
                 "a revocation list not signed by a certified bank: " + list.bank_id};
  }
  if (list.bank_id == m_cert.bank_id) {
    return error{status_code::bad_request, "this bank's own list comes from nobody else"};
  }
  if (const auto it = m_peer_lists.find(list.bank_id);
      it != m_peer_lists.end() && it->second.first.issued_s >= list.issued_s) {
    return ok_status();  // an older one, or the same
  }
  auto written = pg::guarded([&]() -> status {
    pqxx::work tx(*m_conn);
    tx.exec_params(
        "INSERT INTO bank.peer_revocations (bank_id, issued_s, list, cert) VALUES ($1, $2, "
        "decode($3, 'hex'), decode($4, 'hex')) ON CONFLICT (bank_id) DO UPDATE SET issued_s = "
        "excluded.issued_s, list = excluded.list, cert = excluded.cert",
        list.bank_id, list.issued_s, hex_of(offline::encode(list)), hex_of(offline::encode(cert)));
    tx.commit();
    return ok_status();
  });
  if (!written) {
    return written;
  }
  m_peer_lists[list.bank_id] = {list, cert};
  return ok_status();
}

auto offline_desk::lists(std::int64_t now_s) const
    -> std::pair<std::vector<offline::revocation_list>, std::vector<offline::bank_cert>> {
  std::pair<std::vector<offline::revocation_list>, std::vector<offline::bank_cert>> out;
  out.first.push_back(own_list(now_s));
  out.second.push_back(m_cert);
  for (const auto& [id, entry] : m_peer_lists) {
    out.first.push_back(entry.first);
    out.second.push_back(entry.second);
  }
  return out;
}

}  // namespace cbdc::bank
