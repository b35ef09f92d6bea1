// cbdc-settle: the settlement daemon. `migrate` applies the schema; `serve` runs the engine.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "platform/daemon.hpp"
#include "platform/log.hpp"
#include "rpc/cli.hpp"
#include "settlement/coordinator.hpp"
#include "settlement/server.hpp"

namespace po = boost::program_options;
using namespace cbdc;

namespace {

auto fail(const error& err) -> int {
  return cli::fail("cbdc-settle", err);
}

auto parse_issuers(const std::vector<std::string>& specs)
    -> result<std::map<currency, public_key>> {
  std::map<currency, public_key> out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) {
      return error{status_code::bad_request, "--issuer wants CUR=PUBLIC_KEY_HEX, got " + spec};
    }
    auto cur = parse_currency(spec.substr(0, eq));
    if (!cur) {
      return cur.err();
    }
    auto key = public_key::from_hex(spec.substr(eq + 1));
    if (!key) {
      return key.err();
    }
    out[*cur] = std::move(*key);
  }
  return out;
}

}  // namespace

auto main(int argc, char** argv) -> int {
  cbdc::logging::init("cbdc-settle");
  block_shutdown_signals();
  std::string command;
  settlement::server_config config;
  std::vector<std::string> issuers;
  std::string prof_name = "ed25519";
  std::string shard_list;
  std::string crash_after;
  unsigned coordinator_workers = 4;
  cli::node_flags node;
  po::options_description opts(
      "cbdc-settle (node-keygen | migrate | serve | coordinate) [options]");
  cli::add_node_options(opts, node);
  std::string metrics_address;
  cli::add_metrics_option(opts, metrics_address);
  opts.add_options()("db", po::value(&config.db_url)->default_value(""),
                     "PostgreSQL URL (else $CBDC_PG_URL)")(
      "bind", po::value(&config.endpoint)->default_value(config.endpoint), "ZeroMQ endpoint")(
      "pub", po::value(&config.pub_endpoint)->default_value(""),
      "PUB endpoint for settled-transaction notifications (empty: none)")(
      "profile", po::value(&prof_name)->default_value(prof_name), "ed25519 or sm2")(
      "issuer", po::value(&issuers)->composing(), "CUR=PUBLIC_KEY_HEX, once per currency")(
      "shard", po::value(&config.engine.shard)->default_value(0), "this shard's number")(
      "shards", po::value(&config.engine.shard_count)->default_value(1), "how many shards")(
      "coordinator", po::value(&config.engine.coordinator_endpoint)->default_value(""),
      "the cross-shard coordinator, asked about in-doubt transactions at start")(
      "max-batch", po::value(&config.engine.max_batch)->default_value(config.engine.max_batch),
      "transactions per database commit, at most")(
      "batch-ms",
      po::value(&config.engine.batch_wait_ms)->default_value(config.engine.batch_wait_ms),
      "how long a batch waits to fill")(
      "queue",
      po::value(&config.engine.queue_capacity)->default_value(config.engine.queue_capacity),
      "pending transactions before answering overloaded")(
      "verify-threads", po::value(&config.engine.verify_threads)->default_value(0),
      "signature workers (0: one per core)")(
      "commit-threads", po::value(&config.engine.commit_threads)->default_value(2),
      "batches committing at once, each on its own connection")(
      "max-prepared",
      po::value(&config.engine.max_prepared)->default_value(config.engine.max_prepared),
      "cross-shard parts prepared at once, at most (below PostgreSQL's "
      "max_prepared_transactions)")("slow-commit-ms",
                                    po::value(&config.engine.slow_commit_ms)->default_value(0),
                                    "fault injection: pause this long before every batch commit")(
      "shard-endpoints", po::value(&shard_list)->default_value(""),
      "for coordinate: the shards' endpoints, comma-separated, shard 0 first")(
      "workers", po::value(&coordinator_workers)->default_value(coordinator_workers),
      "for coordinate: transactions in two-phase commit at once")(
      "crash-after", po::value(&crash_after)->default_value(""),
      "for coordinate, a test hook: prepare or decision");
  constexpr const char* k_usage =
      "usage: cbdc-settle (node-keygen | migrate | serve | coordinate) [options]\n";
  if (auto exit_code = cli::parse(argc, argv, opts, "cbdc-settle", k_usage, command)) {
    return *exit_code;
  }
  if (command == "node-keygen") {
    return cli::node_keygen(node, "cbdc-settle");
  }
  if (command != "migrate" && command != "serve" && command != "coordinate") {
    return fail(error{status_code::bad_request, "unknown command '" + command + "'"});
  }
  auto url = pg::resolve_url(config.db_url);
  if (!url) {
    return fail(url.err());
  }
  config.db_url = *url;
  if (command == "migrate") {
    auto db = settlement::store::open(config.db_url);
    if (!db) {
      return fail(db.err());
    }
    auto applied = (*db)->migrate();
    if (!applied) {
      return fail(applied.err());
    }
    std::printf("cbdc-settle: %d migration(s) applied\n", *applied);
    return 0;
  }
  auto prof = parse_profile(prof_name);
  if (!prof) {
    return fail(prof.err());
  }
  config.engine.prof = *prof;
  auto parsed = parse_issuers(issuers);
  if (!parsed) {
    return fail(parsed.err());
  }
  config.engine.issuers = std::move(*parsed);
  auto security = cli::load_node_security(node);
  if (!security) {
    return fail(security.err());
  }
  config.net.security = *security;
  if (command == "coordinate") {
    settlement::coordinator_config cc;
    cc.db_url = config.db_url;
    cc.endpoint = config.endpoint;
    cc.rules = config.engine;
    cc.workers = std::max(1U, coordinator_workers);
    cc.crash_after = crash_after;
    cc.net = config.net;
    for (std::size_t start = 0; start < shard_list.size();) {
      const auto comma = shard_list.find(',', start);
      cc.shard_endpoints.push_back(shard_list.substr(start, comma - start));
      start = comma == std::string::npos ? shard_list.size() : comma + 1;
    }
    auto coord = settlement::coordinator::start(cc);
    if (!coord) {
      return fail(coord.err());
    }
    return cli::serve("cbdc-settle",
                      "cbdc-settle: coordinator of " + std::to_string(cc.shard_endpoints.size()) +
                          " shards listening on " + (*coord)->endpoint(),
                      metrics_address, *security);
  }
  if (config.engine.shard_count == 0 || config.engine.shard >= config.engine.shard_count) {
    return fail(error{status_code::bad_request, "--shard must be below --shards"});
  }
  auto svc = settlement::server::start(config);
  if (!svc) {
    return fail(svc.err());
  }
  return cli::serve("cbdc-settle",
                    "cbdc-settle: shard " + std::to_string(config.engine.shard) + " listening on " +
                        (*svc)->endpoint() + " (" +
                        std::to_string((*svc)->engine_ref().unspent_count()) + " unspent tokens)",
                    metrics_address, *security);
}
