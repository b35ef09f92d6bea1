// cbdc-wallet: a command-line wallet. Keys live in a folder (--dir); balances and payments go
// through the wallet's bank (--bank), or straight to cbdc-settle (--settle) in a deployment
// without authentication.
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "bank/client.hpp"
#include "fx/client.hpp"
#include "payment/build.hpp"
#include "rpc/cli.hpp"
#include "wallet/offline_cli.hpp"
#include "wallet/request.hpp"
#include "wallet/wallet.hpp"

#include <chrono>
#include <functional>

namespace po = boost::program_options;
using namespace cbdc;

using wallet::fail;

namespace {

/// The wallet's unspent tokens, from its bank (or settlement, without a bank).
using token_lister = std::function<result<std::vector<settlement::token_info>>()>;

/// Where the wallet's quotes come from and go: its bank (which asks its dealers), or, in a
/// deployment without authentication, the dealers themselves.
struct quote_desk {
  std::function<result<fx::quote>()> ask;
  std::function<result<settlement::receipt>(const fx::quote&, const signed_tx&)> execute;
};

/// A cross-border payment: the best quote for the payee's amount, shown, confirmed, then one PvP
/// transaction signed here and executed by the quoting dealer.
auto pay_cross_border(const quote_desk& desk, const token_lister& tokens, const key_pair& key,
                      const public_key& payee, currency from, bool yes, bool json) -> int {
  auto best = desk.ask();
  if (!best) {
    return fail(best.err(), json);
  }
  const fx::quote* q = &*best;
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const money spread{q->spread_minor(), from};
  if (!json) {
    std::printf(
        "quote %s from %s: you pay %s, the payee receives %s\n  rate %s (spread %s), firm for "
        "%lld s\n",
        q->quote_id.c_str(), q->dealer_id.c_str(), q->pay.format().c_str(),
        q->receive.format().c_str(), fx::rate_text(*q).c_str(), spread.format().c_str(),
        static_cast<long long>((q->expires_at_us - now_us) / 1'000'000));
    std::fflush(stdout);
  }
  if (!yes) {
    std::printf("pay? [y/N] ");
    std::fflush(stdout);
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "y" && answer != "yes")) {
      return fail(error{status_code::bad_request, "not confirmed: nothing paid"}, json);
    }
  }
  auto unspent = tokens();
  if (!unspent) {
    return fail(unspent.err(), json);
  }
  auto tx = fx::build_pvp(*q, key, *unspent, payee, payment::random_nonce());
  if (!tx) {
    return fail(tx.err(), json);
  }
  auto receipt = desk.execute(*q, *tx);
  if (!receipt) {
    return fail(receipt.err(), json);
  }
  if (json) {
    const boost::json::object out{{"status", std::string{to_string(receipt->status)}},
                                  {"tx_id", receipt->tx_id.hex()},
                                  {"paid", q->pay.format()},
                                  {"received", q->receive.format()},
                                  {"rate", fx::rate_text(*q)},
                                  {"spread", spread.format()},
                                  {"quote_id", q->quote_id}};
    std::printf("%s\n", boost::json::serialize(out).c_str());
  } else {
    std::printf("paid %s, payee received %s: tx %s settled (both legs)\n", q->pay.format().c_str(),
                q->receive.format().c_str(), receipt->tx_id.hex().c_str());
  }
  return 0;
}

constexpr const char* k_usage =
    "usage: cbdc-wallet COMMAND [options]\n"
    "  A wallet talks to its bank only (--bank EP; --nodes FILE, the deployment's nodes file,\n"
    "  names the bank's key). Without --nodes (a deployment run --insecure) it may also pay\n"
    "  and read balances at settlement (--settle) and ask dealers (--dealer EP --bank-id ID).\n"
    "  init     create a wallet key in --dir (--profile ed25519|sm2)\n"
    "  address  print the wallet's public key\n"
    "  balance  print the balance per currency (--json); with --bank, as the bank sees it\n"
    "  history  the wallet's recent payments and receipts, from its bank (--bank EP)\n"
    "  exchange move --amount between the deposit account and e-CNY at the bank (--bank EP\n"
    "           --request-id ID, and --to-deposit for e-CNY back to the deposit)\n"
    "  register open this wallet at its bank (--bank EP --class I|II|III|IV [--merchant]\n"
    "           [--parent WALLET_ID --sub-cap \"300.00 CNY\"])\n"
    "  pay      pay --amount \"12.34 CNY\" to --to PUBLIC_KEY (--memo TEXT, --json) through the\n"
    "           wallet's bank, which checks its class limits. Cross-border: the payee receives\n"
    "           --amount \"100.00 HKD\", the wallet pays in --from CNY at the best quote of its\n"
    "           bank's dealers; the quote is shown and paid on confirmation (--yes: without\n"
    "           asking)\n"
    "  request  print a signed payment request URI for --amount (--ref TEXT --expires-in S)\n"
    "  pay-request  pay exactly what --uri \"cbdc:pay?...\" asks (with --bank as for pay)\n"
    "  offline STEP  a hardware wallet kept in --device FILE (default DIR/device.bin):\n"
    "           init (certified by --bank), load --amount (from the wallet, through --bank),\n"
    "           pay --to DEVICE_KEY --amount --message FILE [--qr FILE.svg] (no network),\n"
    "           receive --message FILE (no network), sync (back online: settles what it\n"
    "           holds through --bank, takes the revocation lists), unload --amount, show\n";

}  // namespace

