// fuzz/replay_rocks_keys.cpp — libFuzzer target for the session log's RocksDB key and value readers
// (replay/rocks_keys.h): a copied or damaged log directory can hold any key and value. A key is
// read as a tick key and as a snapshot index key: accepted only when it is exactly what the writer
// would write for that tick; a value's checksum is verified without reading past it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "replay/rocks_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::replay::rocks_keys;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  uint64_t tick = 0;
  if (key_tick(bytes, tick) && tick_key(tick) != bytes) std::abort();
  if (snapshot_index_tick(bytes, tick) && snapshot_index_key(tick) != bytes) std::abort();
  std::span<const uint8_t> payload;
  if (open_value(bytes, payload)) {
    // Accepted: the payload is the value's tail, and the writer frames it the same way.
    if (payload.size() + 8 != size || checked_value(payload) != bytes) std::abort();
  }
  return 0;
}
