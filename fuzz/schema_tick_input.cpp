// fuzz/schema_tick_input.cpp — libFuzzer target for schema::decode_tick_input (log records and
// batched client inputs). Any input must decode or return an error value; a decoded tick input must
// survive a re-encode/decode with the same tick and command count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "schema/codec.h"
#include "sim/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::schema;
  for (EnumPolicy policy : {EnumPolicy::strict, EnumPolicy::as_recorded}) {
    const auto decoded = decode_tick_input(std::span(data, size), policy);
    if (decoded.ok() != decoded.error.empty()) std::abort();
    if (!decoded.ok()) continue;
    if (decoded.value->commands.size() > strata::sim::limits::commands_per_tick_max) std::abort();
    const auto again = decode_tick_input(encode_tick_input(*decoded.value), policy);
    if (!again.ok() || again.value->tick != decoded.value->tick ||
        again.value->commands.size() != decoded.value->commands.size()) {
      std::abort();
    }
  }
  return 0;
}
