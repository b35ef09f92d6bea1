// Scenario TOML as the simulator reads it: any text is a scenario or a typed error, never a
// crash, an exception or an unbounded allocation.
#include <string>

#include "sim/scenario.hpp"
#include "tests/fuzz/target.hpp"

CBDC_FUZZ_TARGET(scenario) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)cbdc::sim::parse_scenario(text, "fuzz.toml");
}
