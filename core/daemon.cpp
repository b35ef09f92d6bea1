#include "core/daemon.hpp"

#include <csignal>

namespace cbdc {
namespace {
auto shutdown_set() -> sigset_t {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void block_shutdown_signals() {
  const sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

auto wait_for_shutdown() -> int {
  const sigset_t set = shutdown_set();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace cbdc
