// sim/hash.h — checksums of the state: XXH3-64 of the canonical bytes of the walk.
// quick_hash covers players, NPCs, ghosts, RNG and counters (every tick); full_hash everything.
#pragma once

#include <cstdint>

#include "sim/world.h"

namespace strata::sim {

[[nodiscard]] uint64_t quick_hash(const World& world);
[[nodiscard]] uint64_t full_hash(const World& world);

}  // namespace strata::sim
