// cbdc-bank: an operator bank's tools. For now the vault: create it, ask the issuer to mint
// into it, and move e-CNY from it into customers' wallets.
#include <array>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "bank/audit.hpp"
#include "bank/client.hpp"
#include "bank/server.hpp"
#include "issuer/client.hpp"
#include "payment/build.hpp"
#include "payment/vault.hpp"
#include "platform/daemon.hpp"
#include "platform/log.hpp"
#include "rpc/cli.hpp"

namespace po = boost::program_options;
using namespace cbdc;

namespace {

auto fail(const error& err) -> int {
  return cli::fail("cbdc-bank", err);
}

constexpr const char* k_usage =
    "usage: cbdc-bank COMMAND [options]\n"
    "  node-keygen  create this node's CURVE key (--node-key FILE); prints the public key\n"
    "  init     create the vault key in --dir (--profile); prints its public key\n"
    "  address  print the vault's public key\n"
    "  mint     ask the issuer to mint into the vault (--issuer EP --bank-id ID --amount \"1000.00 "
    "CNY\"\n"
    "           --request-id ID)\n"
    "  serve    run the bank: host wallets, enforce their class limits (--dir --db --bind\n"
    "           --settle [--settle-pub EP] [--utc-offset-minutes 480] [--peer [ID=]EP ...])\n"
    "  fund     move --amount \"300.00 CNY\" from the vault to --to WALLET_KEY; through the\n"
    "           running bank and its limits with --bank EP, else straight (--settle EP)\n"
    "  balance  the vault's balance per currency (--settle EP)\n"
    "  register open a wallet for --to WALLET_KEY at the running bank (--bank EP) with --class\n"
    "           I|II|III|IV [--merchant]: the operator's decision after KYC (a customer opens\n"
    "           class IV itself)\n"
    "  credit-deposit  credit a customer's deposit account (--db --to WALLET_KEY --amount\n"
    "           --request-id ID), e.g. a salary arriving\n"
    "  audit    check the bank (--db) against settlement (--settle), as the bank node: every\n"
    "           wallet's balance and cap, every day total against its settled payments; exits\n"
    "           1 with the problems found (run it while the bank is idle)\n";

}  // namespace

