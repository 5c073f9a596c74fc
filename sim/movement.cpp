// sim/movement.cpp — see movement.h.
#include "sim/movement.h"

#include <array>

namespace strata::sim {

namespace {
struct Step2 {
  int8_t dx;
  int8_t dy;
};
constexpr std::array<Step2, 9> direction_steps = {
    {{0, 0}, {0, -1}, {1, -1}, {1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}}};
static_assert(direction_steps.size() == static_cast<size_t>(Direction::count));

constexpr int32_t h = limits::entity_half_extent;
constexpr int32_t one = limits::fixed_one;

int32_t move_axis_x(const TileMap& map, int32_t x, int32_t y, int32_t vx) {
  const int32_t nx = x + vx;
  const int32_t lead_col = (vx > 0 ? nx + h : nx - h) >> limits::fixed_shift;
  const int32_t y0 = (y - h) >> limits::fixed_shift;
  const int32_t y1 = (y + h) >> limits::fixed_shift;
  for (int32_t cy = y0; cy <= y1; ++cy) {
    if (map.blocks(CellPos{lead_col, cy})) return vx > 0 ? lead_col * one - h - 1 : (lead_col + 1) * one + h;
  }
  return nx;
}

int32_t move_axis_y(const TileMap& map, int32_t x, int32_t y, int32_t vy) {
  const int32_t ny = y + vy;
  const int32_t lead_row = (vy > 0 ? ny + h : ny - h) >> limits::fixed_shift;
  const int32_t x0 = (x - h) >> limits::fixed_shift;
  const int32_t x1 = (x + h) >> limits::fixed_shift;
  for (int32_t cx = x0; cx <= x1; ++cx) {
    if (map.blocks(CellPos{cx, lead_row})) return vy > 0 ? lead_row * one - h - 1 : (lead_row + 1) * one + h;
  }
  return ny;
}
}  // namespace

Vec2 velocity_for(Direction direction, int32_t speed) {
  STRATA_ASSERT(enum_valid(direction), "direction out of range");
  const Step2 step = direction_steps[static_cast<size_t>(direction)];
  if (step.dx != 0 && step.dy != 0) speed = speed * limits::diagonal_numerator / limits::fixed_one;
  return Vec2{Fixed::from_raw(step.dx * speed), Fixed::from_raw(step.dy * speed)};
}

Vec2 move_box(const TileMap& map, Vec2 pos, Vec2 vel) {
  STRATA_ASSERT(vel.x.raw() > -one && vel.x.raw() < one, "velocity x beyond one cell per tick");
  STRATA_ASSERT(vel.y.raw() > -one && vel.y.raw() < one, "velocity y beyond one cell per tick");
  int32_t x = pos.x.raw();
  int32_t y = pos.y.raw();
  if (vel.x.raw() != 0) x = move_axis_x(map, x, y, vel.x.raw());
  if (vel.y.raw() != 0) y = move_axis_y(map, x, y, vel.y.raw());
  return Vec2{Fixed::from_raw(x), Fixed::from_raw(y)};
}

bool find_free_cell(const TileMap& map, CellPos origin, int32_t radius, CellPos& found) {
  for (int32_t r = 0; r <= radius; ++r) {
    for (int32_t dy = -r; dy <= r; ++dy) {
      const bool edge_row = dy == -r || dy == r;
      for (int32_t dx = -r; dx <= r; dx += edge_row ? 1 : 2 * r) {
        const CellPos cell{origin.x + dx, origin.y + dy};
        if (!map.blocks(cell)) {
          found = cell;
          return true;
        }
        if (r == 0) break;
      }
    }
  }
  return false;
}

}  // namespace strata::sim
