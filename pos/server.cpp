#include "pos/server.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>

#include "bank/limits.hpp"
#include "core/crypto.hpp"
#include "core/http.hpp"
#include "core/metrics.hpp"

namespace cbdc::pos {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

auto status_json(const error& err) -> std::string {
  return json::serialize(
      json::object{{"status", std::string{to_string(err.code)}}, {"detail", err.message}});
}

/// The HTTP status a typed error answers with.
auto http_status_of(status_code code) -> http::status {
  switch (code) {
    case status_code::not_found: return http::status::not_found;
    case status_code::unavailable:
    case status_code::timeout: return http::status::service_unavailable;
    case status_code::internal: return http::status::internal_server_error;
    default: return http::status::bad_request;
  }
}

auto content_type(const std::filesystem::path& p) -> std::string {
  const auto ext = p.extension().string();
  if (ext == ".html") {
    return "text/html; charset=utf-8";
  }
  if (ext == ".js") {
    return "text/javascript; charset=utf-8";
  }
  if (ext == ".css") {
    return "text/css; charset=utf-8";
  }
  if (ext == ".svg") {
    return "image/svg+xml";
  }
  return "application/octet-stream";
}

/// The body of a JSON request as an object; bad_request otherwise.
auto body_object(const request& req) -> result<json::object> {
  boost::system::error_code ec;
  auto v = json::parse(req.body(), ec);
  if (ec || !v.is_object()) {
    return error{status_code::bad_request, "the body must be a JSON object"};
  }
  return v.as_object();
}

auto text_field(const json::object& o, const char* key) -> std::string {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string{v->as_string()} : std::string{};
}

}  // namespace

struct server::impl : std::enable_shared_from_this<impl> {
  static constexpr int k_max_connections = 256;
  static constexpr int k_read_timeout_s = 10;
  static constexpr std::uint32_t k_max_header_bytes = 8 * 1024;
  static constexpr std::uint64_t k_max_body_bytes = std::uint64_t{16} * 1024;
  std::shared_ptr<shop> till;
  std::filesystem::path web;
  std::string csrf{random_hex(16)};  ///< the pages' token for POSTs, new at each start
  std::string own_origin;            ///< "http://HOST:PORT", this server's
  std::string own_origin_by_name;    ///< the same as "http://localhost:PORT"
  std::atomic<int> connections{0};
  boost::asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<bool> stopping{false};

  void accept_loop() {
    cbdc::http::accept_until(io, acceptor, stopping, [this](tcp::socket sock) {
      std::thread([self = shared_from_this(), s = std::move(sock)]() mutable {
        self->session(std::move(s));
      }).detach();
    });
  }

  void session(tcp::socket sock) {
    // A bounded number of connections, each with a read timeout: an idle or slow client holds
    // one thread for at most k_read_timeout_s, and past k_max_connections others are refused.
    if (connections.fetch_add(1) >= k_max_connections) {
      connections.fetch_sub(1);
      boost::system::error_code ec;
      sock.close(ec);
      return;
    }
    struct leave {
      std::atomic<int>& n;
      ~leave() { n.fetch_sub(1); }
    } counted{connections};
    beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.header_limit(k_max_header_bytes);
      parser.body_limit(k_max_body_bytes);
      read_with_deadline(sock, buffer, parser, ec);
      if (ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
          ec == boost::asio::error::connection_reset) {
        return;
      }
      if (ec) {
        // Answer what can be answered, then close: the stream is not at a request's start.
        const auto st = ec == http::error::header_limit
                            ? http::status::request_header_fields_too_large
                        : ec == http::error::body_limit       ? http::status::payload_too_large
                        : ec == boost::asio::error::timed_out ? http::status::request_timeout
                                                              : http::status::bad_request;
        auto res = fail(error{status_code::bad_request, "HTTP: " + ec.message()});
        res.result(st);
        res.version(11);
        res.keep_alive(false);
        res.prepare_payload();
        http::write(sock, res, ec);
        // Closing with unread bytes would reset the connection and could lose the answer:
        // stop sending, and drop what the client still sends, briefly.
        sock.shutdown(tcp::socket::shutdown_send, ec);
        drain(sock);
        return;
      }
      auto req = parser.release();
      if (websocket::is_upgrade(req) && req.target() == "/ws") {
        live_updates(std::move(sock), req);
        return;
      }
      response res;
      try {
        res = handle(req);
      } catch (const std::exception& e) {  // a request never stops the till
        res = fail(error{status_code::internal, e.what()});
      }
      res.version(req.version());
      res.keep_alive(req.keep_alive());
      res.set(http::field::cache_control, "no-store");
      res.prepare_payload();
      http::write(sock, res, ec);
      if (ec || !req.keep_alive()) {
        sock.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
    }
  }

