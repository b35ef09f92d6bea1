#pragma once

// The bank's offline answers on the wire (bank.proto: DeviceIssued, DeviceLoaded,
// OfflineSubmitted, Revocations): encoded by its server, decoded by its client.

#include "bank/interface.hpp"
#include "rpc/wire.hpp"

namespace cbdc::bank {

auto to_wire(const result<device_issued>& r) -> wire::Envelope;
auto to_wire(const result<device_loaded>& r) -> wire::Envelope;
auto to_wire(const result<offline_submitted>& r) -> wire::Envelope;
auto to_wire(const result<revocation_sync>& r) -> wire::Envelope;
/// Errors: the answer's own status, or malformed.
auto issued_from_wire(const wire::Envelope& env) -> result<device_issued>;
auto loaded_from_wire(const wire::Envelope& env) -> result<device_loaded>;
auto submitted_from_wire(const wire::Envelope& env) -> result<offline_submitted>;
auto revocations_from_wire(const wire::Envelope& env) -> result<revocation_sync>;

}  // namespace cbdc::bank
