#pragma once

// Cross-border scenarios (mBridge-style): several central banks on one bridge, commercial banks
// paying each other across currencies through FX dealers' quotes, every payment one PvP
// transaction. A scenario with a [bridge] table is one of these (docs/simulator.md).

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/money.hpp"
#include "fx/quote.hpp"
#include "sim/world.hpp"

namespace cbdc::sim::bridge {

struct central_bank_spec {
  currency cur{currency::cny};
  std::string name;
  std::int64_t corridor_cap_minor{0};  ///< daily, per destination currency; 0: none
  std::int64_t bank_cap_minor{0};      ///< daily, per paying bank; 0: none
};

/// A bank of the bridge as the world runs it: a dealer (a cbdc-fx process) or a bank the
/// simulator plays.
using bank_spec = world_spec::bank;

/// One phase of the pilot: its corridors (pay -> receive) and how many transactions.
struct phase_spec {
  std::string name;
  std::int64_t start_day{0};
  std::int64_t days{1};
  std::vector<std::pair<currency, currency>> corridors;
  std::uint32_t transactions{0};
  double fx_share{0};                ///< share that are a bank's own FX PvP, not a payment
  std::int64_t median_usd_cents{0};  ///< log-normal amounts: median in US cents
  double spread{0};                  ///< and sigma of the log
};

struct published_spec {
  bool given{false};
  std::uint32_t transactions{0};
  std::int64_t settled_usd_cents{0};  ///< "over": the run must reach it, within tolerance above
  std::int64_t issued_usd_cents{0};
  double tolerance_pct{5};
  std::string source;
};

struct scenario {
  std::string name;
  std::string source;
  std::uint64_t seed{0};
  std::int64_t start_unix_s{0};
  int utc_offset_minutes{0};
  std::uint32_t shards{1};
  /// Reference values, 1 unit of the currency in USD: for the report, never for settling.
  std::map<currency, fx::rate> usd;
  /// Dealers' mid rates by (pay, receive), both directions; and the decimal texts as given.
  std::map<std::pair<currency, currency>, fx::rate> mid;
  std::vector<std::string> mid_texts;  ///< "CNY/HKD=1.0870", as cbdc-fx --rate takes them
  std::vector<central_bank_spec> central_banks;
  std::vector<bank_spec> banks;
  std::vector<phase_spec> phases;
  std::int64_t issue_usd_cents{0};  ///< CBDC issued onto the bridge at the start, in all
  bool sweep_daily{false};          ///< banks sell their foreign balances home at each day's end
  published_spec published;
};

/// Whether a scenario text describes a bridge (has a [bridge] table).
auto is_bridge_scenario(const std::string& text) -> bool;
/// Reads a bridge scenario strictly. Errors: parse_error naming file, line and key.
auto parse_scenario(const std::string& text, const std::string& origin) -> result<scenario>;

enum class tx_kind : std::uint8_t { payment, fx, sweep };
auto kind_name(tx_kind k) -> std::string_view;

/// One transaction of the plan and what the model expects of it.
struct planned {
  std::uint32_t seq{0};
  std::int64_t at_s{0};  ///< seconds after the scenario start
  std::uint32_t phase{0};
  tx_kind kind{tx_kind::payment};
  std::int64_t usd_cents{0};    ///< the drawn size, converted by the model
  std::uint64_t payer_draw{0};  ///< random draws the model uses to pick payer and payee
  std::uint64_t payee_draw{0};
  double direction_draw{0};
  std::uint32_t payer{0};  ///< bank indices
  std::uint32_t payee{0};
  currency pay{currency::cny};
  currency receive{currency::hkd};
  bool fixed_pay{false};  ///< amount is what the payer pays, else what the payee receives
  std::int64_t amount_minor{0};
  std::uint32_t dealer{0};  ///< expected: the best dealer, and its quote's amounts
  fx::priced expect;
};

struct plan {
  std::vector<planned> txs;
  /// CBDC each bank has issued by its central bank at the start: (bank, currency) -> minor.
  std::map<std::pair<std::uint32_t, currency>, std::int64_t> issuance;
};

/// The deterministic plan of a scenario: transactions from the seed, the dealer each goes to
/// and its amounts (the model of the dealers' pricing), and issuance sized so that every payer
/// and dealer can pay (then topped up to the scenario's issuance). Errors: bad_request (a
/// corridor without payers, payees or dealers).
auto generate(const scenario& sc) -> result<plan>;
/// The plan as CSV (one line per transaction).
auto write_csv(const scenario& sc, const plan& p, const std::filesystem::path& path) -> status;

/// An amount in US cents at the scenario's reference value (rounded down).
auto usd_cents(const scenario& sc, currency cur, std::int64_t minor) -> std::int64_t;

/// Starts the bridge's services (settlement shards and coordinator, a cbdc-issuer per central
/// bank, a cbdc-fx per dealer), issues, drives the plan through them one transaction at a time,
/// audits, and writes summary.json, transactions.csv, corridors.csv and report.html into
/// out_dir. Prints the figures; returns the exit code (0: audit passed and the published figures
/// reproduced).
auto run(const scenario& sc, const plan& p, const world_config& config,
         const std::filesystem::path& out_dir) -> int;

}  // namespace cbdc::sim::bridge
