#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

#include "core/status.hpp"

namespace cbdc::cli {

/// Parses a command line of the form `TOOL COMMAND [options]`, adding --help and the COMMAND
/// positional to opts. Returns nullopt to go on with `command` set, or the exit code to return
/// at once: 0 after --help, 2 after a bad command line (printed with the usage). When `operand`
/// names an option of opts, the positional argument after COMMAND fills it.
auto parse(int argc, char** argv, boost::program_options::options_description& opts,
           const std::string& tool, const std::string& usage, std::string& command,
           const std::string& operand = {}) -> std::optional<int>;

/// Prints "TOOL: status: detail" on stderr and returns exit code 1.
auto fail(const std::string& tool, const error& err) -> int;

}  // namespace cbdc::cli
