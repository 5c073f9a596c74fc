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

inline constexpr uint32_t state_format_version = 1;

void encode_state(const World& world, std::vector<uint8_t>& out);

struct StateDecodeResult {
  std::optional<World> world;  // set on success
  std::string error;           // what is wrong, when world is empty
  size_t error_offset = 0;     // byte offset in the input where it was found
};
[[nodiscard]] StateDecodeResult decode_state(std::span<const uint8_t> bytes);

// Checks everything a decoded world must satisfy before the simulation may step it: params, sorted
// unique ids, positions on the map, enum values of every cell, inventory bounds, no entity inside a
// blocking cell. Returns the first problem, or an empty string.
[[nodiscard]] std::string validate_world(const World& world);

}  // namespace strata::sim
