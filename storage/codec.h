// storage/codec.h: the byte layouts the embedded store and the Redis cache keep, and their decoders.
// Bytes read back from a store are checked like untrusted input (sizes, limits): a damaged value is
// reported as corrupt, never trusted. Every integer is little-endian.
//   versioned value:  version u64 | bytes...                 (player state, chunk bytes)
//   map head:         version u64 | hash u64
//   position:         x i32 | y i32
//   session:          version u64 | start u64 | end u64 | region length u32 | region |
//                     log location length u32 | log location
// Keys that must sort (ids, cells) are big-endian with the sign bit flipped (see key_* below).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/stores.h"

namespace strata::storage::codec {

struct Versioned {
  uint64_t version = 0;
  std::string bytes;
};

[[nodiscard]] std::string encode_versioned(uint64_t version, std::string_view bytes);
// Refuses values shorter than the version or with more than bytes_max bytes after it.
[[nodiscard]] std::optional<Versioned> decode_versioned(std::string_view value, size_t bytes_max);

struct MapHead {
  uint64_t version = 0;
  uint64_t hash = 0;
};
[[nodiscard]] std::string encode_map_head(uint64_t version, uint64_t hash);
[[nodiscard]] std::optional<MapHead> decode_map_head(std::string_view value);

[[nodiscard]] std::string encode_xy(int32_t x, int32_t y);
// Refuses coordinates outside position_coord_abs_max.
[[nodiscard]] std::optional<std::pair<int32_t, int32_t>> decode_xy(std::string_view value);

[[nodiscard]] std::string encode_session(const SessionRecord& record);
[[nodiscard]] std::optional<SessionRecord> decode_session(SessionId session, std::string_view value);

// A whole record, for a spill (storage/spill.h): player id u32 (top bit: release) | versioned state;
// session id u64 | session record.
[[nodiscard]] std::string encode_player_record(const PlayerRecord& record);
[[nodiscard]] std::optional<PlayerRecord> decode_player_record(std::string_view bytes);
[[nodiscard]] std::string encode_session_record(const SessionRecord& record);
[[nodiscard]] std::optional<SessionRecord> decode_session_record(std::string_view bytes);

// Sortable key pieces.
void append_u32_be(std::string& out, uint32_t value);
void append_u64_be(std::string& out, uint64_t value);
void append_i32_sortable(std::string& out, int32_t value);
[[nodiscard]] std::optional<uint32_t> read_u32_be(std::string_view bytes);
[[nodiscard]] std::optional<int32_t> read_i32_sortable(std::string_view bytes);

}  // namespace strata::storage::codec
