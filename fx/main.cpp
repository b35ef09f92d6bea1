// cbdc-fx: the FX desk of a dealing bank on the cross-border bridge. It quotes firm integer
// amounts and executes payment-versus-payment transactions with the bank's vault key.
#include <boost/program_options.hpp>
#include <cstdio>

#include "fx/dealer.hpp"
#include "fx/server.hpp"
#include "payment/vault.hpp"
#include "platform/daemon.hpp"
#include "platform/log.hpp"
#include "rpc/cli.hpp"

namespace po = boost::program_options;
using namespace cbdc;

namespace {

constexpr const char* k_usage =
    "usage: cbdc-fx serve --dir BANK_DIR --dealer-id ID --db URL --bind EP --settle EP\n"
    "         --rate CUR/CUR=DECIMAL... --central-bank CUR=EP... [--spread-bp N]\n"
    "         [--quote-ttl-ms N] --node-key FILE --nodes FILE\n"
    "       cbdc-fx node-keygen --node-key FILE\n"
    "  serve  quote and execute cross-border PvP payments with the vault key of BANK_DIR\n"
    "         (cbdc-bank init). --rate CNY/HKD=1.0870: 1 CNY buys 1.0870 HKD at mid (the\n"
    "         reverse is the inverse); --central-bank CNY=tcp://...: the cbdc-issuer that clears\n"
    "         payments of CNY across the border (a currency without one is not quoted).\n";

auto fail(const error& err) -> int {
  return cli::fail("cbdc-fx", err);
}

}  // namespace

auto main(int argc, char** argv) -> int {
  cbdc::logging::init("cbdc-fx");
  block_shutdown_signals();
  std::string command;
  std::string dir = ".";
  fx::dealer_config config;
  std::vector<std::string> rates;
  std::vector<std::string> central_banks;
  po::options_description opts("options");
  cli::node_flags node;
  cli::add_node_options(opts, node);
  std::string metrics_address;
  cli::add_metrics_option(opts, metrics_address);
  opts.add_options()("dir", po::value(&dir)->default_value(dir), "the bank's folder (vault key)")(
      "dealer-id", po::value(&config.dealer_id), "the dealing bank's id")(
      "db", po::value(&config.db_url)->default_value(""), "PostgreSQL URL (else $CBDC_PG_URL)")(
      "bind", po::value(&config.endpoint)->default_value(config.endpoint), "endpoint to serve")(
      "settle", po::value(&config.settle_spec)->default_value(config.settle_spec),
      "settlement: tcp://shard (or tcp://s0,tcp://s1,...@tcp://coordinator)")(
      "rate", po::value(&rates)->composing(), "PAY/RECEIVE=DECIMAL mid rate")(
      "central-bank", po::value(&central_banks)->composing(), "CUR=EP of its cbdc-issuer")(
      "spread-bp", po::value(&config.spread_bp)->default_value(config.spread_bp),
      "half the bid/ask spread around mid, basis points")(
      "quote-ttl-ms", po::value(&config.quote_ttl_ms)->default_value(config.quote_ttl_ms),
      "how long a quote is firm");
  if (auto exit_code = cli::parse(argc, argv, opts, "cbdc-fx", k_usage, command)) {
    return *exit_code;
  }
  if (command == "node-keygen") {
    return cli::node_keygen(node, "cbdc-fx");
  }
  if (command != "serve") {
    std::fprintf(stderr, "cbdc-fx: unknown command '%s'\n%s", command.c_str(), k_usage);
    return 2;
  }
  for (const auto& r : rates) {
    if (auto added = config.add_rate(r); !added) {
      return fail(added.err());
    }
  }
  for (const auto& spec : central_banks) {
    const auto eq = spec.find('=');
    auto cur = parse_currency(spec.substr(0, eq));
    if (eq == std::string::npos || !cur) {
      return fail(error{status_code::parse_error, "--central-bank wants CUR=EP, got " + spec});
    }
    config.central_banks[*cur] = spec.substr(eq + 1);
  }
  auto url = pg::resolve_url(config.db_url);
  if (!url) {
    return fail(url.err());
  }
  config.db_url = *url;
  auto key = payment::open_vault(dir);
  if (!key) {
    return fail(key.err());
  }
  auto security = cli::load_node_security(node);
  if (!security) {
    return fail(security.err());
  }
  config.net.security = *security;
  const auto pub = key->pub().hex();
  auto svc = fx::server::start(config, std::move(*key));
  if (!svc) {
    return fail(svc.err());
  }
  return cli::serve(
      "cbdc-fx",
      "cbdc-fx: dealer " + config.dealer_id + " (" + pub + ") listening on " + (*svc)->endpoint(),
      metrics_address, *security);
}
