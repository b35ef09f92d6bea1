#pragma once

// The auditor: a replay's answers against the model, and the services' own audits.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "sim/replay.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"
#include "sim/world.hpp"

namespace cbdc::sim {

/// What the auditor needs of a replay besides its answers: who is who (wallets and merchants
/// by slot, their keys) and what each acknowledged payment spent. The driver offers it.
class replay_view {
 public:
  replay_view() = default;
  replay_view(const replay_view&) = delete;
  replay_view(replay_view&&) = delete;
  auto operator=(const replay_view&) -> replay_view& = delete;
  auto operator=(replay_view&&) -> replay_view& = delete;
  virtual ~replay_view() = default;

  [[nodiscard]] virtual auto wallet_count() const -> std::size_t = 0;
  [[nodiscard]] virtual auto slot_of(std::uint32_t wallet) const -> std::size_t = 0;
  [[nodiscard]] virtual auto wallet_key_at(std::size_t slot) const -> const public_key& = 0;
  [[nodiscard]] virtual auto merchant_count() const -> std::size_t = 0;
  [[nodiscard]] virtual auto merchant_slot_of(std::uint32_t merchant) const -> std::size_t = 0;
  [[nodiscard]] virtual auto merchant_key_at(std::size_t slot) const -> const public_key& = 0;
  /// The inputs of event e's payment, when it was acknowledged; else nullptr.
  [[nodiscard]] virtual auto paid_inputs(std::uint32_t e) const -> const std::vector<hash256>* = 0;
  /// An offline scenario's devices; else nullptr.
  [[nodiscard]] virtual auto offline() const -> offline_fleet* { return nullptr; }
};

/// The simulator's auditor, after a replay: every answer against the model (sim/model.hpp);
/// in settlement's database every acknowledged payment present, its inputs spent by it alone,
/// every wallet's and merchant's unspent tokens equal to the model's balance; then
/// `cbdc-issuer audit` and each bank's `cbdc-bank audit`. Fills r.audit.
void audit(const trace& t, const scenario& sc, const replay_view& d, world& w, replay_result& r);

}  // namespace cbdc::sim
