#pragma once

// The till's web server: pages, JSON API and live updates (Boost.Beast, asynchronous).

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "pos/shop.hpp"

namespace cbdc::pos {

/// The till's web server (Boost.Beast): the merchant page (/), the payer page (/payer), their
/// assets (/static/...), the JSON API (/api/...), live updates over a WebSocket (/ws) and
/// Prometheus /metrics. Every connection is served asynchronously on one I/O thread (bounded
/// in number, header and body size, with a read deadline); requests are answered on a small
/// pool, so a payment waiting on the bank holds no connection's reading.
class server {
 public:
  /// address "127.0.0.1:8080" (port 0: any free port); web_dir holds the pages. Errors:
  /// unavailable (cannot bind), bad_request.
  static auto start(std::shared_ptr<shop> till, const std::string& address,
                    std::filesystem::path web_dir) -> result<std::unique_ptr<server>>;
  ~server();
  server(const server&) = delete;
  auto operator=(const server&) -> server& = delete;
  /// "http://127.0.0.1:PORT/"
  [[nodiscard]] auto url() const -> std::string;

  struct impl;  ///< server.cpp's; named here for its sessions

 private:
  explicit server(std::shared_ptr<impl> i);
  std::shared_ptr<impl> m_impl;
};

}  // namespace cbdc::pos
