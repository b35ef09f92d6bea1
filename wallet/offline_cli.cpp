// `cbdc-wallet offline STEP` (wallet/offline_cli.hpp).
#include "wallet/offline_cli.hpp"

#include <sodium.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "offline/device.hpp"
#include "payment/build.hpp"
#include "platform/files.hpp"
#include "wallet/qr.hpp"

namespace cbdc::wallet {
namespace {

auto now_s() -> std::int64_t {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

auto write_bytes(const std::string& path, const bytes& data) -> status {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) {
    return error{status_code::io_error, "cannot write " + path};
  }
  return ok_status();
}

/// The message as text a QR code carries: "cbdc-offline:" and base64url.
auto qr_text(const bytes& message) -> std::string {
  std::string b64(
      sodium_base64_encoded_len(message.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(b64.data(), b64.size(), message.data(), message.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  b64.resize(b64.find('\0'));
  return "cbdc-offline:" + b64;
}

/// A message from a file: its bytes, or the QR code's text ("cbdc-offline:...").
auto message_bytes(const bytes& raw) -> result<bytes> {
  const std::string prefix = "cbdc-offline:";
  if (raw.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), raw.begin())) {
    return raw;
  }
  std::string text(raw.begin() + static_cast<std::ptrdiff_t>(prefix.size()), raw.end());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  bytes out(text.size());
  std::size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return error{status_code::malformed, "not an offline payment's text"};
  }
  out.resize(len);
  return out;
}

}  // namespace

auto fail(const error& err, bool json) -> int {
  if (json) {
    const boost::json::object out{{"status", std::string{to_string(err.code)}},
                                  {"detail", err.message}};
    std::printf("%s\n", boost::json::serialize(out).c_str());
  } else {
    std::fprintf(stderr, "cbdc-wallet: %s\n", to_string(err).c_str());
  }
  return 1;
}

auto run_offline(const offline_options& o, const key_pair& wallet,
                 const std::function<std::unique_ptr<bank::client>()>& at_bank) -> int {
  const auto refuse = [&](const error& e) { return wallet::fail(e, o.json); };
  if (o.step == "init") {
    auto key = key_pair::generate(wallet.pub().prof);
    auto issued = at_bank()->issue_device(wallet.pub(), key.pub());
    if (!issued) {
      return refuse(issued.err());
    }
    auto d =
        offline::device::create(key, issued->cert, issued->bank, issued->central_bank, now_s());
    if (!d) {
      return refuse(d.err());
    }
    if (auto saved = d->save(o.device_path); !saved) {
      return refuse(saved.err());
    }
    std::printf("device %s certified by %s until %lld: %s\n", key.pub().hex().c_str(),
                issued->cert.bank_id.c_str(), static_cast<long long>(issued->cert.expires_s),
                o.device_path.c_str());
    return 0;
  }
  auto d = offline::device::load(o.device_path);
  if (!d) {
    return refuse(d.err());
  }
  const auto save = [&]() -> int {
    if (auto saved = d->save(o.device_path); !saved) {
      return refuse(saved.err());
    }
    return 0;
  };
  if (o.step == "show") {
    const boost::json::object out{{"device", d->key().hex()},
                                  {"bank", d->cert().bank_id},
                                  {"balance", d->balance().format()},
                                  {"counter", d->counter()},
                                  {"to_submit", d->to_submit().size()}};
    std::printf("%s\n", boost::json::serialize(out).c_str());
    return 0;
  }
  if (o.step == "sync") {
    // Back online: every offline transfer it holds through the bank, then the revocations.
    auto bank = at_bank();
    const auto all = d->to_submit();
    std::size_t settled_count = 0;
    for (const auto& batch : bank::offline_batches(all, d->known_certs(), d->known_banks())) {
      const auto& txs = batch.txs;
      auto answer = bank->submit_offline(batch);
      if (!answer) {
        save();  // what earlier batches settled is kept
        return refuse(answer.err());
      }
      std::vector<hash256> settled;
      std::vector<hash256> refused;
      for (std::size_t i = 0; i < txs.size() && i < answer->receipts.size(); ++i) {
        const auto& r = answer->receipts[i];
        if (r) {
          settled.push_back(txs[i].id);
        } else {
          std::printf("  transfer %s: %s\n", txs[i].id.hex().c_str(), to_string(r.err()).c_str());
          if (!is_transient(r.code())) {
            refused.push_back(txs[i].id);  // never to settle: the loss is this device's
          }
        }
      }
      for (const auto& ds : answer->double_spends) {
        std::printf("  double spend by device %s (token %s): %s\n",
                    ds.evidence.device.hex().c_str(), ds.evidence.token_id.hex().c_str(),
                    ds.revoked ? "revoked by its bank" : "reported to its bank");
      }
      settled_count += settled.size();
      d->settled(settled, answer->vouchers);
      d->refused(refused);
    }
    auto lists = bank->revocations();
    if (!lists) {
      return refuse(lists.err());
    }
    for (const auto& l : lists->lists) {
      if (auto synced = d->sync(l, lists->banks, now_s()); !synced) {
        return refuse(synced.err());
      }
    }
    std::printf("synced: %zu of %zu transfers settled, %zu revocation lists, balance %s\n",
                settled_count, all.size(), lists->lists.size(), d->balance().format().c_str());
    return save();
  }
  auto amount = parse_money(o.amount_text);
  if (o.step == "receive") {
    auto raw = read_file_bytes(o.message_path);
    auto data = raw ? message_bytes(*raw) : result<bytes>{raw.err()};
    auto m = data ? offline::decode_payment(*data) : result<offline::payment_message>{data.err()};
    if (!m) {
      return refuse(m.err());
    }
    const auto before = d->balance();
    if (auto taken = d->receive(*m, now_s()); !taken) {
      return refuse(taken.err());
    }
    std::printf("received %s from device %s: balance %s\n",
                money{d->balance().minor() - before.minor(), before.cur()}.format().c_str(),
                m->payment.sigs.front().signer.hex().c_str(), d->balance().format().c_str());
    return save();
  }
  if (!amount) {
    return refuse(amount.err());
  }
  if (o.step == "load") {
    auto bank = at_bank();
    auto unspent = bank->list_unspent(wallet.pub());
    if (!unspent) {
      return refuse(unspent.err());
    }
    auto tx = payment::build_payment(wallet, *unspent, d->key(), *amount, payment::random_nonce(),
                                     "load device");
    if (!tx) {
      return refuse(tx.err());
    }
    auto loaded = bank->load_device(*tx);
    if (!loaded) {
      return refuse(loaded.err());
    }
    for (const auto& v : loaded->vouchers) {
      if (auto taken = d->load_token(v); !taken) {
        return refuse(taken.err());
      }
    }
    std::printf("loaded %s: device balance %s\n", amount->format().c_str(),
                d->balance().format().c_str());
    return save();
  }
  if (o.step == "unload") {
    auto tx = d->unload(wallet.pub(), *amount);
    if (!tx) {
      return refuse(tx.err());
    }
    std::printf("unloading %s to the wallet: settles at the next sync\n", amount->format().c_str());
    return save();
  }
  if (o.step == "pay") {
    auto payee = public_key::from_hex(o.to);
    if (!payee) {
      return refuse(error{status_code::bad_request, "--to: the payee device's key (hex)"});
    }
    if (o.message_path.empty()) {
      return refuse(error{status_code::bad_request, "pay writes its message to -o FILE"});
    }
    auto m = d->pay(*payee, *amount, now_s());
    if (!m) {
      return refuse(m.err());
    }
    // The device's state first: once the message can leave, the payment it signed counts
    // (its counter and tokens spent), even if the message is lost.
    if (int saved = save(); saved != 0) {
      return saved;
    }
    const auto encoded = offline::encode(*m);
    if (auto written = write_bytes(o.message_path, encoded); !written) {
      return refuse(written.err());
    }
    if (!o.qr_path.empty()) {
      auto svg = qr_svg(qr_text(encoded), "offline payment");
      if (!svg) {
        std::fprintf(stderr, "cbdc-wallet: no QR code (%s); the file carries it\n",
                     to_string(svg.err()).c_str());
      } else if (auto w = write_bytes(o.qr_path, bytes(svg->begin(), svg->end())); !w) {
        return refuse(w.err());
      }
    }
    std::printf("paid %s offline to %s: %s (%zu bytes)\n", amount->format().c_str(), o.to.c_str(),
                o.message_path.c_str(), encoded.size());
    return 0;
  }
  return refuse(error{status_code::bad_request,
                      "offline STEP is init, load, pay, receive, sync, unload or show"});
}

}  // namespace cbdc::wallet
