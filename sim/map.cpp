// sim/map.cpp — map storage and the deterministic terrain generator.
#include "sim/map.h"

#include "sim/rng.h"

namespace strata::sim {

TileMap::TileMap(int32_t chunks_x, int32_t chunks_y) : chunks_x_(chunks_x), chunks_y_(chunks_y) {
  STRATA_ASSERT(chunks_x >= 1 && chunks_x <= limits::map_chunks_per_axis_max, "chunks_x out of range");
  STRATA_ASSERT(chunks_y >= 1 && chunks_y <= limits::map_chunks_per_axis_max, "chunks_y out of range");
  chunks_.resize(static_cast<size_t>(chunks_x) * static_cast<size_t>(chunks_y));
}

CellValue TileMap::get(CellPos cell, Layer layer) const {
  const Chunk& chunk = chunk_of(cell);
  const size_t i = index_in_chunk(cell);
  switch (layer) {
    case Layer::floor: return {chunk.floor[i], 0};
    case Layer::active: return {chunk.active[i], chunk.active_state[i]};
    case Layer::ceiling: return {chunk.ceiling[i], 0};
    case Layer::count: break;
  }
  STRATA_ASSERT(false, "bad layer");
  return {};
}

LwwStamp TileMap::stamp(CellPos cell, Layer layer) const {
  STRATA_ASSERT(enum_valid(layer), "bad layer");
  const Chunk& chunk = chunk_of(cell);
  const size_t i = index_in_chunk(cell);
  const auto l = static_cast<size_t>(layer);
  return LwwStamp{chunk.stamp_hlc[l][i], RegionId{chunk.stamp_region[l][i]}};
}

void TileMap::set_unstamped(CellPos cell, Layer layer, CellValue value) {
  Chunk& chunk = chunk_of(cell);
  const size_t i = index_in_chunk(cell);
  switch (layer) {
    case Layer::floor: chunk.floor[i] = value.kind; return;
    case Layer::active:
      chunk.active[i] = value.kind;
      chunk.active_state[i] = value.state;
      return;
    case Layer::ceiling: chunk.ceiling[i] = value.kind; return;
    case Layer::count: break;
  }
  STRATA_ASSERT(false, "bad layer");
}

void TileMap::set(CellPos cell, Layer layer, CellValue value, LwwStamp stamp) {
  set_unstamped(cell, layer, value);
  Chunk& chunk = chunk_of(cell);
  const size_t i = index_in_chunk(cell);
  const auto l = static_cast<size_t>(layer);
  chunk.stamp_hlc[l][i] = stamp.hlc;
  chunk.stamp_region[l][i] = raw(stamp.region);
}

CellPos spawn_cell(const TileMap& map) { return CellPos{map.width() / 2, map.height() / 2}; }

namespace {

// Smooth-ish value noise on a lattice of `cell_size` cells: bilinear blend of hashed corners, in
// integers. Returns 0..255.
int32_t value_noise(uint64_t seed, int32_t x, int32_t y, int32_t cell_size) {
  const int32_t gx = x / cell_size;
  const int32_t gy = y / cell_size;
  const int32_t fx = x % cell_size;
  const int32_t fy = y % cell_size;
  auto corner = [&](int32_t cx, int32_t cy) {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(cx)) << 32U) | static_cast<uint32_t>(cy);
    return static_cast<int32_t>(mix64(seed ^ mix64(key)) & 0xFFU);
  };
  const int32_t top = corner(gx, gy) * (cell_size - fx) + corner(gx + 1, gy) * fx;
  const int32_t bottom = corner(gx, gy + 1) * (cell_size - fx) + corner(gx + 1, gy + 1) * fx;
  return (top * (cell_size - fy) + bottom * fy) / (cell_size * cell_size);
}

}  // namespace

void generate_terrain(TileMap& map, uint64_t seed) {
  const uint64_t moisture_seed = mix64(seed ^ 0x6D6F6973ULL);
  const uint64_t feature_seed = mix64(seed ^ 0x66656174ULL);
  const CellPos spawn = spawn_cell(map);
  for (int32_t y = 0; y < map.height(); ++y) {
    for (int32_t x = 0; x < map.width(); ++x) {
      const CellPos cell{x, y};
      const int32_t height = (value_noise(seed, x, y, 16) * 3 + value_noise(seed ^ 1U, x, y, 5)) / 4;
      const int32_t moisture = value_noise(moisture_seed, x, y, 24);
      Floor floor = Floor::grass;
      if (height < 60) {
        floor = Floor::water;
      } else if (height < 72) {
        floor = Floor::sand;
      } else if (height > 200) {
        floor = Floor::stone;
      } else if (moisture < 90) {
        floor = Floor::dirt;
      }
      Block block = Block::none;
      const uint64_t feature = mix64(feature_seed ^ static_cast<uint64_t>(y * map.width() + x)) & 0x3FFU;
      if (floor == Floor::grass && feature < 24) block = Block::tree;
      if (floor == Floor::stone && feature < 60) block = Block::rock;
      const int32_t dx = x - spawn.x;
      const int32_t dy = y - spawn.y;
      if (dx * dx + dy * dy <= 36) {  // keep the spawn area clear and walkable
        floor = Floor::grass;
        block = Block::none;
      }
      map.set_unstamped(cell, Layer::floor, {static_cast<uint8_t>(floor), 0});
      map.set_unstamped(cell, Layer::active, {static_cast<uint8_t>(block), 0});
    }
  }
}

}  // namespace strata::sim
