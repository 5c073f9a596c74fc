// sim/hash.cpp — the hash sink: small scalars are gathered in a fixed stack buffer and handed to the
// XXH3 streaming state in blocks; large arrays (the map's layers) go straight through. XXH3's
// streaming result equals the one-shot hash of the concatenation, so buffering does not change it.
#include "sim/hash.h"

#include <vector>

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack (no allocation)
#include <xxhash.h>
#if defined(__x86_64__)
// libxxhash's runtime dispatch (x86 only): the widest vector unit the CPU has (AVX2/AVX-512)
// instead of the SSE2 baseline the library is compiled for. XXH3's output does not depend on
// the code path (the hash is defined on bytes), only its speed: the full hash of a 9 MB state.
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#endif

#include <array>
#include <cstring>
#include <span>

#include "sim/canonical.h"
#include "sim/rng.h"

namespace strata::sim {
namespace {

// The sink keeps only pointers (cursor, end of the buffer, the XXH3 state); the buffer and the
// state are separate objects. The sink's own address never escapes (XXH3 only sees the buffer and
// the state), so once the walk is inlined the compiler keeps the cursor in a register: with the
// buffer inside the sink, every byte stored could alias the cursor, which was then written back to
// memory and reloaded around each field (most of the quick hash's time).
//
// A field is written first and the block handed over once full: the buffer has a slack of
// direct_threshold bytes past the block, so a put below the threshold always fits, and costs a
// store, an add and one compare; the hand-over is out of line (it was inlined after every field
// of the walk, most of the quick hash's code).
class HashSink {
 public:
  static constexpr size_t direct_threshold = 256;  // puts at least this long bypass the buffer
  static constexpr size_t block_bytes = 4096;
  static constexpr size_t buffer_bytes = block_bytes + direct_threshold;

  HashSink(XXH3_state_t& state, std::span<uint8_t> buffer)
      : state_(&state), begin_(buffer.data()), cursor_(buffer.data()), full_(buffer.data() + block_bytes) {
    STRATA_ASSERT(buffer.size() >= buffer_bytes, "hash buffer without its slack");
  }
  HashSink(const HashSink&) = delete;
  HashSink& operator=(const HashSink&) = delete;

  void put(const void* data, size_t size) {
    if (size >= direct_threshold) [[unlikely]] {
      flush();
      update(data, size);
      return;
    }
    std::memcpy(cursor_, data, size);  // fits: cursor_ < full_ and size < the slack
    cursor_ += size;
    if (cursor_ >= full_) [[unlikely]]
      flush();
  }
  // Lends room for one list item (canonical::Writer): at most reserve_bytes_max, which the slack
  // always has, so this is free; commit moves the cursor past what was written.
  static constexpr size_t reserve_bytes_max = direct_threshold - 1;
  uint8_t* reserve(size_t size) {
    STRATA_ASSERT(size <= reserve_bytes_max, "reserve beyond the slack");
    return cursor_;
  }
  void commit(uint8_t* end) {
    cursor_ = end;
    if (cursor_ >= full_) [[unlikely]]
      flush();
  }
  [[gnu::noinline]] void flush() {
    if (cursor_ == begin_) return;
    update(begin_, static_cast<size_t>(cursor_ - begin_));
    cursor_ = begin_;
  }

 private:
  void update(const void* data, size_t size) {
#if defined(__x86_64__)
    const XXH_errorcode result = XXH3_64bits_update_dispatch(state_, data, size);
#else
    const XXH_errorcode result = XXH3_64bits_update(state_, data, size);
#endif
    STRATA_ASSERT(result == XXH_OK, "XXH3 update failed");
  }