auto main(int argc, char** argv) -> int {
  cbdc::logging::init("cbdc-bank");
  std::string command;
  std::string dir = ".";
  std::string prof_name = "ed25519";
  std::string settle_ep = "tcp://127.0.0.1:7100";
  std::string issuer_ep = "tcp://127.0.0.1:7200";
  std::string bank_id;
  std::string amount_text;
  std::string request_id;
  std::string to;
  std::string bank_ep;
  std::string bind = "tcp://127.0.0.1:7300";
  std::string class_text = "IV";
  bool merchant = false;
  std::array<std::string, 2> offline_caps;  // balance, per payment
  std::uint32_t offline_max_payments = 0;
  std::uint32_t offline_max_hours = 0;
  bank::bank_config config;
  po::options_description opts("options");
  cli::node_flags node;
  cli::add_node_options(opts, node);
  std::string metrics_address;
  cli::add_metrics_option(opts, metrics_address);
  opts.add_options()("dir", po::value(&dir)->default_value(dir), "bank folder")(
      "profile", po::value(&prof_name)->default_value(prof_name), "for init")(
      "settle", po::value(&settle_ep)->default_value(settle_ep),
      "settlement: tcp://shard (or tcp://s0,tcp://s1,...@tcp://coordinator)")(
      "issuer", po::value(&issuer_ep)->default_value(issuer_ep), "cbdc-issuer endpoint")(
      "bank-id", po::value(&bank_id), "this bank's id at the issuer")(
      "amount", po::value(&amount_text), "amount with currency")(
      "request-id", po::value(&request_id), "idempotency id of a mint")("to", po::value(&to),
                                                                        "wallet public key (hex)")(
      "bank", po::value(&bank_ep)->default_value(""), "a running cbdc-bank's endpoint")(
      "class", po::value(&class_text)->default_value(class_text), "for register: I..IV")(
      "merchant", po::bool_switch(&merchant), "for register: a merchant wallet")(
      "bind", po::value(&bind)->default_value(bind), "for serve")(
      "db", po::value(&config.db_url)->default_value(""), "for serve: PostgreSQL URL")(
      "utc-offset-minutes", po::value(&config.utc_offset_minutes)->default_value(480),
      "for serve: the bank's zone, for daily limits")(
      "customer-window-ms",
      po::value(&config.customer_window_ms)->default_value(config.customer_window_ms),
      "for serve: how far a wallet's signed request may be from the bank's clock")(
      "registry", po::value(&config.issuer_endpoint)->default_value(""),
      "for serve: the central bank's registration centre (its cbdc-issuer), where every wallet "
      "is registered before the bank hosts it")(
      "dealer", po::value(&config.dealers)->composing(),
      "for serve: an FX dealer, ID=ENDPOINT, asked for quotes when a wallet pays across the "
      "border (repeatable)")(
      "peer", po::value(&config.peers)->composing(),
      "for serve: another bank's endpoint, asked about payees it hosts (repeatable)")(
      "offline-cert", po::value(&config.offline.bank_cert_path)->default_value(""),
      "for serve: the central bank's certificate of this bank's vault key (cbdc-issuer "
      "certify-bank); the bank then certifies its wallets' offline devices")(
      "central-bank-key", po::value(&config.offline.central_bank_key_hex)->default_value(""),
      "for serve, with --offline-cert: the central bank's public key (hex)")(
      "offline-balance-cap", po::value(&offline_caps[0])->default_value(""),
      "for serve: the offline balance cap of every device it certifies (else its class's)")(
      "offline-payment-cap", po::value(&offline_caps[1])->default_value(""),
      "for serve: the offline per-payment cap of every device it certifies")(
      "offline-max-payments", po::value(&offline_max_payments)->default_value(0),
      "for serve: offline payments a device may make between two syncs")(
      "offline-max-hours", po::value(&offline_max_hours)->default_value(0),
      "for serve: the longest a device may stay offline, in hours")(
      "settle-pub", po::value(&config.settle_pub)->default_value(""),
      "for serve: settlement's PUB endpoint; the bank then keeps its own index of its "
      "wallets' tokens for balances and history");
  if (auto exit_code = cli::parse(argc, argv, opts, "cbdc-bank", k_usage, command)) {
    return *exit_code;
  }
  for (std::size_t i = 0; i < offline_caps.size(); ++i) {
    if (offline_caps.at(i).empty()) {
      continue;
    }
    auto cap = parse_amount(offline_caps.at(i), config.limits.cur);
    if (!cap || cap->minor() <= 0) {
      return fail(error{status_code::bad_request,
                        "--offline-balance-cap and --offline-payment-cap take a positive amount "
                        "like \"300.00\""});
    }
    (i == 0 ? config.offline.limits.balance_cap_minor : config.offline.limits.payment_cap_minor) =
        cap->minor();
  }
  if (offline_max_payments > 0) {
    config.offline.limits.max_payments = offline_max_payments;
  }
  if (offline_max_hours > 0) {
    config.offline.limits.max_offline_s = std::int64_t{offline_max_hours} * 3600;
  }
  if (command == "node-keygen") {
    return cli::node_keygen(node, "cbdc-bank");
  }
  // The node's identity, for the commands that talk to other nodes.
  const auto network = [&] { return cli::node_network(node); };
  if (command == "init") {
    auto prof = parse_profile(prof_name);
    if (!prof) {
      return fail(prof.err());
    }
    auto key = payment::init_vault(dir, *prof);
    if (!key) {
      return fail(key.err());
    }
    std::printf("%s\n", key->pub().hex().c_str());
    return 0;
  }
  auto vault = payment::open_vault(dir);
  if (!vault) {
    return fail(vault.err());
  }
  if (command == "address") {
    std::printf("%s\n", vault->pub().hex().c_str());
    return 0;
  }
  if (command == "serve" || command == "mint" || command == "fund" || command == "balance" ||
      command == "register" || command == "audit") {
    auto net = network();
    if (!net) {
      return fail(net.err());
    }
    config.net = *net;
  }
  if (command == "serve") {
    block_shutdown_signals();
    auto url = pg::resolve_url(config.db_url);
    if (!url) {
      return fail(url.err());
    }
    config.db_url = *url;
    config.settle_spec = settle_ep;
    auto svc = bank::server::start(config, *vault, bind);
    if (!svc) {
      return fail(svc.err());
    }
    return cli::serve("cbdc-bank", "cbdc-bank: listening on " + (*svc)->endpoint(), metrics_address,
                      config.net.security);
  }
  if (command == "credit-deposit") {
    auto url = pg::resolve_url(config.db_url);
    if (!url) {
      return fail(url.err());
    }
    config.db_url = *url;
    config.settle_spec = settle_ep;
    auto b = bank::bank::open(config, *vault);
    if (!b) {
      return fail(b.err());
    }
    auto owner = public_key::from_hex(to);
    auto amount = parse_money(amount_text);
    if (!owner || !amount) {
      return fail(!owner ? owner.err() : amount.err());
    }
    if (auto credited = (*b)->credit_deposit(*owner, *amount, request_id); !credited) {
      return fail(credited.err());
    }
    std::printf("credited %s to the deposit account of %s\n", amount->format().c_str(),
                to.substr(0, 18).c_str());
    return 0;
  }
  if (command == "register") {
    auto owner = public_key::from_hex(to);
    auto cls = bank::parse_class(class_text);
    if (!owner || !cls) {
      return fail(!owner ? owner.err() : cls.err());
    }
    auto id = bank::client(bank_ep, config.net).open_wallet(*owner, *cls, merchant);
    if (!id) {
      return fail(id.err());
    }
    std::printf("%s\n", id->c_str());
    return 0;
  }
  if (command == "mint") {
    auto amount = parse_money(amount_text);
    if (!amount) {
      return fail(amount.err());
    }
    issuer::client iss(issuer_ep, config.net);
    auto minted = iss.mint(bank_id, *amount, request_id);
    if (!minted) {
      return fail(minted.err());
    }
    std::printf("minted %s into the vault of %s: tx %s\n", amount->format().c_str(),
                bank_id.c_str(), minted->tx_id.hex().c_str());
    return 0;
  }
  auto where = settlement::cluster::parse(settle_ep);
  if (!where) {
    return fail(where.err());
  }
  settlement::client settle(*where, config.net);
  if (command == "fund") {
    auto wallet_key = public_key::from_hex(to);
    if (!wallet_key) {
      return fail(wallet_key.err());
    }
    auto amount = parse_money(amount_text);
    if (!amount) {
      return fail(amount.err());
    }
    auto receipt = bank_ep.empty() ? payment::fund_wallet(settle, *vault, *wallet_key, *amount)
                                   : bank::client(bank_ep, config.net).fund(*wallet_key, *amount);
    if (!receipt) {
      return fail(receipt.err());
    }
    if (!receipt->settled()) {
      return fail(error{receipt->status, receipt->detail});
    }
    std::printf("moved %s to wallet %s: tx %s\n", amount->format().c_str(),
                to.substr(0, 18).c_str(), receipt->tx_id.hex().c_str());
    return 0;
  }
  if (command == "audit") {
    auto url = pg::resolve_url(config.db_url);
    if (!url) {
      return fail(url.err());
    }
    auto report = bank::audit(*url, vault->pub(), config.limits, settle);
    if (!report) {
      return fail(report.err());
    }
    const auto cur = config.limits.cur;
    std::printf(
        "bank audit: %zu wallets holding %s%s, %zu payments recorded (%s), %zu settled: "
        "%s\n",
        report->wallets, money{report->balances_minor, cur}.format().c_str(),
        report->indexed ? " (index checked)" : "", report->recorded_payments,
        money{report->recorded_minor, cur}.format().c_str(), report->settled_payments,
        report->passed() ? "PASS" : "FAIL");
    for (const auto& p : report->problems) {
      std::printf("  problem: %s\n", p.c_str());
    }
    if (report->problem_count > report->problems.size()) {
      std::printf("  ... %zu problems in all\n", report->problem_count);
    }
    return report->passed() ? 0 : 1;
  }
  if (command == "balance") {
    auto unspent = settle.list_unspent(vault->pub());
    if (!unspent) {
      return fail(unspent.err());
    }
    auto sums = payment::totals(*unspent);
    if (!sums) {
      return fail(sums.err());
    }
    for (const auto& [cur, amount] : *sums) {
      std::printf("%s\n", money{amount, cur}.format().c_str());
    }
    return 0;
  }
  std::fprintf(stderr, "cbdc-bank: unknown command '%s'\n%s", command.c_str(), k_usage);
  return 2;
}
