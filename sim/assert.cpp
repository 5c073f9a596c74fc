// sim/assert.cpp — the one place in sim/ allowed to write anything (to stderr, on the way to abort).
#include "sim/assert.h"

#include <cstdio>
#include <cstdlib>

namespace strata::sim::detail {
void assert_failed(const char* expr, const char* file, int line, const char* message) {
  std::fprintf(stderr, "strata: assertion failed at %s:%d: %s (%s)\n", file, line, expr, message);
  std::abort();
}
}  // namespace strata::sim::detail
