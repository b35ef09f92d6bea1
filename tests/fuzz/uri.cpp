// cbdc: payment-request URIs, as a wallet reads them from a QR code: whatever parses prints
// as a URI that parses to the same request.
#include <string>

#include "core/assert.hpp"
#include "tests/fuzz/target.hpp"
#include "wallet/request.hpp"

CBDC_FUZZ_TARGET(uri) {
  using namespace cbdc;
  const std::string text(reinterpret_cast<const char*>(data), size);
  constexpr std::int64_t k_now_s = 1'764'547'200;  // 2025-12-01
  auto req = wallet::parse_request(text, k_now_s);
  if (!req) {
    return;
  }
  const auto uri = req->to_uri();
  auto again = wallet::parse_request(uri, k_now_s);
  CBDC_ASSERT(again.ok());
  CBDC_ASSERT(again->to_uri() == uri);
}
