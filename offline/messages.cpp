// The wire forms of dual-offline statements (offline/messages.hpp).
#include "offline/messages.hpp"

#include "rpc/wire.hpp"

namespace cbdc::offline {
namespace {

auto to_bytes(const std::string& s) -> bytes {
  return {s.begin(), s.end()};
}

}  // namespace

void write(wire::OfflineLimits& w, const limits& l) {
  w.set_balance_cap_minor(l.balance_cap_minor);
  w.set_payment_cap_minor(l.payment_cap_minor);
  w.set_max_payments(l.max_payments);
  w.set_max_offline_s(l.max_offline_s);
}

void write(wire::BankCert& w, const bank_cert& c) {
  w.set_bank_id(c.bank_id);
  w.set_bank_key(bytes_to_wire(c.bank_key.encode()));
  w.set_currency(static_cast<std::uint32_t>(c.cur));
  w.set_expires_s(c.expires_s);
  w.set_sig(bytes_to_wire(c.sig));
}

void write(wire::DeviceCert& w, const device_cert& c) {
  w.set_device_key(bytes_to_wire(c.device.encode()));
  w.set_bank_id(c.bank_id);
  w.set_wallet_class(c.wallet_class);
  write(*w.mutable_limits(), c.limits);
  w.set_expires_s(c.expires_s);
  w.set_sig(bytes_to_wire(c.sig));
}

void write(wire::LoadVoucher& w, const voucher& v) {
  w.set_token_id(id_to_wire(v.token_id));
  w.set_currency(static_cast<std::uint32_t>(v.cur));
  w.set_amount_minor(v.amount_minor);
  w.set_owner(bytes_to_wire(v.owner.encode()));
  w.set_bank_id(v.bank_id);
  w.set_sig(bytes_to_wire(v.sig));
}

void write(wire::RevocationList& w, const revocation_list& r) {
  w.set_bank_id(r.bank_id);
  w.set_issued_s(r.issued_s);
  for (const auto& d : r.devices) {
    w.add_devices(bytes_to_wire(d.encode()));
  }
  w.set_sig(bytes_to_wire(r.sig));
}

auto read(const wire::BankCert& w) -> result<bank_cert> {
  auto key = key_from_wire(w.bank_key());
  auto cur = currency_from_wire(w.currency());
  if (!key || !cur) {
    return error{status_code::malformed, "bank certificate: key or currency"};
  }
  return bank_cert{w.bank_id(), *key, *cur, w.expires_s(), to_bytes(w.sig())};
}

auto read(const wire::DeviceCert& w) -> result<device_cert> {
  auto key = key_from_wire(w.device_key());
  if (!key || w.wallet_class() < 1 || w.wallet_class() > 4) {
    return error{status_code::malformed, "device certificate: key or wallet class"};
  }
  const auto& l = w.limits();
  return device_cert{
      *key,
      w.bank_id(),
      static_cast<std::uint8_t>(w.wallet_class()),
      limits{l.balance_cap_minor(), l.payment_cap_minor(), l.max_payments(), l.max_offline_s()},
      w.expires_s(),
      to_bytes(w.sig())};
}

auto read(const wire::LoadVoucher& w) -> result<voucher> {
  auto id = id_from_wire(w.token_id());
  auto cur = currency_from_wire(w.currency());
  auto owner = key_from_wire(w.owner());
  if (!id || !cur || !owner || w.amount_minor() <= 0) {
    return error{status_code::malformed, "voucher: token, currency, amount or owner"};
  }
  return voucher{*id, *cur, w.amount_minor(), *owner, w.bank_id(), to_bytes(w.sig())};
}

auto read(const wire::RevocationList& w) -> result<revocation_list> {
  revocation_list r{w.bank_id(), w.issued_s(), {}, to_bytes(w.sig())};
  for (const auto& d : w.devices()) {
    auto key = key_from_wire(d);
    if (!key) {
      return error{status_code::malformed, "revocation list: a device key"};
    }
    r.devices.push_back(*key);
  }
  return r;
}

}  // namespace cbdc::offline