  XXH3_state_t* state_;
  uint8_t* begin_;
  uint8_t* cursor_;
  uint8_t* full_;
};

// XXH3-64 of what `walk` writes through a canonical::Writer (walk(writer)).
template <class Walk>
uint64_t hash_walk(Walk&& walk) {
  XXH3_state_t state{};
  XXH3_INITSTATE(&state);
  const XXH_errorcode reset = XXH3_64bits_reset(&state);
  STRATA_ASSERT(reset == XXH_OK, "XXH3 reset failed");
  // Not zeroed: only the bytes before the cursor are ever read.
  std::array<uint8_t, HashSink::buffer_bytes> buffer;
  HashSink sink(state, buffer);
  canonical::Writer<HashSink> writer(sink);
  walk(writer);
  sink.flush();
  return XXH3_64bits_digest(&state);
}

uint64_t hash_scope(const World& world, WalkScope scope) {
  return hash_walk([&](auto& writer) { walk_world(world, writer, scope); });
}

}  // namespace

uint64_t quick_hash(const World& world) { return hash_scope(world, WalkScope::quick); }
uint64_t full_hash(const World& world) { return hash_scope(world, WalkScope::full); }
uint64_t chunk_hash(const Chunk& chunk) {
  return hash_walk([&](auto& writer) { walk_detail::walk_chunk(writer, chunk); });
}

uint64_t map_hash_of(int32_t chunks_x, int32_t chunks_y, std::span<const uint64_t> chunk_hashes) {
  STRATA_REQUIRE(chunk_hashes.size() == static_cast<size_t>(chunks_x) * static_cast<size_t>(chunks_y),
                 "one hash per chunk", chunk_hashes.size(), chunks_x, chunks_y);
  return hash_walk([&](auto& writer) {
    writer.i32("chunks_x", chunks_x);
    writer.i32("chunks_y", chunks_y);
    for (const uint64_t h : chunk_hashes) writer.u64("chunk", h);
  });
}

uint64_t map_hash(const World& world) {
  std::vector<uint64_t> hashes;
  hashes.reserve(world.map.chunks().size());
  for (const Chunk& chunk : world.map.chunks()) hashes.push_back(chunk_hash(chunk));
  return map_hash_of(world.map.chunks_x(), world.map.chunks_y(), hashes);
}

uint64_t cell_layer_term(CellPos cell, Layer layer, CellValue value, LwwStamp stamp) {
  const uint64_t where = (static_cast<uint64_t>(static_cast<uint32_t>(cell.x)) << 32U) | static_cast<uint32_t>(cell.y);
  const uint64_t what = (static_cast<uint64_t>(to_underlying(layer)) << 32U) |
                        (static_cast<uint64_t>(raw(stamp.region)) << 16U) | (static_cast<uint64_t>(value.kind) << 8U) |
                        value.state;
  return mix64(mix64(mix64(where ^ 0x63656C6CULL) ^ what) ^ stamp.hlc);
}

uint64_t chunk_cell_sum(const TileMap& map, size_t chunk_index) {
  STRATA_REQUIRE(chunk_index < map.chunks().size(), chunk_index, map.chunks().size());
  const Chunk& chunk = map.chunks()[chunk_index];
  const auto chunks_x = static_cast<size_t>(map.chunks_x());
  const auto x0 = static_cast<int32_t>(chunk_index % chunks_x) * limits::chunk_size;
  const auto y0 = static_cast<int32_t>(chunk_index / chunks_x) * limits::chunk_size;
  uint64_t sum = 0;
  for (size_t i = 0; i < Chunk::cells; ++i) {
    const CellPos cell{x0 + static_cast<int32_t>(i % static_cast<size_t>(limits::chunk_size)),
                       y0 + static_cast<int32_t>(i / static_cast<size_t>(limits::chunk_size))};
    for (size_t l = 0; l < static_cast<size_t>(Layer::count); ++l) {
      const auto layer = static_cast<Layer>(l);
      CellValue value{};
      switch (layer) {
        case Layer::floor: value = {chunk.floor[i], 0}; break;
        case Layer::active: value = {chunk.active[i], chunk.active_state[i]}; break;
        case Layer::ceiling: value = {chunk.ceiling[i], 0}; break;
        case Layer::count: break;
      }
      sum += cell_layer_term(cell, layer, value, LwwStamp{chunk.stamp_hlc[l][i], RegionId{chunk.stamp_region[l][i]}});
    }
  }
  return sum;
}

uint64_t map_size_term(int32_t chunks_x, int32_t chunks_y) {
  return mix64((static_cast<uint64_t>(static_cast<uint32_t>(chunks_x)) << 32U) | static_cast<uint32_t>(chunks_y));
}

uint64_t map_cell_sum(const TileMap& map) {
  uint64_t sum = map_size_term(map.chunks_x(), map.chunks_y());
  for (size_t c = 0; c < map.chunks().size(); ++c) sum += chunk_cell_sum(map, c);
  return sum;
}

uint64_t walk_hash(std::span<const uint8_t> walk_bytes) {
#if defined(__x86_64__)
  return XXH3_64bits_dispatch(walk_bytes.data(), walk_bytes.size());
#else
  return XXH3_64bits(walk_bytes.data(), walk_bytes.size());
#endif
}

}  // namespace strata::sim
