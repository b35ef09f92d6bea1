// Raw TCP on 127.0.0.1 for tests and fuzz targets that talk to a server byte by byte (plain
// POSIX sockets: their receive timeouts hold). No Catch2 here: the fuzz targets use it too.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>

namespace cbdc::test {

/// A socket connected to 127.0.0.1:port, or -1.
inline auto connect_loopback(int port) -> int {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct exchange_options {
  int timeout_ms{5000};
  bool half_close{false};  ///< shut the sending side after the bytes (the server sees EOF)
  bool reset{false};       ///< close with a reset, leaving no TIME_WAIT (many connections)
};

/// Sends raw bytes as one connection and returns everything the server answers before closing,
/// or within the timeout; an empty string when it cannot connect.
inline auto exchange(int port, const std::string& raw, exchange_options opts = {}) -> std::string {
  const int fd = connect_loopback(port);
  if (fd < 0) {
    return {};
  }
  const timeval tv{opts.timeout_ms / 1000, static_cast<suseconds_t>(opts.timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  (void)::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  if (opts.half_close) {
    ::shutdown(fd, SHUT_WR);
  }
  std::string out;
  std::array<char, 4096> buf{};
  for (;;) {
    const auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      break;
    }
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  if (opts.reset) {
    const linger now{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  }
  ::close(fd);
  return out;
}

}  // namespace cbdc::test
