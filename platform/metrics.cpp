// Metrics in Prometheus text: counters, gauges, histograms and their /metrics endpoint.
#include "platform/metrics.hpp"

#include "platform/http.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cmath>
#include <sstream>

namespace cbdc::metrics {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = boost::asio::ip::tcp;

auto number(double v) -> std::string {
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  std::ostringstream s;
  s.precision(15);
  s << v;
  return s.str();
}

}  // namespace

auto latency_buckets() -> buckets {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

auto size_buckets() -> buckets {
  return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
}

auto render_labels(const labels& l) -> std::string {
  if (l.empty()) {
    return {};
  }
  std::string out = "{";
  for (std::size_t i = 0; i < l.size(); ++i) {
    out += (i == 0 ? "" : ",") + l[i].first + "=\"";
    for (const char c : l[i].second) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out + "}";
}

auto registry::global() -> registry& {
  static registry r;
  return r;
}

auto registry::family_of(const std::string& name) -> family& {
  auto it = m_families.find(name);
  if (it == m_families.end()) {
    it = m_families.emplace(name, family{}).first;  // undeclared: an untyped counter
  }
  return it->second;
}

void registry::describe(const std::string& name, kind k, const std::string& help, buckets b) {
  std::lock_guard lock(m_mutex);
  if (m_families.contains(name)) {
    return;
  }
  family f;
  f.k = k;
  f.help = help;
  f.bounds = k == kind::histogram && b.empty() ? latency_buckets() : std::move(b);
  m_families.emplace(name, std::move(f));
}

void registry::inc(const std::string& name, const labels& l, double by) {
  std::lock_guard lock(m_mutex);
  family_of(name).values[render_labels(l)] += by;
}

void registry::set(const std::string& name, const labels& l, double value) {
  std::lock_guard lock(m_mutex);
  family_of(name).values[render_labels(l)] = value;
}

void registry::observe(const std::string& name, const labels& l, double value) {
  std::lock_guard lock(m_mutex);
  auto& f = family_of(name);
  CBDC_ASSERT(f.k == kind::histogram);  // observe() only on a declared histogram
  auto& h = f.histograms[render_labels(l)];
  h.counts.resize(f.bounds.size() + 1);
  const auto at = std::lower_bound(f.bounds.begin(), f.bounds.end(), value) - f.bounds.begin();
  ++h.counts[static_cast<std::size_t>(at)];
  h.sum += value;
  ++h.count;
}

auto registry::gauge_fn(const std::string& name, const labels& l, std::function<double()> fn)
    -> std::shared_ptr<void> {
  std::lock_guard lock(m_mutex);
  const auto key = render_labels(l);
  const auto id = m_next_callback++;
  family_of(name).callbacks[key][id] = std::move(fn);
  return std::shared_ptr<void>(nullptr, [this, name, key, id](void*) {
    std::lock_guard unlock(m_mutex);
    family_of(name).callbacks[key].erase(id);
  });
}

auto registry::render() -> std::string {
  std::lock_guard lock(m_mutex);
  std::ostringstream out;
  for (const auto& [name, f] : m_families) {
    if (!f.help.empty()) {
      out << "# HELP " << name << ' ' << f.help << '\n';
    }
    out << "# TYPE " << name << ' '
        << (f.k == kind::counter ? "counter"
            : f.k == kind::gauge ? "gauge"
                                 : "histogram")
        << '\n';
    for (const auto& [l, v] : f.values) {
      out << name << l << ' ' << number(v) << '\n';
    }
    for (const auto& [l, fns] : f.callbacks) {
      double total = 0;
      for (const auto& [id, fn] : fns) {
        total += fn();
      }
      if (!fns.empty()) {
        out << name << l << ' ' << number(total) << '\n';
      }
    }
    for (const auto& [series, h] : f.histograms) {
      const std::string& l = series;  // (a lambda may not capture a structured binding)
      // The bucket label joins the series' own labels.
      const auto with_le = [&l](const std::string& le) {
        return l.empty() ? "{le=\"" + le + "\"}"
                         : l.substr(0, l.size() - 1) + ",le=\"" + le + "\"}";
      };
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += h.counts[i];
        out << name << "_bucket" << with_le(number(f.bounds[i])) << ' ' << cumulative << '\n';
      }
      out << name << "_bucket" << with_le("+Inf") << ' ' << h.count << '\n';
      out << name << "_sum" << l << ' ' << number(h.sum) << '\n';
      out << name << "_count" << l << ' ' << h.count << '\n';
    }
  }
  return out.str();
}

// ---- the HTTP server ----

struct http_server::impl {
  boost::asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<bool> stopping{false};

  void serve() {
    http::accept_until(io, acceptor, stopping, [](tcp::socket sock) { answer(sock); });
  }

  static void answer(tcp::socket& sock) {
    boost::system::error_code ec;
    beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> req;
    bhttp::read(sock, buffer, req, ec);
    if (ec) {
      return;
    }
    bhttp::response<bhttp::string_body> res;
    res.version(req.version());
    res.keep_alive(false);
    if (req.method() == bhttp::verb::get && req.target() == "/metrics") {
      res.result(bhttp::status::ok);
      res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = registry::global().render();
    } else {
      res.result(bhttp::status::not_found);
      res.set(bhttp::field::content_type, "text/plain");
      res.body() = "not found: this server answers GET /metrics\n";
    }
    res.prepare_payload();
    bhttp::write(sock, res, ec);
    sock.shutdown(tcp::socket::shutdown_both, ec);
  }
};

http_server::http_server(std::unique_ptr<impl> i) : m_impl(std::move(i)) {}

auto http_server::start(const std::string& address) -> result<std::unique_ptr<http_server>> {
  auto i = std::make_unique<impl>();
  auto acceptor = http::listen(i->io, address);
  if (!acceptor) {
    return acceptor.err();
  }
  i->acceptor = std::move(*acceptor);
  auto* raw = i.get();
  i->thread = std::thread([raw] { raw->serve(); });
  return std::unique_ptr<http_server>(new http_server(std::move(i)));
}

http_server::~http_server() {
  m_impl->stopping = true;
  http::wake(m_impl->io, m_impl->acceptor);
  if (m_impl->thread.joinable()) {
    m_impl->thread.join();
  }
}

auto http_server::url() const -> std::string {
  return http::base_url(m_impl->acceptor) + "/metrics";
}

auto http_get(const std::string& host, int port, const std::string& path) -> result<std::string> {
  try {
    boost::asio::io_context io;
    tcp::socket sock(io);
    sock.connect(
        tcp::endpoint{boost::asio::ip::make_address(host), static_cast<unsigned short>(port)});
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, path, 11};
    req.set(bhttp::field::host, host);
    bhttp::write(sock, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(sock, buffer, res);
    if (res.result() != bhttp::status::ok) {
      return error{status_code::not_found,
                   "GET " + path + ": HTTP " + std::to_string(res.result_int())};
    }
    return res.body();
  } catch (const std::exception& e) {
    return error{status_code::unavailable, "GET " + path + ": " + e.what()};
  }
}

}  // namespace cbdc::metrics
