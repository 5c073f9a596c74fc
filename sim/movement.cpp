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

}  // namespace

Vec2 velocity_for(Direction direction, int32_t speed) {
  STRATA_ASSERT(enum_valid(direction), "direction out of range");
  const Step2 step = direction_steps[static_cast<size_t>(direction)];
  if (step.dx != 0 && step.dy != 0) speed = speed * limits::diagonal_numerator / limits::fixed_one;
  return Vec2{Fixed::from_raw(step.dx * speed), Fixed::from_raw(step.dy * speed)};
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
