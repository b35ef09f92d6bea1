#pragma once

// The report's part on dual-offline payments: its summary.json object, its charts and its
// section of the page (sim/report.cpp calls both when the scenario has an [offline] table).

#include <boost/json.hpp>
#include <filesystem>

#include "core/status.hpp"
#include "sim/offline.hpp"
#include "sim/page.hpp"
#include "sim/scenario.hpp"

namespace cbdc::sim {

auto offline_summary(const scenario& sc, const offline_figures& f) -> boost::json::object;
/// The charts (float over time, time to settlement, the limit sweep) drawn into `plots`, and
/// the section with the figures, the revocations and the sweep. Errors: io_error, unavailable
/// (gnuplot).
auto offline_section(const scenario& sc, const offline_figures& f,
                     const std::filesystem::path& plots, html_page& page) -> status;

}  // namespace cbdc::sim
