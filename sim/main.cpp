// cbdc-sim: generates a scenario's payment trace, replays it through the real services, audits
// the outcome and writes the report.
#include <boost/program_options.hpp>
#include <cstdio>

#include "core/cli.hpp"
#include "sim/generate.hpp"

namespace po = boost::program_options;
using namespace cbdc;

namespace {

constexpr const char* k_usage =
    "usage: cbdc-sim COMMAND [options]\n"
    "  generate SCENARIO -o TRACE   write the scenario's trace (binary; --csv FILE too)\n";

auto summarize(const sim::scenario& sc, const sim::trace& t) -> void {
  std::uint64_t topups = 0;
  std::uint64_t payments = 0;
  std::int64_t topup_minor = 0;
  std::int64_t paid_minor = 0;
  for (const auto& e : t.events) {
    if (e.kind == sim::event_kind::topup) {
      ++topups;
      topup_minor += e.amount_minor;
    } else {
      ++payments;
      paid_minor += e.amount_minor;
    }
  }
  std::printf("trace: %llu wallets active, top-ups %llu (%s), payments %llu (%s)\n",
              static_cast<unsigned long long>(topups), static_cast<unsigned long long>(topups),
              money{topup_minor, sc.cur}.format().c_str(), static_cast<unsigned long long>(payments),
              money{paid_minor, sc.cur}.format().c_str());
}

}  // namespace

auto main(int argc, char** argv) -> int {
  std::string command;
  std::string scenario_path;
  std::string out_path;
  std::string csv_path;
  po::options_description opts("options");
  opts.add_options()("scenario", po::value(&scenario_path), "scenario file (TOML)")(
      "output,o", po::value(&out_path), "trace file to write")(
      "csv", po::value(&csv_path), "also write the trace as CSV here");
  if (auto code = cli::parse(argc, argv, opts, "cbdc-sim", k_usage, command, "scenario")) {
    return *code;
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
  std::fprintf(stderr, "%s", k_usage);
  return 2;
}
