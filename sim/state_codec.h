// sim/state_codec.h — the world as bytes (the canonical form of the full walk, behind a small
// header) and back. Decoding is for untrusted bytes (snapshots from disk or the network): it checks
// every length against a limit before allocating, every enum and range, and the world's invariants,
// and returns an error value — it never asserts on input.
//
// Layout: magic "STRW" (4 bytes) | u32 state_format_version | canonical full walk (sim/canonical.h)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/world.h"

namespace strata::sim {

// 2: params carry the region map (mode, fallback, rectangles).
// 3: the bus marks (World::bus_applied) after the ghosts; two more rejection reasons counted.
// 4: three counters of saves (loaded, refused, relocated) after the evictions.
inline constexpr uint32_t state_format_version = 4;

void encode_state(const World& world, std::vector<uint8_t>& out);

struct StateDecodeResult {
  std::optional<World> world;  // set on success
  std::string error;           // what is wrong, when world is empty
  size_t error_offset = 0;     // byte offset in the input where it was found
};
[[nodiscard]] StateDecodeResult decode_state(std::span<const uint8_t> bytes);

// The full hash of the world `bytes` encode, from the bytes alone (the hash of their walk part,
// which is what full_hash hashes): full_hash(*decode_state(bytes).world) whenever that decodes.
// Bytes that do not decode hash to a value no world's full hash has (short of an XXH3 collision),
// so equality with a known world's full hash proves the bytes are its encoding without decoding
// them. nullopt when the magic or the format version is not this build's.
[[nodiscard]] std::optional<uint64_t> state_bytes_full_hash(std::span<const uint8_t> bytes);

// Checks everything a decoded world must satisfy before the simulation may step it: params, sorted
// unique ids, positions on the map, enum values of every cell, inventory bounds, no entity inside a
// blocking cell, bus marks sorted by origin (unique, not 0 nor the own region, above sequence 0). Returns the first
// problem, or an empty string.
[[nodiscard]] std::string validate_world(const World& world);

}  // namespace strata::sim
