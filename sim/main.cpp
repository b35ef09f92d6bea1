// cbdc-sim: generates a scenario's payment trace, replays it through the real services, audits
// the outcome and writes the report.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>

#include "platform/files.hpp"
#include "platform/pg.hpp"
#include "rpc/cli.hpp"
#include "sim/bridge.hpp"
#include "sim/generate.hpp"
#include "sim/report.hpp"

namespace po = boost::program_options;
using namespace cbdc;

namespace {

constexpr const char* k_usage =
    "usage: cbdc-sim COMMAND [options]\n"
    "  generate SCENARIO -o TRACE  write the scenario's trace (binary; --csv FILE too)\n"
    "  replay TRACE -o DIR         run a trace through the real services, audit, report in DIR\n"
    "  run SCENARIO -o DIR         generate (DIR/trace.bin), then replay\n"
    "replay and run start cbdc-settle, cbdc-issuer and one cbdc-bank per scenario bank on fresh\n"
    "databases of the cluster at --db (else $CBDC_PG_URL); --speed max (default), realtime or\n"
    "a factor (60 = a simulated minute per second). Exit 0 when the audit passes and the run\n"
    "lands within the scenario's published figures; 1 otherwise.\n"
    "A cross-border scenario (one with a [bridge] table, e.g. sim/scenarios/mbridge-2022.toml):\n"
    "generate writes its plan as CSV (-o FILE.csv); run starts the bridge (settlement shards and\n"
    "coordinator, a cbdc-issuer per central bank, a cbdc-fx per dealer) and settles the plan.\n";

auto summarize(const sim::scenario& sc, const sim::trace& t) -> void {
  std::uint64_t topups = 0;
  std::uint64_t payments = 0;
  std::int64_t topup_minor = 0;
  std::int64_t paid_minor = 0;
  std::uint64_t offline = 0;
  std::int64_t offline_minor = 0;
  for (const auto& e : t.events) {
    if (e.kind == sim::event_kind::topup) {
      ++topups;
      topup_minor += e.amount_minor;
    } else if (e.kind == sim::event_kind::payment) {
      ++payments;
      paid_minor += e.amount_minor;
    } else if (e.kind == sim::event_kind::offline_payment) {
      ++offline;
      offline_minor += e.amount_minor;
    }
  }
  std::printf("trace: %llu wallets active, top-ups %llu (%s), payments %llu (%s)\n",
              static_cast<unsigned long long>(topups), static_cast<unsigned long long>(topups),
              money{topup_minor, sc.cur}.format().c_str(),
              static_cast<unsigned long long>(payments),
              money{paid_minor, sc.cur}.format().c_str());
  if (sc.offline.given) {
    std::printf("trace: offline payments %llu (%s)\n", static_cast<unsigned long long>(offline),
                money{offline_minor, sc.cur}.format().c_str());
  }
}

auto parse_speed(const std::string& text) -> result<double> {
  if (text == "max") {
    return 0.0;
  }
  if (text == "realtime") {
    return 1.0;
  }
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && v > 0) {
      return v;
    }
  } catch (const std::exception&) {
  }
  return error{status_code::bad_request, "--speed is max, realtime or a positive factor"};
}

/// The build folder this binary lives in (build/PRESET/sim/cbdc-sim -> build/PRESET).
auto bin_dir() -> std::filesystem::path {
  return std::filesystem::canonical("/proc/self/exe").parent_path().parent_path();
}

