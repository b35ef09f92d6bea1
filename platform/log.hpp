// The daemons' log: spdlog on stderr with levels, each line naming the process, so that what a
// node says about its state (recovery, retries, faults) can be filtered and read apart from a
// command's own output, which stays plain stderr/stdout.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace cbdc::logging {

/// Names the process in every line ("2026-12-02T14:58:24.123 cbdc-bank warning: ...") and sets
/// the level from CBDC_LOG_LEVEL (trace, debug, info, warn, error, critical, off; default
/// info).
/// Without it, lines are spdlog's default. Call once, before the threads start.
void init(const std::string& process);

using spdlog::critical;
using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace cbdc::logging
