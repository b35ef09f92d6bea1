// cbdc-issuer: the central bank node of one currency.
#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <tuple>

#include "core/clock.hpp"
#include "issuer/audit.hpp"
#include "issuer/client.hpp"
#include "issuer/issuer.hpp"
#include "issuer/server.hpp"
#include "offline/device.hpp"
#include "platform/daemon.hpp"
#include "platform/log.hpp"
#include "rpc/cli.hpp"

namespace po = boost::program_options;
using namespace cbdc;

namespace {

auto fail(const error& err) -> int {
  return cli::fail("cbdc-issuer", err);
}

/// Splits "KEY=VALUE"; bad_request naming the option otherwise.
auto split_spec(const std::string& spec, const std::string& option)
    -> result<std::pair<std::string, std::string>> {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    return error{status_code::bad_request, option + " wants KEY=AMOUNT, got '" + spec + "'"};
  }
  return std::pair{spec.substr(0, eq), spec.substr(eq + 1)};
}

/// The cross-border controls from the command line, amounts in the issuer's currency.
auto parse_controls(currency cur, const std::vector<std::string>& permits,
                    const std::vector<std::string>& corridor_caps,
                    const std::vector<std::string>& bank_caps)
    -> result<issuer::cross_border_controls> {
  issuer::cross_border_controls c;
  for (const auto& p : permits) {
    auto to = parse_currency(p);
    if (!to) {
      return to.err();
    }
    c.permitted.insert(*to);
  }
  for (const auto& spec : corridor_caps) {
    auto kv = split_spec(spec, "--corridor-cap");
    if (!kv) {
      return kv.err();
    }
    auto to = parse_currency(kv->first);
    auto cap = parse_amount(kv->second, cur);
    if (!to || !cap) {
      return to ? cap.err() : to.err();
    }
    c.corridor_cap_minor[*to] = cap->minor();
  }
  for (const auto& spec : bank_caps) {
    auto kv = split_spec(spec, "--bank-cap");
    if (!kv) {
      return kv.err();
    }
    auto cap = parse_amount(kv->second, cur);
    if (!cap) {
      return cap.err();
    }
    c.bank_cap_minor[kv->first] = cap->minor();
  }
  return c;
}

constexpr const char* k_usage =
    "usage: cbdc-issuer COMMAND [options]\n"
    "  node-keygen  create this node's CURVE key (--node-key FILE); prints the public key\n"
    "  keygen    create the issuer key (--key FILE, --profile ed25519|sm2); prints the public key\n"
    "  migrate   apply the issuer schema\n"
    "  add-bank  register an operator bank (--bank-id ID --vault-key HEX [--foreign]\n"
    "            [--quota \"1000000.00 CNY\"]), or several at once (--bank ID=HEX ...)\n"
    "  deposit   credit a bank's reserve account (--bank-id ID --amount \"...\" --request-id ID),\n"
    "            or several (--credit \"ID=1000.00 CNY\" ... --request-id PREFIX)\n"
    "  reserve   print a bank's reserve, backing and issued balances (--bank-id ID)\n"
    "  serve     run the issuer (--key FILE --currency CUR --bind EP --settle EP\n"
    "            [--reserve-ratio-bp N], 10000 = 100% reserve; cross-border controls:\n"
    "            [--permit CUR]... [--corridor-cap CUR=AMOUNT]... [--bank-cap BANK=AMOUNT]...,\n"
    "            daily, amounts in this currency, e.g. --corridor-cap HKD=1000000.00)\n"
    "  mint      ask a running issuer to mint (--issuer EP --bank-id ID --amount \"1000.00 CNY\"\n"
    "            --request-id ID)\n"
    "  audit     check supply against settlement (--settle EP --currency CUR); exit 1 on failure\n"
    "  certify-bank  certify a domestic bank's vault key for offline payments (--bank-id ID\n"
    "            [--days 365] -o FILE, which cbdc-bank serve --offline-cert takes)\n";

}  // namespace

