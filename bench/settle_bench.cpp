// bench/settle: settlement throughput and latency on this machine, against the real
// cbdc-settle process with durable PostgreSQL commits, and libsodium's raw Ed25519 verify rate
// measured in the same run as the ceiling. Run with scripts/bench-settle.
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "platform/pg.hpp"
#include "platform/process.hpp"
#include "platform/stats.hpp"
#include "rpc/auth.hpp"
#include "settlement/client.hpp"

namespace po = boost::program_options;
using namespace cbdc;
using clock_type = std::chrono::steady_clock;

namespace {

/// Raw Ed25519 verifications per second on `threads` threads, over transaction-sized messages.
auto verify_rate(unsigned threads, double seconds) -> double {
  const auto key = key_pair::from_seed(profile::ed25519, indexed_seed(1, 0x55));
  bytes msg(260, 0x42);
  const auto sig = key.sign(msg);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        CBDC_ASSERT(crypto_sign_verify_detached(sig.data(), msg.data(), msg.size(),
                                                key.pub().raw.data()) == 0);
        ++n;
      }
      total += n;
    });
  }
  const auto start = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) {
    t.join();
  }
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  return static_cast<double>(total.load()) / elapsed;
}

struct workload {
  std::vector<signed_tx> mints;
  std::vector<signed_tx> payments;
};

