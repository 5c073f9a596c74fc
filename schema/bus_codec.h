// schema/bus_codec.h — the payloads of the region event bus (server/bus.h): what a region says on
// events.<region>.world (one batch of stamped block writes per tick), .presence (sampled positions
// of its players and of the NPCs it runs) and .health (its applied-sequence vector and map hash).
// Schema: schema/bus.capnp, so any reader with the schema (the `capnp` tool included) decodes a
// message read from the stream.
//
// On the wire a payload is one frame byte then the body:
//   0x00  the body is a packed Cap'n Proto BusMessage;
//   0x01  the body is a zstd frame (with its content size) of a packed BusMessage.
// The encoder compresses when the packed message is above `compress_above_bytes` and the
// compressed one is smaller. `capnp decode --packed schema/bus.capnp BusMessage` reads the body
// of an uncompressed payload (after the frame byte); a compressed one after `zstd -d`.
//
// The decoder takes untrusted bytes (anyone with publish rights on the stream): it refuses, with a
// reason (counted by the caller), anything above the limits before allocating for it (the zstd
// frame's declared content size is checked before decompressing; a frame without it is refused),
// an origin other than `expected_origin` (a region cannot speak for another), an origin not in
// the deployment, values outside the sim's ranges (layers, block kinds, directions, cells and
// positions off the map, a zero stamp, part k of n with k >= n), and lists out of their order
// (presence: players then NPCs, each by id; health: by origin, each once). A write's stamp region
// is not on the wire: it is the origin (a region only publishes writes it stamped; the encoder
// requires it), so a decoded write is always stamped by its origin. Block states are left to the
// sim's rules (they refuse and count bad_state). It never asserts or throws on input.
//
// CMake target: strata_schema_bus (links libzstd; strata_schema itself stays without it). Each
// thread keeps its zstd contexts and buffers between calls (bounded by bus_limits): once warm, the
// decoder allocates nothing but error texts (given a `out` that already holds the same kind), the
// encoder one message segment per call.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/fixed.h"
#include "sim/limits.h"
#include "sim/simulation.h"
#include "sim/types.h"

