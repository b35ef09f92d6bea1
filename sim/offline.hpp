#pragma once

// The simulator's hardware wallets (dual-offline payments, docs/offline.md): a device for every
// payer that loads one and every merchant paid offline, each certified by its bank; offline
// payments between them with no network; syncs through the banks (reconciliation, unloading,
// revocation lists); compromised devices' double spends; the figures the report shows and the
// checks the auditor makes of it all.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "bank/client.hpp"
#include "core/status.hpp"
#include "offline/device.hpp"
#include "settlement/ledger.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"

namespace cbdc::sim {

/// A compromised device caught: when it first paid twice, when a bank found it out (the sync
/// that brought the second transfer), and how the revocation took effect at the payees.
struct revocation_figure {
  std::string device;  ///< its key, hex (16 digits)
  std::int64_t fraud_at_s{0};
  std::int64_t revoked_at_s{0};
  std::int64_t first_refused_at_s{-1};  ///< first payee that refused it device_revoked; -1: none
  std::uint64_t accepted_after{0};      ///< payments payees still accepted after (stale lists)
};

/// One balance cap of the limit sweep (sim/offline.hpp offline_sweep).
struct sweep_point {
  std::int64_t cap_minor{0};
  std::uint64_t payments{0};  ///< offline payments tried
  std::uint64_t refused{0};   ///< of them, refused by the payer's device or the payee's
  std::int64_t refused_minor{0};
  std::int64_t float_peak_minor{0};    ///< the most held on devices at once
  std::int64_t double_spent_minor{0};  ///< accepted by payees from compromised devices, twice paid
};

/// What became of the offline part of a run. Times are simulated seconds since the start.
struct offline_figures {
  bool given{false};
  std::uint64_t devices{0};  ///< payers' devices
  std::uint64_t merchant_devices{0};
  std::uint64_t compromised{0};
  std::uint64_t payments{0};  ///< offline payments a payee accepted
  std::int64_t value_minor{0};
  std::uint64_t refused{0};  ///< offline payments refused by the payer's device or the payee's
  std::map<std::string, std::uint64_t> refused_by_rule;
  std::vector<std::int64_t> to_settlement_s;  ///< each settled offline payment: payment to settled
  std::uint64_t never_settled{0};             ///< accepted, and not settled when the run ended
  std::vector<std::pair<std::int64_t, std::int64_t>> float_steps;  ///< (time, float) at changes
  std::int64_t loaded_minor{0};
  std::int64_t unloaded_minor{0};
  std::uint64_t syncs{0};
  std::uint64_t syncs_failed{0};
  std::map<std::string, std::uint64_t> sync_failures;  ///< by status
  /// Compromised devices' payments that spent a token again (and those refused offline, which
  /// might have); accepted: the payee took one, and its value.
  std::uint64_t double_spends_attempted{0};
  std::uint64_t double_spends_accepted{0};
  std::int64_t double_spent_minor{0};
  std::uint64_t double_spends_caught{0};  ///< refused double_spend at reconciliation
  std::int64_t lost_minor{0};             ///< value of accepted payments refused for good
  std::string loss_rule;                  ///< "payee" or "payee_bank"
  std::int64_t reimbursed_minor{0};       ///< paid to payees by their banks
  std::vector<revocation_figure> revocations;
  std::vector<sweep_point> sweep;
};

/// The devices of a run. Used from the driver's thread only; answers of the banks come back
/// through `post`, which runs work on that thread.
class offline_fleet {
 public:
  using post_fn = std::function<void(std::function<void()>)>;
  using done_fn = std::function<void(std::uint32_t event, status_code)>;
  /// Whose key a wallet or merchant index has.
  using key_fn = std::function<const public_key&(std::uint32_t)>;

  /// anchor_s: the Unix time simulated time 0 stands for (devices check expiry against it).
  offline_fleet(const trace& t, const scenario& sc, std::int64_t anchor_s);

  /// Certifies a device for every payer that loads one and every merchant paid offline, at
  /// their banks (one client per bank, opts[b]: the simulator as bank b's operator), the banks
  /// at once. Errors: the banks' refusals.
  auto issue(const std::vector<std::string>& endpoints, const std::vector<socket_options>& opts,
             const key_fn& wallet_key, const key_fn& merchant_key, post_fn post, done_fn done)
      -> status;

  [[nodiscard]] auto device_key(std::uint32_t wallet) const -> const public_key&;
  /// The wallet's load settled: its bank's vouchers go into its device.
  void loaded(std::uint32_t event, const std::vector<offline::voucher>& vouchers);
  /// Event e, an offline payment, is admitted (its payer may still be busy): the merchant's
  /// later syncs wait for it, as in simulated time they come after it.
  void admitted(std::uint32_t e);
  /// Event e, an offline payment: the payer's device pays the merchant's, no network. The
  /// payer's secure element commits only when the payee accepts. A compromised device then
  /// pays the same tokens to other merchants. Returns the payment's outcome.
  auto pay(std::uint32_t e) -> status_code;
  /// Event e, a sync: the device reconciles through its bank, a merchant's (and every device's
  /// at the end) unloads to its wallet, then it takes every bank's revocation list. Answers
  /// `done` later; a merchant's syncs one at a time.
  void sync(std::uint32_t e);
  [[nodiscard]] auto in_flight() const -> std::size_t { return m_in_flight; }

