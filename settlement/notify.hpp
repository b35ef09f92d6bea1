#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/codec.hpp"
#include "core/transport.hpp"
#include "core/wire.hpp"
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

/// The notification of a settled transaction in a batch (as published, and as a bank catching up
/// reads it).
auto settled_message(const signed_tx& stx, const receipt& batch) -> wire::TxSettled;

/// Publishes settled transactions on a PUB socket. Used from one thread only (the batcher's).
/// With authentication on, only operator nodes and tills (k_subscribers) may subscribe.
class publisher {
 public:
  explicit publisher(std::string endpoint, socket_options opts = {});
  ~publisher();
  publisher(const publisher&) = delete;
  auto operator=(const publisher&) -> publisher& = delete;

  /// Binds. Errors: unavailable.
  auto start() -> status;
  [[nodiscard]] auto endpoint() const -> const std::string& { return m_endpoint; }
  /// Announces each transaction of a committed batch (at most once per topic per transaction).
  void publish(const std::vector<const signed_tx*>& txs, const receipt& batch);

 private:
  std::string m_endpoint;
  socket_options m_opts;
  std::unique_ptr<zmq::socket_t> m_socket;
};

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
