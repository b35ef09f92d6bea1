// The signed statements of dual-offline payments and their canonical bytes (offline/cert.hpp).
#include "offline/cert.hpp"

#include <string_view>

namespace cbdc::offline {
namespace {

/// Canonical bytes: a tag, then each field as fixed-width big-endian numbers or
/// length-prefixed bytes. Never parsed back: only signed and verified.
class canonical {
 public:
  explicit canonical(std::string_view tag) { text(tag); }
  auto u64(std::uint64_t v) -> canonical& {
    for (int shift = 56; shift >= 0; shift -= 8) {
      m_out.push_back(static_cast<std::uint8_t>((v >> shift) & 0xffU));
    }
    return *this;
  }
  auto i64(std::int64_t v) -> canonical& { return u64(static_cast<std::uint64_t>(v)); }
  auto raw(byte_view b) -> canonical& {
    u64(b.size());
    m_out.insert(m_out.end(), b.begin(), b.end());
    return *this;
  }
  auto text(std::string_view s) -> canonical& {
    return raw(byte_view{reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  }
  auto key(const public_key& k) -> canonical& { return raw(k.encode()); }
  auto id(const hash256& h) -> canonical& { return raw(h.view()); }
  auto take() -> bytes { return std::move(m_out); }

 private:
  bytes m_out;
};

}  // namespace

auto bank_cert::signed_bytes() const -> bytes {
  return canonical("cbdc-offline-bank-cert-v1")
      .text(bank_id)
      .key(bank_key)
      .u64(static_cast<std::uint64_t>(cur))
      .i64(expires_s)
      .take();
}

auto device_cert::signed_bytes() const -> bytes {
  return canonical("cbdc-offline-device-cert-v1")
      .key(device)
      .text(bank_id)
      .u64(wallet_class)
      .i64(limits.balance_cap_minor)
      .i64(limits.payment_cap_minor)
      .u64(limits.max_payments)
      .i64(limits.max_offline_s)
      .i64(expires_s)
      .take();
}

auto voucher::signed_bytes() const -> bytes {
  return canonical("cbdc-offline-voucher-v1")
      .id(token_id)
      .u64(static_cast<std::uint64_t>(cur))
      .i64(amount_minor)
      .key(owner)
      .text(bank_id)
      .take();
}

auto revocation_list::signed_bytes() const -> bytes {
  canonical c("cbdc-offline-revocations-v1");
  c.text(bank_id).i64(issued_s).u64(devices.size());
  for (const auto& d : devices) {
    c.key(d);
  }
  return c.take();
}

auto attestation::signed_bytes() const -> bytes {
  return canonical("cbdc-offline-attestation-v1")
      .id(tx_id)
      .u64(counter)
      .i64(synced_s)
      .u64(payments_since_sync)
      .take();
}

auto certify_bank(const key_pair& central_bank, std::string bank_id, const public_key& bank_key,
                  currency cur, std::int64_t expires_s) -> bank_cert {
  bank_cert c{std::move(bank_id), bank_key, cur, expires_s, {}};
  c.sig = central_bank.sign(c.signed_bytes());
  return c;
}

auto certify_device(const key_pair& bank, std::string bank_id, const public_key& device,
                    std::uint8_t wallet_class, const limits& l, std::int64_t expires_s)
    -> device_cert {
  device_cert c{device, std::move(bank_id), wallet_class, l, expires_s, {}};
  c.sig = bank.sign(c.signed_bytes());
  return c;
}

auto vouch(const key_pair& bank, std::string bank_id, const hash256& token_id, money amount,
           const public_key& owner) -> voucher {
  voucher v{token_id, amount.cur(), amount.minor(), owner, std::move(bank_id), {}};
  v.sig = bank.sign(v.signed_bytes());
  return v;
}

auto revoke(const key_pair& bank, std::string bank_id, std::vector<public_key> devices,
            std::int64_t issued_s) -> revocation_list {
  revocation_list r{std::move(bank_id), issued_s, std::move(devices), {}};
  r.sig = bank.sign(r.signed_bytes());
  return r;
}

auto default_limits(std::uint8_t wallet_class) -> result<limits> {
  constexpr std::int64_t k_day_s = std::int64_t{24} * 3600;
  switch (wallet_class) {
    case 1: return limits{1'000'000, 500'000, 50, 7 * k_day_s};
    case 2: return limits{500'000, 200'000, 30, 7 * k_day_s};
    case 3: return limits{200'000, 100'000, 20, 3 * k_day_s};
    case 4: return limits{100'000, 50'000, 10, 3 * k_day_s};
    default:
      return error{status_code::bad_request,
                   "wallet class " + std::to_string(wallet_class) + " is not 1..4"};
  }
}

auto limit_policy::valid() const -> bool {
  const auto positive = [](const auto& v) { return !v || *v > 0; };
  return positive(balance_cap_minor) && positive(payment_cap_minor) && positive(max_payments) &&
         positive(max_offline_s);
}

auto limit_policy::limits_for(std::uint8_t wallet_class) const -> result<limits> {
  auto l = default_limits(wallet_class);
  if (!l) {
    return l.err();
  }
  l->balance_cap_minor = balance_cap_minor.value_or(l->balance_cap_minor);
  l->payment_cap_minor = payment_cap_minor.value_or(l->payment_cap_minor);
  l->max_payments = max_payments.value_or(l->max_payments);
  l->max_offline_s = max_offline_s.value_or(l->max_offline_s);
  return l;
}

}  // namespace cbdc::offline
