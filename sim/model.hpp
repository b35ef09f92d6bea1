#pragma once

// The model: what each answer of a replay should be.

#include <vector>

#include "core/status.hpp"
#include "sim/scenario.hpp"
#include "sim/trace.hpp"

namespace cbdc::sim {

/// What the model expects of each event of the trace (ok for a top-up), in trace order: the
/// bank's limits applied to the model's own running totals of each wallet's balance and day
/// (a load too). Offline payments and syncs are ok here: sim/offline.hpp audits them.
auto expected_statuses(const trace& t, const scenario& sc) -> std::vector<status_code>;

}  // namespace cbdc::sim
