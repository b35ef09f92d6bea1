#pragma once

// A scenario: the population, traffic, timing and faults of a simulated pilot.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/money.hpp"
#include "core/status.hpp"
#include "offline/cert.hpp"

namespace cbdc::sim {

struct region_spec {
  std::string name;
  double weight{1};  ///< population weight: share of wallets and merchants living there
};

struct bank_spec {
  std::string id;
  double weight{1};  ///< share of wallets and merchants hosted there
};

/// A merchant category: how many merchants, its share of payments, and the amount a payment
/// there costs (log-normal: median in minor units and spread = sigma of the log).
struct category_spec {
  std::string name;
  std::uint32_t merchants{1};
  double weight{1};
  std::int64_t median_minor{0};
  double spread{0};
};

/// What a wallet does in the simulated period.
struct wallet_spec {
  std::uint64_t count{0};
  double active_share{1};  ///< share of wallets that act (claim their top-up and pay)
  /// Weights of classes I..IV.
  std::array<double, 4> class_weights{0, 0, 0, 1};
  std::int64_t topup_minor{0};  ///< what an active wallet receives before it pays
  bool topup_at_start{true};    ///< at the start of the period, else just before its first payment
  double extra_payments{0};     ///< payments per active wallet: 1 + Poisson(extra_payments)
  double spend_rest{0};         ///< chance that a wallet's last payment spends all it has left
};

/// Failure injection, carried out by the replay.
struct failure_spec {
  double kill_settlement_at{0};  ///< share of the trace after which cbdc-settle is killed; 0: never
  double kill_bank_at{0};        ///< the same for a cbdc-bank (SIGKILL, then a restart)
  std::string kill_bank;         ///< which bank (its id); empty: the first
  double drop_rate{0};           ///< share of requests dropped (sent again after a timeout)
  double duplicate_rate{0};      ///< share of requests sent twice
  int slow_commit_ms{0};         ///< extra delay before every settlement commit
};

/// A region (or every region) without signal for a while: its devices cannot sync.
struct outage_spec {
  int region{-1};  ///< index into the scenario's regions; -1: every region
  std::int64_t from_s{0};
  std::int64_t duration_s{0};
};

/// Dual-offline payments (docs/offline.md): every payer holds a hardware wallet, loaded from
/// its wallet after the top-up; a share of payments goes device to device with no network.
struct offline_spec {
  bool given{false};
  double share{0};               ///< of payments, made offline (the payer has no signal)
  std::int64_t load_minor{0};    ///< loaded onto each payer's device after its top-up
  std::int64_t sync_every_s{0};  ///< a device with signal syncs this often (merchants always)
  double compromised_share{0};   ///< of payers' devices: cloned, ignoring counter and limits
  /// What a compromised device does: "double_spend" pays each payment to `copies` merchants
  /// with the same tokens, and goes on paying after it is revoked.
  std::string strategy{"double_spend"};
  std::uint32_t copies{2};
  /// Who bears a refused double spend: "payee" (it accepted a payment that never settles) or
  /// "payee_bank" (the payee's bank reimburses its customer from its vault).
  std::string loss{"payee"};
  std::vector<outage_spec> outages;
  std::vector<std::int64_t> sweep_caps_minor;  ///< balance caps of the limit sweep
  /// The banks' offline limits: each given replaces the class default (offline::default_limits).
  offline::limit_policy limits;
};

/// A pilot's published outcome, which a run must reproduce within the tolerance.
struct published_spec {
  bool given{false};
  std::uint64_t wallets_active{0};
  std::uint64_t payments{0};
  std::int64_t volume_minor{0};
  double tolerance_pct{2};
  std::string source;  ///< where the figures come from
};

struct scenario {
  std::string name;
  std::string source;  ///< the TOML text, carried in the trace so that a replay needs no file
  std::uint64_t seed{0};
  currency cur{currency::cny};
  std::int64_t start_unix_s{0};     ///< the simulated clock's start
  int utc_offset_minutes{480};      ///< local time of the start, for the time-of-day curve
  std::int64_t duration_s{86'400};  ///< simulated period
  std::vector<region_spec> regions;
  std::vector<bank_spec> banks;
  std::vector<category_spec> categories;
  wallet_spec wallets;
  std::array<double, 24> weekday{};  ///< payments per local hour, relative
  std::array<double, 24> weekend{};
  failure_spec failures;
  offline_spec offline;
  published_spec published;

  [[nodiscard]] auto merchant_count() const -> std::uint64_t;
};

/// Reads a scenario. Errors: parse_error naming the file, line and key (unknown keys, wrong
/// types, bad values), io_error.
auto load_scenario(const std::filesystem::path& path) -> result<scenario>;
/// The same from text; `origin` names it in errors.
auto parse_scenario(const std::string& text, const std::string& origin) -> result<scenario>;

}  // namespace cbdc::sim
