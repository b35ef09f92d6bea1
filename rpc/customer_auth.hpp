#pragma once

// Customers' signatures on their requests to their bank: signing and checking (window, nonce).

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>

#include "core/crypto.hpp"
#include "rpc/wire.hpp"

namespace cbdc {

/// Signs a wallet's request to its bank with the wallet's key (wire::CustomerAuth): over the
/// payload, the time and a fresh random nonce.
void sign_customer_request(wire::Envelope& request, const key_pair& wallet, std::int64_t now_us);

/// The bytes a customer's signature covers.
auto customer_signed_bytes(const wire::Envelope& request) -> bytes;

/// Checks customers' signed requests at a bank: the signature, the time within
/// `window_us` of now, and each (wallet, nonce) once while it is within the window. The
/// memory of nonces is bounded: past `max_remembered` fresh ones it answers overloaded.
class customer_verifier {
 public:
  explicit customer_verifier(std::int64_t window_us = 60'000'000,
                             std::size_t max_remembered = 1'000'000);
  /// The wallet that signed the request. Errors: not_authorized (no signature, or a bad one),
  /// malformed (a bad key or nonce), request_expired (outside the window), bad_request (a
  /// replay), overloaded.
  auto check(const wire::Envelope& request, std::int64_t now_us) -> result<public_key>;

 private:
  struct seen {
    std::int64_t at_us;
    std::string id;  ///< wallet key bytes and nonce
  };
  std::int64_t m_window_us;
  std::size_t m_max;
  std::unordered_set<std::string> m_ids;
  std::deque<seen> m_order;  ///< by arrival, to forget what left the window
};

}  // namespace cbdc
