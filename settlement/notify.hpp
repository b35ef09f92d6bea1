#pragma once

// What a subscriber of settlement's notifications needs: the topics and the SUB socket.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto.hpp"
#include "core/money.hpp"
#include "rpc/transport.hpp"
#include "rpc/wire.hpp"
#include "settlement/receipt.hpp"

namespace zmq {
class socket_t;
}

namespace cbdc::settlement {

/// The topic of a settled output: "<CUR>:<owner key hex>".
auto settled_topic(currency cur, const public_key& owner) -> std::string;
/// The topic on which every transaction with outputs in cur comes once: "all:<CUR>" (a
/// per-owner subscription sees a transaction once per matching owner instead).
auto all_topic(currency cur) -> std::string;
/// The topic on which every redemption (no outputs) comes once.
inline constexpr const char* k_all_redeemed_topic = "all:redeem";

/// Receives settled transactions whose topics start with the subscribed prefixes.
class subscriber {
 public:
  /// With opts.security set, a CURVE client of the publisher (whose key it must know: without
  /// one it receives nothing).
  subscriber(const std::string& endpoint, const std::vector<std::string>& prefixes,
             const socket_options& opts = {});
  ~subscriber();
  subscriber(const subscriber&) = delete;
  auto operator=(const subscriber&) -> subscriber& = delete;
  /// The next notification, or nullopt after timeout_ms.
  auto next(int timeout_ms) -> std::optional<wire::TxSettled>;

 private:
  std::unique_ptr<zmq::socket_t> m_socket;
};

}  // namespace cbdc::settlement
