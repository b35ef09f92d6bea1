#pragma once

// The command line every daemon and tool shares: commands, --help, node identity flags.

#include <boost/program_options.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.hpp"
#include "rpc/auth.hpp"
#include "rpc/transport.hpp"

namespace cbdc::cli {

/// Parses a command line of the form `TOOL COMMAND [options]`, adding --help and the COMMAND
/// positional to opts. Returns nullopt to go on with `command` set, or the exit code to return
/// at once: 0 after --help, 2 after a bad command line (printed with the usage). When `operand`
/// names an option of opts, the positional argument after COMMAND fills it.
auto parse(int argc, char** argv, boost::program_options::options_description& opts,
           const std::string& tool, const std::string& usage, std::string& command,
           const std::string& operand = {}) -> std::optional<int>;

/// Prints "TOOL: status: detail" on stderr and returns exit code 1.
auto fail(const std::string& tool, const error& err) -> int;

/// A node's identity on the command line: --node-key (its CURVE key pair, made by
/// `TOOL node-keygen`) and --nodes (the deployment's nodes file), or --insecure.
struct node_flags {
  std::string key_file;
  std::string nodes_file;
  bool insecure{false};
};
void add_node_options(boost::program_options::options_description& opts, node_flags& flags);
/// Authentication on with both files; off only with --insecure (warned in the log). Errors:
/// key_error when neither is given (or one), those of node_security::load.
auto load_node_security(const node_flags& flags) -> result<std::shared_ptr<node_security>>;
/// The node's identity as socket options (load_node_security's), for a tool's commands that
/// talk to other nodes.
auto node_network(const node_flags& flags) -> result<socket_options>;
/// What a daemon does on SIGHUP: reads its nodes file again, saying so in the log.
auto reload_nodes(const std::shared_ptr<node_security>& security) -> std::function<void()>;
/// --metrics HOST:PORT, where a daemon serves Prometheus /metrics (default 127.0.0.1:0, any free
/// port).
void add_metrics_option(boost::program_options::options_description& opts, std::string& address);
/// The end of every daemon's main once its server is bound: serves /metrics on metrics_address,
/// prints "<listening>, metrics on URL" on stdout (the line scripts and tests wait for), and
/// runs until SIGINT or SIGTERM, reading the nodes file again at each SIGHUP. Returns the exit
/// code: 0 after the signal, cli::fail's when /metrics cannot be served.
auto serve(const std::string& tool, const std::string& listening,
           const std::string& metrics_address, const std::shared_ptr<node_security>& security)
    -> int;
/// `TOOL node-keygen --node-key FILE`: writes a fresh key pair (refusing to overwrite one) and
/// prints its public key in hex, for the nodes file. Returns the exit code.
auto node_keygen(const node_flags& flags, const std::string& tool) -> int;

}  // namespace cbdc::cli
