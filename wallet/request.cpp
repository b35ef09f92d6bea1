// Merchants' signed payment requests and their `cbdc:` URIs.
#include "wallet/request.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <map>

namespace cbdc::wallet {
namespace {

constexpr std::size_t k_max_reference = 64;

auto malformed(const std::string& why) -> error {
  return error{status_code::malformed, "payment request: " + why};
}

}  // namespace

auto payment_request::signing_bytes() const -> bytes {
  const std::string text = "cbdc-request-v1\n" + merchant.hex() + "\n" +
                           std::to_string(amount.minor()) + "\n" +
                           std::string{currency_code(amount.cur())} + "\n" + reference + "\n" +
                           std::to_string(expires_at_s);
  return bytes(text.begin(), text.end());
}

auto payment_request::to_uri() const -> std::string {
  return "cbdc:pay?v=1&merchant=" + merchant.hex() + "&amount=" + amount.format_amount() +
         "&currency=" + std::string{currency_code(amount.cur())} +
         "&ref=" + boost::urls::encode(reference, boost::urls::unreserved_chars) +
         "&exp=" + std::to_string(expires_at_s) + "&sig=" + to_hex(sig);
}

auto make_request(const key_pair& merchant, money amount, const std::string& reference,
                  std::int64_t expires_at_s) -> result<payment_request> {
  if (amount.minor() <= 0) {
    return error{status_code::amount_invalid, "a request must be for a positive amount"};
  }
  if (reference.size() > k_max_reference || reference.find('\n') != std::string::npos) {
    return error{status_code::too_large, "a reference is one line of at most 64 bytes"};
  }
  payment_request r{merchant.pub(), amount, reference, expires_at_s, {}};
  r.sig = merchant.sign(r.signing_bytes());
  return r;
}

auto parse_request(const std::string& uri, std::int64_t now_s) -> result<payment_request> {
  constexpr std::string_view k_prefix = "cbdc:pay?";
  if (uri.rfind(k_prefix, 0) != 0) {
    return malformed("not a cbdc:pay? URI");
  }
  // Boost.URL checks the query's grammar and its %-escapes; '+' stays a plus, as our own
  // encoder never writes one for a space.
  const auto query = boost::urls::parse_query(std::string_view{uri}.substr(k_prefix.size()));
  if (!query) {
    return malformed("not a URI query: " + query.error().message());
  }
  std::map<std::string, std::string> fields;
  for (const auto& field : *query) {
    if (!field.has_value) {
      return malformed("field without '='");
    }
    if (!fields.emplace(field.key.decode(), field.value.decode()).second) {
      return malformed("field repeated");
    }
  }
  for (const char* need : {"v", "merchant", "amount", "currency", "ref", "exp", "sig"}) {
    if (!fields.contains(need)) {
      return malformed(std::string{"missing '"} + need + "'");
    }
  }
  if (fields["v"] != "1") {
    return malformed("version " + fields["v"]);
  }
  auto merchant = public_key::from_hex(fields["merchant"]);
  auto cur = parse_currency(fields["currency"]);
  if (!merchant || !cur) {
    return malformed("bad merchant key or currency");
  }
  auto amount = parse_amount(fields["amount"], *cur);
  if (!amount || amount->minor() <= 0) {
    return malformed("bad amount");
  }
  auto sig = from_hex(fields["sig"]);
  const auto& exp_text = fields["exp"];
  if (!sig || exp_text.empty() || exp_text.size() > 18 ||
      exp_text.find_first_not_of("0123456789") != std::string::npos) {
    return malformed("bad signature or expiry");
  }
  payment_request r{std::move(*merchant), *amount, fields["ref"], std::stoll(exp_text),
                    std::move(*sig)};
  if (!verify(r.merchant, r.signing_bytes(), r.sig)) {
    return error{status_code::bad_signature, "the request's signature does not verify"};
  }
  if (now_s > r.expires_at_s) {
    return error{status_code::request_expired, "the request expired at " + exp_text};
  }
  return r;
}

}  // namespace cbdc::wallet
