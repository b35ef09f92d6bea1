#pragma once

// The wire forms of dual-offline statements (offline/offline.proto), for the device's files and
// the bank's messages. Reading checks the form, never a signature.

#include "offline.pb.h"
#include "offline/cert.hpp"

namespace cbdc::offline {

void write(wire::OfflineLimits& w, const limits& l);
void write(wire::BankCert& w, const bank_cert& c);
void write(wire::DeviceCert& w, const device_cert& c);
void write(wire::LoadVoucher& w, const voucher& v);
void write(wire::RevocationList& w, const revocation_list& r);
/// Errors: malformed (a key, currency, class or amount that is not one).
auto read(const wire::BankCert& w) -> result<bank_cert>;
auto read(const wire::DeviceCert& w) -> result<device_cert>;
auto read(const wire::LoadVoucher& w) -> result<voucher>;
auto read(const wire::RevocationList& w) -> result<revocation_list>;

}  // namespace cbdc::offline
