// sim/regions.cpp — see regions.h.
#include "sim/regions.h"

#include <cstdint>
#include <limits>

namespace strata::sim {
namespace {

bool overlap(const RegionRect& a, const RegionRect& b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

const char* fail(size_t* bad_rect, size_t index, const char* problem) {
  if (bad_rect != nullptr) *bad_rect = index;
  return problem;
}

}  // namespace

const char* validate_region_map(const RegionMap& map, int32_t chunks_x, int32_t chunks_y, size_t* bad_rect) {
  constexpr size_t none = std::numeric_limits<size_t>::max();
  if (bad_rect != nullptr) *bad_rect = none;
  if (!enum_valid(map.mode)) return "region map mode out of range";
  if (map.mode == Ownership::whole) {
    if (!map.rects.empty() || raw(map.fallback) != 0) return "a whole-world region map has no rectangles or fallback";
    return nullptr;
  }
  if (map.rects.size() > limits::region_rects_max) return "region map has too many rectangles";
  for (size_t i = 0; i < map.rects.size(); ++i) {
    const RegionRect& r = map.rects[i];
    if (raw(r.region) == 0) return fail(bad_rect, i, "region map rectangle owned by region 0");
    if (r.w < 1 || r.h < 1) return fail(bad_rect, i, "region map rectangle is empty");
    // Widths are at most the map's (64 chunks), so the sums below cannot overflow once x, y are.
    if (r.x < 0 || r.y < 0 || r.x >= chunks_x || r.y >= chunks_y || r.w > chunks_x - r.x || r.h > chunks_y - r.y) {
      return fail(bad_rect, i, "region map rectangle reaches outside the map");
    }
    for (size_t j = 0; j < i; ++j) {
      if (overlap(map.rects[j], r)) return fail(bad_rect, i, "region map rectangles overlap");
    }
  }
  return nullptr;
}

RegionId chunk_owner(const RegionMap& map, RegionId local, int32_t cx, int32_t cy) {
  if (map.mode == Ownership::whole) return local;
  for (const RegionRect& r : map.rects) {
    if (cx >= r.x && cx < r.x + r.w && cy >= r.y && cy < r.y + r.h) return r.region;
  }
  return map.fallback;
}

void chunk_owners(const RegionMap& map, RegionId local, int32_t chunks_x, int32_t chunks_y,
                  std::vector<RegionId>& out) {
  out.assign(static_cast<size_t>(chunks_x) * static_cast<size_t>(chunks_y), map.fallback);
  if (map.mode == Ownership::whole) {
    out.assign(out.size(), local);
    return;
  }
  for (const RegionRect& r : map.rects) {
    for (int32_t y = r.y; y < r.y + r.h; ++y) {
      for (int32_t x = r.x; x < r.x + r.w; ++x) {
        out[static_cast<size_t>(y) * static_cast<size_t>(chunks_x) + static_cast<size_t>(x)] = r.region;
      }
    }
  }
}

}  // namespace strata::sim
