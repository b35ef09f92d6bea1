// The simulator's driver: replays a trace through the running world (sim/world.hpp) as its
// wallets would, paced or as fast as possible, with a window of requests in flight, retries
// and the scenario's faults; then hands the run to the auditor (sim/audit.hpp).
#include "sim/replay.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <unordered_map>

#include "bank/client.hpp"
#include "bank/limits.hpp"
#include "bank/offline_wire.hpp"
#include "core/clock.hpp"
#include "payment/build.hpp"
#include "rpc/wire.hpp"
#include "settlement/client.hpp"
#include "sim/audit.hpp"
#include "sim/generate.hpp"
#include "sim/offline.hpp"
#include "sim/rng.hpp"

namespace cbdc::sim {

auto sim_key(std::uint64_t seed, bool merchant, std::uint32_t index) -> key_pair {
  return sim_role_key(seed, merchant ? "merchant" : "wallet", index);
}

auto sim_role_key(std::uint64_t seed, const std::string& role, std::uint32_t index) -> key_pair {
  std::string material = "cbdc-sim " + role;
  for (std::size_t i = 0; i < 8; ++i) {
    material.push_back(static_cast<char>((seed >> (8 * i)) & 0xffU));
  }
  for (std::size_t i = 0; i < 4; ++i) {
    material.push_back(static_cast<char>((index >> (8 * i)) & 0xffU));
  }
  const auto h =
      hash(profile::ed25519,
           byte_view{reinterpret_cast<const std::uint8_t*>(material.data()), material.size()});
  return key_pair::from_seed(profile::ed25519, h.data);
}

namespace {

auto steady_us() -> std::int64_t {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr std::size_t k_payout_batch = 250;         // outputs per bank pay-out transaction (< 256)
constexpr std::int64_t k_payout_wait_us = 100'000;  // a partly filled pay-out's longest wait
constexpr std::size_t k_onboard_batch = 2'000;
constexpr std::uint32_t k_max_attempts = 40;
// Streams of the seed used here (the generator's are below 1,000).
constexpr std::uint64_t k_stream_nonce = 900;
constexpr std::uint64_t k_stream_fault = 901;

struct wallet_state {
  std::optional<key_pair> key;
  std::uint16_t bank{0};
  std::uint8_t cls{4};
  std::vector<settlement::token_info> tokens;
  bool busy{false};
  /// Its events that wait for the one in flight (a vector: an empty std::deque allocates over
  /// 500 bytes, times a million wallets).
  std::vector<std::uint32_t> waiting;
};

struct completion {
  bool payout{false};
  std::uint32_t id{0};  ///< event index, or pay-out batch number
  bool duplicate{false};
  result<wire::Envelope> answer{error{status_code::internal, "no answer"}};
  std::function<void()> then{};  ///< else: work for the driver's thread (the devices' answers)
};

/// Answers from the clients' I/O threads to the driver's thread.
class completions {
 public:
  void push(completion c) {
    {
      std::lock_guard lock(m_mutex);
      m_items.push_back(std::move(c));
    }
    m_cv.notify_one();
  }
  auto take(std::int64_t wait_us) -> std::deque<completion> {
    std::unique_lock lock(m_mutex);
    if (m_items.empty() && wait_us > 0) {
      m_cv.wait_for(lock, std::chrono::microseconds(wait_us));
    }
    std::deque<completion> out;
    out.swap(m_items);
    return out;
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<completion> m_items;
};

struct payout_batch {
  std::uint16_t bank{0};
  std::vector<std::uint32_t> events;
  std::int64_t first_sent_us{0};
  std::uint32_t attempts{0};
};

struct in_flight_payment {
  signed_tx tx;
  std::int64_t first_sent_us{0};
};

struct retry_item {
  std::int64_t due_us{0};
  bool payout{false};
  std::uint32_t id{0};
  friend auto operator>(const retry_item& a, const retry_item& b) -> bool {
    return a.due_us > b.due_us;
  }
};

class driver final : public replay_view {
 public:
  /// bank_opts: the simulator as each bank's operator.
  driver(const trace& t, const scenario& sc, const replay_config& config, world& w,
         std::vector<socket_options> bank_opts)
      : m_trace(t),
        m_sc(sc),
        m_config(config),
        m_world(w),
        m_bank_opts(std::move(bank_opts)),
        m_result() {
    if (m_config.window == 0) {
      m_config.window = 32 * sc.banks.size();
    }
    m_result.outcomes.resize(t.events.size());
    m_result.faults.slow_commit_ms = sc.failures.slow_commit_ms;
    for (std::size_t b = 0; b < m_bank_opts.size(); ++b) {
      auto opts = m_bank_opts[b];
      opts.timeout_ms = config.request_timeout_ms;
      m_banks.push_back(std::make_unique<rpc_client>(w.bank_endpoint(b), opts));
    }
    if (sc.offline.given) {
      m_fleet = std::make_unique<offline_fleet>(t, sc, unix_now_us() / 1'000'000);
    }
  }

  /// Derives the keys of everyone in the trace and opens their wallets at their banks.
  auto onboard() -> status {
    const population pop(m_sc);
    for (const auto& e : m_trace.events) {
      if (e.wallet != k_no_merchant) {
        if (auto [it, fresh] = m_slot.try_emplace(e.wallet, m_wallets.size()); fresh) {
          m_wallets.emplace_back();
          m_wallets.back().bank = e.bank;
          m_wallets.back().cls = e.wallet_class;
        }
      }
      if (e.merchant != k_no_merchant) {
        m_merchant_slot.try_emplace(e.merchant, m_merchant_slot.size());
      }
    }
    std::vector<std::uint32_t> wallet_index(m_wallets.size());
    for (const auto& [index, slot] : m_slot) {
      wallet_index[slot] = index;
    }
    std::vector<std::uint32_t> merchant_index(m_merchant_slot.size());
    for (const auto& [index, slot] : m_merchant_slot) {
      merchant_index[slot] = index;
    }
    m_merchant_keys.resize(merchant_index.size());
    for (const auto index : merchant_index) {
      m_merchant_banks.push_back(pop.merchant_bank(index));
    }
    // Key derivation costs a scalar multiplication each: spread it over the cores.
    const unsigned workers = std::max(1U, std::thread::hardware_concurrency());
    {
      std::vector<std::thread> threads;
      for (unsigned k = 0; k < workers; ++k) {
        threads.emplace_back([&, k] {
          for (std::size_t i = k; i < m_wallets.size(); i += workers) {
            m_wallets[i].key = sim_key(m_sc.seed, false, wallet_index[i]);
          }
          for (std::size_t i = k; i < merchant_index.size(); i += workers) {
            m_merchant_keys[i] = sim_key(m_sc.seed, true, merchant_index[i]).pub();
          }
        });
      }
      for (auto& th : threads) {
        th.join();
      }
    }
    // Each bank onboards its customers and merchants, the banks at once.
    std::vector<status> outcome(m_banks.size(), ok_status());
    std::vector<std::thread> threads;
    for (std::size_t b = 0; b < m_banks.size(); ++b) {
      threads.emplace_back([&, b] {
        bank::client bank_client(m_world.bank_endpoint(b), m_bank_opts[b]);
        std::vector<std::pair<public_key, bank::wallet_class>> batch;
        const auto send = [&](bool merchant) {
          if (!batch.empty() && outcome[b]) {
            auto opened = bank_client.open_wallets(batch, merchant);
            if (!opened) {
              outcome[b] = opened.err();
            }
          }
          batch.clear();
        };
        for (const auto& w : m_wallets) {
          if (w.bank == b) {
            batch.emplace_back(w.key->pub(), static_cast<bank::wallet_class>(w.cls));
            if (batch.size() == k_onboard_batch) {
              send(false);
            }
          }
        }
        send(false);
        for (std::size_t i = 0; i < merchant_index.size(); ++i) {
          if (pop.merchant_bank(merchant_index[i]) == b) {
            batch.emplace_back(*m_merchant_keys[i], bank::wallet_class::i);
            if (batch.size() == k_onboard_batch) {
              send(true);
            }
          }
        }
        send(true);
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
    if (!m_fleet) {
      return ok_status();
    }
    std::vector<std::string> endpoints;
    for (std::size_t b = 0; b < m_banks.size(); ++b) {
      endpoints.push_back(m_world.bank_endpoint(b));
    }
    auto opts = m_bank_opts;
    for (auto& o : opts) {
      o.timeout_ms = m_config.request_timeout_ms;
    }
    return m_fleet->issue(
        endpoints, opts,
        [this](std::uint32_t w) -> const public_key& { return m_wallets[m_slot.at(w)].key->pub(); },
        [this](std::uint32_t m) -> const public_key& { return merchant_key(m); },
        [this](std::function<void()> work) {
          completion c;
          c.then = std::move(work);
          m_completions.push(std::move(c));
        },
        [this](std::uint32_t e, status_code code) {
          finish(e, code, 1, 0);
          if (m_trace.events[e].wallet != k_no_merchant) {
            release(m_trace.events[e].wallet);
          }
        });
  }

  void run() {
    const auto& events = m_trace.events;
    const std::size_t n = events.size();
    const auto kill_at =
        m_sc.failures.kill_settlement_at > 0
            ? static_cast<std::size_t>(m_sc.failures.kill_settlement_at * static_cast<double>(n))
            : n + 1;
    const auto kill_bank_at =
        m_sc.failures.kill_bank_at > 0
            ? static_cast<std::size_t>(m_sc.failures.kill_bank_at * static_cast<double>(n))
            : n + 1;
    m_start_us = steady_us();
    std::size_t next = 0;
    std::int64_t last_progress = 0;
    while (m_done < n) {
      const auto now = steady_us() - m_start_us;
      // Admit the events whose simulated time has come.
      while (next < n && (m_config.speed <= 0 || static_cast<double>(events[next].at_us) <=
                                                     static_cast<double>(now) * m_config.speed)) {
        if (next == kill_at && m_result.faults.settlement_killed_at_us < 0) {
          inject_settlement_crash();
        }
        if (next == kill_bank_at && m_result.faults.bank_killed_at_us < 0) {
          inject_bank_crash();
        }
        admit(static_cast<std::uint32_t>(next++));
        if (m_config.speed <= 0 &&
            (m_ready.size() + k_payout_batch * m_payout_queue.size() > 4 * m_config.window ||
             (m_fleet && m_fleet->in_flight() > m_config.window))) {
          break;  // enough queued; keep memory flat while the window drains
        }
      }
      while (!m_retries.empty() && m_retries.top().due_us <= steady_us()) {
        const auto item = m_retries.top();
        m_retries.pop();
        if (item.payout) {
          send_payout(item.id);
        } else {
          send_payment(item.id);
        }
      }
      send_waiting();
      const std::int64_t wait = (m_in_flight >= m_config.window || next == n) ? 20'000 : 1'000;
      for (auto& c : m_completions.take(wait)) {
        if (c.then) {
          c.then();
        } else if (c.payout) {
          on_payout(std::move(c));
        } else {
          on_payment(c);
        }
      }
      const auto t = steady_us() - m_start_us;
      if (t - last_progress >= (m_config.progress_bar ? 250'000 : 5'000'000)) {
        last_progress = t;
        progress(t, n, false);
      }
    }
    m_result.replay_us = steady_us() - m_start_us;
    progress(m_result.replay_us, n, true);
  }

  auto take_result() -> replay_result { return std::move(m_result); }
  [[nodiscard]] auto wallets() const -> const std::vector<wallet_state>& { return m_wallets; }
  [[nodiscard]] auto wallet_count() const -> std::size_t override { return m_wallets.size(); }
  [[nodiscard]] auto wallet_key_at(std::size_t slot) const -> const public_key& override {
    return m_wallets.at(slot).key->pub();
  }
  [[nodiscard]] auto slot_of(std::uint32_t wallet) const -> std::size_t override {
    return m_slot.at(wallet);
  }
  [[nodiscard]] auto merchant_key(std::uint32_t merchant) const -> const public_key& {
    return *m_merchant_keys.at(m_merchant_slot.at(merchant));
  }
  [[nodiscard]] auto merchant_count() const -> std::size_t override {
    return m_merchant_keys.size();
  }
  [[nodiscard]] auto merchant_slot_of(std::uint32_t merchant) const -> std::size_t override {
    return m_merchant_slot.at(merchant);
  }
  [[nodiscard]] auto merchant_key_at(std::size_t slot) const -> const public_key& override {
    return *m_merchant_keys.at(slot);
  }
  /// Frees what only the replay needed (tokens held, requests, pay-outs): the auditor needs
  /// the keys, the outcomes and the settled payments' inputs.
  void release_replay_state() {
    for (auto& w : m_wallets) {
      std::vector<settlement::token_info>{}.swap(w.tokens);
      std::vector<std::uint32_t>{}.swap(w.waiting);
    }
    decltype(m_payments){}.swap(m_payments);
    decltype(m_payouts){}.swap(m_payouts);
    decltype(m_payout_queue){}.swap(m_payout_queue);
  }
  /// The inputs of a settled payment (its transaction id is in its outcome).
  [[nodiscard]] auto paid_inputs(std::uint32_t e) const -> const std::vector<hash256>* override {
    const auto it = m_paid_inputs.find(e);
    return it == m_paid_inputs.end() ? nullptr : &it->second;
  }
  auto result_mut() -> replay_result& { return m_result; }
  [[nodiscard]] auto offline() const -> offline_fleet* override { return m_fleet.get(); }

 private:
  void admit(std::uint32_t e) {
    if (m_trace.events[e].wallet == k_no_merchant) {
      m_fleet->sync(e);  // a merchant's device: the fleet keeps its syncs in order
      return;
    }
    if (m_trace.events[e].kind == event_kind::offline_payment) {
      m_fleet->admitted(e);
    }
    auto& w = m_wallets[m_slot.at(m_trace.events[e].wallet)];
    if (w.busy) {
      w.waiting.push_back(e);
      return;
    }
    w.busy = true;
    start(e);
  }

  /// The wallet is free for event e (and marked busy).
  void start(std::uint32_t e) {
    const auto& ev = m_trace.events[e];
    if (ev.kind == event_kind::topup) {
      auto& open = m_open_payout[ev.bank];
      if (open.empty()) {
        m_open_since[ev.bank] = steady_us();
      }
      open.push_back(e);
      if (open.size() == k_payout_batch) {
        new_payout(ev.bank);
      }
    } else if (ev.kind == event_kind::offline_payment) {
      finish(e, m_fleet->pay(e), 1, 0);  // device to device, no network
      release(ev.wallet);
    } else if (ev.kind == event_kind::sync) {
      m_fleet->sync(e);
    } else {
      m_ready.push_back(e);  // a payment, or a load (a payment to the wallet's device)
    }
  }

  void release(std::uint32_t wallet) {
    auto& w = m_wallets[m_slot.at(wallet)];
    if (w.waiting.empty()) {
      w.busy = false;
      return;
    }
    const auto e = w.waiting.front();
    w.waiting.erase(w.waiting.begin());
    start(e);
  }

  void finish(std::uint32_t e, status_code code, std::uint32_t attempts, std::int64_t first_sent) {
    auto& o = m_result.outcomes[e];
    CBDC_ASSERT(!o.done);
    o.done = true;
    o.status = code;
    o.attempts = attempts;
    o.answered_us = steady_us() - m_start_us;
    o.latency_us = first_sent > 0 ? steady_us() - first_sent : 0;
    ++m_done;
    if (code != status_code::ok) {
      ++m_failed;
    }
  }

  /// Closes the bank's open pay-out; it is sent when the window has room.
  void new_payout(std::uint16_t bank) {
    auto& open = m_open_payout[bank];
    if (open.empty()) {
      return;
    }
    const auto id = static_cast<std::uint32_t>(m_payouts.size());
    m_payouts.push_back(payout_batch{bank, std::move(open), 0, 0});
    open.clear();
    m_payout_queue.push_back(id);
  }

  /// Pay-outs first (payments wait for them), within the window. A partly filled pay-out goes
  /// once its first top-up has waited k_payout_wait_us (a bank pays out many wallets in one
  /// transaction), or at once when nothing else is under way.
  void send_waiting() {
    if (m_payout_queue.empty() && m_in_flight < m_config.window) {
      const bool idle = m_in_flight == 0 && m_ready.empty();
      const auto now = steady_us();
      for (auto& [bank, open] : m_open_payout) {
        if (!open.empty() && (idle || now - m_open_since[bank] >= k_payout_wait_us)) {
          new_payout(bank);
        }
      }
    }
    while (m_in_flight < m_config.window && !m_payout_queue.empty()) {
      const auto id = m_payout_queue.front();
      m_payout_queue.pop_front();
      send_payout(id);
    }
    while (m_in_flight < m_config.window && !m_ready.empty()) {
      const auto e = m_ready.front();
      m_ready.pop_front();
      send_payment(e);
    }
  }

  /// Whether to drop or duplicate this send (fault injection), the same in every run.
  auto fault_draw(std::uint64_t what, std::uint32_t id, std::uint32_t attempt) const -> double {
    const auto h = mix(m_sc.seed, k_stream_fault + what, (std::uint64_t{id} << 8U) | attempt);
    return static_cast<double>(h >> 11U) * 0x1.0p-53;
  }

  void send_payout(std::uint32_t id) {
    auto& batch = m_payouts[id];
    if (batch.first_sent_us == 0) {
      batch.first_sent_us = steady_us();
    }
    ++batch.attempts;
    wire::Envelope req;
    auto* m = req.mutable_fund_many();
    for (const auto e : batch.events) {
      const auto& ev = m_trace.events[e];
      m->add_owners(bytes_to_wire(m_wallets[m_slot.at(ev.wallet)].key->pub().encode()));
      m->add_amounts_minor(ev.amount_minor);
    }
    m->set_currency(static_cast<std::uint32_t>(m_sc.cur));
    m->set_request_id("sim-payout-" + std::to_string(id));
    ++m_in_flight;
    m_banks.at(batch.bank)->call_async(std::move(req), [this, id](result<wire::Envelope> a) {
      m_completions.push(completion{true, id, false, std::move(a)});
    });
  }

  void send_payment(std::uint32_t e) {
    const auto& ev = m_trace.events[e];
    auto& w = m_wallets[m_slot.at(ev.wallet)];
    auto it = m_payments.find(e);
    if (it == m_payments.end()) {
      // The nonce is a function of the seed and the event: the same trace signs the same bytes.
      const bool load = ev.kind == event_kind::load;
      auto tx = payment::build_payment(
          *w.key, w.tokens, load ? m_fleet->device_key(ev.wallet) : merchant_key(ev.merchant),
          money{ev.amount_minor, m_sc.cur}, mix(m_sc.seed, k_stream_nonce, e), "");
      if (!tx) {
        finish(e, tx.code(), 0, 0);
        release(ev.wallet);
        return;
      }
      it = m_payments.emplace(e, in_flight_payment{std::move(*tx), steady_us()}).first;
      m_result.outcomes[e].tx_id = it->second.tx.id;
    }
    auto& o = m_result.outcomes[e];
    ++o.attempts;
    ++m_in_flight;
    if (m_sc.failures.drop_rate > 0 && fault_draw(0, e, o.attempts) < m_sc.failures.drop_rate) {
      // Lost on the way: nothing is sent; the client's deadline passes and it sends again.
      ++m_result.faults.dropped;
      m_completions.push(completion{false, e, false,
                                    error{status_code::timeout, "dropped by the fault injection"}});
      return;
    }
    const auto copies = m_sc.failures.duplicate_rate > 0 &&
                                fault_draw(1, e, o.attempts) < m_sc.failures.duplicate_rate
                            ? 2
                            : 1;
    for (int copy = 0; copy < copies; ++copy) {
      wire::Envelope req;
      if (ev.kind == event_kind::load) {
        *req.mutable_load_device()->mutable_tx() = to_wire(it->second.tx);
      } else {
        *req.mutable_pay()->mutable_tx() = to_wire(it->second.tx);
        // The merchant's payment code names its bank.
        req.mutable_pay()->set_payee_bank(
            m_sc.banks.at(m_merchant_banks.at(m_merchant_slot.at(ev.merchant))).id);
      }
      if (copy == 1) {
        ++m_result.faults.duplicated;
      }
      m_banks.at(ev.bank)->call_async(std::move(req), [this, e, copy](result<wire::Envelope> a) {
        m_completions.push(completion{false, e, copy == 1, std::move(a)});
      });
    }
  }

  /// The transaction a receipt names (the envelope carries a receipt: status_of said so).
  static auto receipt_tx_id(const wire::Envelope& env) -> result<hash256> {
    const auto& raw = env.receipt().tx_id();
    return hash256::from_bytes(
        byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
  }

  static auto status_of(const result<wire::Envelope>& answer) -> status_code {
    auto env = expect_payload(answer, wire::Envelope::kReceipt);
    if (!env) {
      return env.code();
    }
    return static_cast<status_code>(env->receipt().status());
  }

  void retry_later(bool payout, std::uint32_t id, std::uint32_t attempts) {
    ++m_result.faults.retries;
    const std::int64_t backoff =
        std::min<std::int64_t>(1'000'000, 20'000LL << std::min(attempts, 6U));
    m_retries.push(retry_item{steady_us() + backoff, payout, id});
  }

  void on_payment(const completion& c) {
    const auto e = c.id;
    const bool load = m_trace.events[e].kind == event_kind::load;
    std::optional<bank::device_loaded> loaded;
    status_code code{};
    if (load) {  // DeviceLoaded: the receipt, and the vouchers for the device
      auto env = expect_payload(c.answer, wire::Envelope::kDeviceLoaded);
      auto l = env ? bank::loaded_from_wire(*env) : result<bank::device_loaded>{env.err()};
      code = l ? l->receipt.status : l.code();
      if (l) {
        loaded = std::move(*l);
      }
    } else {
      code = status_of(c.answer);
    }
    if (c.duplicate) {
      ++m_result.faults.duplicate_answers[std::string{to_string(code)}];
      return;
    }
    --m_in_flight;
    const auto& ev = m_trace.events[e];
    auto& o = m_result.outcomes[e];
    auto& sent = m_payments.at(e);
    if (is_transient(code) && o.attempts < k_max_attempts) {
      retry_later(false, e, o.attempts);
      return;
    }
    const bool settled = is_settled(code);
    if (settled) {
      auto answered = load ? result<hash256>{loaded->receipt.tx_id} : receipt_tx_id(*c.answer);
      if (!answered || !(*answered == sent.tx.id)) {
        m_result.audit.problems.push_back("event " + std::to_string(e) +
                                          ": the receipt names another transaction");
      }
      auto& w = m_wallets[m_slot.at(ev.wallet)];
      std::erase_if(w.tokens, [&](const settlement::token_info& t) {
        return std::find(sent.tx.tx.inputs.begin(), sent.tx.tx.inputs.end(), t.token_id) !=
               sent.tx.tx.inputs.end();
      });
      for (std::uint32_t i = 0; i < sent.tx.tx.outputs.size(); ++i) {
        const auto& out = sent.tx.tx.outputs[i];
        if (out.owner == w.key->pub()) {
          settlement::token_info t;
          t.token_id = token_id_of(profile::ed25519, sent.tx.id, i);
          t.cur = out.cur;
          t.amount_minor = out.amount_minor;
          t.owner = out.owner;
          w.tokens.push_back(t);
        }
      }
    }
    if (settled && load) {
      m_fleet->loaded(e, loaded->vouchers);
    }
    finish(e, settled ? status_code::ok : code, o.attempts, sent.first_sent_us);
    release(ev.wallet);
    // Done with: the auditor needs only a settled payment's inputs (a million signed
    // transactions would hold gigabytes).
    if (settled) {
      m_paid_inputs.emplace(e, std::move(sent.tx.tx.inputs));
    }
    m_payments.erase(e);
  }

  void on_payout(completion c) {
    --m_in_flight;
    auto& batch = m_payouts[c.id];
    const auto code = status_of(c.answer);
    if (is_transient(code) && batch.attempts < k_max_attempts) {
      // Sent again under the same request id: the bank sends the transaction it recorded.
      retry_later(true, c.id, batch.attempts);
      return;
    }
    hash256 tx_id;
    if (is_settled(code)) {
      auto id = receipt_tx_id(*c.answer);
      CBDC_ASSERT(id.ok());
      tx_id = *id;
    }
    for (std::uint32_t i = 0; i < batch.events.size(); ++i) {
      const auto e = batch.events[i];
      const auto& ev = m_trace.events[e];
      if (is_settled(code)) {
        auto& w = m_wallets[m_slot.at(ev.wallet)];
        settlement::token_info t;
        t.token_id = token_id_of(profile::ed25519, tx_id, i);
        t.cur = m_sc.cur;
        t.amount_minor = ev.amount_minor;
        t.owner = w.key->pub();
        w.tokens.push_back(t);
        m_result.outcomes[e].tx_id = tx_id;
        finish(e, status_code::ok, batch.attempts, batch.first_sent_us);
      } else {
        finish(e, code, batch.attempts, batch.first_sent_us);
      }
      release(ev.wallet);
    }
  }

  void inject_settlement_crash() {
    m_result.faults.settlement_killed_at_us = steady_us() - m_start_us;
    std::fprintf(stderr, "cbdc-sim: fault injection: SIGKILL cbdc-settle, then restart it\n");
    const auto before = steady_us();
    if (auto back = m_world.kill_and_restart_settlement(); !back) {
      m_result.audit.problems.push_back("cbdc-settle did not come back: " + to_string(back.err()));
    }
    m_result.faults.settlement_back_after_us = steady_us() - before;
  }

  void inject_bank_crash() {
    std::size_t b = 0;
    while (b + 1 < m_sc.banks.size() && m_sc.banks[b].id != m_sc.failures.kill_bank &&
           !m_sc.failures.kill_bank.empty()) {
      ++b;
    }
    m_result.faults.killed_bank = m_sc.banks.at(b).id;
    m_result.faults.bank_killed_at_us = steady_us() - m_start_us;
    std::fprintf(stderr, "cbdc-sim: fault injection: SIGKILL cbdc-bank %s, then restart it\n",
                 m_sc.banks[b].id.c_str());
    const auto before = steady_us();
    if (auto back = m_world.kill_and_restart_bank(b); !back) {
      m_result.audit.problems.push_back("cbdc-bank " + m_sc.banks[b].id +
                                        " did not come back: " + to_string(back.err()));
    }
    m_result.faults.bank_back_after_us = steady_us() - before;
  }

  void progress(std::int64_t elapsed_us, std::size_t n, bool last) {
    const double secs = static_cast<double>(elapsed_us) / 1e6;
    const double rate = secs > 0 ? static_cast<double>(m_done) / secs : 0;
    const double share = n > 0 ? static_cast<double>(m_done) / static_cast<double>(n) : 1;
    const double eta = rate > 0 ? static_cast<double>(n - m_done) / rate : 0;
    if (m_config.progress_bar) {
      constexpr int k_width = 30;
      const int filled = static_cast<int>(share * k_width);
      std::fprintf(
          stderr, "\r[%.*s%.*s] %3.0f%% %7.0f events/s  settled %zu  failed %zu  ETA %3.0fs ",
          filled, "##############################", k_width - filled,
          "..............................", share * 100, rate, m_done - m_failed, m_failed, eta);
      if (last) {
        std::fprintf(stderr, "\n");
      }
    } else {
      std::fprintf(stderr, "replay: %.0f%%, %.0f events/s, settled %zu, failed %zu, ETA %.0f s\n",
                   share * 100, rate, m_done - m_failed, m_failed, eta);
    }
  }

  const trace& m_trace;
  const scenario& m_sc;
  replay_config m_config;
  world& m_world;
  std::vector<socket_options> m_bank_opts;
  replay_result m_result;
  std::vector<std::unique_ptr<rpc_client>> m_banks;
  std::unordered_map<std::uint32_t, std::size_t> m_slot;
  std::vector<wallet_state> m_wallets;
  std::unordered_map<std::uint32_t, std::size_t> m_merchant_slot;
  std::vector<std::uint16_t> m_merchant_banks;  ///< by merchant slot
  std::vector<std::optional<public_key>> m_merchant_keys;
  std::map<std::uint16_t, std::vector<std::uint32_t>> m_open_payout;
  std::map<std::uint16_t, std::int64_t> m_open_since;  ///< steady time of its first top-up
  std::vector<payout_batch> m_payouts;
  std::deque<std::uint32_t> m_payout_queue;  ///< closed pay-outs not sent yet
  std::unordered_map<std::uint32_t, in_flight_payment> m_payments;  ///< until answered
  std::unordered_map<std::uint32_t, std::vector<hash256>> m_paid_inputs;
  std::deque<std::uint32_t> m_ready;
  std::priority_queue<retry_item, std::vector<retry_item>, std::greater<>> m_retries;
  completions m_completions;
  std::size_t m_in_flight{0};
  std::size_t m_done{0};
  std::size_t m_failed{0};
  std::int64_t m_start_us{0};
  std::unique_ptr<offline_fleet> m_fleet;  ///< an offline scenario's devices
};

/// The world a trace runs in: one shard, the scenario's central bank, and a cbdc-bank per
/// scenario bank hosting its wallets, its vault issued what its wallets' top-ups pay out.
auto world_spec_of(const trace& t, const scenario& sc) -> world_spec {
  world_spec spec;
  // Batches that wait a little longer to fill: fewer commits for the same payments (the replay
  // keeps hundreds in flight).
  spec.batch_ms = 10;
  spec.slow_commit_ms = sc.failures.slow_commit_ms;
  spec.central_banks.push_back({sc.cur, 0, 0});
  for (const auto& b : sc.banks) {
    auto& bank = spec.banks.emplace_back();
    bank.id = b.id;
    bank.home = sc.cur;
    bank.hosted = true;
    bank.offline = sc.offline.given;
    bank.offline_limits = sc.offline.limits;
  }
  const population pop(sc);
  for (const auto& e : t.events) {
    if (e.kind == event_kind::topup) {
      spec.banks.at(e.bank).issuance[sc.cur] += e.amount_minor;
    }
    // Under loss = "payee_bank", what payees at any bank could be reimbursed.
    if (e.kind == event_kind::offline_payment && sc.offline.loss == "payee_bank" &&
        pop.compromised(e.wallet)) {
      for (auto& bank : spec.banks) {
        bank.issuance[sc.cur] += e.amount_minor * sc.offline.copies;
      }
    }
  }
  return spec;
}

}  // namespace

auto replay(const trace& t, const scenario& sc, const replay_config& config)
    -> result<replay_result> {
  const auto began = steady_us();
  auto w = world::start(world_spec_of(t, sc), config.world);
  if (!w) {
    return w.err();
  }
  std::vector<socket_options> bank_opts;
  for (std::size_t b = 0; b < sc.banks.size(); ++b) {
    auto opts = (*w)->as_operator_of(b);
    if (!opts) {
      return opts.err();
    }
    bank_opts.push_back(*opts);
  }
  driver d(t, sc, config, **w, std::move(bank_opts));
  if (auto onboarded = d.onboard(); !onboarded) {
    return onboarded.err();
  }
  const auto setup_us = steady_us() - began;
  d.run();
  auto& r = d.result_mut();
  r.setup_us = setup_us;
  if (auto* fleet = d.offline()) {
    if (auto paid = fleet->reimburse(); !paid) {
      r.audit.problems.push_back("reimbursing payees: " + to_string(paid.err()));
    }
    fleet->figures_mut().sweep = offline_sweep(t, sc);
  }
  d.release_replay_state();
  audit(t, sc, d, **w, r);
  if (const auto* fleet = d.offline()) {
    r.offline = fleet->figures();
  }
  return d.take_result();
}

}  // namespace cbdc::sim
