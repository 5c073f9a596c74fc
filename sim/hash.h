// sim/hash.h — checksums of the state: XXH3-64 of the canonical bytes of the walk.
// quick_hash covers players, NPCs, ghosts, bus marks, RNG and counters (every tick); full_hash everything.
#pragma once

#include <cstdint>
#include <span>

#include "sim/world.h"

namespace strata::sim {

[[nodiscard]] uint64_t quick_hash(const World& world);
[[nodiscard]] uint64_t full_hash(const World& world);
// The map alone (its size, and every chunk's layers and LWW stamps): what regions that applied the
// same events agree on whatever the order (players, NPCs, ghosts and counters are each region's own).
[[nodiscard]] uint64_t map_hash(const World& world);
// XXH3-64 of canonical walk bytes as they are (sim/canonical.h): full_hash(w) is walk_hash of the
// bytes of w's full walk. For state bytes that are only to be compared with a known world.
[[nodiscard]] uint64_t walk_hash(std::span<const uint8_t> walk_bytes);

}  // namespace strata::sim
