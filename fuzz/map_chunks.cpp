// fuzz/map_chunks.cpp: map chunks read back from a store (server/map_chunks.h) take any bytes: a
// chunk of the wrong size, out of the map or with a value no layer has must be refused with a
// reason, never crash or assert; a map that loads re-encodes to the stored bytes and hashes to the
// record's hash. Input: byte 0 picks the chunk (cx, cy) of a 2x2-chunk map (bits 0-1; 2 and 3 are
// outside), byte 1 says whether the rest is the chunk's bytes as they are (odd) or is laid over a
// generated chunk's bytes at the offset bytes 2-3 give (even: reaches every layer with short inputs).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "server/map_chunks.h"
#include "sim/assert.h"
#include "sim/hash.h"
#include "sim/simulation.h"

namespace {

const strata::sim::World& base_world() {
  static const strata::sim::World world = [] {
    strata::sim::WorldParams params;
    params.seed = 3;
    params.chunks_x = 2;
    params.chunks_y = 2;
    params.npc_count = 0;
    return strata::sim::Simulation(params).world();
  }();
  return world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  if (size < 4) return 0;
  const sim::World& world = base_world();
  storage::MapRecord record;
  record.map = storage::MapId{1};
  record.version = 1;
  storage::ChunkRecord chunk;
  chunk.cx = data[0] & 3;
  chunk.cy = (data[0] >> 2) & 3;
  chunk.version = 1;
  const size_t index = static_cast<size_t>(chunk.cy & 1) * 2 + static_cast<size_t>(chunk.cx & 1);
  if ((data[1] & 1) != 0) {
    chunk.bytes.assign(reinterpret_cast<const char*>(data) + 4, size - 4);
  } else {
    chunk.bytes = server::encode_chunk(world.map.chunks()[index]);
    const size_t offset = ((size_t{data[2]} << 8) | data[3]) * 16 % chunk.bytes.size();
    const size_t n = std::min(size - 4, chunk.bytes.size() - offset);
    std::memcpy(chunk.bytes.data() + offset, data + 4, n);
  }
  // The hash a save of the map with this chunk would carry (so the loader's hash check passes
  // whenever the chunk decodes).
  sim::World with_chunk = world;
  const bool decodes =
      chunk.cx < 2 && chunk.cy < 2 && server::decode_chunk(chunk.bytes, with_chunk.map.chunks()[index]);
  record.hash = sim::map_hash(with_chunk);
  record.chunks.push_back(chunk);
  std::string error;
  const std::optional<sim::World> loaded = server::world_with_stored_map(world.params, record, error);
  if (!loaded) {
    STRATA_ASSERT(!error.empty());
    return 0;
  }
  STRATA_ASSERT(decodes);
  STRATA_ASSERT(server::encode_chunk(loaded->map.chunks()[index]) == chunk.bytes);
  STRATA_ASSERT(sim::map_hash(*loaded) == record.hash);
  return 0;
}