auto replay_and_report(const sim::scenario& sc, const sim::trace& t,
                       const sim::replay_config& config, const std::filesystem::path& out_dir)
    -> int {
  auto r = sim::replay(t, sc, config);
  if (!r) {
    return cli::fail("cbdc-sim", r.err());
  }
  auto f = sim::write_report(sc, t, *r, out_dir);
  if (!f) {
    return cli::fail("cbdc-sim", f.err());
  }
  std::printf("settled %llu payments (%s) for %llu wallets; %llu refused\n",
              static_cast<unsigned long long>(f->payments),
              money{f->volume_minor, sc.cur}.format().c_str(),
              static_cast<unsigned long long>(f->wallets_active),
              static_cast<unsigned long long>(f->failed));
  std::printf("replay %.1f s (setup %.1f s): %.0f payments/s, latency p50 %.1f ms, p99 %.1f ms\n",
              static_cast<double>(r->replay_us) / 1e6, static_cast<double>(r->setup_us) / 1e6,
              f->payments_per_s, f->latency_ms[0], f->latency_ms[2]);
  for (const auto& line : f->published_lines) {
    std::printf("  %s\n", line.c_str());
  }
  for (const auto& c : r->audit.checks) {
    std::printf("  audit: %s\n", c.c_str());
  }
  for (const auto& p : r->audit.problems) {
    std::printf("  AUDIT PROBLEM: %s\n", p.c_str());
  }
  std::printf("audit %s\n", r->audit.passed() ? "PASS" : "FAIL");
  std::printf("report: %s\n", (out_dir / "report.html").c_str());
  return r->audit.passed() && f->published_ok ? 0 : 1;
}

/// generate and run for a cross-border (bridge) scenario.
auto bridge_command(const std::string& command, const std::string& text, const std::string& path,
                    const std::string& out_path, const std::string& csv_path, const std::string& db,
                    const sim::world_config& world) -> int {
  auto sc = sim::bridge::parse_scenario(text, path);
  if (!sc) {
    return cli::fail("cbdc-sim", sc.err());
  }
  std::printf("seed %llu\n", static_cast<unsigned long long>(sc->seed));
  std::fflush(stdout);
  auto p = sim::bridge::generate(*sc);
  if (!p) {
    return cli::fail("cbdc-sim", p.err());
  }
  std::printf("%s: %zu central banks, %zu banks, %zu transactions planned\n", sc->name.c_str(),
              sc->central_banks.size(), sc->banks.size(), p->txs.size());
  if (command == "generate") {
    const auto csv = !csv_path.empty() ? csv_path : out_path;
    if (csv.empty()) {
      return cli::fail("cbdc-sim", error{status_code::bad_request,
                                         "generate of a bridge scenario needs -o FILE.csv"});
    }
    if (auto w = sim::bridge::write_csv(*sc, *p, csv); !w) {
      return cli::fail("cbdc-sim", w.err());
    }
    return 0;
  }
  if (out_path.empty()) {
    return cli::fail("cbdc-sim", error{status_code::bad_request, "run needs -o DIR"});
  }
  auto url = pg::resolve_url(db);
  if (!url) {
    return cli::fail("cbdc-sim", url.err());
  }
  auto rc = world;
  rc.bin_dir = bin_dir();
  rc.work_dir = std::filesystem::path(out_path) / "services";
  rc.pg_url = *url;
  std::filesystem::create_directories(out_path);
  if (auto w = sim::bridge::write_csv(*sc, *p, std::filesystem::path(out_path) / "plan.csv"); !w) {
    return cli::fail("cbdc-sim", w.err());
  }
  return sim::bridge::run(*sc, *p, rc, out_path);
}

}  // namespace

