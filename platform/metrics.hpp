#pragma once

// Process-wide metrics in the Prometheus text exposition format (version 0.0.4), served on
// /metrics by a small HTTP server bound to loopback by default. Every service records its
// requests by type and typed status with their latency (rpc/transport does that for all);
// services add their own families (settlement: batches, commit time, queue depths; issuer:
// issuance and redemption totals per currency).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace cbdc::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

enum class kind : std::uint8_t { counter, gauge, histogram };

/// The upper bounds of a histogram's buckets (+Inf is implied).
using buckets = std::vector<double>;
/// Seconds from 100 us to 10 s: request and commit latencies.
auto latency_buckets() -> buckets;
/// 1 to 10,000: sizes of batches.
auto size_buckets() -> buckets;

class registry {
 public:
  static auto global() -> registry&;

  /// Declares a family once (later declarations of the same name are ignored).
  void describe(const std::string& name, kind k, const std::string& help, buckets b = {});
  void inc(const std::string& name, const labels& l = {}, double by = 1);
  void set(const std::string& name, const labels& l, double value);
  void observe(const std::string& name, const labels& l, double value);
  /// A gauge read when scraped (a queue's depth, say). fn must stay valid while registered;
  /// the returned handle unregisters it when destroyed.
  [[nodiscard]] auto gauge_fn(const std::string& name, const labels& l, std::function<double()> fn)
      -> std::shared_ptr<void>;

  /// Every family in the text format, families and series in name order.
  auto render() -> std::string;

 private:
  struct histogram_data {
    std::vector<std::uint64_t> counts;  ///< per bucket, not cumulative
    double sum{0};
    std::uint64_t count{0};
  };
  struct family {
    kind k{kind::counter};
    std::string help;
    buckets bounds;
    std::map<std::string, double> values;  ///< by rendered label set
    std::map<std::string, histogram_data> histograms;
    std::map<std::string, std::map<std::uint64_t, std::function<double()>>> callbacks;
  };
  auto family_of(const std::string& name) -> family&;

  std::mutex m_mutex;
  std::map<std::string, family> m_families;
  std::uint64_t m_next_callback{0};
};

/// `{a="x",b="y"}` with values escaped; empty for no labels.
auto render_labels(const labels& l) -> std::string;

/// Serves GET /metrics (and 404 for anything else) on its own thread.
class http_server {
 public:
  /// address "127.0.0.1:9100" (port 0: any free port). Errors: unavailable.
  static auto start(const std::string& address) -> result<std::unique_ptr<http_server>>;
  ~http_server();
  http_server(const http_server&) = delete;
  auto operator=(const http_server&) -> http_server& = delete;
  /// "http://127.0.0.1:PORT/metrics"
  [[nodiscard]] auto url() const -> std::string;

 private:
  struct impl;
  explicit http_server(std::unique_ptr<impl> i);
  std::unique_ptr<impl> m_impl;
};

/// Fetches http://HOST:PORT/PATH with a plain GET (for tests and tools). Errors: unavailable.
auto http_get(const std::string& host, int port, const std::string& path) -> result<std::string>;

}  // namespace cbdc::metrics
