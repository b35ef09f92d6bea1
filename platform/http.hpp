#pragma once

// The plumbing of our small blocking HTTP servers (metrics, the POS demo), on Boost.Asio.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>

#include "core/status.hpp"

namespace cbdc::http {

/// An acceptor bound and listening on "HOST:PORT" (port 0: any free port). Errors:
/// bad_request (not HOST:PORT), unavailable (cannot bind).
auto listen(boost::asio::io_context& io, const std::string& address)
    -> result<boost::asio::ip::tcp::acceptor>;

/// Accepts connections until `stopping` is set (then wake() it), handing each to
/// on_connection on the calling thread.
void accept_until(boost::asio::io_context& io, boost::asio::ip::tcp::acceptor& acceptor,
                  const std::atomic<bool>& stopping,
                  const std::function<void(boost::asio::ip::tcp::socket)>& on_connection);

/// Wakes a thread blocked in acceptor.accept() (by connecting to it), so it can see a stop flag.
void wake(boost::asio::io_context& io, const boost::asio::ip::tcp::acceptor& acceptor);

/// "http://HOST:PORT" of a listening acceptor.
auto base_url(const boost::asio::ip::tcp::acceptor& acceptor) -> std::string;

}  // namespace cbdc::http
