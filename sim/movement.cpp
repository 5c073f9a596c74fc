// sim/movement.cpp — see movement.h.
#include "sim/movement.h"

namespace strata::sim {

void BlockingBits::rebuild(const TileMap& map) {
  width_ = map.width();
  height_ = map.height();
  words_.assign((static_cast<size_t>(width_) * static_cast<size_t>(height_) + 63) / 64, 0);
  for (int32_t y = 0; y < height_; ++y) {
    for (int32_t x = 0; x < width_; ++x) update(map, CellPos{x, y});
  }
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
