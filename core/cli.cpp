#include "core/cli.hpp"

#include <cstdio>
#include <iostream>

namespace po = boost::program_options;

namespace cbdc::cli {

auto parse(int argc, char** argv, po::options_description& opts, const std::string& tool,
           const std::string& usage, std::string& command, const std::string& operand)
    -> std::optional<int> {
  opts.add_options()("help,h", "this help")("command", po::value(&command)->default_value(""),
                                            "the command");
  po::positional_options_description pos;
  pos.add("command", 1);
  if (!operand.empty()) {
    pos.add(operand.c_str(), 1);
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n%s", tool.c_str(), e.what(), usage.c_str());
    return 2;
  }
  if (vm.count("help") != 0U) {
    std::cout << usage << opts << "\n";
    return 0;
  }
  if (command.empty()) {
    std::cerr << usage << opts << "\n";
    return 2;
  }
  return std::nullopt;
}

auto fail(const std::string& tool, const error& err) -> int {
  std::fprintf(stderr, "%s: %s\n", tool.c_str(), to_string(err).c_str());
  return 1;
}

}  // namespace cbdc::cli
