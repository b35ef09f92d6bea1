#pragma once

// Invariants asserted in every build, release included.
#include <cstdio>
#include <cstdlib>

/// An invariant check that stays on in release builds: a failed invariant is a programmer
/// error, and carrying on could settle money wrongly, so the process stops at once.
#define CBDC_ASSERT(cond)                                                               \
  do {                                                                                  \
    if (!(cond)) [[unlikely]] {                                                         \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)
