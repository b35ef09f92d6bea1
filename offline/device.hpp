#pragma once

// A hardware wallet modelled in software (after BIS Project Polaris): the device key, its
// certificate, a monotonic counter that every offline payment takes its nonce from, the limits
// the secure element enforces on itself, and everything it holds: its tokens, each with the
// chain of offline transfers back to a token its bank vouched settled. Paying builds a message
// for the payee's device; receiving verifies everything that can be verified offline.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/codec.hpp"
#include "offline/cert.hpp"

namespace cbdc::offline {

/// What travels from the payer's device to the payee's: the payment, the offline transfers its
/// inputs come from (dependency order), the vouchers they start from, and the certificates of
/// every device that signed and of their banks.
struct payment_message {
  signed_tx payment;
  std::vector<signed_tx> chain;
  std::vector<voucher> roots;
  std::vector<device_cert> certs;
  std::vector<bank_cert> banks;
  offline::attestation attestation;
};

/// Bytes for a file or a QR code, and back. Errors: malformed, too_large.
auto encode(const payment_message& m) -> bytes;
auto decode_payment(byte_view data) -> result<payment_message>;
/// The signed statements as files (a bank's certificate, a device's, a voucher, a revocation
/// list), and back. Reading does not verify a signature: the device does, against its roots.
auto encode(const bank_cert& c) -> bytes;
auto encode(const device_cert& c) -> bytes;
auto encode(const voucher& v) -> bytes;
auto encode(const revocation_list& r) -> bytes;
auto decode_bank_cert(byte_view data) -> result<bank_cert>;
auto decode_device_cert(byte_view data) -> result<device_cert>;
auto decode_voucher(byte_view data) -> result<voucher>;
auto decode_revocations(byte_view data) -> result<revocation_list>;

/// Two transfers signed by one device spending the same token: the proof that the device was
/// cloned or broken, which names it.
struct double_spend_evidence {
  public_key device;
  hash256 token_id;
  hash256 first_tx;
  hash256 second_tx;
};
/// The evidence in two transfers, when there is any.
auto evidence_of(const signed_tx& a, const signed_tx& b) -> std::optional<double_spend_evidence>;

class device {
 public:
  /// A new device with its key, its bank's certificate of it and of the bank, and the central
  /// bank's key (the root it checks every chain against). It counts as synced at now_s.
  static auto create(key_pair key, device_cert cert, bank_cert bank, public_key central_bank,
                     std::int64_t now_s) -> result<device>;
  static auto load(const std::filesystem::path& path) -> result<device>;
  auto save(const std::filesystem::path& path) const -> status;

  // Online.
  /// Takes a revocation list (from any bank the device knows) and counts as synced at now_s.
  /// Errors: certificate_invalid (not signed by a certified bank).
  auto sync(const revocation_list& list, const std::vector<bank_cert>& banks, std::int64_t now_s)
      -> status;
  /// Takes a settled token its bank vouched for. Errors: certificate_invalid (not its bank's
  /// voucher), bad_request (not owned by this device), offline_balance_cap.
  auto load_token(const voucher& v) -> status;
  /// Unloading: gives up `amount` as a transfer to `to` (the owner's online wallet), to be
  /// submitted through the bank. Errors: insufficient_funds.
  auto unload(const public_key& to, money amount) -> result<signed_tx>;

  // Offline.
  /// Pays `amount` to `payee` with the tokens it holds, change back to itself, the nonce its
  /// counter's next value. Refuses what its limits forbid (offline_payment_cap,
  /// offline_count_cap, offline_sync_stale, certificate_expired) and insufficient_funds. A
  /// compromised device refuses nothing, keeps its counter and keeps the tokens it spent.
  auto pay(const public_key& payee, money amount, std::int64_t now_s) -> result<payment_message>;
  /// Verifies a payment to this device and takes what it pays. Each refusal names its rule:
  /// certificate_invalid, certificate_expired, device_revoked, chain_invalid, bad_signature,
  /// value_not_conserved, counter_replay, offline_payment_cap, offline_count_cap,
  /// offline_sync_stale (the payer's, or its own revocation list too old), offline_balance_cap.
  auto receive(const payment_message& m, std::int64_t now_s) -> status;

  // Reconnection.
  /// Every offline transfer it knows (its own and those it received), dependency order: what
  /// it submits through its bank when it is back online.
  [[nodiscard]] auto to_submit() const -> std::vector<signed_tx>;
  /// The certificates of every device it knows and of their banks: what its bank checks the
  /// transfers' signers against.
  [[nodiscard]] auto known_certs() const -> std::vector<device_cert>;
  [[nodiscard]] auto known_banks() const -> std::vector<bank_cert>;
  /// What its bank answered on reconnection: the transfers now settled are forgotten, once no
  /// token it holds needs them, and each held token its bank vouched for starts its chain
  /// afresh from the voucher. Vouchers not of its own tokens, or not its bank's, are ignored.
  void settled(const std::vector<hash256>& tx_ids, const std::vector<voucher>& vouchers);
  /// What its bank refused for good (a double spend's second transfer): those transfers, every
  /// transfer it knows built on them, and the tokens they gave it are forgotten (the payee's
  /// loss, under the scheme's rule); the tokens its own forgotten transfers spent, which never
  /// left it on the ledger, are its own again.
  void refused(const std::vector<hash256>& tx_ids);

  /// The simulator's cloned or broken device: it ignores its counter and limits and can pay
  /// the same tokens twice.
  void compromise() { m_compromised = true; }

  [[nodiscard]] auto key() const -> const public_key& { return m_key.pub(); }
  [[nodiscard]] auto cert() const -> const device_cert& { return m_cert; }
  [[nodiscard]] auto counter() const -> std::uint64_t { return m_counter; }
  /// The value it holds, in its bank's currency.
  [[nodiscard]] auto balance() const -> money;

 private:
  device(key_pair key, device_cert cert, public_key central_bank);
  /// The token's amount, currency and owner, from a voucher or the transfer that created it.
  struct token {
    hash256 id;
    currency cur{currency::cny};
    std::int64_t amount_minor{0};
    public_key owner;
    hash256 created_by;  ///< zero for a vouched token
  };
  [[nodiscard]] auto verify_cert(const device_cert& c, std::int64_t now_s) const -> status;
  [[nodiscard]] auto bank_key_of(const std::string& bank_id) const -> const public_key*;
  /// The offline transfers behind the tokens, dependency order, each once.
  [[nodiscard]] auto ancestry(const std::vector<hash256>& tokens) const -> std::vector<hash256>;
  void remember(const signed_tx& tx);
  void check_invariants() const;

  key_pair m_key;
  device_cert m_cert;
  public_key m_central_bank;
  std::uint64_t m_counter{0};
  std::int64_t m_synced_s{0};
  std::uint32_t m_payments_since_sync{0};
  std::set<std::string> m_revoked;  ///< device keys, hex
  std::int64_t m_revoked_as_of_s{0};
  std::vector<hash256> m_held;                  ///< token ids it holds
  std::map<hash256, signed_tx> m_txs;           ///< every offline transfer it knows
  std::map<hash256, token> m_tokens;            ///< every token it knows of
  std::map<hash256, voucher> m_vouchers;        ///< by token id
  std::map<std::string, device_cert> m_certs;   ///< by device key hex
  std::map<std::string, bank_cert> m_banks;     ///< by bank id
  std::map<std::string, std::uint64_t> m_seen;  ///< the last counter seen from each payer
  std::vector<hash256> m_order;                 ///< m_txs in the order it learnt them
  bool m_compromised{false};
};

}  // namespace cbdc::offline
