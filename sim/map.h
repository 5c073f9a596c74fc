// sim/map.h — the three-layer tile map. The map is a rectangle of 32x32-cell chunks; each chunk
// stores its layers as structure-of-arrays (one byte per cell per layer, plus the LWW stamp of each
// layer), so the full hash and the snapshot see long contiguous arrays.
//
// Invariants: chunks.size() == chunks_x * chunks_y; every byte is a valid enum value for its layer;
// occupancy counts (derived, not state) equal the number of entity boxes overlapping each cell.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sim/assert.h"
#include "sim/fixed.h"
#include "sim/limits.h"
#include "sim/types.h"

namespace strata::sim {

struct Chunk {
  static constexpr size_t cells = limits::chunk_cells;
  // Size of a chunk in the canonical byte form: four byte layers, three stamp layers.
  static constexpr size_t canonical_bytes = cells * 4 + cells * 3 * (sizeof(uint64_t) + sizeof(uint16_t));
  std::array<uint8_t, cells> floor{};
  std::array<uint8_t, cells> active{};
  std::array<uint8_t, cells> active_state{};
  std::array<uint8_t, cells> ceiling{};
  // LWW stamps, one per layer (index by Layer).
  std::array<std::array<uint64_t, cells>, 3> stamp_hlc{};
  std::array<std::array<uint16_t, cells>, 3> stamp_region{};
};

// One cell's three layers, as read or written through the map.
struct CellValue {
  uint8_t kind = 0;
  uint8_t state = 0;
  constexpr bool operator==(const CellValue&) const = default;
};

// Last-writer-wins: whether a write of `value` stamped `stamp` replaces what a cell layer holds. The
// newer stamp wins; two different writes should never share a stamp (HLC + region), but if a buggy
// or hostile region sends them the larger value wins, so the merge stays independent of arrival
// order all the same. The one rule every region merges by (remote writes in step, and the map at a
// peer's applied vector in server/map_history.h).
[[nodiscard]] constexpr bool lww_wins(LwwStamp held, CellValue held_value, LwwStamp stamp, CellValue value) {
  if (held != stamp) return held < stamp;
  return value.kind != held_value.kind ? value.kind > held_value.kind : value.state > held_value.state;
}

[[nodiscard]] constexpr bool floor_walkable(Floor floor) { return floor != Floor::water; }
[[nodiscard]] constexpr bool block_solid(Block block, uint8_t state) {
  switch (block) {
    case Block::none:
    case Block::crop: return false;
    case Block::door: return state == door_closed;
    default: return true;
  }
}
// Which states a block kind may have; anything else is invalid input.
[[nodiscard]] constexpr bool block_state_valid(Block block, uint8_t state) {
  switch (block) {
    case Block::door: return state <= door_open;
    case Block::crop: return state <= crop_stage_ripe;
    default: return state == 0;
  }
}

class TileMap {
 public:
  TileMap() = default;
  TileMap(int32_t chunks_x, int32_t chunks_y);

  [[nodiscard]] int32_t chunks_x() const { return chunks_x_; }
  [[nodiscard]] int32_t chunks_y() const { return chunks_y_; }
  [[nodiscard]] int32_t width() const { return chunks_x_ * limits::chunk_size; }
  [[nodiscard]] int32_t height() const { return chunks_y_ * limits::chunk_size; }
  [[nodiscard]] bool in_bounds(CellPos cell) const {
    return cell.x >= 0 && cell.y >= 0 && cell.x < width() && cell.y < height();
  }

  [[nodiscard]] std::vector<Chunk>& chunks() { return chunks_; }
  [[nodiscard]] const std::vector<Chunk>& chunks() const { return chunks_; }

  [[nodiscard]] Floor floor(CellPos cell) const {
    return static_cast<Floor>(chunk_of(cell).floor[index_in_chunk(cell)]);
  }
  [[nodiscard]] Block active(CellPos cell) const {
    return static_cast<Block>(chunk_of(cell).active[index_in_chunk(cell)]);
  }
  [[nodiscard]] uint8_t active_state(CellPos cell) const { return chunk_of(cell).active_state[index_in_chunk(cell)]; }
  [[nodiscard]] Ceiling ceiling(CellPos cell) const {
    return static_cast<Ceiling>(chunk_of(cell).ceiling[index_in_chunk(cell)]);
  }
  [[nodiscard]] CellValue get(CellPos cell, Layer layer) const;
  [[nodiscard]] LwwStamp stamp(CellPos cell, Layer layer) const;
  // Writes one layer of one cell and its stamp. The caller has validated kind/state.
  void set(CellPos cell, Layer layer, CellValue value, LwwStamp stamp);
  // Writes without touching the stamp (map generation).
  void set_unstamped(CellPos cell, Layer layer, CellValue value);

  // A cell blocks movement when its floor is not walkable or its active block is solid.
  // Out-of-map cells block.
  [[nodiscard]] bool blocks(CellPos cell) const {
    if (!in_bounds(cell)) return true;
    const Chunk& chunk = chunk_of(cell);
    const size_t i = index_in_chunk(cell);
    return !floor_walkable(static_cast<Floor>(chunk.floor[i])) ||
           block_solid(static_cast<Block>(chunk.active[i]), chunk.active_state[i]);
  }

  [[nodiscard]] static size_t index_in_chunk(CellPos cell) {
    return static_cast<size_t>(((cell.y & (limits::chunk_size - 1)) << limits::chunk_shift) |
                               (cell.x & (limits::chunk_size - 1)));
  }
  [[nodiscard]] size_t chunk_index(CellPos cell) const {
    return static_cast<size_t>(cell.y >> limits::chunk_shift) * static_cast<size_t>(chunks_x_) +
           static_cast<size_t>(cell.x >> limits::chunk_shift);
  }

 private:
  [[nodiscard]] const Chunk& chunk_of(CellPos cell) const {
    STRATA_ASSERT(in_bounds(cell), "cell outside the map");
    return chunks_[chunk_index(cell)];
  }
  [[nodiscard]] Chunk& chunk_of(CellPos cell) {
    STRATA_ASSERT(in_bounds(cell), "cell outside the map");
    return chunks_[chunk_index(cell)];
  }

  int32_t chunks_x_ = 0;
  int32_t chunks_y_ = 0;
  std::vector<Chunk> chunks_;
};

// Generates the terrain of a map from the world seed: grass and dirt fields, sand by water, stone,
// trees and rocks; a clear area around the spawn point. Pure function of (seed, size).
void generate_terrain(TileMap& map, uint64_t seed);

[[nodiscard]] CellPos spawn_cell(const TileMap& map);

}  // namespace strata::sim
