// The till's web server as a browser (or anything else) reaches it: the bytes of an input go
// to a running cbdc-pos server over loopback as one connection, HTTP and, after an upgrade,
// WebSocket frames. "{{csrf}}" in an input stands for the page token, so that the JSON API
// behind the token check is reached too. The server must answer or close, and keep serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

#include "core/assert.hpp"
#include "core/crypto.hpp"
#include "pos/server.hpp"
#include "tests/fuzz/target.hpp"

namespace {

/// Sends raw as one connection (then half-closes it) and returns what the server answered
/// before closing, or within timeout_ms.
auto exchange(int port, const std::string& raw, int timeout_ms) -> std::string {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  CBDC_ASSERT(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CBDC_ASSERT(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  const timeval tv{timeout_ms / 1000, static_cast<suseconds_t>(timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  (void)::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  std::string out;
  std::array<char, 4096> buf{};
  for (;;) {
    const auto n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      break;
    }
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  // Closed at once (no TIME_WAIT): a fuzzing run makes more connections than there are ports.
  const linger now{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
  ::close(fd);
  return out;
}

struct till {
  till() {
    using namespace cbdc;
    pos::shop_config config;
    config.bank_endpoint = "tcp://127.0.0.1:1";  // nobody: a payment fails, typed, at once
    config.settle_spec = "tcp://127.0.0.1:1";
    config.rpc_timeout_ms = 20;
    config.payers.emplace_back("alice",
                               key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x77)));
    auto shop =
        pos::shop::start(config, key_pair::from_seed(profile::ed25519, indexed_seed(2, 0x77)));
    CBDC_ASSERT(shop.ok());
    auto srv = pos::server::start(std::shared_ptr<pos::shop>(std::move(*shop)), "127.0.0.1:0",
                                  CBDC_POS_WEB_DIR);
    CBDC_ASSERT(srv.ok());
    server = std::move(*srv);
    std::smatch m;
    const auto url = server->url();
    CBDC_ASSERT(std::regex_search(url, m, std::regex{R"(:(\d+)/$)"}));
    port = std::stoi(m[1].str());
    const auto page = exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5000);
    CBDC_ASSERT(
        std::regex_search(page, m, std::regex{R"re(name="cbdc-csrf" content="([0-9a-f]{32})")re"}));
    token = m[1].str();
  }
  std::unique_ptr<cbdc::pos::server> server;
  int port{0};
  std::string token;
};

}  // namespace

CBDC_FUZZ_TARGET(pos_http) {
  static till t;
  std::string raw(reinterpret_cast<const char*>(data), size);
  for (auto at = raw.find("{{csrf}}"); at != std::string::npos; at = raw.find("{{csrf}}", at)) {
    raw.replace(at, 8, t.token);
  }
  (void)exchange(t.port, raw, 12'000);
  // Still serving.
  const auto asked = std::chrono::steady_clock::now();
  const auto after = exchange(t.port, "GET /api/takings HTTP/1.1\r\nHost: x\r\n\r\n", 10'000);
  if (after.rfind("HTTP/1.1 200 OK", 0) != 0) {
    std::size_t fds = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      ++fds;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - asked)
                        .count();
    std::fprintf(stderr,
                 "pos_http: not serving after the input (%zu fds open, %lld ms); it answered: %s\n",
                 fds, static_cast<long long>(ms), after.substr(0, 200).c_str());
  }
  CBDC_ASSERT(after.rfind("HTTP/1.1 200 OK", 0) == 0);
}
