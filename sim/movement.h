// sim/movement.h — collision geometry. An entity is a square box of half side
// limits::entity_half_extent around its position; it may never overlap a blocking cell. Moves are
// resolved one axis at a time; a blocked move stops flush against the blocking cell.
#pragma once

#include <cstdint>

#include "sim/map.h"

namespace strata::sim {

struct CellRange {
  int32_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive
  constexpr bool operator==(const CellRange&) const = default;
};

[[nodiscard]] constexpr CellRange box_cells(Vec2 pos) {
  const int32_t h = limits::entity_half_extent;
  return CellRange{(pos.x.raw() - h) >> limits::fixed_shift, (pos.y.raw() - h) >> limits::fixed_shift,
                   (pos.x.raw() + h) >> limits::fixed_shift, (pos.y.raw() + h) >> limits::fixed_shift};
}

[[nodiscard]] inline bool box_overlaps(Vec2 pos, CellPos cell) {
  const CellRange r = box_cells(pos);
  return cell.x >= r.x0 && cell.x <= r.x1 && cell.y >= r.y0 && cell.y <= r.y1;
}

[[nodiscard]] inline bool box_blocked(const TileMap& map, Vec2 pos) {
  const CellRange r = box_cells(pos);
  for (int32_t y = r.y0; y <= r.y1; ++y) {
    for (int32_t x = r.x0; x <= r.x1; ++x) {
      if (map.blocks(CellPos{x, y})) return true;
    }
  }
  return false;
}

// The velocity of a direction at a speed; diagonals scaled by ~1/sqrt(2) in integers.
[[nodiscard]] Vec2 velocity_for(Direction direction, int32_t speed);

// Moves a box that does not overlap a blocking cell by at most one cell per axis; the result does
// not overlap one either.
[[nodiscard]] Vec2 move_box(const TileMap& map, Vec2 pos, Vec2 vel);

// The nearest cell (ring by ring, row-major within a ring) within `radius` of `origin` whose centre
// can hold a box, if any.
[[nodiscard]] bool find_free_cell(const TileMap& map, CellPos origin, int32_t radius, CellPos& found);

}  // namespace strata::sim
