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
// not overlap one either. Map is anything with `bool blocks(CellPos) const` (the sim's TileMap, or
// a client's partial view of it for prediction: the same rule on both sides).
template <class Map>
[[nodiscard]] Vec2 move_box(const Map& map, Vec2 pos, Vec2 vel);

namespace movement_detail {
constexpr int32_t h = limits::entity_half_extent;
constexpr int32_t one = limits::fixed_one;

template <class Map>
int32_t move_axis_x(const Map& map, int32_t x, int32_t y, int32_t vx) {
  const int32_t nx = x + vx;
  const int32_t lead_col = (vx > 0 ? nx + h : nx - h) >> limits::fixed_shift;
  const int32_t y0 = (y - h) >> limits::fixed_shift;
  const int32_t y1 = (y + h) >> limits::fixed_shift;
  for (int32_t cy = y0; cy <= y1; ++cy) {
    if (map.blocks(CellPos{lead_col, cy})) return vx > 0 ? lead_col * one - h - 1 : (lead_col + 1) * one + h;
  }
  return nx;
}

template <class Map>
int32_t move_axis_y(const Map& map, int32_t x, int32_t y, int32_t vy) {
  const int32_t ny = y + vy;
  const int32_t lead_row = (vy > 0 ? ny + h : ny - h) >> limits::fixed_shift;
  const int32_t x0 = (x - h) >> limits::fixed_shift;
  const int32_t x1 = (x + h) >> limits::fixed_shift;
  for (int32_t cx = x0; cx <= x1; ++cx) {
    if (map.blocks(CellPos{cx, lead_row})) return vy > 0 ? lead_row * one - h - 1 : (lead_row + 1) * one + h;
  }
  return ny;
}
}  // namespace movement_detail

template <class Map>
Vec2 move_box(const Map& map, Vec2 pos, Vec2 vel) {
  STRATA_ASSERT(vel.x.raw() > -limits::fixed_one && vel.x.raw() < limits::fixed_one,
                "velocity x beyond one cell per tick");
  STRATA_ASSERT(vel.y.raw() > -limits::fixed_one && vel.y.raw() < limits::fixed_one,
                "velocity y beyond one cell per tick");
  int32_t x = pos.x.raw();
  int32_t y = pos.y.raw();
  if (vel.x.raw() != 0) x = movement_detail::move_axis_x(map, x, y, vel.x.raw());
  if (vel.y.raw() != 0) y = movement_detail::move_axis_y(map, x, y, vel.y.raw());
  return Vec2{Fixed::from_raw(x), Fixed::from_raw(y)};
}

// The nearest cell (ring by ring, row-major within a ring) within `radius` of `origin` whose centre
// can hold a box, if any.
[[nodiscard]] bool find_free_cell(const TileMap& map, CellPos origin, int32_t radius, CellPos& found);

}  // namespace strata::sim
