// sim/movement.h — collision geometry. An entity is a square box of half side
// limits::entity_half_extent around its position; it may never overlap a blocking cell. Moves are
// resolved one axis at a time; a blocked move stops flush against the blocking cell.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

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

// Which cells block movement, one bit per cell (row-major), as a derived index of a TileMap: what
// move_box reads for every moving entity every tick. A bit load from 1/8 byte per cell instead of
// a chunk lookup and two layer bytes from 35 kB chunks. Same answers as TileMap::blocks.
class BlockingBits {
 public:
  // All cells of a width x height map, from the map.
  void rebuild(const TileMap& map);
  // Re-reads one cell from the map after a write to it.
  void update(const TileMap& map, CellPos cell) {
    const size_t i = index(cell);
    const uint64_t bit = uint64_t{1} << (i & 63U);
    if (map.blocks(cell)) {
      words_[i >> 6U] |= bit;
    } else {
      words_[i >> 6U] &= ~bit;
    }
  }
  // Out-of-map cells block.
  [[nodiscard]] bool blocks(CellPos cell) const {
    if (cell.x < 0 || cell.y < 0 || cell.x >= width_ || cell.y >= height_) return true;
    const size_t i = index(cell);
    return ((words_[i >> 6U] >> (i & 63U)) & 1U) != 0;
  }
  [[nodiscard]] bool operator==(const BlockingBits&) const = default;

 private:
  [[nodiscard]] size_t index(CellPos cell) const {
    return static_cast<size_t>(cell.y) * static_cast<size_t>(width_) + static_cast<size_t>(cell.x);
  }
  int32_t width_ = 0;
  int32_t height_ = 0;
  std::vector<uint64_t> words_;
};

[[nodiscard]] inline bool box_blocked(const TileMap& map, Vec2 pos) {
  const CellRange r = box_cells(pos);
  for (int32_t y = r.y0; y <= r.y1; ++y) {
    for (int32_t x = r.x0; x <= r.x1; ++x) {
      if (map.blocks(CellPos{x, y})) return true;
    }
  }
  return false;
}

namespace movement_detail {
struct Step2 {
  int8_t dx;
  int8_t dy;
};
inline constexpr std::array<Step2, 9> direction_steps = {
    {{0, 0}, {0, -1}, {1, -1}, {1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}}};
static_assert(direction_steps.size() == static_cast<size_t>(Direction::count));
}  // namespace movement_detail

// The velocity of a direction at a speed; diagonals scaled by ~1/sqrt(2) in integers. Inline: it
// runs for every moving entity every tick.
[[nodiscard]] inline Vec2 velocity_for(Direction direction, int32_t speed) {
  STRATA_ASSERT(enum_valid(direction), "direction out of range");
  const movement_detail::Step2 step = movement_detail::direction_steps[static_cast<size_t>(direction)];
  if (step.dx != 0 && step.dy != 0) speed = speed * limits::diagonal_numerator / limits::fixed_one;
  return Vec2{Fixed::from_raw(step.dx * speed), Fixed::from_raw(step.dy * speed)};
}

// Moves a box that does not overlap a blocking cell by at most one cell per axis; the result does
// not overlap one either. Map is anything with `bool blocks(CellPos) const` (the sim's TileMap, or
// a client's partial view of it for prediction: the same rule on both sides).
template <class Map>
[[nodiscard]] Vec2 move_box(const Map& map, Vec2 pos, Vec2 vel);

namespace movement_detail {
constexpr int32_t h = limits::entity_half_extent;
constexpr int32_t one = limits::fixed_one;

// The sim's own map index may skip the cells a move does not newly enter: the box already overlaps
// them and, by the world's invariant (validate_world, kept by every rule), overlaps no blocking
// cell, so their answer is known. A walking box enters a new column or row only every 8th tick, so
// most moves of most entities read no cell at all. Other maps (a client's partial view, which may
// change under a predicted box) read every cell as the rule is written.
template <class Map>
inline constexpr bool skips_overlapped_cells = std::is_same_v<Map, BlockingBits>;

// The cells of the lead column (rows y0..y1) the box enters, in order: the first that blocks stops
// it flush against that column. Out of line: what is inline is only the common case above.
template <class Map>
[[gnu::noinline]] int32_t enter_column(const Map& map, int32_t nx, int32_t lead_col, int32_t y, int32_t vx) {
  const int32_t y0 = (y - h) >> limits::fixed_shift;
  const int32_t y1 = (y + h) >> limits::fixed_shift;
  for (int32_t cy = y0; cy <= y1; ++cy) {
    if (map.blocks(CellPos{lead_col, cy})) return vx > 0 ? lead_col * one - h - 1 : (lead_col + 1) * one + h;
  }
  return nx;
}

template <class Map>
[[gnu::noinline]] int32_t enter_row(const Map& map, int32_t ny, int32_t lead_row, int32_t x, int32_t vy) {
  const int32_t x0 = (x - h) >> limits::fixed_shift;
  const int32_t x1 = (x + h) >> limits::fixed_shift;
  for (int32_t cx = x0; cx <= x1; ++cx) {
    if (map.blocks(CellPos{cx, lead_row})) return vy > 0 ? lead_row * one - h - 1 : (lead_row + 1) * one + h;
  }
  return ny;
}

template <class Map>
[[gnu::always_inline]] inline int32_t move_axis_x(const Map& map, int32_t x, int32_t y, int32_t vx) {
  const int32_t nx = x + vx;
  const int32_t lead_col = (vx > 0 ? nx + h : nx - h) >> limits::fixed_shift;
  if constexpr (skips_overlapped_cells<Map>) {
    if (lead_col == (vx > 0 ? x + h : x - h) >> limits::fixed_shift) return nx;
  }
  return enter_column(map, nx, lead_col, y, vx);
}

template <class Map>
[[gnu::always_inline]] inline int32_t move_axis_y(const Map& map, int32_t x, int32_t y, int32_t vy) {
  const int32_t ny = y + vy;
  const int32_t lead_row = (vy > 0 ? ny + h : ny - h) >> limits::fixed_shift;
  if constexpr (skips_overlapped_cells<Map>) {
    if (lead_row == (vy > 0 ? y + h : y - h) >> limits::fixed_shift) return ny;
  }
  return enter_row(map, ny, lead_row, x, vy);
}
}  // namespace movement_detail

template <class Map>
[[gnu::always_inline]] inline Vec2 move_box(const Map& map, Vec2 pos, Vec2 vel) {
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
