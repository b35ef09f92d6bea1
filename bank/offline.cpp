// The bank's part in dual-offline payments (docs/offline.md), on its worker: certifying a
// device, loading it within its offline balance cap, reconciling offline transfers with
// settlement one at a time, and a double spend turned into a revocation.
#include <algorithm>

#include "bank/service.hpp"
#include "core/clock.hpp"
#include "offline/messages.hpp"
#include "platform/log.hpp"

namespace cbdc::bank {
namespace {

auto now_s() -> std::int64_t {
  return unix_now_us() / 1'000'000;
}

auto no_devices() -> error {
  return error{status_code::not_permitted, "this bank certifies no offline devices"};
}

}  // namespace

auto service::issue_device(const public_key& owner, const public_key& device)
    -> result<device_issued> {
  return on_worker([&]() -> result<device_issued> {
    if (!m_offline) {
      return no_devices();
    }
    if (!valid_point(device)) {
      return error{status_code::malformed, "the device key is not a point of its curve"};
    }
    auto wallet = m_bank->find_wallet(owner);
    if (!wallet) {
      return wallet.err();
    }
    if (m_bank->find_wallet(device).ok()) {
      return error{status_code::bad_request, "a hosted wallet's key cannot be a device's"};
    }
    auto cert = m_offline->issue(owner, wallet->cls, device, now_s());
    if (!cert) {
      return cert.err();
    }
    return device_issued{std::move(*cert), m_offline->bank(), m_offline->central_bank()};
  });
}

void service::load_device_async(const signed_tx& tx, loaded_fn done) {
  if (m_worker.on_worker()) {
    load_now(tx, done);
    return;
  }
  m_worker.post([this, tx, done = std::move(done)] { load_now(tx, done); });
}

void service::load_now(const signed_tx& tx, const loaded_fn& done) {
  if (!m_offline) {
    done(no_devices());
    return;
  }
  // The one device of this bank the payment pays, and how much.
  std::optional<offline::device_cert> device;
  std::int64_t amount_minor = 0;
  for (const auto& out : tx.tx.outputs) {
    auto cert = m_offline->device(out.owner);
    if (cert.code() == status_code::device_revoked) {
      done(cert.err());
      return;
    }
    if (!cert) {
      continue;
    }
    if (device && !(device->device == out.owner)) {
      done(error{status_code::bad_request, "a load pays one device"});
      return;
    }
    device = *cert;
    amount_minor += out.amount_minor;
  }
  if (!device) {
    done(error{status_code::not_found, "the payment pays no device of this bank"});
    return;
  }
  // Its offline balance cap: what it holds on the ledger, what is being loaded (this load
  // too, reserved before settlement is asked, so that a second load meanwhile counts it), the
  // worker free while settlement answers.
  const auto key = device->device.hex();
  m_loading[key] += amount_minor;
  const auto release = [this, key, amount_minor] {
    if ((m_loading[key] -= amount_minor) == 0) {
      m_loading.erase(key);
    }
  };
  m_bank->settlement_client().list_unspent_async(
      device->device, [this, tx, key, cap = device->limits.balance_cap_minor, release,
                       done](result<std::vector<settlement::token_info>> held) {
        m_worker.post([this, tx, key, cap, release, done, held = std::move(held)] {
          if (!held) {
            release();
            done(held.err());
            return;
          }
          std::int64_t held_minor = m_loading[key];
          for (const auto& t : *held) {
            held_minor += t.cur == m_bank->cur() ? t.amount_minor : 0;
          }
          if (held_minor > cap) {
            release();
            done(error{status_code::offline_balance_cap,
                       "the device would hold " + money{held_minor, m_bank->cur()}.format() +
                           ", its cap is " + money{cap, m_bank->cur()}.format()});
            return;
          }
          pay_now(tx, {}, [this, tx, release, done](result<settlement::receipt> r) {
            release();
            if (!r) {
              done(r.err());
              return;
            }
            done(device_loaded{*r, m_offline->vouchers_for(tx)});
          });
        });
      });
}

/// A SubmitOffline in progress: the transfers, the next to send, what came back.
struct service::reconciliation {
  offline_batch batch;
  std::size_t next{0};
  offline_submitted out;
  submitted_fn done;
};

void service::submit_offline_async(const offline_batch& batch, submitted_fn done) {
  if (batch.txs.size() > k_max_offline_batch) {
    done(error{status_code::too_large, std::to_string(batch.txs.size()) + " transfers, at most " +
                                           std::to_string(k_max_offline_batch)});
    return;
  }
  auto r = std::make_shared<reconciliation>();
  r->batch = batch;
  r->done = std::move(done);
  if (m_worker.on_worker()) {
    reconcile_next(r);
    return;
  }
  m_worker.post([this, r] { reconcile_next(r); });
}

void service::reconcile_next(const std::shared_ptr<reconciliation>& r) {
  if (r->next == r->batch.txs.size()) {
    auto done = std::move(r->done);
    done(std::move(r->out));
    return;
  }
  // One at a time, in the order given: a transfer may spend what the one before created.
  const auto& tx = r->batch.txs[r->next];
  if (auto certified = signed_by_device(tx, r->batch); !certified) {
    r->out.receipts.emplace_back(certified.err());
    ++r->next;
    reconcile_next(r);
    return;
  }
  m_bank->settlement_client().submit_async(
      tx, tx.id.hex(), [this, r](result<settlement::receipt> answer) {
        m_worker.post(
            [this, r, answer = std::move(answer)]() mutable { reconciled(r, std::move(answer)); });
      });
}

void service::reconciled(const std::shared_ptr<reconciliation>& r,
                         result<settlement::receipt> answer) {
  const auto& tx = r->batch.txs[r->next];
  auto settled = settled_or_error(std::move(answer));
  if (settled && m_offline) {
    for (auto& v : m_offline->vouchers_for(tx)) {
      r->out.vouchers.push_back(std::move(v));
    }
  }
  if (settled.code() == status_code::input_spent) {
    if (auto found = find_double_spend(tx)) {
      settled = error{status_code::double_spend,
                      "device " + found->evidence.device.hex().substr(0, 16) +
                          " spent the token in " + found->settled.id.hex().substr(0, 16)};
      r->out.double_spends.push_back(std::move(*found));
    }
  }
  r->out.receipts.push_back(std::move(settled));
  ++r->next;
  reconcile_next(r);
}

auto service::signed_by_device(const signed_tx& tx, const offline_batch& batch) -> status {
  const auto refuse = [](const std::string& why) {
    return error{status_code::not_authorized, "not a certified device's transfer: " + why};
  };
  if (!m_offline) {
    return no_devices();
  }
  if (tx.sigs.size() != 1 || tx.tx.kind != tx_kind::transfer) {
    return refuse("a device's transfer has one signature");
  }
  const auto& signer = tx.sigs.front().signer;
  if (m_bank->find_wallet(signer).ok()) {
    return refuse("a hosted wallet pays through its bank, within its limits");
  }
  if (m_offline->device(signer).code() != status_code::not_found) {
    return ok_status();  // this bank's device (revoked or not: what it paid before counts)
  }
  const auto cert = std::find_if(batch.certs.begin(), batch.certs.end(),
                                 [&](const offline::device_cert& c) { return c.device == signer; });
  if (cert == batch.certs.end()) {
    return refuse("no certificate for " + signer.hex().substr(0, 16));
  }
  const auto bank =
      std::find_if(batch.banks.begin(), batch.banks.end(),
                   [&](const offline::bank_cert& b) { return b.bank_id == cert->bank_id; });
  if (bank == batch.banks.end() ||
      !verify(m_offline->central_bank(), bank->signed_bytes(), bank->sig) ||
      !verify(bank->bank_key, cert->signed_bytes(), cert->sig)) {
    return refuse("its certificate does not chain to the central bank");
  }
  return ok_status();
}

auto service::find_double_spend(const signed_tx& refused) -> std::optional<double_spend_found> {
  auto& settle = m_bank->settlement_client();
  for (const auto& in : refused.tx.inputs) {
    auto token = settle.get_token(in);
    if (!token || !token->spent || token->spent_by == refused.id) {
      continue;
    }
    auto other = settle.get_signed_tx(token->spent_by);
    if (!other) {
      continue;
    }
    auto evidence = offline::evidence_of(*other, refused);
    if (!evidence) {
      continue;  // spent by another key's transfer: not a device's double spend
    }
    double_spend_found found{*evidence, *other, refused, {}, false};
    logging::warn("double spend by device {}: token {} spent by {} and {}",
                  evidence->device.hex().substr(0, 16), in.hex().substr(0, 16),
                  other->id.hex().substr(0, 16), refused.id.hex().substr(0, 16));
    if (m_offline) {
      auto mine = m_offline->record_double_spend(*evidence, now_s());
      if (mine && *mine) {
        found.device_bank = m_offline->bank().bank_id;
        found.revoked = true;
        push_own_list();
      }
    }
    if (!found.revoked) {  // another bank's device, or this bank certifies none: tell them all
      wire::Envelope report;
      *report.mutable_double_spend()->mutable_settled() = to_wire(*other);
      *report.mutable_double_spend()->mutable_refused() = to_wire(refused);
      tell_peers(report);
    }
    return found;
  }
  return std::nullopt;
}

void service::tell_peers(const wire::Envelope& message) {
  for (auto& peer : m_peers) {
    peer->call_async(message, [](const result<wire::Envelope>& answer) {
      if (!answer) {
        logging::warn("telling a bank of a double spend: {}", to_string(answer.err()));
      }
    });
  }
}

void service::push_own_list() {
  wire::Envelope push;
  offline::write(*push.mutable_revocations_pushed()->mutable_list(), m_offline->own_list(now_s()));
  offline::write(*push.mutable_revocations_pushed()->mutable_bank(), m_offline->bank());
  tell_peers(push);
}

auto service::revocations() -> result<revocation_sync> {
  return on_worker([&]() -> result<revocation_sync> {
    if (!m_offline) {
      return no_devices();
    }
    auto [lists, banks] = m_offline->lists(now_s());
    return revocation_sync{std::move(lists), std::move(banks)};
  });
}

auto service::take_revocations(const offline::revocation_list& list, const offline::bank_cert& cert)
    -> status {
  return on_worker([&]() -> status {
    return m_offline ? m_offline->take_peer_list(list, cert) : status{no_devices()};
  });
}

auto service::take_double_spend(const signed_tx& settled, const signed_tx& refused) -> status {
  return on_worker([&]() -> status {
    auto evidence = offline::evidence_of(settled, refused);
    if (!evidence) {
      return error{status_code::bad_request, "not two transfers of one device spending one token"};
    }
    if (!m_offline || !m_offline->device(evidence->device).ok()) {
      return ok_status();  // not a device of this bank (or revoked already)
    }
    auto revoked = m_offline->record_double_spend(*evidence, now_s());
    if (!revoked) {
      return revoked.err();
    }
    push_own_list();
    return ok_status();
  });
}

}  // namespace cbdc::bank