  /// Reads one request within k_read_timeout_s of its first byte's wait, however slowly the
  /// client sends: the socket is non-blocking and every wait a poll with what is left (a
  /// blocking read's SO_RCVTIMEO does not bound Asio's synchronous reads). timed_out past it.
  static void read_with_deadline(tcp::socket& sock, beast::flat_buffer& buffer,
                                 http::request_parser<http::string_body>& parser,
                                 boost::system::error_code& ec) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{k_read_timeout_s};
    sock.non_blocking(true, ec);
    while (!ec && !parser.is_done()) {
      http::read_some(sock, buffer, parser, ec);
      if (ec != boost::asio::error::would_block) {
        continue;
      }
      ec = {};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd fd{sock.native_handle(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0) {
        ec = boost::asio::error::timed_out;
      }
    }
    boost::system::error_code ignored;
    sock.non_blocking(false, ignored);  // answers are written blocking
  }

  /// Reads and drops what the client still sends, for at most a second.
  static void drain(tcp::socket& sock) {
    std::array<char, 4096> junk{};
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    for (std::size_t total = 0; total < std::size_t{1024} * 1024;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      pollfd fd{sock.native_handle(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0) {
        return;
      }
      const auto n = ::recv(sock.native_handle(), junk.data(), junk.size(), 0);
      if (n <= 0) {
        return;
      }
      total += static_cast<std::size_t>(n);
    }
  }

  /// A POST the till takes: JSON, from its own pages (their token, and no other origin).
  auto post_allowed(const request& req) const -> status {
    const auto type = req[http::field::content_type];
    if (type.substr(0, 16) != "application/json") {
      return error{status_code::bad_request, "415 a POST is application/json"};
    }
    const auto origin = req[http::field::origin];
    if (!origin.empty() && origin != own_origin && origin != own_origin_by_name) {
      return error{status_code::not_authorized, "another origin: " + std::string{origin}};
    }
    if (req["x-cbdc-csrf"] != csrf) {
      return error{status_code::not_authorized, "no page token (x-cbdc-csrf)"};
    }
    return ok_status();
  }

  /// Pushes every change of a request to the browser until it goes away.
  void live_updates(tcp::socket sock, const request& req) {
    websocket::stream<tcp::socket> ws(std::move(sock));
    boost::system::error_code ec;
    ws.accept(req, ec);
    if (ec) {
      return;
    }
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::string> pending;
    auto subscription = till->subscribe([&](const std::string& update) {
      std::lock_guard lock(mutex);
      pending.push_back("{\"type\":\"request\",\"request\":" + update + "}");
      wake.notify_one();
    });
    ws.text(true);
    while (!stopping) {
      std::unique_lock lock(mutex);
      wake.wait_for(lock, std::chrono::seconds{10}, [&] { return !pending.empty(); });
      auto out = std::move(pending);
      pending.clear();
      lock.unlock();
      if (out.empty()) {
        ws.ping({}, ec);  // a gone browser shows up as a failed write
      }
      for (const auto& msg : out) {
        ws.write(boost::asio::buffer(msg), ec);
        if (ec) {
          break;
        }
      }
      if (ec) {
        return;
      }
    }
  }

  auto file(const std::string& name) -> response {
    response res;
    const auto path = web / name;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain");
      res.body() = "not found\n";
      return res;
    }
    std::ostringstream body;
    body << in.rdbuf();
    res.result(http::status::ok);
    res.set(http::field::content_type, content_type(path));
    res.body() = body.str();
    if (path.extension() == ".html") {  // the page's token for its POSTs
      const auto at = res.body().find("{{csrf}}");
      if (at != std::string::npos) {
        res.body().replace(at, 8, csrf);
      }
    }
    return res;
  }

  static auto json_response(const std::string& body, http::status st = http::status::ok)
      -> response {
    response res;
    res.result(st);
    res.set(http::field::content_type, "application/json");
    res.body() = body;
    return res;
  }

  static auto fail(const error& err) -> response {
    return json_response(status_json(err), http_status_of(err.code));
  }

  auto payer_json(const shop::payer_view& v) -> json::object {
    return {{"name", v.name},
            {"key", v.key_hex},
            {"class", v.wallet_class},
            {"balance", money{v.balance_minor, currency::cny}.format_amount()}};
  }

