// Child processes for tests, benchmarks and the simulator.
#include "platform/process.hpp"

#include <poll.h>

#include <cerrno>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cbdc {
namespace {

auto to_argv(const std::vector<std::string>& args) -> std::vector<char*> {
  std::vector<char*> out;
  out.reserve(args.size() + 1);
  for (const auto& a : args) {
    out.push_back(const_cast<char*>(a.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

}  // namespace

child::child(const std::vector<std::string>& argv, const std::string& log_path) : m_log(log_path) {
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot open " + log_path);
  }
  auto args = to_argv(argv);
  m_pid = ::fork();
  if (m_pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
}

child::~child() {
  stop();
}

auto child::wait_for_output(const std::string& text, int timeout_ms) const -> bool {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{timeout_ms};
  while (std::chrono::steady_clock::now() < until) {
    if (log().find(text) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return false;
}

void child::kill_hard() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
  }
}

void child::stop() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGTERM);
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
  }
}

auto child::log() const -> std::string {
  std::ifstream in(m_log);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

auto run(const std::vector<std::string>& argv) -> run_result {
  std::array<int, 2> out_fds{};
  std::array<int, 2> err_fds{};
  if (::pipe2(out_fds.data(), O_CLOEXEC) != 0 || ::pipe2(err_fds.data(), O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  auto args = to_argv(argv);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fds[1], STDOUT_FILENO);
    ::dup2(err_fds[1], STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_fds[1]);
  ::close(err_fds[1]);
  run_result out;
  // Both pipes at once, so that neither fills while the other is read.
  std::array<pollfd, 2> fds{{{out_fds[0], POLLIN, 0}, {err_fds[0], POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&out.out, &out.err};
  std::array<char, 4096> buf{};
  int open = 2;
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      const auto n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        sinks[i]->append(buf.data(), static_cast<std::size_t>(n));
        continue;
      }
      ::close(fds[i].fd);
      fds[i].fd = -1;
      --open;
    }
  }
  int wait_status = 0;
  ::waitpid(pid, &wait_status, 0);
  out.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  return out;
}

auto run_checked(const std::vector<std::string>& argv) -> result<std::string> {
  auto r = run(argv);
  if (r.exit_code != 0) {
    return error{status_code::unavailable,
                 argv.front() + " " + argv.at(1) + " failed: " + r.err + r.out};
  }
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) {
    r.out.pop_back();
  }
  return r.out;
}

}  // namespace cbdc
