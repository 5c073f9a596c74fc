// fuzz/schema_command.cpp — libFuzzer target for schema::decode_command (a client's command bytes)
// under both enum policies. Any input must decode or return an error value; a decoded command must
// re-encode to bytes that decode to the same command.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "schema/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::schema;
  for (EnumPolicy policy : {EnumPolicy::strict, EnumPolicy::as_recorded}) {
    const auto decoded = decode_command(std::span(data, size), policy);
    if (decoded.ok() == decoded.error.empty()) {
      if (!decoded.ok()) continue;
      const auto again = decode_command(encode_command(*decoded.value), policy);
      if (!again.ok() || again.value->index() != decoded.value->index()) std::abort();
    } else {
      std::abort();
    }
  }
  return 0;
}
