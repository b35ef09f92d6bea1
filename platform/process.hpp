#pragma once

// Child processes for tests, benchmarks and the simulator.

#include <sys/types.h>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace cbdc {

/// A child process (a service under test, benchmark or simulation) with stdout and stderr going
/// to a log file; stopped with SIGTERM on destruction.
class child {
 public:
  child(const std::vector<std::string>& argv, const std::string& log_path);
  ~child();
  child(const child&) = delete;
  auto operator=(const child&) -> child& = delete;

  /// Waits until the log contains text (true) or timeout_ms passes (false).
  auto wait_for_output(const std::string& text, int timeout_ms) const -> bool;
  void kill_hard();  ///< SIGKILL and reap
  void stop();       ///< SIGTERM and reap
  [[nodiscard]] auto log() const -> std::string;
  [[nodiscard]] auto pid() const -> pid_t { return m_pid; }

 private:
  pid_t m_pid{-1};
  std::string m_log;
};

/// Runs a command to completion; returns its exit code and stdout.
struct run_result {
  int exit_code{-1};
  std::string out;
  std::string err;  ///< what it printed on stderr
};
auto run(const std::vector<std::string>& argv) -> run_result;
/// Runs a setup command to completion: its stdout without the trailing newline, or unavailable
/// naming the command with what it printed when it exits non-zero.
auto run_checked(const std::vector<std::string>& argv) -> result<std::string>;

}  // namespace cbdc
