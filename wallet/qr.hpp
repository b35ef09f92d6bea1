#pragma once

// QR codes as SVG (libqrencode): a merchant's payment request on a till's screen, an offline
// payment passed from one device to another.

#include <string>

#include "core/status.hpp"

namespace cbdc::wallet {

/// Renders text as a QR code (error correction level M) in SVG, labelled for screen readers.
/// Errors: too_large (more than a QR code holds: about 2,300 bytes), internal.
auto qr_svg(const std::string& text, const std::string& label) -> result<std::string>;

}  // namespace cbdc::wallet
