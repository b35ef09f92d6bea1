// The HTTP listener shared by the metrics endpoint and the POS (Boost.Beast).
#include "platform/http.hpp"

#include <boost/asio/ip/address.hpp>

namespace cbdc::http {

using tcp = boost::asio::ip::tcp;

auto listen(boost::asio::io_context& io, const std::string& address) -> result<tcp::acceptor> {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return error{status_code::bad_request, "an address is HOST:PORT, not " + address};
  }
  try {
    const auto host = boost::asio::ip::make_address(address.substr(0, colon));
    const auto port = static_cast<unsigned short>(std::stoi(address.substr(colon + 1)));
    tcp::acceptor acceptor(io);
    acceptor.open(host.is_v4() ? tcp::v4() : tcp::v6());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(tcp::endpoint{host, port});
    acceptor.listen();
    return acceptor;
  } catch (const std::exception& e) {
    return error{status_code::unavailable,
                 "cannot serve on " + address + ": " + std::string{e.what()}};
  }
}

void accept_until(boost::asio::io_context& io, tcp::acceptor& acceptor,
                  const std::atomic<bool>& stopping,
                  const std::function<void(tcp::socket)>& on_connection) {
  while (!stopping) {
    boost::system::error_code ec;
    tcp::socket sock(io);
    acceptor.accept(sock, ec);
    if (ec || stopping) {
      continue;
    }
    on_connection(std::move(sock));
  }
}

void wake(boost::asio::io_context& io, const tcp::acceptor& acceptor) {
  boost::system::error_code ec;
  tcp::socket poke(io);
  poke.connect(acceptor.local_endpoint(ec), ec);
  poke.close(ec);
}

auto base_url(const tcp::acceptor& acceptor) -> std::string {
  boost::system::error_code ec;
  const auto ep = acceptor.local_endpoint(ec);
  return "http://" + ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace cbdc::http
