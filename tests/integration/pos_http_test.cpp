// The till's web server at its boundary: a POST only as JSON, from its own pages (their token,
// no other origin); bounded headers, bodies and connections, a read timeout; a typed HTTP status
// for every bad request, and the till keeps serving. The till is not connected to any service
// here: making a payment request needs none.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "core/crypto.hpp"
#include "pos/server.hpp"
#include "tests/support/loopback.hpp"

using namespace cbdc;

namespace {

/// Sends raw bytes to the server as one connection; what it answers before closing.
auto http_exchange(int port, const std::string& raw, int timeout_ms = 5000) -> std::string {
  return test::exchange(port, raw, {timeout_ms});
}

auto status_line(const std::string& answer) -> std::string {
  return answer.substr(0, answer.find("\r\n"));
}

struct till_world {
  till_world() {
    pos::shop_config config;
    config.bank_endpoint = "tcp://127.0.0.1:1";
    config.settle_spec = "tcp://127.0.0.1:1";
    auto till = pos::shop::start(config, key_pair::generate(profile::ed25519));
    REQUIRE(till.ok());
    std::shared_ptr<pos::shop> shared = std::move(*till);
    auto srv = pos::server::start(shared, "127.0.0.1:0", CBDC_POS_WEB_DIR);
    REQUIRE(srv.ok());
    server = std::move(*srv);
    const std::regex port_re{R"(:(\d+)/$)"};
    std::smatch m;
    const auto url = server->url();
    REQUIRE(std::regex_search(url, m, port_re));
    port = std::stoi(m[1].str());
    origin = url.substr(0, url.size() - 1);
    // The page carries its token.
    const auto page = http_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::regex token_re{R"re(name="cbdc-csrf" content="([0-9a-f]{32})")re"};
    REQUIRE(std::regex_search(page, m, token_re));
    token = m[1].str();
  }
  auto post(const std::string& body, const std::string& headers) const -> std::string {
    return http_exchange(port, "POST /api/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                                   headers + "Content-Length: " + std::to_string(body.size()) +
                                   "\r\n\r\n" + body);
  }
  std::unique_ptr<pos::server> server;
  int port{0};
  std::string origin;
  std::string token;
};

}  // namespace

TEST_CASE("the till takes a POST only as JSON from its own pages", "[pos][integration][auth]") {
  till_world w;
  const std::string body = R"({"amount":"12.00","reference":"order 1"})";
  const std::string json = "Content-Type: application/json\r\n";
  const std::string token = "X-CBDC-CSRF: " + w.token + "\r\n";
  CHECK(status_line(w.post(body, json + token + "Origin: " + w.origin + "\r\n")) ==
        "HTTP/1.1 200 OK");
  CHECK(status_line(w.post(body, json + token)) == "HTTP/1.1 200 OK");  // no Origin: a tool
  // A page elsewhere can send text/plain without a preflight: refused.
  CHECK(status_line(w.post(body, "Content-Type: text/plain\r\n" + token)) ==
        "HTTP/1.1 415 Unsupported Media Type");
  CHECK(status_line(w.post(body, json + token + "Origin: http://evil.example\r\n")) ==
        "HTTP/1.1 403 Forbidden");
  CHECK(status_line(w.post(body, json)) == "HTTP/1.1 403 Forbidden");
  CHECK(status_line(w.post(body, json + "X-CBDC-CSRF: " + random_hex(16) + "\r\n")) ==
        "HTTP/1.1 403 Forbidden");
  // A reference whose 48-byte cut would split a character is cut before it.
  const std::string reference = std::string(47, 'r') + "\xe7\xba\xa2";
  const auto made = w.post(R"({"amount":"1.00","reference":")" + reference + R"("})", json + token);
  REQUIRE(status_line(made) == "HTTP/1.1 200 OK");
  CHECK(made.find(std::string(47, 'r') + " #") != std::string::npos);
}

TEST_CASE("the till answers bad HTTP with a status and keeps serving", "[pos][integration]") {
  till_world w;
  CHECK(status_line(http_exchange(w.port, "GARBAGE\r\n\r\n")) == "HTTP/1.1 400 Bad Request");
  const std::string huge_header =
      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  CHECK(status_line(http_exchange(w.port, huge_header)) ==
        "HTTP/1.1 431 Request Header Fields Too Large");
  const std::string huge_body =
      "POST /api/requests HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: 20000\r\n\r\n" +
      std::string(20000, 'x');
  CHECK(status_line(http_exchange(w.port, huge_body)) == "HTTP/1.1 413 Payload Too Large");
  // A client that sends half a request and waits is timed out (10 s) with 408.
  const auto started = std::chrono::steady_clock::now();
  CHECK(status_line(http_exchange(w.port, "GET / HTTP/1.1\r\nHost:", 15'000)) ==
        "HTTP/1.1 408 Request Timeout");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{14});
  // Still serving.
  CHECK(status_line(http_exchange(w.port,
                                  "GET /api/takings HTTP/1.1\r\nHost: x\r\nConnection: "
                                  "close\r\n\r\n")) == "HTTP/1.1 200 OK");
}

namespace {

auto thread_count() -> std::size_t {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

auto connect_idle(int port) -> int {
  const int fd = test::connect_loopback(port);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace

TEST_CASE("idle connections cost the till no threads and are bounded", "[pos][integration]") {
  // The outside finding: 3,000 idle connections made 3,010 threads.
  till_world w;
  const auto before = thread_count();
  std::vector<int> idle;
  idle.reserve(300);
  for (int i = 0; i < 300; ++i) {
    idle.push_back(connect_idle(w.port));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  CHECK(thread_count() <= before + 2);
  // Past 256 the server closed them: a read there ends at once.
  int closed = 0;
  for (const int fd : idle) {
    const timeval tv{0, 20'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c = 0;
    closed += ::recv(fd, &c, 1, 0) == 0 ? 1 : 0;
  }
  CHECK(closed == 300 - 256);
  for (const int fd : idle) {
    ::close(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds{200});
  CHECK(status_line(http_exchange(w.port,
                                  "GET /api/takings HTTP/1.1\r\nHost: x\r\nConnection: "
                                  "close\r\n\r\n")) == "HTTP/1.1 200 OK");
}
