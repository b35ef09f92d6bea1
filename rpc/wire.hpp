#pragma once

// Conversions between the domain's types and their wire messages, and the envelope's checks.

#include "cbdc.pb.h"
#include "core/codec.hpp"
#include "core/status.hpp"

namespace cbdc {

inline constexpr std::uint32_t k_protocol_version = wire::PROTOCOL_V1;

/// Converts between the codec's signed transaction and its wire message.
auto to_wire(const signed_tx& tx) -> wire::SignedTx;
/// Decodes a wire transaction: canonical body, id, and signer keys. Errors are typed
/// (malformed, too_large, profile_mismatch).
auto from_wire(const wire::SignedTx& msg) -> result<signed_tx>;

auto id_from_wire(const std::string& raw) -> result<hash256>;
/// A public key as the wire carries it (encoded). Errors: malformed.
auto key_from_wire(const std::string& raw) -> result<public_key>;
/// A signed transaction as a service records it in its database: the hex of its wire form.
auto tx_record(const signed_tx& stx) -> std::string;
/// Reads back what tx_record wrote (the service's own record: anything else is a bug).
auto tx_from_record(const std::string& hex) -> signed_tx;
inline auto id_to_wire(const hash256& id) -> std::string {
  return {id.data.begin(), id.data.end()};
}
inline auto bytes_to_wire(const bytes& b) -> std::string {
  return {b.begin(), b.end()};
}

/// An envelope answering request_id with an Error.
auto error_envelope(std::uint64_t request_id, const error& err) -> wire::Envelope;

/// The status carried by an answer envelope, whatever its payload.
auto answer_status(const wire::Envelope& env) -> error;

/// A client's view of an answer: the envelope when it carries `want` (whatever its status);
/// else the error it carries, or malformed.
auto expect_payload(result<wire::Envelope> answer, wire::Envelope::PayloadCase want)
    -> result<wire::Envelope>;
/// As expect_payload, and the answer's own status must be ok too.
auto expect_ok(result<wire::Envelope> answer, wire::Envelope::PayloadCase want)
    -> result<wire::Envelope>;

}  // namespace cbdc