  auto handle(const request& req) -> response {
    const std::string target{req.target()};
    const auto get = req.method() == http::verb::get;
    const auto post = req.method() == http::verb::post;
    if (get && (target == "/" || target == "/index.html")) {
      return file("merchant.html");
    }
    if (get && (target == "/payer" || target.rfind("/payer?", 0) == 0)) {
      return file("payer.html");
    }
    if (get && target.rfind("/static/", 0) == 0) {
      const auto name = target.substr(8);
      if (name.empty() ||
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") != std::string::npos ||
          name.front() == '.') {
        return fail(error{status_code::not_found, "no such asset"});
      }
      return file(name);
    }
    if (get && target == "/metrics") {
      response res;
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = metrics::registry::global().render();
      return res;
    }
    if (post) {
      if (auto allowed = post_allowed(req); !allowed) {
        auto res = fail(allowed.err());
        res.result(allowed.err().message.rfind("415", 0) == 0 ? http::status::unsupported_media_type
                                                              : http::status::forbidden);
        return res;
      }
    }
    if (post && target == "/api/requests") {
      auto body = body_object(req);
      if (!body) {
        return fail(body.err());
      }
      auto r = till->create(text_field(*body, "amount"), text_field(*body, "reference"));
      if (!r) {
        return fail(r.err());
      }
      auto qr = qr_svg(r->uri);
      if (!qr) {
        return fail(qr.err());
      }
      auto out = json::parse(to_json(*r)).as_object();
      out["qr_svg"] = *qr;
      return json_response(json::serialize(out));
    }
    if (get && target.rfind("/api/requests/", 0) == 0) {
      std::uint64_t id = 0;
      try {
        id = std::stoull(target.substr(14));
      } catch (const std::exception&) {
        return fail(error{status_code::bad_request, "a request id is a number"});
      }
      auto r = till->find(id);
      return r ? json_response(to_json(*r)) : fail(r.err());
    }
    if (get && target == "/api/takings") {
      const auto [paid, total] = till->takings();
      json::array rows;
      for (const auto& r : paid) {
        rows.push_back(json::parse(to_json(r)));
      }
      return json_response(
          json::serialize(json::object{{"payments", rows},
                                       {"count", paid.size()},
                                       {"total", money{total, currency::cny}.format_amount()},
                                       {"currency", "CNY"},
                                       {"merchant", till->merchant_key().hex()}}));
    }
    if (get && target == "/api/payers") {
      json::array rows;
      for (const auto& v : till->payers()) {
        rows.push_back(payer_json(v));
      }
      return json_response(json::serialize(json::object{{"payers", rows}}));
    }
    if (post && (target == "/api/payer/inspect" || target == "/api/payer/pay")) {
      auto body = body_object(req);
      if (!body) {
        return fail(body.err());
      }
      const auto uri = text_field(*body, "uri");
      const auto payer = text_field(*body, "payer");
      if (target == "/api/payer/inspect") {
        auto seen = till->inspect(uri, payer);
        if (!seen) {
          return fail(seen.err());
        }
        const auto& [r, v] = *seen;
        return json_response(
            json::serialize(json::object{{"merchant", r.merchant.hex()},
                                         {"amount", r.amount.format_amount()},
                                         {"currency", std::string{currency_code(r.amount.cur())}},
                                         {"reference", r.reference},
                                         {"expires_at_s", r.expires_at_s},
                                         {"payer", payer_json(v)}}));
      }
      auto paid = till->pay(uri, payer);
      if (!paid) {
        return fail(paid.err());
      }
      return json_response(json::serialize(json::object{
          {"status", std::string{to_string(paid->status)}}, {"tx_id", paid->tx_id.hex()}}));
    }
    return fail(error{status_code::not_found, "no route " + target});
  }
};

server::server(std::shared_ptr<impl> i) : m_impl(std::move(i)) {}

auto server::start(std::shared_ptr<shop> till, const std::string& address,
                   std::filesystem::path web_dir) -> result<std::unique_ptr<server>> {
  if (!std::filesystem::exists(web_dir / "merchant.html")) {
    return error{status_code::bad_request, "no merchant.html in " + web_dir.string()};
  }
  auto i = std::make_shared<impl>();
  i->till = std::move(till);
  i->web = std::move(web_dir);
  auto acceptor = cbdc::http::listen(i->io, address);
  if (!acceptor) {
    return acceptor.err();
  }
  i->acceptor = std::move(*acceptor);
  i->own_origin = cbdc::http::base_url(i->acceptor);
  i->own_origin_by_name = "http://localhost:" + std::to_string(i->acceptor.local_endpoint().port());
  i->thread = std::thread([raw = i.get()] { raw->accept_loop(); });
  return std::unique_ptr<server>(new server(std::move(i)));
}

server::~server() {
  m_impl->stopping = true;
  cbdc::http::wake(m_impl->io, m_impl->acceptor);
  if (m_impl->thread.joinable()) {
    m_impl->thread.join();
  }
}

auto server::url() const -> std::string {
  return cbdc::http::base_url(m_impl->acceptor) + "/";
}

}  // namespace cbdc::pos
