// sim/regions.h — the region map: which region owns each chunk, i.e. runs its random ticks and its
// NPCs (DESIGN.md "Regions"). Every region holds the whole map; rules that draw randomness run in one
// region only and replicate from there as stamped writes (and presence), so regions never drift on
// their own.
//
// Where it lives: in WorldParams (sim/world.h), hence in the log header's params, in every snapshot
// and in the canonical walk. Ownership is configuration fixed for a session, like the seed and the
// map size: a replay must reproduce it from the log alone (without the node's configuration), and a
// world restored from a snapshot must not fall back to "owns everything". Being walked, it is also
// hashed: two runs that disagree on ownership are told apart at the first hash.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/limits.h"
#include "sim/types.h"

namespace strata::sim {

// whole: the local region owns every chunk (one region alone; a map has no rectangles then).
// by_map: each chunk is owned by the rectangle covering it, else by RegionMap::fallback.
enum class Ownership : uint8_t { whole, by_map, count };

// A rectangle of chunks [x, x + w) x [y, y + h) owned by `region` (never 0).
struct RegionRect {
  int32_t x = 0;
  int32_t y = 0;
  int32_t w = 1;
  int32_t h = 1;
  RegionId region{1};
  constexpr bool operator==(const RegionRect&) const = default;
};

struct RegionMap {
  Ownership mode = Ownership::whole;
  // by_map: the owner of chunks no rectangle covers. 0 is no region: nobody runs rules there (the
  // chunks only change by commands and replicated writes).
  RegionId fallback{};
  std::vector<RegionRect> rects;  // pairwise disjoint, inside the map
  bool operator==(const RegionMap&) const = default;
};

// What is wrong with a region map for a map of chunks_x x chunks_y chunks: nullptr when valid.
// `bad_rect` (when given) receives the index of the first offending rectangle (SIZE_MAX if none).
[[nodiscard]] const char* validate_region_map(const RegionMap& map, int32_t chunks_x, int32_t chunks_y,
                                              size_t* bad_rect = nullptr);

// The owner of chunk (cx, cy) for a region `local` holding a valid map. RegionId{0}: no region.
[[nodiscard]] RegionId chunk_owner(const RegionMap& map, RegionId local, int32_t cx, int32_t cy);

// One owner per chunk, row-major (chunk index order): what step consults (derived, not state).
void chunk_owners(const RegionMap& map, RegionId local, int32_t chunks_x, int32_t chunks_y, std::vector<RegionId>& out);

}  // namespace strata::sim
