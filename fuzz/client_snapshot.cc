// fuzz/client_snapshot.cc — the client SDK's snapshot decoder and delta application on any bytes:
// errors are values; a decoded snapshot applied with no baseline never crashes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "schema/client/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = strata::view::decode_client_snapshot(std::span<const uint8_t>(data, size));
  if (decoded.snapshot) {
    decoded.snapshot->baseline_tick = 0;
    auto applied = strata::view::apply_snapshot(nullptr, *decoded.snapshot);
    if (applied.view) (void)strata::view::view_checksum(*applied.view);
  }
  return 0;
}
