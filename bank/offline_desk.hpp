#pragma once

// The bank's offline desk (docs/offline.md): the devices it certified and their limits, the
// vouchers it signs for settled tokens of its devices, the double spends it found, the devices
// it revoked, and the revocation lists the other banks pushed. Its own connection to the
// bank's database (schema bank); run on the bank's worker, one call at a time.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bank/limits.hpp"
#include "offline/device.hpp"
#include "platform/pg.hpp"

namespace cbdc::bank {

/// What a bank needs to certify devices: the central bank's certificate of its vault key, and
/// the central bank's key (the devices' root of trust).
struct offline_config {
  std::string bank_cert_path;  ///< written by `cbdc-issuer certify-bank`; empty: no devices
  std::string central_bank_key_hex;
  std::int64_t device_validity_s{365LL * 24 * 3600};
  /// The bank's own offline limits, in every device it certifies from then on.
  offline::limit_policy limits;
};

class offline_desk {
 public:
  /// Errors: certificate_invalid (the certificate is not the central bank's, or of another key
  /// or bank), io_error, db_error.
  static auto open(const std::string& db_url, const offline_config& config, key_pair signer,
                   const std::string& bank_id) -> result<std::unique_ptr<offline_desk>>;
  ~offline_desk();
  offline_desk(const offline_desk&) = delete;
  auto operator=(const offline_desk&) -> offline_desk& = delete;

  /// Certifies a device for a hosted wallet with its class's limits (once per device key; a
  /// repeat for the same owner answers the same certificate). Errors: bad_request (the device
  /// is another wallet's), device_revoked, db_error.
  auto issue(const public_key& owner, wallet_class cls, const public_key& device,
             std::int64_t now_s) -> result<offline::device_cert>;
  /// A device this bank certified and has not revoked: its certificate. Errors: not_found,
  /// device_revoked.
  auto device(const public_key& key) const -> result<offline::device_cert>;
  /// Vouchers for a settled transaction's outputs owned by devices this bank certified.
  auto vouchers_for(const signed_tx& tx) const -> std::vector<offline::voucher>;
  /// Records a double spend; when the device is this bank's, revokes it. Returns whether it is
  /// revoked now (here or before). Idempotent.
  auto record_double_spend(const offline::double_spend_evidence& e, std::int64_t now_s)
      -> result<bool>;
  /// This bank's revocation list, signed as of now_s.
  [[nodiscard]] auto own_list(std::int64_t now_s) const -> offline::revocation_list;
  /// Takes another bank's list: its certificate checked against the central bank, the list
  /// against the certificate; kept when newer than the one held. Errors: certificate_invalid.
  auto take_peer_list(const offline::revocation_list& list, const offline::bank_cert& cert)
      -> status;
  /// Every list a device should sync: this bank's and the latest of each other bank, with the
  /// banks' certificates.
  [[nodiscard]] auto lists(std::int64_t now_s) const
      -> std::pair<std::vector<offline::revocation_list>, std::vector<offline::bank_cert>>;
  [[nodiscard]] auto bank() const -> const offline::bank_cert& { return m_cert; }
  [[nodiscard]] auto central_bank() const -> const public_key& { return m_central_bank; }

 private:
  struct device_row {
    public_key owner;
    wallet_class cls{wallet_class::iv};
    std::int64_t expires_s{0};
    std::optional<std::int64_t> revoked_s;
  };
  offline_desk(std::unique_ptr<pqxx::connection> conn, key_pair signer, offline::bank_cert cert,
               public_key central_bank, offline_config config);
  auto load() -> status;
  [[nodiscard]] auto cert_of(const public_key& key, const device_row& row) const
      -> offline::device_cert;

  std::unique_ptr<pqxx::connection> m_conn;
  key_pair m_signer;
  offline::bank_cert m_cert;
  public_key m_central_bank;
  offline_config m_config;
  std::map<std::string, device_row> m_devices;  ///< by device key hex
  std::map<std::string, std::pair<offline::revocation_list, offline::bank_cert>> m_peer_lists;
};

}  // namespace cbdc::bank
