// The till's web server as a browser (or anything else) reaches it: the bytes of an input go
// to a running cbdc-pos server over loopback as one connection, HTTP and, after an upgrade,
// WebSocket frames. "{{csrf}}" in an input stands for the page token, so that the JSON API
// behind the token check is reached too. The server must answer or close, and keep serving.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "core/assert.hpp"
#include "core/crypto.hpp"
#include "pos/server.hpp"
#include "tests/fuzz/target.hpp"
#include "tests/support/loopback.hpp"

namespace {

/// One connection with raw bytes, half-closed after them, closed without TIME_WAIT (a fuzzing
/// run makes more connections than there are ports); what the server answered.
auto exchange(int port, const std::string& raw, int timeout_ms) -> std::string {
  return cbdc::test::exchange(port, raw, {timeout_ms, true, true});
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
  // Still serving. An empty answer at once is a connection the machine refused (seen once in
  // 15,000 runs on a loaded machine, 1 ms, not reproducible with the same input): asked again
  // a few times, a till that stopped serving still fails every one.
  const auto asked = std::chrono::steady_clock::now();
  std::string after;
  for (int attempt = 0; attempt < 3 && after.empty(); ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    after = exchange(t.port, "GET /api/takings HTTP/1.1\r\nHost: x\r\n\r\n", 10'000);
  }
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