auto main(int argc, char** argv) -> int {
  std::string command;
  std::string scenario_path;
  std::string out_path;
  std::string csv_path;
  std::string speed_text = "max";
  std::string db;
  sim::replay_config config;
  po::options_description opts("options");
  opts.add_options()("scenario", po::value(&scenario_path), "scenario file or trace")(
      "output,o", po::value(&out_path), "trace file (generate) or report folder (replay, run)")(
      "csv", po::value(&csv_path), "generate: also write the trace as CSV here")(
      "speed", po::value(&speed_text)->default_value(speed_text), "max, realtime or a factor")(
      "window", po::value(&config.window)->default_value(config.window),
      "requests in flight, at most")("db", po::value(&db)->default_value(""),
                                     "PostgreSQL URL of the cluster (else $CBDC_PG_URL)")(
      "db-prefix", po::value(&config.world.db_prefix)->default_value(config.world.db_prefix),
      "names of the services' databases: PREFIX_settle, PREFIX_issuer_CUR, PREFIX_bank_ID, ...")(
      "port-base", po::value(&config.world.base_port)->default_value(config.world.base_port),
      "first loopback port of the services");
  if (auto code = cli::parse(argc, argv, opts, "cbdc-sim", k_usage, command, "scenario")) {
    return *code;
  }
  if ((command == "generate" || command == "run") && !scenario_path.empty()) {
    if (auto text = read_file(scenario_path); text && sim::bridge::is_bridge_scenario(*text)) {
      return bridge_command(command, *text, scenario_path, out_path, csv_path, db, config.world);
    }
  }
  if (command == "generate") {
    auto sc = sim::load_scenario(scenario_path);
    if (!sc) {
      return cli::fail("cbdc-sim", sc.err());
    }
    std::printf("seed %llu\n", static_cast<unsigned long long>(sc->seed));
    std::fflush(stdout);
    auto t = sim::generate(*sc);
    if (!t) {
      return cli::fail("cbdc-sim", t.err());
    }
    summarize(*sc, *t);
    if (!out_path.empty()) {
      if (auto w = sim::write_binary(*t, out_path); !w) {
        return cli::fail("cbdc-sim", w.err());
      }
    }
    if (!csv_path.empty()) {
      std::vector<std::string> names;
      for (const auto& c : sc->categories) {
        names.push_back(c.name);
      }
      if (auto w = sim::write_csv(*t, names, csv_path); !w) {
        return cli::fail("cbdc-sim", w.err());
      }
    }
    return 0;
  }
  if (command != "run" && command != "replay") {
    std::fprintf(stderr, "%s", k_usage);
    return 2;
  }
  if (out_path.empty() || scenario_path.empty()) {
    return cli::fail(
        "cbdc-sim",
        error{status_code::bad_request,
              command + " needs " + (command == "run" ? "SCENARIO" : "TRACE") + " and -o DIR"});
  }
  auto speed = parse_speed(speed_text);
  auto url = pg::resolve_url(db);
  if (!speed || !url) {
    return cli::fail("cbdc-sim", speed ? url.err() : speed.err());
  }
  config.speed = *speed;
  config.world.pg_url = *url;
  config.world.bin_dir = bin_dir();
  config.world.work_dir = std::filesystem::path(out_path) / "services";
  config.progress_bar = isatty(STDERR_FILENO) != 0;
  std::filesystem::create_directories(out_path);
  sim::trace t;
  sim::scenario sc;
  if (command == "run") {
    auto loaded = sim::load_scenario(scenario_path);
    if (!loaded) {
      return cli::fail("cbdc-sim", loaded.err());
    }
    sc = std::move(*loaded);
    std::printf("seed %llu\n", static_cast<unsigned long long>(sc.seed));
    std::fflush(stdout);
    auto generated = sim::generate(sc);
    if (!generated) {
      return cli::fail("cbdc-sim", generated.err());
    }
    t = std::move(*generated);
    if (auto w = sim::write_binary(t, std::filesystem::path(out_path) / "trace.bin"); !w) {
      return cli::fail("cbdc-sim", w.err());
    }
  } else {
    auto read = sim::read_binary(scenario_path);
    if (!read) {
      return cli::fail("cbdc-sim", read.err());
    }
    t = std::move(*read);
    auto parsed = sim::parse_scenario(t.scenario_text, t.scenario_origin + " (in the trace)");
    if (!parsed) {
      return cli::fail("cbdc-sim", parsed.err());
    }
    sc = std::move(*parsed);
    std::printf("seed %llu\n", static_cast<unsigned long long>(t.seed));
  }
  summarize(sc, t);
  std::fflush(stdout);
  return replay_and_report(sc, t, config, out_path);
}
