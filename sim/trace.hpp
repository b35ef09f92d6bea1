#pragma once

// Trace files: the events of a run, in CSV or compact binary.

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace cbdc::sim {

enum class event_kind : std::uint8_t {
  topup = 0,    ///< the wallet's bank moves e-CNY into it (a red envelope, an exchange)
  payment = 1,  ///< the wallet pays a merchant
  // Dual-offline payments (a scenario with an [offline] table):
  load = 2,             ///< the wallet loads its device (a payment to the device's key)
  offline_payment = 3,  ///< the wallet's device pays the merchant's device, no network
  sync = 4,             ///< a device back online: a payer's (wallet) or a merchant's (merchant set)
};

/// Whether e is a device's or a merchant's event of dual-offline payments.
constexpr auto is_offline(event_kind k) -> bool {
  return k == event_kind::offline_payment || k == event_kind::sync;
}

inline constexpr std::uint32_t k_no_merchant = std::numeric_limits<std::uint32_t>::max();

/// One line of a trace. A trace is a pure function of its scenario (and seed).
struct event {
  std::int64_t at_us{0};                  ///< simulated time since the scenario's start
  std::uint32_t wallet{0};                ///< k_no_merchant in a merchant device's sync
  std::uint32_t merchant{k_no_merchant};  ///< the payee of a payment; the merchant that syncs
  std::int64_t amount_minor{0};           ///< 0 in a sync
  event_kind kind{event_kind::payment};
  std::uint8_t category{0};      ///< of a payment: index into the scenario's categories
  std::uint8_t wallet_class{4};  ///< the wallet's class, 1..4
  std::uint16_t region{0};       ///< the wallet's region
  std::uint16_t bank{0};         ///< the wallet's bank
  std::uint16_t payee_bank{0};   ///< the merchant's bank (a payment)

  friend auto operator==(const event&, const event&) -> bool = default;
};

/// Bytes per event in the binary format.
inline constexpr std::size_t k_event_size = 40;

/// A trace: the scenario's TOML text (so a replay needs nothing else), its seed, the events.
struct trace {
  std::string scenario_text;
  std::string scenario_origin;
  std::uint64_t seed{0};
  std::vector<event> events;
};

/// Binary format (little-endian): "CBDCTRC1", u64 seed, u64 event count, u32 origin length,
/// origin, u32 scenario length, scenario text, then the events of k_event_size bytes each.
auto write_binary(const trace& t, const std::filesystem::path& path) -> status;
auto read_binary(const std::filesystem::path& path) -> result<trace>;
/// The same from the file's bytes; origin names them in errors. Errors: malformed.
auto parse_binary(const std::string& data, const std::string& origin) -> result<trace>;
/// CSV for people: a header line, then one line per event (see docs/simulator.md).
auto write_csv(const trace& t, const std::vector<std::string>& category_names,
               const std::filesystem::path& path) -> status;

}  // namespace cbdc::sim
