#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "core/status.hpp"

// The plumbing of our small blocking HTTP servers (metrics, the POS demo), on Boost.Asio.
namespace cbdc::http {

/// An acceptor bound and listening on "HOST:PORT" (port 0: any free port). Errors:
/// bad_request (not HOST:PORT), unavailable (cannot bind).
auto listen(boost::asio::io_context& io, const std::string& address)
    -> result<boost::asio::ip::tcp::acceptor>;

/// Wakes a thread blocked in acceptor.accept() (by connecting to it), so it can see a stop flag.
void wake(boost::asio::io_context& io, const boost::asio::ip::tcp::acceptor& acceptor);

/// "http://HOST:PORT" of a listening acceptor.
auto base_url(const boost::asio::ip::tcp::acceptor& acceptor) -> std::string;

}  // namespace cbdc::http
