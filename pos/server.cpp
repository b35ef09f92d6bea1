// The till's web server: pages, JSON API and live updates (Boost.Beast, asynchronous).
#include "pos/server.hpp"

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>

#include "bank/limits.hpp"
#include "core/crypto.hpp"
#include "platform/http.hpp"
#include "platform/metrics.hpp"
#include "wallet/qr.hpp"

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

struct server::impl {
  static constexpr int k_max_connections = 256;
  static constexpr int k_read_timeout_s = 10;
  static constexpr std::uint32_t k_max_header_bytes = 8 * 1024;
  static constexpr std::uint64_t k_max_body_bytes = std::uint64_t{16} * 1024;
  /// Requests answered at once: a payment waits on the bank, the connections do not wait on it.
  static constexpr std::size_t k_handler_threads = 4;
  std::shared_ptr<shop> till;
  std::filesystem::path web;
  std::string csrf{random_hex(16)};  ///< the pages' token for POSTs, new at each start
  std::string own_origin;            ///< "http://HOST:PORT", this server's
  std::string own_origin_by_name;    ///< the same as "http://localhost:PORT"
  std::atomic<int> connections{0};
  // Every connection lives on the one I/O thread, asynchronously; handlers run on the pool.
  // The pool and the I/O context are stopped and drained before the members above go.
  boost::asio::io_context io;
  tcp::acceptor acceptor{io};
  boost::asio::thread_pool handlers{k_handler_threads};
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket sock) {
      if (ec == boost::asio::error::operation_aborted) {
        return;  // stopping
      }
      if (!ec) {
        admit(std::move(sock));
      }
      accept();
    });
  }

  /// Past k_max_connections a new connection is closed at once.
  void admit(tcp::socket sock);

  /// The answer to one request, headers set; never throws (a request never stops the till).
  auto answer(const request& req) -> response {
    response res;
    try {
      res = handle(req);
    } catch (const std::exception& e) {
      res = fail(error{status_code::internal, e.what()});
    }
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::cache_control, "no-store");
    res.prepare_payload();
    return res;
  }

  /// The answer to a request that could not be read (the stream is not at a request's start,
  /// so the connection closes after it).
  static auto unreadable(const boost::system::error_code& ec) -> response {
    const auto st = ec == http::error::header_limit ? http::status::request_header_fields_too_large
                    : ec == http::error::body_limit ? http::status::payload_too_large
                    : ec == beast::error::timeout   ? http::status::request_timeout
                                                    : http::status::bad_request;
    auto res = fail(error{status_code::bad_request, "HTTP: " + ec.message()});
    res.result(st);
    res.version(11);
    res.keep_alive(false);
    res.prepare_payload();
    return res;
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
      auto qr = wallet::qr_svg(r->uri, "payment request QR code");
      if (!qr) {
        return fail(qr.err());
      }
      auto out = to_json(*r);
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
      return r ? json_response(json::serialize(to_json(*r))) : fail(r.err());
    }
    if (get && target == "/api/takings") {
      const auto [paid, total] = till->takings();
      json::array rows;
      for (const auto& r : paid) {
        rows.emplace_back(to_json(r));
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

namespace {

/// Counts a connection against k_max_connections while it lives.
class connection_slot {
 public:
  explicit connection_slot(std::atomic<int>& n) : m_n(&n) { m_n->fetch_add(1); }
  ~connection_slot() { m_n->fetch_sub(1); }
  connection_slot(const connection_slot&) = delete;
  auto operator=(const connection_slot&) -> connection_slot& = delete;

 private:
  std::atomic<int>* m_n;
};

/// A browser's live updates: every change of a request is pushed to it until it goes away.
/// What it sends is read (and dropped) only to see it go; a browser that reads too slowly to
/// keep up with k_max_queued updates is disconnected.
class ws_session : public std::enable_shared_from_this<ws_session> {
 public:
  static constexpr std::size_t k_max_queued = 256;
  static constexpr std::size_t k_max_message = 4096;
  ws_session(server::impl& owner, tcp::socket sock)
      : m_owner(owner), m_slot(owner.connections), m_ws(std::move(sock)) {}

  void run(request req) {
    m_ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    m_ws.read_message_max(k_max_message);
    m_ws.text(true);
    m_upgrade = std::move(req);  // kept until the handshake is over
    m_ws.async_accept(m_upgrade, [self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) {
        self->start();
      }
    });
  }

 private:
  void start() {
    std::weak_ptr<ws_session> weak = shared_from_this();
    auto& io = m_owner.io;  // every session runs on it
    m_subscription = m_owner.till->subscribe([weak, &io](const std::string& update) {
      boost::asio::post(io, [weak, msg = update]() {
        if (auto self = weak.lock()) {
          self->send(msg);
        }
      });
    });
    read();
  }
  void read() {
    m_ws.async_read(m_in, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) {
        self->m_subscription.reset();  // gone: no more updates, and the session ends
        return;
      }
      self->m_in.consume(self->m_in.size());
      self->read();
    });
  }
  void send(const std::string& msg) {
    if (m_out.size() >= k_max_queued) {
      m_subscription.reset();
      boost::system::error_code ec;
      beast::get_lowest_layer(m_ws).socket().close(ec);
      return;
    }
    m_out.push_back(msg);
    if (m_out.size() == 1) {
      write_next();
    }
  }
  void write_next() {
    m_ws.async_write(boost::asio::buffer(m_out.front()),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) {
                         self->m_subscription.reset();
                         return;
                       }
                       self->m_out.pop_front();
                       if (!self->m_out.empty()) {
                         self->write_next();
                       }
                     });
  }

  server::impl& m_owner;
  connection_slot m_slot;
  websocket::stream<beast::tcp_stream> m_ws;
  request m_upgrade;
  beast::flat_buffer m_in;
  std::deque<std::string> m_out;
  std::shared_ptr<void> m_subscription;
};

