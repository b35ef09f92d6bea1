#pragma once

#include <string>

namespace cbdc {

/// Blocks SIGINT and SIGTERM in the calling thread; call first in main, before any thread
/// starts, so every thread inherits the mask and wait_for_shutdown receives them.
void block_shutdown_signals();
/// Waits for SIGINT or SIGTERM and returns its number.
auto wait_for_shutdown() -> int;

}  // namespace cbdc
