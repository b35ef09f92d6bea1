// The simulator's binary trace files: any bytes are a trace or a typed error; a trace read
// back carries its scenario, which is parsed as the replay would.
#include <string>

#include "sim/scenario.hpp"
#include "sim/trace.hpp"
#include "tests/fuzz/target.hpp"

CBDC_FUZZ_TARGET(trace) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto t = cbdc::sim::parse_binary(bytes, "fuzz.trace");
  if (t) {
    (void)cbdc::sim::parse_scenario(t->scenario_text, t->scenario_origin);
  }
}