/// One HTTP connection: a request is read within k_read_timeout_s of waiting for it, however
/// slowly it is sent, answered on the handler pool, written, and the next one read.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(server::impl& owner, tcp::socket sock)
      : m_owner(owner), m_slot(owner.connections), m_stream(std::move(sock)) {}

  void read() {
    m_parser.emplace();
    m_parser->header_limit(server::impl::k_max_header_bytes);
    m_parser->body_limit(server::impl::k_max_body_bytes);
    // Not the stream's own expiry, which closes the socket: past the deadline the read is
    // cancelled and answered 408.
    m_timed_out = false;
    m_stream.expires_never();  // a write's deadline is over
    m_deadline.expires_after(std::chrono::seconds{server::impl::k_read_timeout_s});
    m_deadline.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) {
        self->m_timed_out = true;
        boost::system::error_code ignored;
        self->m_stream.socket().cancel(ignored);
      }
    });
    http::async_read(m_stream, m_buffer, *m_parser,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->m_deadline.cancel();
                       self->on_read(self->m_timed_out ? beast::error::timeout : ec);
                     });
  }

 private:
  void on_read(boost::system::error_code ec) {
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
        ec == boost::asio::error::connection_reset ||
        (ec == beast::error::timeout && m_parser->got_some() == false && m_buffer.size() == 0)) {
      close();  // gone, or idle between requests
      return;
    }
    if (ec) {
      auto res = std::make_shared<response>(server::impl::unreadable(ec));
      write(res, true);
      return;
    }
    auto req = m_parser->release();
    if (websocket::is_upgrade(req) && req.target() == "/ws") {
      std::make_shared<ws_session>(m_owner, m_stream.release_socket())->run(std::move(req));
      return;
    }
    m_stream.expires_never();
    boost::asio::post(m_owner.handlers, [self = shared_from_this(), req = std::move(req)]() {
      auto res = std::make_shared<response>(self->m_owner.answer(req));
      boost::asio::post(self->m_stream.get_executor(), [self, res] { self->write(res, false); });
    });
  }

  void write(const std::shared_ptr<response>& res, bool then_drain) {
    m_stream.expires_after(std::chrono::seconds{server::impl::k_read_timeout_s});
    http::async_write(
        m_stream, *res,
        [self = shared_from_this(), res, then_drain](boost::system::error_code ec, std::size_t) {
          if (!ec && then_drain) {
            self->drain();
          } else if (!ec && res->keep_alive()) {
            self->read();
          } else {
            self->close();  // failed, or the last answer of the connection
          }
        });
  }

  /// After an answer to what could not be read: closing with unread bytes would reset the
  /// connection and could lose the answer, so stop sending and drop what the client still
  /// sends, for at most a second and a megabyte.
  void drain() {
    boost::system::error_code ignored;
    m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    m_stream.expires_after(std::chrono::seconds{1});
    drain_some();
  }
  void drain_some() {
    m_stream.async_read_some(
        boost::asio::buffer(m_junk),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          self->m_drained += n;
          if (ec || self->m_drained > std::size_t{1024} * 1024) {
            self->close();
          } else {
            self->drain_some();
          }
        });
  }

  void close() {
    boost::system::error_code ignored;
    m_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    m_stream.socket().close(ignored);
  }

  server::impl& m_owner;
  connection_slot m_slot;
  beast::tcp_stream m_stream;
  beast::flat_buffer m_buffer;
  std::optional<http::request_parser<http::string_body>> m_parser;
  boost::asio::steady_timer m_deadline{m_stream.get_executor()};
  bool m_timed_out{false};
  std::array<char, 4096> m_junk{};
  std::size_t m_drained{0};
};

}  // namespace

void server::impl::admit(tcp::socket sock) {
  if (connections.load() >= k_max_connections) {
    boost::system::error_code ec;
    sock.close(ec);
    return;
  }
  std::make_shared<http_session>(*this, std::move(sock))->read();
}

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
  i->accept();
  i->thread = std::thread([raw = i.get()] { raw->io.run(); });
  return std::unique_ptr<server>(new server(std::move(i)));
}

server::~server() {
  // Handlers under way finish (a payment waits on the bank); those not started are dropped.
  m_impl->handlers.stop();
  m_impl->handlers.join();
  m_impl->io.stop();
  if (m_impl->thread.joinable()) {
    m_impl->thread.join();
  }
}

auto server::url() const -> std::string {
  return cbdc::http::base_url(m_impl->acceptor) + "/";
}

}  // namespace cbdc::pos
