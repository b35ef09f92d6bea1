// The daemons' log (spdlog): the process name and the level on every line.
#include "platform/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <memory>

namespace cbdc::logging {

void init(const std::string& process) {
  // Unbuffered stderr: a line is out before a kill -9 (the crash tests read them afterwards).
  auto logger = spdlog::stderr_logger_mt(process);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
  logger->flush_on(spdlog::level::trace);
  const char* level = std::getenv("CBDC_LOG_LEVEL");
  logger->set_level(level == nullptr ? spdlog::level::info : spdlog::level::from_str(level));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace cbdc::logging