auto main(int argc, char** argv) -> int {
  std::string command;
  std::string dir = ".";
  std::string settle_ep = "tcp://127.0.0.1:7100";
  std::string prof_name = "ed25519";
  std::string to;
  std::string amount_text;
  std::string memo;
  bool json = false;
  std::string bank_ep;
  std::string class_text = "IV";
  bool merchant = false;
  std::string parent;
  std::string sub_cap_text;
  std::string reference;
  std::string uri;
  std::int64_t expires_in_s = 600;
  std::string request_id;
  bool to_deposit = false;
  std::string from_text;
  std::vector<std::string> dealer_eps;
  std::string bank_id;
  bool yes = false;
  std::string nodes_file;
  wallet::offline_options off;
  po::options_description opts("options");
  opts.add_options()("dir", po::value(&dir)->default_value(dir), "wallet folder")(
      "settle", po::value(&settle_ep)->default_value(settle_ep),
      "settlement: tcp://shard (or tcp://s0,tcp://s1,...@tcp://coordinator)")(
      "profile", po::value(&prof_name)->default_value(prof_name), "for init: ed25519 or sm2")(
      "to", po::value(&to), "payee public key (hex)")("amount", po::value(&amount_text),
                                                      "amount with currency, e.g. \"12.34 CNY\"")(
      "memo", po::value(&memo)->default_value(""), "payment memo")(
      "bank", po::value(&bank_ep)->default_value(""), "the wallet's bank (cbdc-bank serve)")(
      "nodes", po::value(&nodes_file)->default_value(""),
      "the deployment's nodes file: the bank's key (authentication on)")(
      "class", po::value(&class_text)->default_value(class_text), "for register")(
      "merchant", po::bool_switch(&merchant), "for register: a merchant wallet")(
      "parent", po::value(&parent)->default_value(""), "for register: parent wallet id")(
      "sub-cap", po::value(&sub_cap_text)->default_value(""), "for register: sub-wallet cap")(
      "ref", po::value(&reference)->default_value(""), "for request: the merchant's reference")(
      "expires-in", po::value(&expires_in_s)->default_value(expires_in_s),
      "for request: seconds until the request expires")("uri", po::value(&uri)->default_value(""),
                                                        "for pay-request: the cbdc: URI")(
      "request-id", po::value(&request_id)->default_value(""), "for exchange: idempotency id")(
      "to-deposit", po::bool_switch(&to_deposit), "for exchange: e-CNY back to the deposit")(
      "from", po::value(&from_text)->default_value(""),
      "for pay: the currency the wallet pays in, when the payee's differs")(
      "dealer", po::value(&dealer_eps)->composing(), "for a cross-border pay: a cbdc-fx endpoint")(
      "bank-id", po::value(&bank_id)->default_value(""),
      "for a cross-border pay: the wallet's bank")(
      "yes", po::bool_switch(&yes), "for a cross-border pay: pay the quote without asking")(
      "json", po::bool_switch(&json), "machine-readable output")(
      "step", po::value(&off.step)->default_value(""), "for offline: the step")(
      "device", po::value(&off.device_path)->default_value(""),
      "for offline: the device's file (default DIR/device.bin)")(
      "message", po::value(&off.message_path)->default_value(""),
      "for offline pay and receive: the payment's file")(
      "qr", po::value(&off.qr_path)->default_value(""),
      "for offline pay: the payment as a QR code too (SVG), when it fits");
  if (auto exit_code = cli::parse(argc, argv, opts, "cbdc-wallet", k_usage, command, "step")) {
    return *exit_code;
  }

  if (command == "init") {
    auto prof = parse_profile(prof_name);
    if (!prof) {
      return fail(prof.err(), json);
    }
    auto key = wallet::init(dir, *prof);
    if (!key) {
      return fail(key.err(), json);
    }
    std::printf("%s\n", key->pub().hex().c_str());
    return 0;
  }
  auto key = wallet::open(dir);
  if (!key) {
    return fail(key.err(), json);
  }
  if (command == "address") {
    std::printf("%s\n", key->pub().hex().c_str());
    return 0;
  }
  socket_options sock;
  sock.timeout_ms = 5000;
  if (!nodes_file.empty()) {
    // A customer, not a node: a fresh CURVE key for the connection; the wallet proves itself
    // by its signatures. It finds its bank's key in the nodes file.
    auto nodes = node_directory::load(nodes_file);
    if (!nodes) {
      return fail(nodes.err(), json);
    }
    sock.security = std::make_shared<node_security>(node_key::generate(), std::move(*nodes));
    if (bank_ep.empty() && command != "request") {
      return fail(error{status_code::bad_request, "a wallet talks only to its bank: --bank EP"},
                  json);
    }
  }
  auto where = settlement::cluster::parse(settle_ep);
  if (!where) {
    return fail(where.err(), json);
  }
  settlement::client settle(*where, sock);
  // The wallet's bank, every request signed by the wallet's key.
  const auto at_bank = [&] {
    auto c = std::make_unique<bank::client>(bank_ep, sock);
    c->sign_as(*key);
    return c;
  };
  const token_lister tokens = [&]() -> result<std::vector<settlement::token_info>> {
    if (!bank_ep.empty()) {
      return at_bank()->list_unspent(key->pub());
    }
    return settle.list_unspent(key->pub());
  };
  if (command == "offline") {
    off.to = to;
    off.amount_text = amount_text;
    off.json = json;
    if (off.device_path.empty()) {
      off.device_path = (std::filesystem::path(dir) / "device.bin").string();
    }
    const bool online = off.step == "init" || off.step == "load" || off.step == "sync";
    if (online && bank_ep.empty()) {
      return fail(error{status_code::bad_request, "offline " + off.step + " needs --bank EP"},
                  json);
    }
    return wallet::run_offline(off, *key, at_bank);
  }
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  if (command == "request") {
    auto amount = parse_money(amount_text);
    if (!amount) {
      return fail(amount.err(), json);
    }
    auto req = wallet::make_request(*key, *amount, reference, now_s + expires_in_s);
    if (!req) {
      return fail(req.err(), json);
    }
    std::printf("%s\n", req->to_uri().c_str());
    return 0;
  }
  if (command == "pay-request") {
    auto req = wallet::parse_request(uri, now_s);
    if (!req) {
      return fail(req.err(), json);
    }
    // Pay exactly the request: its merchant, amount and currency, with its reference as memo.
    to = req->merchant.hex();
    amount_text = req->amount.format();
    memo = req->reference;
    command = "pay";
  }
  if (command == "register") {
    auto cls = bank::parse_class(class_text);
    if (!cls) {
      return fail(cls.err(), json);
    }
    std::int64_t sub_cap = 0;
    if (!sub_cap_text.empty()) {
      auto cap = parse_money(sub_cap_text);
      if (!cap) {
        return fail(cap.err(), json);
      }
      sub_cap = cap->minor();
    }
    auto id = at_bank()->open_wallet(key->pub(), *cls, merchant, parent, sub_cap);
    if (!id) {
      return fail(id.err(), json);
    }
    std::printf("%s\n", id->c_str());
    return 0;
  }
  if (command == "exchange") {
    auto amount = parse_money(amount_text);
    if (!amount) {
      return fail(amount.err(), json);
    }
    auto bank_client = at_bank();
    result<settlement::receipt> done = error{status_code::internal, "not sent"};
    if (!to_deposit) {
      done = bank_client->exchange_to_ecny(key->pub(), *amount, request_id);
    } else {
      // Pay the bank's vault; its key is on every token the bank funded us from.
      auto vault = at_bank()->vault_key();
      if (!vault) {
        return fail(vault.err(), json);
      }
      auto unspent = tokens();
      if (!unspent) {
        return fail(unspent.err(), json);
      }
      auto tx = payment::build_payment(*key, *unspent, *vault, *amount, payment::random_nonce(),
                                       "to deposit", settle.shard_count());
      if (!tx) {
        return fail(tx.err(), json);
      }
      done = bank_client->exchange_to_deposit(*tx, request_id);
    }
    if (!done) {
      return fail(done.err(), json);
    }
    std::printf("exchanged %s %s: tx %s\n", amount->format().c_str(),
                to_deposit ? "to the deposit account" : "into e-CNY", done->tx_id.hex().c_str());
    return 0;
  }
  if (command == "history") {
    auto entries = at_bank()->history(key->pub(), 50);
    if (!entries) {
      return fail(entries.err(), json);
    }
    boost::json::array rows;
    for (const auto& e : *entries) {
      const auto amount = money{e.amount_minor, currency::cny};
      if (json) {
        rows.push_back(boost::json::object{
            {"at_us", e.at_us}, {"amount", amount.format()}, {"tx_id", e.tx_id.hex()}});
      } else {
        std::printf("%lld  %12s  %s\n", static_cast<long long>(e.at_us / 1'000'000),
                    amount.format().c_str(), e.tx_id.hex().c_str());
      }
    }
    if (json) {
      std::printf(
          "%s\n",
          boost::json::serialize(boost::json::object{{"status", "ok"}, {"history", rows}}).c_str());
    }
    return 0;
  }
  if (command == "balance") {
    auto unspent = tokens();
    if (!unspent) {
      return fail(unspent.err(), json);
    }
    auto sums = payment::totals(*unspent);
    if (!sums) {
      return fail(sums.err(), json);
    }
    if (json) {
      boost::json::object balances;
      for (const auto& [cur, amount] : *sums) {
        balances[currency_code(cur)] = money{amount, cur}.format_amount();
      }
      const boost::json::object out{{"status", "ok"}, {"balances", balances}};
      std::printf("%s\n", boost::json::serialize(out).c_str());
    } else if (sums->empty()) {
      std::printf("0.00 CNY\n");
    } else {
      for (const auto& [cur, amount] : *sums) {
        std::printf("%s\n", money{amount, cur}.format().c_str());
      }
    }
    return 0;
  }
  if (command == "pay") {
    auto payee = public_key::from_hex(to);
    if (!payee) {
      return fail(payee.err(), json);
    }
    auto amount = parse_money(amount_text);
    if (!amount) {
      return fail(amount.err(), json);
    }
    if (!from_text.empty()) {
      auto from = parse_currency(from_text);
      if (!from) {
        return fail(from.err(), json);
      }
      if (*from != amount->cur()) {
        const money receive = *amount;
        if (!bank_ep.empty()) {
          auto bank_client = at_bank();
          const quote_desk desk{[&] {
                                  return bank_client->request_quote(*from, receive.cur(),
                                                                    receive.minor(), false);
                                },
                                [&](const fx::quote& q, const signed_tx& tx) {
                                  return bank_client->execute_quote(q.quote_id, tx);
                                }};
          return pay_cross_border(desk, tokens, *key, *payee, *from, yes, json);
        }
        if (dealer_eps.empty() || bank_id.empty()) {
          return fail(error{status_code::bad_request,
                            "a cross-border payment needs --bank EP (or, without "
                            "authentication, --dealer EP and --bank-id ID)"},
                      json);
        }
        std::vector<std::unique_ptr<fx::client>> dealers;
        std::vector<fx::interface*> asked;
        for (const auto& ep : dealer_eps) {
          dealers.push_back(std::make_unique<fx::client>(ep, sock));
          asked.push_back(dealers.back().get());
        }
        fx::interface* quoting = nullptr;
        const quote_desk desk{[&]() -> result<fx::quote> {
                                auto best = fx::request_best_quote(
                                    asked, bank_id, *from, receive.cur(), receive.minor(), false);
                                if (!best) {
                                  return best.err();
                                }
                                quoting = best->dealer;
                                return best->q;
                              },
                              [&](const fx::quote& q, const signed_tx& tx) {
                                return quoting->execute(q.quote_id, tx);
                              }};
        return pay_cross_border(desk, tokens, *key, *payee, *from, yes, json);
      }
    }
    result<settlement::receipt> receipt = error{status_code::internal, "not sent"};
    if (bank_ep.empty()) {
      receipt = payment::pay(settle, *key, *payee, *amount, memo);
    } else {
      auto unspent = tokens();
      if (!unspent) {
        return fail(unspent.err(), json);
      }
      auto tx = payment::build_payment(*key, *unspent, *payee, *amount, payment::random_nonce(),
                                       memo, settle.shard_count());
      if (!tx) {
        return fail(tx.err(), json);
      }
      receipt = at_bank()->pay(*tx);
    }
    if (!receipt) {
      return fail(receipt.err(), json);
    }
    if (!receipt->settled()) {
      return fail(error{receipt->status, receipt->detail}, json);
    }
    if (json) {
      const boost::json::object out{{"status", std::string{to_string(receipt->status)}},
                                    {"tx_id", receipt->tx_id.hex()},
                                    {"batch_seq", receipt->batch_seq},
                                    {"amount", amount->format()}};
      std::printf("%s\n", boost::json::serialize(out).c_str());
    } else {
      std::printf("paid %s: tx %s settled in batch %llu\n", amount->format().c_str(),
                  receipt->tx_id.hex().c_str(),
                  static_cast<unsigned long long>(receipt->batch_seq));
    }
    return 0;
  }
  std::fprintf(stderr, "cbdc-wallet: unknown command '%s'\n%s", command.c_str(), k_usage);
  return 2;
}
