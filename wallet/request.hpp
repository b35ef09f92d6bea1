#pragma once

// Merchants' signed payment requests and their `cbdc:` URIs.

#include <cstdint>
#include <string>

#include "core/crypto.hpp"
#include "core/money.hpp"
#include "core/status.hpp"

namespace cbdc::wallet {

/// A merchant's signed payment request, carried by a QR code as a `cbdc:` URI:
///   cbdc:pay?v=1&merchant=<key hex>&amount=12.34&currency=CNY&ref=<text>&exp=<unix s>&sig=<hex>
/// The signature is the merchant key's over signing_bytes(); the payer pays exactly this.
struct payment_request {
  public_key merchant;
  money amount{0, currency::cny};
  std::string reference;         ///< at most 64 bytes; becomes the payment's memo
  std::int64_t expires_at_s{0};  ///< Unix seconds
  bytes sig;

  [[nodiscard]] auto signing_bytes() const -> bytes;
  [[nodiscard]] auto to_uri() const -> std::string;
};

/// Creates and signs a request. Errors: amount_invalid, too_large (reference).
auto make_request(const key_pair& merchant, money amount, const std::string& reference,
                  std::int64_t expires_at_s) -> result<payment_request>;

/// Parses and verifies a URI. Errors: malformed (not a cbdc: URI, missing or bad field),
/// bad_signature, and, when now_s is past the expiry, request_expired.
auto parse_request(const std::string& uri, std::int64_t now_s) -> result<payment_request>;

}  // namespace cbdc::wallet
