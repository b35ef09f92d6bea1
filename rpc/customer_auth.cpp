// Customers' signatures on their requests to their bank: signing and checking (window, nonce).
#include "rpc/customer_auth.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>

namespace cbdc {
namespace {

constexpr std::string_view k_domain = "cbdc-customer-v1";
constexpr std::size_t k_nonce_bytes = 16;

void put_be(bytes& out, std::uint64_t v, int count) {
  for (int i = count - 1; i >= 0; --i) {
    out.push_back(static_cast<std::uint8_t>(v >> (8U * static_cast<unsigned>(i))));
  }
}

}  // namespace

auto customer_signed_bytes(const wire::Envelope& request) -> bytes {
  bytes out(k_domain.begin(), k_domain.end());
  const auto field = static_cast<std::uint32_t>(request.payload_case());
  put_be(out, field, 4);
  const auto* descriptor = wire::Envelope::descriptor()->FindFieldByNumber(static_cast<int>(field));
  std::string payload;
  if (descriptor != nullptr) {
    const auto& message = request.GetReflection()->GetMessage(request, descriptor);
    {
      google::protobuf::io::StringOutputStream stream(&payload);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      CBDC_ASSERT(message.SerializeToCodedStream(&coded));
    }
  }
  out.insert(out.end(), payload.begin(), payload.end());
  put_be(out, static_cast<std::uint64_t>(request.customer().at_us()), 8);
  const auto& nonce = request.customer().nonce();
  out.insert(out.end(), nonce.begin(), nonce.end());
  return out;
}

void sign_customer_request(wire::Envelope& request, const key_pair& wallet, std::int64_t now_us) {
  auto* auth = request.mutable_customer();
  auth->set_wallet(bytes_to_wire(wallet.pub().encode()));
  auth->set_at_us(now_us);
  const auto nonce = from_hex(random_hex(k_nonce_bytes));
  CBDC_ASSERT(nonce.ok());
  auth->set_nonce(std::string(nonce->begin(), nonce->end()));
  auth->clear_signature();
  const auto sig = wallet.sign(customer_signed_bytes(request));
  auth->set_signature(std::string(sig.begin(), sig.end()));
}

customer_verifier::customer_verifier(std::int64_t window_us, std::size_t max_remembered)
    : m_window_us(window_us), m_max(max_remembered) {
  CBDC_ASSERT(window_us > 0 && max_remembered > 0);
}

auto customer_verifier::check(const wire::Envelope& request, std::int64_t now_us)
    -> result<public_key> {
  if (!request.has_customer()) {
    return error{status_code::not_authorized, "a customer's request is signed by its wallet key"};
  }
  const auto& auth = request.customer();
  const auto& raw = auth.wallet();
  auto wallet =
      public_key::decode(byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
  if (!wallet) {
    return error{status_code::malformed, "the request's wallet key: " + wallet.err().message};
  }
  if (auth.nonce().size() != k_nonce_bytes) {
    return error{status_code::malformed, "a request's nonce is 16 bytes"};
  }
  const auto& sig = auth.signature();
  if (!verify(*wallet, customer_signed_bytes(request),
              byte_view{reinterpret_cast<const std::uint8_t*>(sig.data()), sig.size()})) {
    return error{status_code::not_authorized, "the request's signature does not verify"};
  }
  if (auth.at_us() < now_us - m_window_us || auth.at_us() > now_us + m_window_us) {
    return error{status_code::request_expired, "the request was signed " +
                                                   std::to_string((now_us - auth.at_us()) / 1000) +
                                                   " ms from now, outside the bank's window of " +
                                                   std::to_string(m_window_us / 1000) + " ms"};
  }
  while (!m_order.empty() && m_order.front().at_us < now_us - 2 * m_window_us) {
    m_ids.erase(m_order.front().id);
    m_order.pop_front();
  }
  std::string id = raw + auth.nonce();
  if (m_ids.contains(id)) {
    return error{status_code::bad_request, "a replay: this wallet sent this nonce before"};
  }
  if (m_ids.size() >= m_max) {
    return error{status_code::overloaded, "too many signed requests in the window; retry later"};
  }
  m_ids.insert(id);
  m_order.push_back(seen{now_us, std::move(id)});
  return std::move(*wallet);
}

}  // namespace cbdc
