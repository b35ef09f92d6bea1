#pragma once

// A fuzz target is built twice: as a libFuzzer executable (the fuzz preset, clang-14 with
// -fsanitize=fuzzer, run by scripts/fuzz), and into fuzz_regression_test, which runs it over
// every input of tests/fuzz/corpus/<name>/ in each ordinary build (seeds and every crash found,
// kept as regression inputs). A target checks its properties with CBDC_ASSERT: a failure
// aborts, which both count as a crash.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace cbdc::fuzz {

using target_fn = void (*)(const std::uint8_t*, std::size_t);

/// Every target linked into this executable, by name (the regression test's registry).
auto targets() -> std::map<std::string, target_fn>&;

struct registrar {
  // noexcept: a registry that cannot take one more entry at start stops the test at once.
  registrar(const char* name, target_fn fn) noexcept { targets()[name] = fn; }
};

}  // namespace cbdc::fuzz

#ifdef CBDC_LIBFUZZER
#define CBDC_FUZZ_TARGET(name)                                                              \
  static void cbdc_fuzz_##name(const std::uint8_t* data, std::size_t size);                 \
  extern "C" auto LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)->int { \
    cbdc_fuzz_##name(data, size);                                                           \
    return 0;                                                                               \
  }                                                                                         \
  static void cbdc_fuzz_##name(const std::uint8_t* data, std::size_t size)
#else
#define CBDC_FUZZ_TARGET(name)                                                               \
  static void cbdc_fuzz_##name(const std::uint8_t* data, std::size_t size);                  \
  static const ::cbdc::fuzz::registrar cbdc_fuzz_registrar_##name{#name, &cbdc_fuzz_##name}; \
  static void cbdc_fuzz_##name(const std::uint8_t* data, std::size_t size)
#endif
