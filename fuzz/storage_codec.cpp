// fuzz/storage_codec.cpp: the decoders of values read back from a store (storage/codec.h) take any
// bytes: a damaged store must give nullopt, never a crash or an allocation past the limits; what
// decodes re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sim/assert.h"
#include "storage/codec.h"
#include "storage/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::storage;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (const auto versioned = codec::decode_versioned(bytes, player_state_bytes_max)) {
    STRATA_ASSERT(codec::encode_versioned(versioned->version, versioned->bytes) == bytes);
  }
  if (const auto head = codec::decode_map_head(bytes)) {
    STRATA_ASSERT(codec::encode_map_head(head->version, head->hash) == bytes);
  }
  if (const auto xy = codec::decode_xy(bytes)) STRATA_ASSERT(codec::encode_xy(xy->first, xy->second) == bytes);
  if (const auto session = codec::decode_session(SessionId{1}, bytes)) {
    STRATA_ASSERT(codec::encode_session(*session) == bytes);
  }
  if (const auto player = codec::decode_player_record(bytes)) {
    STRATA_ASSERT(codec::encode_player_record(*player) == bytes);
  }
  if (const auto session = codec::decode_session_record(bytes)) {
    STRATA_ASSERT(codec::encode_session_record(*session) == bytes);
  }
  (void)codec::read_i32_sortable(bytes);
  return 0;
}