  /// After the run, under loss = "payee_bank": each payee whose accepted payment was refused
  /// is paid its loss by its own bank, from the bank's vault. Errors: the banks' refusals.
  auto reimburse() -> status;
  /// The auditor's part: every settled offline transfer to ledger (acknowledged, its inputs
  /// spent by it), every honest device's balance equal to its unspent tokens there; problems
  /// for what the figures contradict (an honest payment never settled, two of one double
  /// spend settled, a caught device not revoked, an honest one revoked).
  void audit(settlement::ledger_check& ledger, std::vector<std::string>& checks,
             std::vector<std::string>& problems);
  /// What settled into a wallet's or merchant's own wallet from its device (unloads, and
  /// reimbursed losses): the auditor's model adds it to their balances.
  [[nodiscard]] auto credited_wallet(std::uint32_t wallet) const -> std::int64_t;
  [[nodiscard]] auto credited_merchant(std::uint32_t merchant) const -> std::int64_t;

  [[nodiscard]] auto figures() const -> const offline_figures& { return m_fig; }
  auto figures_mut() -> offline_figures& { return m_fig; }

 private:
  struct holder {
    std::optional<offline::device> dev;
    public_key owner;
    std::uint16_t bank{0};
    bool merchant{false};
    bool compromised{false};
    std::int64_t credited_minor{0};
    bool busy{false};                    ///< a merchant's sync in flight
    std::uint32_t expected{0};           ///< offline payments to it admitted, not yet made
    std::set<hash256> spent;             ///< a compromised device's: tokens it paid with
    std::vector<std::uint32_t> waiting;  ///< its syncs behind it
  };
  /// An offline transfer a payee accepted (or an unload), as the auditor and report need it.
  struct transfer {
    std::int64_t at_us{0};
    std::int64_t amount_minor{0};
    std::size_t payer{0};
    std::size_t payee{0};
    bool unload{false};
    std::int64_t settled_at_us{-1};
    status_code refused{status_code::ok};
    std::vector<hash256> inputs;
  };
  struct sync_state;

  [[nodiscard]] auto now_s(std::int64_t at_us) const -> std::int64_t {
    return m_anchor_s + (at_us / 1'000'000);
  }
  [[nodiscard]] auto holder_of(const event& e) -> holder&;
  /// One device's payment to another, recorded; a compromised payer's double spends counted.
  auto offline_pay(std::size_t payer, std::size_t payee, std::int64_t amount, std::int64_t at_us)
      -> result<hash256>;
  void submit(const std::shared_ptr<sync_state>& s, const std::vector<signed_tx>& txs,
              const std::function<void(const std::shared_ptr<sync_state>&)>& next);
  /// Batch i of a sync's transfers, then the next, then `next`.
  void submit_batch(const std::shared_ptr<sync_state>& s,
                    const std::shared_ptr<std::vector<bank::offline_batch>>& batches, std::size_t i,
                    const std::function<void(const std::shared_ptr<sync_state>&)>& next);
  void take_answer(const std::shared_ptr<sync_state>& s, const std::vector<signed_tx>& txs,
                   const bank::offline_submitted& answer);
  void unload(const std::shared_ptr<sync_state>& s);
  void take_revocations(const std::shared_ptr<sync_state>& s);
  void finish(const std::shared_ptr<sync_state>& s, status_code code);
  void float_changed(std::int64_t at_us, std::int64_t delta);

  const trace& m_trace;
  const scenario& m_sc;
  std::int64_t m_anchor_s;
  std::vector<std::unique_ptr<bank::client>> m_banks;
  post_fn m_post;
  done_fn m_done;
  std::vector<holder> m_holders;
  std::unordered_map<std::uint32_t, std::size_t> m_by_wallet;
  std::unordered_map<std::uint32_t, std::size_t> m_by_merchant;
  std::vector<std::size_t> m_merchants;  ///< holders of merchants, in merchant order
  std::unordered_map<hash256, transfer> m_transfers;
  std::map<std::string, std::size_t> m_revoked;  ///< device hex -> index in m_fig.revocations
  std::int64_t m_float{0};
  std::size_t m_in_flight{0};
  offline_figures m_fig;
};

/// The limit sweep: the trace's offline payments replayed by devices alone for each balance
/// cap (loads and per-payment caps cut to it), no network and so no reconciliation or
/// revocation: what each cap refuses, against what it leaves at risk (the float on devices, and
/// what compromised devices got payees to accept twice).
auto offline_sweep(const trace& t, const scenario& sc) -> std::vector<sweep_point>;

}  // namespace cbdc::sim
