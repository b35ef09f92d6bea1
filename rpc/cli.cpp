// The command line every daemon and tool shares: commands, --help, node identity flags, and
// a daemon's life once it is listening.
#include "rpc/cli.hpp"

#include "platform/daemon.hpp"
#include "platform/log.hpp"
#include "platform/metrics.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace po = boost::program_options;

namespace cbdc::cli {

auto parse(int argc, char** argv, po::options_description& opts, const std::string& tool,
           const std::string& usage, std::string& command, const std::string& operand)
    -> std::optional<int> {
  opts.add_options()("help,h", "this help")("command", po::value(&command)->default_value(""),
                                            "the command");
  po::positional_options_description pos;
  pos.add("command", 1);
  if (!operand.empty()) {
    pos.add(operand.c_str(), 1);
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n%s", tool.c_str(), e.what(), usage.c_str());
    return 2;
  }
  if (vm.count("help") != 0U) {
    std::cout << usage << opts << "\n";
    return 0;
  }
  if (command.empty()) {
    std::cerr << usage << opts << "\n";
    return 2;
  }
  return std::nullopt;
}

auto fail(const std::string& tool, const error& err) -> int {
  std::fprintf(stderr, "%s: %s\n", tool.c_str(), to_string(err).c_str());
  return 1;
}

void add_node_options(po::options_description& opts, node_flags& flags) {
  opts.add_options()("node-key", po::value(&flags.key_file)->default_value(""),
                     "this node's CURVE key pair (made by node-keygen)")(
      "nodes", po::value(&flags.nodes_file)->default_value(""),
      "the deployment's nodes file: `name role public-key [endpoint]` lines; the allow-list and "
      "where clients find servers' keys (read again on SIGHUP)")(
      "insecure", po::bool_switch(&flags.insecure),
      "no authentication: any caller has every role (benchmarks only)");
}

auto load_node_security(const node_flags& flags) -> result<std::shared_ptr<node_security>> {
  if (flags.insecure && flags.key_file.empty() && flags.nodes_file.empty()) {
    logging::warn("--insecure: authentication is off, any caller has every role");
    return std::shared_ptr<node_security>{};
  }
  if (flags.key_file.empty() || flags.nodes_file.empty()) {
    return error{status_code::key_error,
                 "a node needs --node-key and --nodes (or --insecure for a benchmark)"};
  }
  return node_security::load(flags.key_file, flags.nodes_file);
}

auto node_network(const node_flags& flags) -> result<socket_options> {
  auto security = load_node_security(flags);
  if (!security) {
    return security.err();
  }
  socket_options net;
  net.security = *security;
  return net;
}

auto reload_nodes(const std::shared_ptr<node_security>& security) -> std::function<void()> {
  return [security] {
    if (!security) {
      return;
    }
    if (auto reloaded = security->reload(); !reloaded) {
      logging::error("SIGHUP: nodes file kept as it was: {}", to_string(reloaded.err()));
    } else {
      logging::info("SIGHUP: nodes file read again ({} nodes)",
                    security->directory()->entries().size());
    }
  };
}

auto node_keygen(const node_flags& flags, const std::string& tool) -> int {
  if (flags.key_file.empty()) {
    return fail(tool, error{status_code::bad_request, "node-keygen needs --node-key FILE"});
  }
  if (std::filesystem::exists(flags.key_file)) {
    return fail(tool, error{status_code::key_error, flags.key_file + " exists; not overwritten"});
  }
  const auto key = node_key::generate();
  if (auto saved = key.save(flags.key_file); !saved) {
    return fail(tool, saved.err());
  }
  std::printf("%s\n", key.public_hex().c_str());
  return 0;
}

void add_metrics_option(po::options_description& opts, std::string& address) {
  address = "127.0.0.1:0";
  opts.add_options()("metrics", po::value(&address)->default_value(address),
                     "HOST:PORT serving Prometheus /metrics (port 0: any free port)");
}

auto serve(const std::string& tool, const std::string& listening,
           const std::string& metrics_address, const std::shared_ptr<node_security>& security)
    -> int {
  auto scrape = metrics::http_server::start(metrics_address);
  if (!scrape) {
    return fail(tool, scrape.err());
  }
  std::printf("%s, metrics on %s\n", listening.c_str(), (*scrape)->url().c_str());
  std::fflush(stdout);
  const int sig = wait_for_shutdown(reload_nodes(security));
  logging::info("signal {}, stopping", sig);
  return 0;
}

}  // namespace cbdc::cli