namespace strata::schema {

namespace bus_limits {
// What fits a NATS payload (server/bus_limits.h: payload_bytes_max = 1,000,000) with room: a
// world batch bigger than this is split by the encoder's caller into parts (BusWorldBatch::part).
inline constexpr size_t payload_bytes_max = 1'000'000;
// Decompressed (packed) body of one message, and the unpacked message words: a zstd bomb or a
// packed run of zeros cannot make the decoder allocate more.
inline constexpr size_t body_bytes_max = 4 * 1024 * 1024;
// Entries per message.
inline constexpr size_t writes_per_batch_max = 16384;  // packed: well under payload_bytes_max
inline constexpr size_t presence_entries_max = 16384;
inline constexpr size_t health_vector_max = 256;

// Parts of one tick's world batch: enough for the most writes a tick can make (a block write per
// command, and every random tick of every chunk of the largest map writing a cell).
inline constexpr uint32_t world_parts_max = 32;
inline constexpr size_t writes_per_tick_max =
    size_t{sim::limits::commands_per_tick_max} + size_t{sim::limits::map_chunks_per_axis_max} *
                                                     size_t{sim::limits::map_chunks_per_axis_max} *
                                                     size_t{sim::limits::random_ticks_per_chunk_max};
static_assert(writes_per_tick_max <= size_t{world_parts_max} * writes_per_batch_max);

// The message's layout in words (schema/bus.capnp; static_asserted against the generated code in
// schema/bus_codec.cpp): every entry is one flat struct in a composite list behind one tag word.
inline constexpr size_t message_overhead_words = 2;  // segment table (one segment) + root pointer
inline constexpr size_t message_root_words = 4;      // BusMessage: 3 data words, 1 pointer
inline constexpr size_t list_tag_words = 1;
inline constexpr size_t write_words = 3;
inline constexpr size_t presence_entry_words = 2;
inline constexpr size_t applied_seq_words = 2;
inline constexpr size_t entries_words_max =
    std::max({writes_per_batch_max * write_words, presence_entries_max* presence_entry_words,
              health_vector_max* applied_seq_words});
inline constexpr size_t message_words_max =
    message_overhead_words + message_root_words + list_tag_words + entries_words_max;
// Packing expands a word to at most 10 bytes (tag, 8 bytes, run count).
inline constexpr size_t packed_bytes_per_word_max = 10;
inline constexpr size_t packed_message_bytes_max = message_words_max * packed_bytes_per_word_max;

// The reader's limits: it visits each word of the largest legal message at most once (so pointers
// aimed at one big list cannot amplify a small message), and BusMessage -> List -> entry is all
// the nesting there is.
inline constexpr uint64_t traversal_words = message_words_max;
inline constexpr int nesting_max = 4;
// zstd's window: a frame needing more than the largest body is refused (the decoder never
// allocates a window for a hostile frame's say-so).
inline constexpr int zstd_window_log_max = 22;

// Any message within the entry limits, packed and framed, fits one NATS payload uncompressed, so
// the encoder never has to count on compression to stay under it.
static_assert(1 + packed_message_bytes_max <= payload_bytes_max);
static_assert(packed_message_bytes_max <= body_bytes_max);
static_assert(message_words_max * 8 <= body_bytes_max);
static_assert((size_t{1} << zstd_window_log_max) >= body_bytes_max);
static_assert(message_words_max < (size_t{1} << 29), "a message must fit one capnp segment");
}  // namespace bus_limits

// A region's local writes (player commands' writes and the rules' writes of the chunks it owns) of
// its ticks after its previous world message, through `tick`, in the order the ticks made them:
// one tick while the region keeps up, several merged while it catches up (server/region_link.h).
// A tick with more than writes_per_batch_max writes is sent alone, as several parts, part k of
// `parts`, each its own message: part 0 has the message id "<region>:<tick>", part k > 0
// "<region>:<tick>:<k>" (BusMessageId::part, server/bus.h). Most messages: part 0 of 1. A
// receiver applies parts as they come (LWW makes each write independent).
struct BusWorldBatch {
  sim::RegionId origin{};
  uint64_t tick = 0;
  uint32_t part = 0;
  uint32_t parts = 1;
  std::vector<sim::BlockWrite> writes;
  bool operator==(const BusWorldBatch&) const = default;
};

struct BusPresenceEntry {
  bool npc = false;
  uint32_t id = 0;  // PlayerId or NpcId value
  sim::Vec2 pos;
  sim::Direction facing = sim::Direction::s;
  bool operator==(const BusPresenceEntry&) const = default;
};
// Where a region's players (and the NPCs it runs) were at `tick`.
struct BusPresence {
  sim::RegionId origin{};
  uint64_t tick = 0;
  std::vector<BusPresenceEntry> entries;  // players by id, then NPCs by id
  bool operator==(const BusPresence&) const = default;
};

struct BusAppliedSeq {
  sim::RegionId origin{};
  uint64_t seq = 0;
  bool operator==(const BusAppliedSeq&) const = default;
};
// A region's state at `tick`: the last stream sequence of each origin's world batches its map
// holds (its own included: the sequence its own batch of that tick was stored at), sorted by
// origin, and the map hash (sim::map_hash) after that tick.
struct BusHealth {
  sim::RegionId origin{};
  uint64_t tick = 0;
  std::vector<BusAppliedSeq> applied;
  uint64_t map_hash = 0;
  bool operator==(const BusHealth&) const = default;
};

using BusPayload = std::variant<BusWorldBatch, BusPresence, BusHealth>;

struct BusEncodeOptions {
  size_t compress_above_bytes = 1024;  // packed size above which zstd is tried (SIZE_MAX: never)
  int zstd_level = 1;
};

// Appends the payload's bytes to `out` (cleared first); never more than payload_bytes_max. The
// caller sends only what the decoder accepts (STRATA_REQUIRE: these are our own messages): entries
// within bus_limits, part < parts <= world_parts_max, every write stamped by the origin with a
// nonzero HLC, enums in range, presence and health lists in their order. What it cannot know (the
// map's size, the deployment) it does not check.
void encode_bus_payload(const BusPayload& payload, const BusEncodeOptions& options, std::vector<uint8_t>& out);

enum class BusDecodeError : uint8_t {
  none,
  empty,
  bad_frame,        // unknown frame byte
  too_large,        // above payload_bytes_max, or a body / content size above body_bytes_max
  bad_compression,  // zstd refused the frame, or it has no content size, or sizes disagree
  malformed,        // capnp refused the message
  too_many,         // more entries than the limits allow
  forged,           // origin differs from the subject's region
  unknown_region,   // origin (or a health vector's origin) not one of the deployment's regions
  bad_value,        // a layer, kind, direction, cell or position outside the sim's ranges; a zero
                    // stamp; a part out of its parts; entries out of order or repeated
  count
};
inline constexpr size_t bus_decode_error_count = static_cast<size_t>(BusDecodeError::count);
[[nodiscard]] std::string_view name(BusDecodeError error);

// Per-reason counters of refused payloads, for a caller that keeps them (one per origin, or one
// per bus): accepted, and refused by reason (index: BusDecodeError).
struct BusDecodeStats {
  std::array<uint64_t, bus_decode_error_count> refused{};
  uint64_t accepted = 0;
  void count(BusDecodeError error) {
    if (error == BusDecodeError::none) {
      accepted += 1;
    } else if (error < BusDecodeError::count) {
      refused[static_cast<size_t>(error)] += 1;
    }
  }
};

struct BusDecodeContext {
  sim::RegionId expected_origin{};               // the region of the subject it was read from
  std::span<const sim::RegionId> known_regions;  // the deployment's regions (empty: any)
  int32_t map_cells_x = 0;                       // cells are refused outside [0, x) x [0, y),
  int32_t map_cells_y = 0;                       // positions outside [0, x * 256) x [0, y * 256)
};

struct BusDecodeResult {
  BusDecodeError code = BusDecodeError::none;
  std::string error;  // what is wrong, when code is not none
  [[nodiscard]] bool ok() const { return code == BusDecodeError::none; }
};

// Decodes `bytes` into `out` (whose vectors keep their capacity when it already holds the same
// kind). On failure `out` is unspecified.
[[nodiscard]] BusDecodeResult decode_bus_payload(std::span<const uint8_t> bytes, const BusDecodeContext& context,
                                                 BusPayload& out);

}  // namespace strata::schema
