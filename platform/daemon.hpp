#pragma once

// Signals for daemons: SIGINT and SIGTERM stop, SIGHUP reloads.

#include <functional>
#include <string>

namespace cbdc {

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread; call first in main, before any
/// thread starts, so every thread inherits the mask and wait_for_shutdown receives them.
void block_shutdown_signals();
/// Waits for SIGINT or SIGTERM and returns its number; runs on_hangup at each SIGHUP (a
/// daemon reads its nodes file again).
auto wait_for_shutdown(const std::function<void()>& on_hangup = {}) -> int;

}  // namespace cbdc
