// The simulator's hardware wallets (sim/offline.hpp): devices certified by the real banks,
// offline payments between them in-process (there is no network between two devices), syncs
// through the banks, compromised devices' double spends, and the audit of what became of them.
#include "sim/offline.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include "sim/generate.hpp"
#include "sim/replay.hpp"
#include "sim/rng.hpp"

namespace cbdc::sim {

namespace {

constexpr std::uint64_t k_stream_copy_payee = 910;  // streams of the seed used here
constexpr std::uint32_t k_sync_attempts = 5;        // a sync tried again on a transient error

auto short_hex(const public_key& k) -> std::string {
  return k.hex().substr(0, 16);
}

/// The payer's device pays the payee's; the payer's secure element commits only once the
/// payee accepted (a trial on a copy of it). The message, or the rule that refused it.
auto try_pay(offline::device& payer, offline::device& payee, money amount, std::int64_t now_s)
    -> result<offline::payment_message> {
  auto trial = payer;
  auto m = trial.pay(payee.key(), amount, now_s);
  if (!m) {
    return m.err();
  }
  if (auto accepted = payee.receive(*m, now_s); !accepted) {
    return accepted.err();
  }
  payer = std::move(trial);
  return m;
}

/// The merchant a compromised device pays the k-th copy to: another offline merchant.
auto copy_payee(const scenario& sc, std::uint32_t e, std::uint32_t k, std::size_t merchants,
                std::size_t original) -> std::size_t {
  auto at = static_cast<std::size_t>(
      mix(sc.seed, k_stream_copy_payee, (std::uint64_t{e} << 4U) | k) % merchants);
  return at == original ? (at + 1) % merchants : at;
}

/// Whether a compromised device's payment spends a token it spent before (a double spend); the
/// payment's inputs are added to what it spent.
auto respends(std::set<hash256>& spent, const signed_tx& tx) -> bool {
  bool again = false;
  for (const auto& in : tx.tx.inputs) {
    again = !spent.insert(in).second || again;
  }
  return again;
}

}  // namespace

struct offline_fleet::sync_state {
  std::uint32_t event{0};
  std::size_t holder{0};
  bool last{false};  ///< the end of the period: every device unloads
  std::uint32_t attempts{0};
};

offline_fleet::offline_fleet(const trace& t, const scenario& sc, std::int64_t anchor_s)
    : m_trace(t), m_sc(sc), m_anchor_s(anchor_s) {
  m_fig.given = sc.offline.given;
  m_fig.loss_rule = sc.offline.loss;
  const population pop(sc);
  for (const auto& e : t.events) {
    if (e.kind == event_kind::load && !m_by_wallet.contains(e.wallet)) {
      m_by_wallet.emplace(e.wallet, m_holders.size());
      auto& h = m_holders.emplace_back();
      h.bank = e.bank;
      h.compromised = pop.compromised(e.wallet);
      m_fig.compromised += h.compromised ? 1 : 0;
      ++m_fig.devices;
    }
    if ((e.kind == event_kind::offline_payment || e.kind == event_kind::sync) &&
        e.merchant != k_no_merchant && !m_by_merchant.contains(e.merchant)) {
      m_by_merchant.emplace(e.merchant, m_holders.size());
      auto& h = m_holders.emplace_back();
      h.bank = pop.merchant_bank(e.merchant);
      h.merchant = true;
      ++m_fig.merchant_devices;
    }
  }
  for (const auto& [merchant, at] : std::map(m_by_merchant.begin(), m_by_merchant.end())) {
    m_merchants.push_back(at);
  }
}

auto offline_fleet::issue(const std::vector<std::string>& endpoints,
                          const std::vector<socket_options>& opts, const key_fn& wallet_key,
                          const key_fn& merchant_key, post_fn post, done_fn done) -> status {
  m_post = std::move(post);
  m_done = std::move(done);
  for (std::size_t b = 0; b < endpoints.size(); ++b) {
    m_banks.push_back(std::make_unique<bank::client>(endpoints[b], opts[b]));
  }
  std::vector<std::pair<std::uint32_t, std::size_t>> order(m_by_wallet.begin(), m_by_wallet.end());
  std::sort(order.begin(), order.end());
  std::vector<std::pair<std::size_t, key_pair>> keys;
  keys.reserve(m_holders.size());
  for (const auto& [wallet, at] : order) {
    m_holders[at].owner = wallet_key(wallet);
    keys.emplace_back(at, sim_role_key(m_sc.seed, "device", wallet));
  }
  for (const auto& [merchant, at] : std::map(m_by_merchant.begin(), m_by_merchant.end())) {
    m_holders[at].owner = merchant_key(merchant);
    keys.emplace_back(at, sim_role_key(m_sc.seed, "merchant device", merchant));
  }
  // Each bank certifies its customers' devices, the banks at once.
  std::vector<status> outcome(endpoints.size(), ok_status());
  std::vector<std::thread> threads;
  threads.reserve(endpoints.size());
  for (std::size_t b = 0; b < endpoints.size(); ++b) {
    threads.emplace_back([&, b] {
      bank::client client(endpoints[b], opts[b]);
      for (const auto& [at, key] : keys) {
        auto& h = m_holders[at];
        if (h.bank != b || !outcome[b]) {
          continue;
        }
        auto issued = client.issue_device(h.owner, key.pub());
        if (!issued) {
          outcome[b] = issued.err();
          continue;
        }
        auto d = offline::device::create(key, issued->cert, issued->bank, issued->central_bank,
                                         now_s(0));
        if (!d) {
          outcome[b] = d.err();
          continue;
        }
        if (h.compromised) {
          d->compromise();
        }
        h.dev = std::move(*d);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  for (const auto& s : outcome) {
    if (!s) {
      return s;
    }
  }
  return ok_status();
}

auto offline_fleet::device_key(std::uint32_t wallet) const -> const public_key& {
  return m_holders.at(m_by_wallet.at(wallet)).dev->key();
}

auto offline_fleet::holder_of(const event& e) -> holder& {
  return m_holders.at(e.wallet == k_no_merchant ? m_by_merchant.at(e.merchant)
                                                : m_by_wallet.at(e.wallet));
}

void offline_fleet::float_changed(std::int64_t at_us, std::int64_t delta) {
  m_float += delta;
  CBDC_ASSERT(m_float >= 0);
  m_fig.float_steps.emplace_back(at_us / 1'000'000, m_float);
}

void offline_fleet::loaded(std::uint32_t event, const std::vector<offline::voucher>& vouchers) {
  const auto& e = m_trace.events.at(event);
  auto& h = holder_of(e);
  for (const auto& v : vouchers) {
    if (auto took = h.dev->load_token(v); !took) {
      m_fig.refused_by_rule["load: " + std::string{to_string(took.code())}]++;
    }
  }
  m_fig.loaded_minor += e.amount_minor;
  float_changed(e.at_us, e.amount_minor);
}

auto offline_fleet::offline_pay(std::size_t payer, std::size_t payee, std::int64_t amount,
                                std::int64_t at_us) -> result<hash256> {
  auto& from = m_holders[payer];
  auto m = try_pay(*from.dev, *m_holders[payee].dev, money{amount, m_sc.cur}, now_s(at_us));
  const auto known = m_revoked.find(from.dev->key().hex());
  if (known != m_revoked.end()) {
    auto& r = m_fig.revocations[known->second];
    if (m) {
      ++r.accepted_after;
    } else if (m.code() == status_code::device_revoked && r.first_refused_at_s < 0) {
      r.first_refused_at_s = at_us / 1'000'000;
    }
  }
  if (!m) {
    return m.err();
  }
  if (from.compromised && respends(from.spent, m->payment)) {
    ++m_fig.double_spends_accepted;
    m_fig.double_spent_minor += amount;
  }
  transfer t;
  t.at_us = at_us;
  t.amount_minor = amount;
  t.payer = payer;
  t.payee = payee;
  t.inputs = m->payment.tx.inputs;
  m_transfers.emplace(m->payment.id, std::move(t));
  return m->payment.id;
}

void offline_fleet::admitted(std::uint32_t e) {
  ++m_holders.at(m_by_merchant.at(m_trace.events.at(e).merchant)).expected;
}

auto offline_fleet::pay(std::uint32_t e) -> status_code {
  const auto& ev = m_trace.events.at(e);
  const auto payer = m_by_wallet.at(ev.wallet);
  const auto payee = m_by_merchant.at(ev.merchant);
  auto& merchant = m_holders[payee];
  CBDC_ASSERT(merchant.expected > 0);
  if (--merchant.expected == 0 && !merchant.busy && !merchant.waiting.empty()) {
    const auto next = merchant.waiting.front();
    merchant.waiting.erase(merchant.waiting.begin());
    m_post([this, next] { sync(next); });  // after this payment: it is in the sync
  }
  const auto accepted_before = m_fig.double_spends_accepted;
  auto paid = offline_pay(payer, payee, ev.amount_minor, ev.at_us);
  if (m_holders[payer].compromised && (!paid || m_fig.double_spends_accepted > accepted_before)) {
    ++m_fig.double_spends_attempted;  // a payment refused offline may have been one too
  }
  if (!paid) {
    ++m_fig.refused;
    ++m_fig.refused_by_rule[std::string{to_string(paid.code())}];
    return paid.code();
  }
  ++m_fig.payments;
  m_fig.value_minor += ev.amount_minor;
  if (!m_holders[payer].compromised) {
    return status_code::ok;
  }
  // A cloned device: the same tokens again, to other merchants.
  for (std::uint32_t k = 1; k < m_sc.offline.copies && m_merchants.size() > 1; ++k) {
    const auto to = m_merchants[copy_payee(
        m_sc, e, k, m_merchants.size(),
        static_cast<std::size_t>(std::find(m_merchants.begin(), m_merchants.end(), payee) -
                                 m_merchants.begin()))];
    ++m_fig.double_spends_attempted;
    (void)offline_pay(payer, to, ev.amount_minor, ev.at_us);
  }
  return status_code::ok;
}

void offline_fleet::sync(std::uint32_t e) {
  const auto& ev = m_trace.events.at(e);
  auto& h = holder_of(ev);
  const auto at = static_cast<std::size_t>(&h - m_holders.data());
  if (h.merchant && (h.busy || h.expected > 0)) {
    h.waiting.push_back(e);
    return;
  }
  h.busy = true;
  ++m_in_flight;
  ++m_fig.syncs;
  auto s =
      std::make_shared<sync_state>(sync_state{e, at, ev.at_us >= m_sc.duration_s * 1'000'000, 0});
  submit(s, h.dev->to_submit(), [this](const std::shared_ptr<sync_state>& st) { unload(st); });
}

void offline_fleet::submit(const std::shared_ptr<sync_state>& s, const std::vector<signed_tx>& txs,
                           const std::function<void(const std::shared_ptr<sync_state>&)>& next) {
  const auto& d = *m_holders[s->holder].dev;
  submit_batch(s,
               std::make_shared<std::vector<bank::offline_batch>>(
                   bank::offline_batches(txs, d.known_certs(), d.known_banks())),
               0, next);
}

void offline_fleet::submit_batch(
    const std::shared_ptr<sync_state>& s,
    const std::shared_ptr<std::vector<bank::offline_batch>>& batches, std::size_t i,
    const std::function<void(const std::shared_ptr<sync_state>&)>& next) {
  if (i == batches->size()) {
    next(s);
    return;
  }
  m_banks.at(m_holders[s->holder].bank)
      ->submit_offline_async(
          batches->at(i), [this, s, batches, i, next](result<bank::offline_submitted> answer) {
            m_post([this, s, batches, i, next, answer = std::move(answer)] {
              if (!answer) {
                finish(s, answer.code());  // the device keeps everything for its next sync
                return;
              }
              take_answer(s, batches->at(i).txs, *answer);
              submit_batch(s, batches, i + 1, next);
            });
          });
}

void offline_fleet::take_answer(const std::shared_ptr<sync_state>& s,
                                const std::vector<signed_tx>& txs,
                                const bank::offline_submitted& answer) {
  auto& h = m_holders[s->holder];
  const auto at_us = m_trace.events.at(s->event).at_us;
  CBDC_ASSERT(answer.receipts.size() == txs.size());
  std::vector<hash256> settled;
  std::vector<hash256> refused;
  for (std::size_t i = 0; i < txs.size(); ++i) {
    const auto& r = answer.receipts[i];
    const auto code = r ? r->status : r.code();
    const auto t = m_transfers.find(txs[i].id);
    if (is_settled(code)) {
      settled.push_back(txs[i].id);
      if (t != m_transfers.end() && t->second.settled_at_us < 0) {
        t->second.settled_at_us = at_us;
        if (t->second.unload) {
          m_holders[t->second.payer].credited_minor += t->second.amount_minor;
          m_fig.unloaded_minor += t->second.amount_minor;
          float_changed(at_us, -t->second.amount_minor);
        } else {
          m_fig.to_settlement_s.push_back((at_us - t->second.at_us) / 1'000'000);
        }
      }
    } else if (!is_transient(code)) {
      refused.push_back(txs[i].id);
      if (t != m_transfers.end() && t->second.refused == status_code::ok) {
        t->second.refused = code;
        if (code == status_code::double_spend) {
          ++m_fig.double_spends_caught;
        }
        if (!t->second.unload) {
          m_fig.lost_minor += t->second.amount_minor;
        }
      }
    }
  }
  for (const auto& found : answer.double_spends) {
    const auto hex = found.evidence.device.hex();
    if (m_revoked.contains(hex)) {
      continue;
    }
    revocation_figure r;
    r.device = hex.substr(0, 16);
    r.revoked_at_s = at_us / 1'000'000;
    const auto first = m_transfers.find(found.settled.id);
    const auto second = m_transfers.find(found.refused.id);
    r.fraud_at_s = std::max(first != m_transfers.end() ? first->second.at_us : 0,
                            second != m_transfers.end() ? second->second.at_us : 0) /
                   1'000'000;
    m_revoked.emplace(hex, m_fig.revocations.size());
    m_fig.revocations.push_back(r);
  }
  h.dev->settled(settled, answer.vouchers);
  if (!refused.empty()) {
    h.dev->refused(refused);
  }
}

void offline_fleet::unload(const std::shared_ptr<sync_state>& s) {
  auto& h = m_holders[s->holder];
  const auto balance = h.dev->balance();
  if (!(h.merchant || s->last) || h.compromised || balance.minor() <= 0) {
    take_revocations(s);
    return;
  }
  // The takings (or, at the end, what is left) back to the owner's wallet.
  auto tx = h.dev->unload(h.owner, balance);
  CBDC_ASSERT(tx.ok());
  transfer t;
  t.at_us = m_trace.events.at(s->event).at_us;
  t.amount_minor = balance.minor();
  t.payer = s->holder;
  t.payee = s->holder;
  t.unload = true;
  t.inputs = tx->tx.inputs;
  m_transfers.emplace(tx->id, std::move(t));
  submit(s, {*tx}, [this](const std::shared_ptr<sync_state>& st) { take_revocations(st); });
}

void offline_fleet::take_revocations(const std::shared_ptr<sync_state>& s) {
  auto& h = m_holders[s->holder];
  m_banks.at(h.bank)->revocations_async([this, s](result<bank::revocation_sync> answer) {
    m_post([this, s, answer = std::move(answer)] {
      if (!answer) {
        finish(s, answer.code());
        return;
      }
      auto& d = *m_holders[s->holder].dev;
      const auto now = now_s(m_trace.events.at(s->event).at_us);
      for (const auto& list : answer->lists) {
        if (auto took = d.sync(list, answer->banks, now); !took) {
          finish(s, took.code());
          return;
        }
      }
      finish(s, status_code::ok);
    });
  });
}

void offline_fleet::finish(const std::shared_ptr<sync_state>& s, status_code code) {
  auto& h = m_holders[s->holder];
  if (is_transient(code) && ++s->attempts < k_sync_attempts) {
    // The device tries again (what it sent is idempotent: settled transfers answer
    // already_settled).
    ++m_fig.sync_failures[std::string{to_string(code)} + " (tried again)"];
    submit(s, h.dev->to_submit(), [this](const std::shared_ptr<sync_state>& st) { unload(st); });
    return;
  }
  --m_in_flight;
  if (code != status_code::ok) {
    ++m_fig.syncs_failed;
    ++m_fig.sync_failures[std::string{to_string(code)}];
  }
  m_done(s->event, code);
  h.busy = false;
  if (!h.waiting.empty() && h.expected == 0) {
    const auto next = h.waiting.front();
    h.waiting.erase(h.waiting.begin());
    sync(next);
  }
}

auto offline_fleet::reimburse() -> status {
  if (m_sc.offline.loss != "payee_bank") {
    return ok_status();
  }
  // The payee's bank pays its customer from its vault (a pay-out reaches only wallets the
  // bank hosts).
  std::map<std::uint16_t, std::vector<tx_output>> by_bank;
  std::vector<std::pair<std::size_t, std::int64_t>> credits;
  for (const auto& [id, t] : m_transfers) {
    if (!t.unload && t.refused != status_code::ok) {
      by_bank[m_holders[t.payee].bank].push_back(
          tx_output{m_sc.cur, t.amount_minor, m_holders[t.payee].owner});
      credits.emplace_back(t.payee, t.amount_minor);
    }
  }
  for (auto& [b, outputs] : by_bank) {
    for (std::size_t from = 0; from < outputs.size(); from += 250) {
      const std::vector<tx_output> part(
          outputs.begin() + static_cast<std::ptrdiff_t>(from),
          outputs.begin() + static_cast<std::ptrdiff_t>(std::min(outputs.size(), from + 250)));
      auto paid = m_banks.at(b)->fund_many(
          part, "sim-reimburse-" + std::to_string(b) + "-" + std::to_string(from));
      if (!paid) {
        return paid.err();
      }
    }
  }
  for (const auto& [payee, amount] : credits) {
    m_holders[payee].credited_minor += amount;
    m_fig.reimbursed_minor += amount;
  }
  return ok_status();
}

auto offline_fleet::credited_wallet(std::uint32_t wallet) const -> std::int64_t {
  const auto it = m_by_wallet.find(wallet);
  return it == m_by_wallet.end() ? 0 : m_holders[it->second].credited_minor;
}

auto offline_fleet::credited_merchant(std::uint32_t merchant) const -> std::int64_t {
  const auto it = m_by_merchant.find(merchant);
  return it == m_by_merchant.end() ? 0 : m_holders[it->second].credited_minor;
}

void offline_fleet::audit(settlement::ledger_check& ledger, std::vector<std::string>& checks,
                          std::vector<std::string>& problems) {
  std::uint64_t settled = 0;
  std::uint64_t honest = 0;
  std::uint64_t honest_settled = 0;
  std::uint64_t cloned = 0;  // accepted payments of compromised devices
  std::uint64_t cloned_settled = 0;
  std::uint64_t cloned_caught = 0;
  for (const auto& [id, t] : m_transfers) {
    if (t.settled_at_us >= 0) {
      ++settled;
      if (auto added = ledger.acknowledged(id, t.inputs); !added) {
        problems.push_back("offline audit: " + to_string(added.err()));
        return;
      }
    }
    if (t.unload) {
      continue;
    }
    if (t.settled_at_us < 0) {
      ++m_fig.never_settled;
    }
    if (!m_holders[t.payer].compromised) {
      ++honest;
      honest_settled += t.settled_at_us >= 0 ? 1 : 0;
    } else {
      ++cloned;
      cloned_settled += t.settled_at_us >= 0 ? 1 : 0;
      cloned_caught += t.refused == status_code::double_spend ? 1 : 0;
    }
  }
  if (honest_settled != honest) {
    problems.push_back(std::to_string(honest - honest_settled) +
                       " offline payment(s) of honest devices never settled");
  }
  checks.push_back("offline payments of honest devices settled: " + std::to_string(honest_settled) +
                   " of " + std::to_string(honest));
  // No token spent twice on the ledger (the ledger check counts it); each payment a payee
  // accepted from a cloned device either settled or was caught as a double spend.
  if (cloned_settled + cloned_caught != cloned) {
    problems.push_back(std::to_string(cloned - cloned_settled - cloned_caught) +
                       " payment(s) of compromised devices neither settled nor caught");
  }
  checks.push_back("payments of compromised devices: " + std::to_string(cloned_settled) +
                   " settled, " + std::to_string(cloned_caught) + " caught as double spends, of " +
                   std::to_string(cloned));
  // Every honest device's balance as the ledger has it, and nothing left to reconcile.
  std::uint64_t devices = 0;
  std::uint64_t pending = 0;
  for (const auto& h : m_holders) {
    if (h.compromised || !h.dev) {
      continue;
    }
    if (!h.dev->to_submit().empty()) {
      ++pending;
      continue;
    }
    ++devices;
    if (auto added = ledger.expect_balance(h.dev->key(), h.dev->balance().minor()); !added) {
      problems.push_back("offline audit: " + to_string(added.err()));
      return;
    }
  }
  if (pending > 0) {
    problems.push_back(std::to_string(pending) +
                       " honest device(s) still hold transfers not reconciled at the end");
  }
  checks.push_back("honest devices reconciled, balance checked against the ledger: " +
                   std::to_string(devices));
  // Revocations: every caught device revoked, no honest one, as the banks' lists say.
  std::set<std::string> listed;
  for (const auto& b : m_banks) {
    auto lists = b->revocations();
    if (!lists) {
      problems.push_back("offline audit: revocation lists: " + to_string(lists.err()));
      return;
    }
    for (const auto& l : lists->lists) {
      for (const auto& k : l.devices) {
        listed.insert(k.hex());
      }
    }
  }
  std::uint64_t revoked_ok = 0;
  for (const auto& h : m_holders) {
    if (!h.dev) {
      continue;
    }
    const auto hex = h.dev->key().hex();
    const bool caught = m_revoked.contains(hex);
    if (listed.contains(hex) && !h.compromised) {
      problems.push_back("honest device " + short_hex(h.dev->key()) + " revoked");
    } else if (caught && !listed.contains(hex)) {
      problems.push_back("device " + short_hex(h.dev->key()) +
                         " caught double spending, not on its bank's revocation list");
    } else if (caught) {
      ++revoked_ok;
    }
  }
  checks.push_back("devices caught double spending and revoked: " + std::to_string(revoked_ok) +
                   " of " + std::to_string(m_revoked.size()) + "; honest devices revoked: none");
}

auto offline_sweep(const trace& t, const scenario& sc) -> std::vector<sweep_point> {
  std::vector<sweep_point> out;
  const auto central = key_pair::from_seed(profile::ed25519, indexed_seed(sc.seed, 0x5c));
  const auto bank = key_pair::from_seed(profile::ed25519, indexed_seed(sc.seed, 0x5b));
  const std::int64_t start_s = sc.start_unix_s;
  const auto bank_cert =
      offline::certify_bank(central, "sweep", bank.pub(), sc.cur, start_s + sc.duration_s + 86'400);
  const population pop(sc);
  for (const auto cap : sc.offline.sweep_caps_minor) {
    sweep_point p;
    p.cap_minor = cap;
    std::unordered_map<std::uint32_t, offline::device> payers;
    std::unordered_map<std::uint32_t, offline::device> merchants;
    std::vector<std::uint32_t> merchant_order;
    std::uint64_t token = 0;
    std::unordered_map<std::uint32_t, std::set<hash256>> spent;  // compromised payers
    std::int64_t on_devices = 0;
    const auto make = [&](const public_key& k, std::uint8_t cls, const offline::limits& l) {
      auto cert =
          offline::certify_device(bank, "sweep", k, cls, l, start_s + sc.duration_s + 86'400);
      return cert;
    };
    for (const auto& e : t.events) {
      if (e.merchant != k_no_merchant &&
          (e.kind == event_kind::offline_payment || e.kind == event_kind::sync) &&
          !merchants.contains(e.merchant)) {
        auto key = sim_role_key(sc.seed, "merchant device", e.merchant);
        // The merchants' devices are not limited here: refusals count the payers' caps alone.
        offline::limits l{INT64_MAX / 4, INT64_MAX / 4, UINT32_MAX, INT64_MAX / 4};
        auto d =
            offline::device::create(key, make(key.pub(), 1, l), bank_cert, central.pub(), start_s);
        CBDC_ASSERT(d.ok());
        merchants.emplace(e.merchant, std::move(*d));
        merchant_order.push_back(e.merchant);
      }
    }
    std::sort(merchant_order.begin(), merchant_order.end());
    for (std::uint32_t i = 0; i < t.events.size(); ++i) {
      const auto& e = t.events[i];
      const auto now = start_s + (e.at_us / 1'000'000);
      if (e.kind == event_kind::load) {
        auto key = sim_role_key(sc.seed, "device", e.wallet);
        auto l = *sc.offline.limits.limits_for(e.wallet_class);
        l.balance_cap_minor = cap;
        l.payment_cap_minor = std::min(l.payment_cap_minor, cap);
        auto d = offline::device::create(key, make(key.pub(), e.wallet_class, l), bank_cert,
                                         central.pub(), start_s);
        CBDC_ASSERT(d.ok());
        if (pop.compromised(e.wallet)) {
          d->compromise();
        }
        const auto amount = std::min(e.amount_minor, cap);
        hash256 id;
        const auto n = ++token;
        for (std::size_t b = 0; b < 8; ++b) {
          id.data.at(b) = static_cast<std::uint8_t>((n >> (8 * b)) & 0xffU);
        }
        CBDC_ASSERT(
            d->load_token(offline::vouch(bank, "sweep", id, money{amount, sc.cur}, key.pub())));
        on_devices += amount;
        p.float_peak_minor = std::max(p.float_peak_minor, on_devices);
        payers.emplace(e.wallet, std::move(*d));
      } else if (e.kind == event_kind::offline_payment) {
        auto& payer = payers.at(e.wallet);
        ++p.payments;
        const money amount{e.amount_minor, sc.cur};
        auto paid = try_pay(payer, merchants.at(e.merchant), amount, now);
        if (!paid) {
          ++p.refused;
          p.refused_minor += e.amount_minor;
          continue;
        }
        if (!pop.compromised(e.wallet)) {
          continue;
        }
        if (respends(spent[e.wallet], paid->payment)) {
          p.double_spent_minor += e.amount_minor;
        }
        const auto original = static_cast<std::size_t>(
            std::lower_bound(merchant_order.begin(), merchant_order.end(), e.merchant) -
            merchant_order.begin());
        for (std::uint32_t k = 1; k < sc.offline.copies && merchant_order.size() > 1; ++k) {
          auto& to =
              merchants.at(merchant_order[copy_payee(sc, i, k, merchant_order.size(), original)]);
          auto copy = try_pay(payer, to, amount, now);
          if (copy && respends(spent[e.wallet], copy->payment)) {
            p.double_spent_minor += e.amount_minor;
          }
        }
      } else if (e.kind == event_kind::sync && e.wallet != k_no_merchant) {
        auto it = payers.find(e.wallet);
        if (it != payers.end()) {
          CBDC_ASSERT(it->second.sync(offline::revoke(bank, "sweep", {}, now), {bank_cert}, now));
        }
      }
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace cbdc::sim
