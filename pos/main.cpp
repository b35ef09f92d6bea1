// cbdc-pos: a merchant's point of sale in the browser. It signs payment requests with the
// merchant wallet's key, shows them as QR codes, and tells the page live when settlement has
// the payment; a phone-shaped payer page pays them from demo wallets.
#include <boost/program_options.hpp>
#include <cstdio>

#include "platform/daemon.hpp"
#include "platform/log.hpp"
#include "pos/server.hpp"
#include "rpc/cli.hpp"
#include "wallet/wallet.hpp"

namespace po = boost::program_options;
using namespace cbdc;

namespace {

constexpr const char* k_usage =
    "usage: cbdc-pos serve --merchant WALLET_DIR --bank EP --settle EP --settle-pub EP\n"
    "         [--bind 127.0.0.1:8080] [--payer NAME=WALLET_DIR]... [--web DIR]\n"
    "         [--request-ttl-s 300]\n"
    "  serve  the merchant page at http://BIND/, the payer page at http://BIND/payer, live\n"
    "         updates over a WebSocket, Prometheus /metrics. --payer names demo wallets the\n"
    "         payer page pays from (registered at the same bank).\n";

auto fail(const error& err) -> int {
  return cli::fail("cbdc-pos", err);
}

}  // namespace

auto main(int argc, char** argv) -> int {
  cbdc::logging::init("cbdc-pos");
  block_shutdown_signals();
  std::string command;
  std::string merchant_dir;
  std::string bind = "127.0.0.1:8080";
  std::string web = CBDC_POS_WEB_DIR;
  std::vector<std::string> payers;
  pos::shop_config config;
  po::options_description opts("options");
  cli::node_flags node;
  cli::add_node_options(opts, node);
  opts.add_options()("merchant", po::value(&merchant_dir), "the merchant wallet's folder")(
      "bank", po::value(&config.bank_endpoint), "the merchant's bank (cbdc-bank serve)")(
      "settle", po::value(&config.settle_spec), "settlement endpoint(s)")(
      "settle-pub", po::value(&config.settle_pub), "settlement's PUB endpoint")(
      "bind", po::value(&bind)->default_value(bind), "HOST:PORT of the web server")(
      "web", po::value(&web)->default_value(web), "the folder of the pages")(
      "payer", po::value(&payers)->composing(), "NAME=WALLET_DIR of a demo payer")(
      "request-ttl-s", po::value(&config.request_ttl_s)->default_value(config.request_ttl_s),
      "seconds a payment request stays payable");
  if (auto exit_code = cli::parse(argc, argv, opts, "cbdc-pos", k_usage, command)) {
    return *exit_code;
  }
  if (command == "node-keygen") {
    return cli::node_keygen(node, "cbdc-pos");
  }
  if (command != "serve") {
    std::fprintf(stderr, "cbdc-pos: unknown command '%s'\n%s", command.c_str(), k_usage);
    return 2;
  }
  if (config.bank_endpoint.empty() || config.settle_spec.empty() || merchant_dir.empty()) {
    return fail(error{status_code::bad_request, "serve needs --merchant, --bank and --settle"});
  }
  if (config.request_ttl_s <= 0) {
    return fail(error{status_code::bad_request, "--request-ttl-s must be positive"});
  }
  auto merchant = wallet::open(merchant_dir);
  if (!merchant) {
    return fail(merchant.err());
  }
  for (const auto& spec : payers) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(error{status_code::bad_request, "--payer wants NAME=WALLET_DIR, got " + spec});
    }
    auto key = wallet::open(spec.substr(eq + 1));
    if (!key) {
      return fail(key.err());
    }
    config.payers.emplace_back(spec.substr(0, eq), *key);
  }
  auto security = cli::load_node_security(node);
  if (!security) {
    return fail(security.err());
  }
  config.net.security = *security;
  auto till = pos::shop::start(config, *merchant);
  if (!till) {
    return fail(till.err());
  }
  std::shared_ptr<pos::shop> shared = std::move(*till);
  auto srv = pos::server::start(shared, bind, web);
  if (!srv) {
    return fail(srv.err());
  }
  std::printf("cbdc-pos: merchant %s listening on %s (payer page %spayer), metrics on %smetrics\n",
              shared->merchant_key().hex().c_str(), (*srv)->url().c_str(), (*srv)->url().c_str(),
              (*srv)->url().c_str());
  std::fflush(stdout);
  wait_for_shutdown(cli::reload_nodes(*security));
  return 0;
}
