#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/transport.hpp"
#include "settlement/receipt.hpp"
#include "settlement/store.hpp"

namespace cbdc::settlement {

/// Talks to a cbdc-settle over ZeroMQ. A refused transaction is a receipt with its status;
/// an error result means no answer (timeout, unavailable) or a malformed exchange.
class client {
 public:
  explicit client(std::string endpoint, socket_options opts = {});

  auto submit(const signed_tx& tx, const std::string& client_request_id = {}) -> result<receipt>;
  void submit_async(const signed_tx& tx, const std::string& client_request_id,
                    std::function<void(result<receipt>)> done);
  /// The receipt of a settled transaction; not_found when it never settled.
  auto get_tx(const hash256& id) -> result<receipt>;
  auto get_token(const hash256& id) -> result<token_info>;
  auto list_unspent(const public_key& owner, std::uint32_t limit = 0)
      -> result<std::vector<token_info>>;
  auto supply(currency cur) -> result<store::supply_totals>;

 private:
  rpc_client m_rpc;
};

/// Submits tx, resending the identical transaction (so it settles at most once) while the
/// answer is transient, at most `attempts` times with a growing pause.
auto submit_with_retry(client& settle, const signed_tx& tx, const std::string& request_id,
                       int attempts = 5) -> result<receipt>;

}  // namespace cbdc::settlement
