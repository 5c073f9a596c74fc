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
// the deployment, values outside the sim's ranges (layers, directions, cells off the map), and a
// world batch whose writes are not all stamped by its origin. It never asserts or throws on input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/fixed.h"
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
}  // namespace bus_limits

// One tick's local writes of a region (player commands' writes and the rules' writes of the chunks
// it owns), in the order the tick made them. A tick with more than writes_per_batch_max writes is
// sent as several parts, part k of `parts`, each its own message: part 0 has the message id
// "<region>:<tick>", part k > 0 "<region>:<tick>:<k>" (BusMessageId::part, server/bus.h). Most
// ticks: part 0 of 1. A receiver applies parts as they come (LWW makes each write independent).
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

// Appends the payload's bytes to `out` (cleared first). The caller keeps within bus_limits
// (asserted: these are our own messages).
void encode_bus_payload(const BusPayload& payload, const BusEncodeOptions& options, std::vector<uint8_t>& out);

enum class BusDecodeError : uint8_t {
  none,
  empty,
  bad_frame,       // unknown frame byte
  too_large,       // above payload_bytes_max, or a body / content size above body_bytes_max
  bad_compression, // zstd refused the frame, or it has no content size, or sizes disagree
  malformed,       // capnp refused the message
  too_many,        // more entries than the limits allow
  forged,          // origin differs from the subject's region (or a write stamped by another region)
  unknown_region,  // origin not one of the deployment's regions
  bad_value,       // a layer, direction or cell outside the sim's ranges; a zero stamp
  count
};
inline constexpr size_t bus_decode_error_count = static_cast<size_t>(BusDecodeError::count);
[[nodiscard]] std::string_view name(BusDecodeError error);

struct BusDecodeContext {
  sim::RegionId expected_origin{};                  // the region of the subject it was read from
  std::span<const sim::RegionId> known_regions;     // the deployment's regions (empty: any)
  int32_t map_cells_x = 0;                          // cells are refused outside [0, x) x [0, y)
  int32_t map_cells_y = 0;
};

struct BusDecodeResult {
  BusDecodeError code = BusDecodeError::none;
  std::string error;  // what is wrong, when code is not none
  [[nodiscard]] bool ok() const { return code == BusDecodeError::none; }
};

// Decodes `bytes` into `out`. On failure `out` is unspecified.
[[nodiscard]] BusDecodeResult decode_bus_payload(std::span<const uint8_t> bytes, const BusDecodeContext& context,
                                                 BusPayload& out);

}  // namespace strata::schema
