#include "wallet/request.hpp"

#include <map>

namespace cbdc::wallet {
namespace {

constexpr std::size_t k_max_reference = 64;

auto percent_encode(const std::string& text) -> std::string {
  static constexpr std::string_view k_hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '-' ||
        u == '_' || u == '.' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[u >> 4U];
      out += k_hex[u & 0x0fU];
    }
  }
  return out;
}

auto percent_decode(std::string_view text) -> result<std::string> {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) {
      return error{status_code::malformed, "truncated %-escape"};
    }
    auto byte = from_hex(text.substr(i + 1, 2));
    if (!byte) {
      return error{status_code::malformed, "bad %-escape"};
    }
    out += static_cast<char>((*byte)[0]);
    i += 2;
  }
  return out;
}

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
         "&ref=" + percent_encode(reference) + "&exp=" + std::to_string(expires_at_s) +
         "&sig=" + to_hex(sig);
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
  std::map<std::string, std::string> fields;
  std::string_view rest = std::string_view{uri}.substr(k_prefix.size());
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto part = rest.substr(0, amp);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      return malformed("field without '='");
    }
    auto value = percent_decode(part.substr(eq + 1));
    if (!value) {
      return malformed(value.err().message);
    }
    if (!fields.emplace(std::string{part.substr(0, eq)}, std::move(*value)).second) {
      return malformed("field repeated");
    }
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
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