/// n payers, each minted two tokens, each paying once with both: 2-input/2-output payments
/// needing one signature verification each. With several shards, payer i's tokens live on shard
/// i % shards, and the payment's outputs on the same shard, or on the next one for the given
/// percentage of payments (which then commit through the coordinator).
auto make_workload(const key_pair& issuer, std::uint32_t first, std::uint32_t n,
                   std::uint32_t shards, std::uint32_t cross_pct) -> workload {
  workload w;
  w.mints.reserve(n);
  w.payments.reserve(n);
  for (std::uint32_t i = first; i < first + n; ++i) {
    const auto payer = key_pair::from_seed(profile::ed25519, indexed_seed(i, 1));
    const auto payee = key_pair::from_seed(profile::ed25519, indexed_seed(i, 2));
    transaction mint;
    mint.kind = tx_kind::issue;
    mint.nonce = i;
    mint.outputs = {tx_output{currency::cny, 6'000, payer.pub()},
                    tx_output{currency::cny, 4'000, payer.pub()}};
    const auto home = i % shards;
    if (shards > 1) {
      CBDC_ASSERT(co_locate(mint, home, shards, std::uint64_t{i} << 20U));
    }
    auto m = signed_tx::make(std::move(mint));
    m.sign_with(issuer);
    transaction pay;
    pay.kind = tx_kind::transfer;
    pay.nonce = i;
    pay.inputs = {token_id_of(profile::ed25519, m.id, 0), token_id_of(profile::ed25519, m.id, 1)};
    pay.outputs = {tx_output{currency::cny, 7'300, payee.pub()},
                   tx_output{currency::cny, 2'700, payer.pub()}};
    if (shards > 1) {
      const bool cross = (i * 37U) % 100U < cross_pct;  // spread evenly through the run
      CBDC_ASSERT(
          co_locate(pay, cross ? (home + 1) % shards : home, shards, std::uint64_t{i} << 20U));
    }
    auto p = signed_tx::make(std::move(pay));
    p.sign_with(payer);
    w.mints.push_back(std::move(m));
    w.payments.push_back(std::move(p));
  }
  return w;
}

struct run_stats {
  double seconds{0};
  std::uint64_t settled{0};
  std::uint64_t failed{0};
  std::vector<std::int64_t> latency_us;
  std::vector<std::int64_t> sent_us;  // since the phase started, by payment
  [[nodiscard]] auto rate() const -> double { return static_cast<double>(settled) / seconds; }
  [[nodiscard]] auto pct(double p) const -> std::int64_t {
    auto sorted = latency_us;  // latency_us stays in submit order for the timeline
    std::sort(sorted.begin(), sorted.end());
    return nearest_rank(sorted, p / 100.0);
  }
};

/// Submits txs with at most `window` in flight. Paced at `rate_per_s` when it is > 0: the
/// generator wakes once per tick and submits every payment due by then (a sleep per payment
/// cost a third of a core at 8,000 payments/s, on the cores being measured), and a paced
/// payment's latency counts from when it was due, so the tick's delay is counted too.
auto drive(settlement::client& cli, const std::vector<signed_tx>& txs, std::size_t window,
           double rate_per_s) -> run_stats {
  constexpr auto tick = std::chrono::milliseconds{1};
  run_stats stats;
  stats.latency_us.resize(txs.size());
  stats.sent_us.resize(txs.size());
  std::mutex m;
  std::condition_variable cv;
  std::size_t in_flight = 0;
  std::size_t done = 0;
  std::atomic<std::uint64_t> settled{0};
  std::atomic<std::uint64_t> failed{0};
  const auto start = clock_type::now();
  auto awake_until = start;  // payments due before this are submitted without sleeping
  for (std::size_t i = 0; i < txs.size(); ++i) {
    auto sent = start;
    if (rate_per_s > 0) {
      sent += std::chrono::duration_cast<clock_type::duration>(
          std::chrono::duration<double>(static_cast<double>(i) / rate_per_s));
      if (sent > awake_until) {
        awake_until = sent + tick;
        std::this_thread::sleep_until(awake_until);
      }
    }
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    if (rate_per_s <= 0) {
      sent = clock_type::now();
    }
    stats.sent_us[i] = std::chrono::duration_cast<std::chrono::microseconds>(sent - start).count();
    cli.submit_async(txs[i], "", [&, i, sent](result<settlement::receipt> r) {
      stats.latency_us[i] =
          std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - sent).count();
      if (r && r->status == status_code::ok) {
        ++settled;
      } else {
        ++failed;
      }
      std::lock_guard lock(m);
      --in_flight;
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done == txs.size(); });
  stats.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  stats.settled = settled;
  stats.failed = failed;
  return stats;
}

/// Per 250 ms of submit time: payments submitted, their p99 and worst latency.
void print_timeline(const run_stats& stats) {
  constexpr std::int64_t slot_us = 250'000;
  std::vector<std::vector<std::int64_t>> slots;
  for (std::size_t i = 0; i < stats.sent_us.size(); ++i) {
    const auto slot = static_cast<std::size_t>(stats.sent_us[i] / slot_us);
    if (slots.size() <= slot) {
      slots.resize(slot + 1);
    }
    slots[slot].push_back(stats.latency_us[i]);
  }
  for (std::size_t s = 0; s < slots.size(); ++s) {
    auto& l = slots[s];
    std::sort(l.begin(), l.end());
    const auto p99 = nearest_rank(l, 0.99);
    const auto worst = l.empty() ? 0 : l.back();
    std::printf("  %6.2f s: %5zu submitted, p99 %6.1f ms, worst %6.1f ms\n",
                static_cast<double>(s) * 0.25, l.size(), static_cast<double>(p99) / 1000.0,
                static_cast<double>(worst) / 1000.0);
  }
}

}  // namespace

auto main(int argc, char** argv) -> int {
  std::uint32_t payments = 60'000;
  std::size_t window = 8'000;
  std::string base_url;
  std::string port = "17900";
  std::size_t max_batch = 4'000;
  std::uint32_t shards = 1;
  std::uint32_t cross_pct = 0;
  int batch_ms = 2;
  bool timeline = false;
  std::string auth = "on";
  po::options_description opts("bench-settle [options]");
  opts.add_options()("help,h", "this help")(
      "payments", po::value(&payments)->default_value(payments), "payments per phase")(
      "window", po::value(&window)->default_value(window), "payments in flight at most")(
      "max-batch", po::value(&max_batch)->default_value(max_batch), "cbdc-settle --max-batch")(
      "batch-ms", po::value(&batch_ms)->default_value(batch_ms), "cbdc-settle --batch-ms")(
      "shards", po::value(&shards)->default_value(shards), "settlement shards")(
      "cross", po::value(&cross_pct)->default_value(cross_pct),
      "percentage of payments spanning two shards (with --shards > 1)")(
      "auth", po::value(&auth)->default_value(auth),
      "on (every node's CURVE key, as deployed), off (--insecure) or both (off, then on, "
      "with the ratio of the two)")("timeline", po::bool_switch(&timeline),
                                    "print the 50% phase's latency per 250 ms of submit time")(
      "port", po::value(&port)->default_value(port), "first loopback port")(
      "db", po::value(&base_url)->default_value(""), "PostgreSQL URL (else $CBDC_PG_URL)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, opts), vm);
  po::notify(vm);
  if (vm.count("help") != 0U) {
    std::cout << opts << "\n";
    return 0;
  }
  CBDC_ASSERT(sodium_init() >= 0);
  auto url = pg::resolve_url(base_url);
  if (!url) {
    std::fprintf(stderr, "bench-settle: %s\n", to_string(url.err()).c_str());
    return 1;
  }
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const auto exe_dir = std::filesystem::canonical("/proc/self/exe").parent_path().parent_path();
  const auto settle_bin = (exe_dir / "settlement" / "cbdc-settle").string();

  std::printf("bench-settle: %u cores, %u payments per phase, window %zu, max batch %zu, %d ms\n",
              cores, payments, window, max_batch, batch_ms);
  const double verify_per_s = verify_rate(cores, 3.0);
  std::printf("raw Ed25519 verify (libsodium, %u threads): %.0f verifications/s\n", cores,
              verify_per_s);

  if (shards == 0 || shards > 16 || cross_pct > 100 || (shards == 1 && cross_pct > 0)) {
    std::fprintf(stderr, "bench-settle: --shards 1..16, --cross 0..100 and only with shards\n");
    return 2;
  }
  if (auth != "on" && auth != "off" && auth != "both") {
    std::fprintf(stderr, "bench-settle: --auth on, off or both\n");
    return 2;
  }
  // One deployment per mode, each on fresh databases; the peak rate of each.
  const auto run_mode = [&](bool secure) -> std::optional<double> {
    std::printf("== authentication %s ==\n", secure ? "on (CURVE)" : "off (--insecure)");
    const auto key_dir = std::filesystem::temp_directory_path() / "cbdc-bench-keys";
    std::filesystem::remove_all(key_dir);
    node_roster roster(key_dir);
    const auto node_args = [&](const std::string& name) {
      return secure ? roster.flags(name) : std::vector<std::string>{"--insecure"};
    };
    const auto issuer = key_pair::from_seed(profile::ed25519, indexed_seed(0, 0xee));
    const int first_port = std::stoi(port);
    std::vector<std::string> shard_eps;
    std::vector<std::unique_ptr<child>> procs;
    const std::string coord_ep = "tcp://127.0.0.1:" + std::to_string(first_port + 50);
    for (std::uint32_t i = 0; i < shards; ++i) {
      const auto ep = "tcp://127.0.0.1:" + std::to_string(first_port + static_cast<int>(i));
      CBDC_ASSERT(roster.add("shard" + std::to_string(i), role::shard, {ep}).ok());
    }
    CBDC_ASSERT(roster.add("coordinator", role::coordinator, {coord_ep}).ok());
    CBDC_ASSERT(roster.add("bench-bank", role::bank).ok());
    const auto start = [&](std::vector<std::string> args, const std::string& name) -> bool {
      for (auto& a : node_args(name)) {
        args.push_back(std::move(a));
      }
      const auto log = std::filesystem::temp_directory_path() / ("cbdc-bench-" + name + ".log");
      procs.push_back(std::make_unique<child>(args, log.string()));
      if (!procs.back()->wait_for_output("listening", 30'000)) {
        std::fprintf(stderr, "bench-settle: %s did not start:\n%s", name.c_str(),
                     procs.back()->log().c_str());
        return false;
      }
      return true;
    };
    for (std::uint32_t i = 0; i < shards; ++i) {
      auto db = pg::fresh_database(*url, "cbdc_bench_s" + std::to_string(i));
      if (!db) {
        std::fprintf(stderr, "bench-settle: %s\n", to_string(db.err()).c_str());
        return std::nullopt;
      }
      shard_eps.push_back("tcp://127.0.0.1:" + std::to_string(first_port + static_cast<int>(i)));
      if (!start({settle_bin,      "serve",
                  "--db",          *db,
                  "--bind",        shard_eps.back(),
                  "--issuer",      "CNY=" + issuer.pub().hex(),
                  "--max-batch",   std::to_string(max_batch),
                  "--batch-ms",    std::to_string(batch_ms),
                  "--queue",       "200000",
                  "--shard",       std::to_string(i),
                  "--shards",      std::to_string(shards),
                  "--coordinator", coord_ep},
                 "shard" + std::to_string(i))) {
        return std::nullopt;
      }
    }
    settlement::cluster where{shard_eps, {}};
    if (shards > 1) {
      auto db = pg::fresh_database(*url, "cbdc_bench_coordinator");
      if (!db) {
        std::fprintf(stderr, "bench-settle: %s\n", to_string(db.err()).c_str());
        return std::nullopt;
      }
      std::string list;
      for (const auto& ep : shard_eps) {
        list += (list.empty() ? "" : ",") + ep;
      }
      if (!start({settle_bin, "coordinate", "--db", *db, "--bind", coord_ep, "--shard-endpoints",
                  list, "--issuer", "CNY=" + issuer.pub().hex(), "--workers", "32"},
                 "coordinator")) {
        return std::nullopt;
      }
      where.coordinator = coord_ep;
    }
    std::printf("%u shard(s)%s, %u%% of payments spanning two shards\n", shards,
                shards > 1 ? " and a coordinator" : "", cross_pct);

    const auto t0 = clock_type::now();
    auto peak_load = make_workload(issuer, 0, payments, shards, cross_pct);
    auto half_load = make_workload(issuer, payments, payments, shards, cross_pct);
    std::printf("pre-signed %u mints and %u payments in %.1f s\n", 2 * payments, 2 * payments,
                std::chrono::duration<double>(clock_type::now() - t0).count());

    socket_options sock;
    sock.timeout_ms = 60'000;
    if (secure) {
      auto security = roster.security("bench-bank");
      CBDC_ASSERT(security.ok());
      sock.security = *security;
    }
    settlement::client cli(where, sock);
    auto mints = peak_load.mints;
    mints.insert(mints.end(), half_load.mints.begin(), half_load.mints.end());
    auto minted = drive(cli, mints, window, 0);
    std::printf("setup: %llu mints settled (%.0f/s)\n",
                static_cast<unsigned long long>(minted.settled), minted.rate());
    if (minted.failed != 0) {
      std::fprintf(stderr, "bench-settle: %llu mints failed\n",
                   static_cast<unsigned long long>(minted.failed));
      return std::nullopt;
    }

    auto peak = drive(cli, peak_load.payments, window, 0);
    std::printf(
        "peak:  %llu payments settled in %.2f s = %.0f payments/s (%llu failed); latency p50 %.1f "
        "ms "
        "p99 %.1f ms p99.9 %.1f ms\n",
        static_cast<unsigned long long>(peak.settled), peak.seconds, peak.rate(),
        static_cast<unsigned long long>(peak.failed), static_cast<double>(peak.pct(50)) / 1000.0,
        static_cast<double>(peak.pct(99)) / 1000.0, static_cast<double>(peak.pct(99.9)) / 1000.0);
    const double half_rate = peak.rate() / 2.0;
    auto half = drive(cli, half_load.payments, window, half_rate);
    std::printf(
        "50%%:   offered %.0f payments/s, settled %.0f payments/s (%llu failed); latency p50 %.1f "
        "ms "
        "p99 %.1f ms p99.9 %.1f ms\n",
        half_rate, half.rate(), static_cast<unsigned long long>(half.failed),
        static_cast<double>(half.pct(50)) / 1000.0, static_cast<double>(half.pct(99)) / 1000.0,
        static_cast<double>(half.pct(99.9)) / 1000.0);
    if (timeline) {
      print_timeline(half);
    }
    std::printf("settled / raw verify rate: %.3f (target >= 0.5)\n", peak.rate() / verify_per_s);
    procs.clear();
    if (peak.failed != 0 || half.failed != 0) {
      return std::nullopt;
    }
    return peak.rate();
  };
  std::optional<double> off;
  std::optional<double> on;
  if (auth != "on") {
    off = run_mode(false);
    if (!off) {
      return 1;
    }
  }
  if (auth != "off") {
    on = run_mode(true);
    if (!on) {
      return 1;
    }
  }
  if (off && on) {
    std::printf(
        "CURVE cost: %.0f payments/s with authentication, %.0f without: %.3f of it (%.1f%% "
        "fewer)\n",
        *on, *off, *on / *off, 100.0 * (1.0 - *on / *off));
  }
  return 0;
}
