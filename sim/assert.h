// sim/assert.h — checks for *our* bugs (TigerBeetle/KJ style): always on, they stop the process with
// the values involved. Untrusted input never reaches these: decoders and rules return error values.
#pragma once

namespace strata::sim::detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line, const char* message);
}  // namespace strata::sim::detail

#define STRATA_ASSERT(cond, message)                                              \
  do {                                                                            \
    if (!(cond)) [[unlikely]]                                                     \
      ::strata::sim::detail::assert_failed(#cond, __FILE__, __LINE__, (message)); \
  } while (false)
