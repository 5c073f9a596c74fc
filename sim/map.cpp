// sim/map.cpp — map storage and the deterministic terrain generator.
#include "sim/map.h"

#include <vector>

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
// integers, 0..255. The corners (each shared by cell_size^2 cells) are hashed once for the whole
// map, not four times per cell, and the lattice size is a constant (its divisions become
// multiplications): generating a 512x512 map was 500 instructions a cell.
template <int32_t CellSize>
class ValueNoise {
 public:
  // Covers cells 0 <= x < width, 0 <= y < height.
  ValueNoise(uint64_t seed, int32_t width, int32_t height) : columns_(width / CellSize + 2) {
    const int32_t rows = height / CellSize + 2;
    corners_.resize(static_cast<size_t>(columns_) * static_cast<size_t>(rows));
    for (int32_t gy = 0; gy < rows; ++gy) {
      for (int32_t gx = 0; gx < columns_; ++gx) {
        const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(gx)) << 32U) | static_cast<uint32_t>(gy);
        corners_[index(gx, gy)] = static_cast<int32_t>(mix64(seed ^ mix64(key)) & 0xFFU);
      }
    }
  }

  [[nodiscard]] int32_t at(int32_t x, int32_t y) const {
    STRATA_ASSERT(x >= 0 && y >= 0 && x / CellSize + 1 < columns_, "noise outside its map");
    const int32_t gx = x / CellSize;
    const int32_t gy = y / CellSize;
    const int32_t fx = x % CellSize;
    const int32_t fy = y % CellSize;
    const int32_t top = corners_[index(gx, gy)] * (CellSize - fx) + corners_[index(gx + 1, gy)] * fx;
    const int32_t bottom = corners_[index(gx, gy + 1)] * (CellSize - fx) + corners_[index(gx + 1, gy + 1)] * fx;
    return (top * (CellSize - fy) + bottom * fy) / (CellSize * CellSize);
  }

 private:
  [[nodiscard]] size_t index(int32_t gx, int32_t gy) const {
    return static_cast<size_t>(gy) * static_cast<size_t>(columns_) + static_cast<size_t>(gx);
  }
  int32_t columns_;
  std::vector<int32_t> corners_;  // corners_[gy * columns_ + gx], rows of columns_
};

}  // namespace

void generate_terrain(TileMap& map, uint64_t seed) {
  const uint64_t moisture_seed = mix64(seed ^ 0x6D6F6973ULL);
  const uint64_t feature_seed = mix64(seed ^ 0x66656174ULL);
  const CellPos spawn = spawn_cell(map);
  const ValueNoise<16> coarse(seed, map.width(), map.height());
  const ValueNoise<5> fine(seed ^ 1U, map.width(), map.height());
  const ValueNoise<24> wet(moisture_seed, map.width(), map.height());
  for (int32_t y = 0; y < map.height(); ++y) {
    for (int32_t x = 0; x < map.width(); ++x) {
      const CellPos cell{x, y};
      const int32_t height = (coarse.at(x, y) * 3 + fine.at(x, y)) / 4;
      const int32_t moisture = wet.at(x, y);
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
