// Signals for daemons: SIGINT and SIGTERM stop, SIGHUP reloads.
#include "platform/daemon.hpp"

#include <csignal>

namespace cbdc {
namespace {
auto shutdown_set() -> sigset_t {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void block_shutdown_signals() {
  const sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

auto wait_for_shutdown(const std::function<void()>& on_hangup) -> int {
  const sigset_t set = shutdown_set();
  while (true) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGHUP) {
      return sig;
    }
    if (on_hangup) {
      on_hangup();
    }
  }
}

}  // namespace cbdc