auto main(int argc, char** argv) -> int {
  cbdc::logging::init("cbdc-issuer");
  block_shutdown_signals();
  std::string command;
  issuer::issuer_config config;
  std::string key_file = "issuer.key";
  std::string prof_name = "ed25519";
  std::string cur_name = "CNY";
  std::string bank_id;
  std::string vault_hex;
  std::string amount_text;
  std::string request_id;
  std::string out_path;
  int cert_days = 365;
  std::string issuer_ep = config.endpoint;
  bool foreign = false;
  std::string quota_text;
  std::vector<std::string> bank_specs;
  std::vector<std::string> credit_specs;
  std::vector<std::string> permits;
  std::vector<std::string> corridor_caps;
  std::vector<std::string> bank_caps;
  po::options_description opts("options");
  cli::node_flags node;
  cli::add_node_options(opts, node);
  std::string metrics_address;
  cli::add_metrics_option(opts, metrics_address);
  opts.add_options()("db", po::value(&config.db_url)->default_value(""),
                     "PostgreSQL URL (else $CBDC_PG_URL)")(
      "key", po::value(&key_file)->default_value(key_file), "issuer key file")(
      "profile", po::value(&prof_name)->default_value(prof_name), "for keygen")(
      "currency", po::value(&cur_name)->default_value(cur_name), "the currency issued")(
      "bind", po::value(&config.endpoint)->default_value(config.endpoint), "for serve")(
      "settle", po::value(&config.settle_endpoint)->default_value(config.settle_endpoint),
      "settlement: tcp://shard (or tcp://s0,tcp://s1,...@tcp://coordinator)")(
      "issuer", po::value(&issuer_ep)->default_value(issuer_ep), "for mint: the issuer endpoint")(
      "bank-id", po::value(&bank_id), "operator bank id")("vault-key", po::value(&vault_hex),
                                                          "the bank's vault public key (hex)")(
      "foreign", po::bool_switch(&foreign), "for add-bank: a foreign bank (no issuance)")(
      "quota", po::value(&quota_text)->default_value(""), "for add-bank: issuance quota")(
      "bank", po::value(&bank_specs)->composing(),
      "for add-bank: ID=VAULT_KEY_HEX, as many as needed (each --foreign with the flag)")(
      "credit", po::value(&credit_specs)->composing(),
      "for deposit: ID=AMOUNT, as many as needed (request id: --request-id, '-', ID)")(
      "reserve-ratio-bp",
      po::value(&config.reserve_ratio_bp)->default_value(config.reserve_ratio_bp),
      "reserve each mint sets aside, in basis points (10000 = 100%)")(
      "amount", po::value(&amount_text), "for mint: \"1000.00 CNY\"")(
      "request-id", po::value(&request_id), "for mint: idempotency id")(
      "permit", po::value(&permits)->composing(),
      "for serve: a currency cross-border payments may go to (all when none is named)")(
      "corridor-cap", po::value(&corridor_caps)->composing(),
      "for serve: CUR=AMOUNT, the daily cap on payments into CUR")(
      "bank-cap", po::value(&bank_caps)->composing(),
      "for serve: BANK=AMOUNT, a bank's daily cap on cross-border payments")(
      "days", po::value(&cert_days)->default_value(cert_days),
      "for certify-bank: how long the certificate holds")(
      "output,o", po::value(&out_path), "for certify-bank: the certificate's file");
  if (auto exit_code = cli::parse(argc, argv, opts, "cbdc-issuer", k_usage, command)) {
    return *exit_code;
  }
  auto cur = parse_currency(cur_name);
  if (!cur) {
    return fail(cur.err());
  }
  config.cur = *cur;
  auto controls = parse_controls(config.cur, permits, corridor_caps, bank_caps);
  if (!controls) {
    return fail(controls.err());
  }
  config.controls = std::move(*controls);
  if (config.reserve_ratio_bp < 0 || config.reserve_ratio_bp > issuer::k_full_reserve_bp) {
    return fail(error{status_code::bad_request, "--reserve-ratio-bp must be 0..10000"});
  }

  if (command == "node-keygen") {
    return cli::node_keygen(node, "cbdc-issuer");
  }
  // The node's identity, for the commands that talk to other nodes (serve, mint, audit).
  const auto network = [&] { return cli::node_network(node); };
  if (command == "keygen") {
    auto prof = parse_profile(prof_name);
    if (!prof) {
      return fail(prof.err());
    }
    auto key = key_pair::generate(*prof);
    if (auto saved = key.save(key_file); !saved) {
      return fail(saved.err());
    }
    std::printf("%s\n", key.pub().hex().c_str());
    return 0;
  }
  if (command == "mint") {
    auto amount = parse_money(amount_text);
    if (!amount) {
      return fail(amount.err());
    }
    auto net = network();
    if (!net) {
      return fail(net.err());
    }
    issuer::client cli(issuer_ep, *net);
    auto minted = cli.mint(bank_id, *amount, request_id);
    if (!minted) {
      return fail(minted.err());
    }
    std::printf("minted %s to %s: tx %s%s\n", amount->format().c_str(), bank_id.c_str(),
                minted->tx_id.hex().c_str(), minted->already ? " (already minted)" : "");
    return 0;
  }
  auto url = pg::resolve_url(config.db_url);
  if (!url) {
    return fail(url.err());
  }
  config.db_url = *url;
  if (command == "migrate") {
    auto conn = pg::connect(config.db_url);
    if (!conn) {
      return fail(conn.err());
    }
    auto applied = pg::migrate(**conn, "issuer", issuer::migrations());
    if (!applied) {
      return fail(applied.err());
    }
    std::printf("cbdc-issuer: %d migration(s) applied\n", *applied);
    return 0;
  }
  auto key = key_pair::load(key_file);
  if (!key) {
    return fail(key.err());
  }
  if (command == "serve" || command == "audit") {
    auto net = network();
    if (!net) {
      return fail(net.err());
    }
    config.net = *net;
  }
  if (command == "serve") {
    auto svc = issuer::server::start(config, std::move(*key));
    if (!svc) {
      return fail(svc.err());
    }
    return cli::serve("cbdc-issuer",
                      "cbdc-issuer: " + std::string{currency_code(config.cur)} + " issuer " +
                          key_pair::load(key_file)->pub().hex() + " listening on " +
                          (*svc)->endpoint(),
                      metrics_address, config.net.security);
  }
  auto iss = issuer::issuer::open(config, std::move(*key));
  if (!iss) {
    return fail(iss.err());
  }
  if (command == "add-bank") {
    // One bank by --bank-id/--vault-key, or several by --bank ID=HEX (one process for all).
    std::vector<std::pair<std::string, std::string>> banks;
    if (bank_specs.empty()) {
      banks.emplace_back(bank_id, vault_hex);
    }
    for (const auto& spec : bank_specs) {
      const auto eq = spec.find('=');
      if (eq == std::string::npos) {
        return fail(error{status_code::bad_request, "--bank wants ID=VAULT_KEY_HEX, got " + spec});
      }
      banks.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
    }
    std::optional<std::int64_t> quota;
    if (!quota_text.empty()) {
      auto q = parse_money(quota_text);
      if (!q) {
        return fail(q.err());
      }
      quota = q->minor();
    }
    for (const auto& [id, hex] : banks) {
      auto vault = public_key::from_hex(hex);
      if (!vault) {
        return fail(vault.err());
      }
      if (auto added = (*iss)->add_bank(id, *vault, !foreign, quota); !added) {
        return fail(added.err());
      }
      std::printf("bank %s registered (%s)\n", id.c_str(), foreign ? "foreign" : "domestic");
    }
    return 0;
  }
  if (command == "certify-bank") {
    if (out_path.empty() || cert_days <= 0) {
      return fail(error{status_code::bad_request, "certify-bank needs -o FILE and --days > 0"});
    }
    const auto expires_s = unix_now_us() / 1'000'000 + std::int64_t{cert_days} * 24 * 3600;
    auto cert = (*iss)->certify_bank(bank_id, expires_s);
    if (!cert) {
      return fail(cert.err());
    }
    const auto encoded = offline::encode(*cert);
    std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(encoded.data()),
              static_cast<std::streamsize>(encoded.size()));
    if (!out.flush()) {
      return fail(error{status_code::io_error, "cannot write " + out_path});
    }
    std::printf("certified %s's key %s until %lld: %s\n", bank_id.c_str(),
                cert->bank_key.hex().c_str(), static_cast<long long>(expires_s), out_path.c_str());
    return 0;
  }
  if (command == "deposit") {
    // One credit by --bank-id/--amount/--request-id, or several by --credit ID=AMOUNT, each
    // once per "<request-id>-<ID>".
    std::vector<std::tuple<std::string, std::string, std::string>> credits;
    if (credit_specs.empty()) {
      credits.emplace_back(bank_id, amount_text, request_id);
    }
    for (const auto& spec : credit_specs) {
      const auto eq = spec.find('=');
      if (eq == std::string::npos) {
        return fail(error{status_code::bad_request, "--credit wants ID=AMOUNT, got " + spec});
      }
      const auto id = spec.substr(0, eq);
      credits.emplace_back(id, spec.substr(eq + 1), std::string(request_id).append("-").append(id));
    }
    for (const auto& [id, text, request] : credits) {
      auto amount = parse_money(text);
      if (!amount) {
        return fail(amount.err());
      }
      if (auto done = (*iss)->deposit(id, *amount, request); !done) {
        return fail(done.err());
      }
      std::printf("credited %s to the reserve of %s\n", amount->format().c_str(), id.c_str());
    }
    return 0;
  }
  if (command == "reserve") {
    auto bal = (*iss)->reserve(bank_id);
    if (!bal) {
      return fail(bal.err());
    }
    std::printf("%s: reserve %s, backing %s, issued %s\n", bank_id.c_str(),
                money{bal->reserve_minor, config.cur}.format().c_str(),
                money{bal->backing_minor, config.cur}.format().c_str(),
                money{bal->issued_minor, config.cur}.format().c_str());
    return 0;
  }
  if (command == "audit") {
    auto where = settlement::cluster::parse(config.settle_endpoint);
    if (!where) {
      return fail(where.err());
    }
    settlement::client settle(*where, config.net);
    auto report = issuer::audit(**iss, settle, config.cur);
    if (!report) {
      return fail(report.err());
    }
    const auto fmt = [&](std::int64_t v) { return money{v, config.cur}.format(); };
    std::printf("audit %s: minted %s, issued %s, redeemed %s, unspent %s: %s\n",
                std::string{currency_code(config.cur)}.c_str(), fmt(report->minted_minor).c_str(),
                fmt(report->issued_minor).c_str(), fmt(report->redeemed_minor).c_str(),
                fmt(report->unspent_minor).c_str(), report->passed() ? "PASS" : "FAIL");
    for (const auto& p : report->problems) {
      std::printf("  problem: %s\n", p.c_str());
    }
    return report->passed() ? 0 : 1;
  }
  std::fprintf(stderr, "cbdc-issuer: unknown command '%s'\n%s", command.c_str(), k_usage);
  return 2;
}
