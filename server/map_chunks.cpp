// server/map_chunks.cpp: see map_chunks.h.
#include "server/map_chunks.h"

#include <cstring>

#include "sim/canonical.h"
#include "sim/hash.h"
#include "sim/simulation.h"
#include "sim/state_codec.h"
#include "sim/walk.h"

namespace strata::server {
namespace {

struct StringSink {
  std::string& out;
  void put(const void* data, size_t size) { out.append(static_cast<const char*>(data), size); }
};

[[nodiscard]] uint64_t hash_bytes(const void* data, size_t size) {
  return sim::walk_hash(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
}

// The chunk (cx, cy) of a map of `params`, or nullopt when it lies outside.
[[nodiscard]] std::optional<size_t> chunk_index(const sim::WorldParams& params, int32_t cx, int32_t cy) {
  if (cx < 0 || cy < 0 || cx >= params.chunks_x || cy >= params.chunks_y) return std::nullopt;
  return static_cast<size_t>(cy) * static_cast<size_t>(params.chunks_x) + static_cast<size_t>(cx);
}

}  // namespace

std::string encode_chunk(const sim::Chunk& chunk) {
  std::string out;
  out.reserve(sim::Chunk::canonical_bytes);
  StringSink sink{out};
  sim::canonical::Writer<StringSink> writer(sink);
  sim::walk_detail::walk_chunk(writer, chunk);
  STRATA_ASSERT(out.size() == sim::Chunk::canonical_bytes, out.size());
  return out;
}

bool decode_chunk(std::string_view bytes, sim::Chunk& chunk) {
  if (bytes.size() != sim::Chunk::canonical_bytes) return false;
  sim::canonical::Reader reader(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  sim::walk_detail::walk_chunk(reader, chunk);
  return reader.ok() && reader.offset() == bytes.size();
}

ChunkHashes generated_chunk_hashes(const sim::WorldParams& params) {
  sim::TileMap map(params.chunks_x, params.chunks_y);
  sim::generate_terrain(map, params.seed);
  ChunkHashes out;
  out.reserve(map.chunks().size());
  for (const sim::Chunk& chunk : map.chunks()) out.push_back(sim::chunk_hash(chunk));
  return out;
}

ChunkHashes stored_chunk_hashes(const sim::WorldParams& params, const storage::MapRecord& stored) {
  ChunkHashes out = generated_chunk_hashes(params);
  for (const storage::ChunkRecord& chunk : stored.chunks) {
    const std::optional<size_t> index = chunk_index(params, chunk.cx, chunk.cy);
    if (!index) continue;  // not this map's: the save compares against the generated terrain there
    out[*index] = hash_bytes(chunk.bytes.data(), chunk.bytes.size());
  }
  return out;
}

std::optional<storage::MapRecord> map_save(storage::MapId id, const sim::World& world, uint64_t version,
                                           ChunkHashes& baseline) {
  const sim::TileMap& map = world.map;
  STRATA_REQUIRE(baseline.size() == map.chunks().size(), baseline.size(), map.chunks().size());
  storage::MapRecord record;
  record.map = id;
  record.version = version;
  for (size_t i = 0; i < map.chunks().size(); ++i) {
    std::string bytes = encode_chunk(map.chunks()[i]);
    const uint64_t hash = hash_bytes(bytes.data(), bytes.size());
    if (hash == baseline[i]) continue;
    baseline[i] = hash;
    record.chunks.push_back({static_cast<int32_t>(i % static_cast<size_t>(map.chunks_x())),
                             static_cast<int32_t>(i / static_cast<size_t>(map.chunks_x())), version, std::move(bytes)});
  }
  if (record.chunks.empty()) return std::nullopt;
  record.hash = sim::map_hash(world);
  return record;
}

std::optional<sim::World> world_with_stored_map(const sim::WorldParams& params, const storage::MapRecord& stored,
                                                std::string& error) {
  if (const char* problem = sim::validate(params)) {
    error = std::string("world parameters: ") + problem;
    return std::nullopt;
  }
  sim::World world = sim::Simulation(params).world();
  for (const storage::ChunkRecord& chunk : stored.chunks) {
    const std::optional<size_t> index = chunk_index(params, chunk.cx, chunk.cy);
    if (!index) {
      error = "stored chunk (" + std::to_string(chunk.cx) + ", " + std::to_string(chunk.cy) +
              ") lies outside a map of " + std::to_string(params.chunks_x) + "x" + std::to_string(params.chunks_y) +
              " chunks";
      return std::nullopt;
    }
    if (!decode_chunk(chunk.bytes, world.map.chunks()[*index])) {
      error = "stored chunk (" + std::to_string(chunk.cx) + ", " + std::to_string(chunk.cy) + ") is " +
              std::to_string(chunk.bytes.size()) + " bytes, not a chunk's " +
              std::to_string(sim::Chunk::canonical_bytes);
      return std::nullopt;
    }
  }
  if (std::string problem = sim::validate_world(world); !problem.empty()) {
    error = "the stored map does not make a valid world: " + problem;
    return std::nullopt;
  }
  if (const uint64_t hash = sim::map_hash(world); hash != stored.hash) {
    error = "the stored map's chunks hash to " + std::to_string(hash) + ", its record says " +
            std::to_string(stored.hash) + " (a save is missing chunks)";
    return std::nullopt;
  }
  return world;
}

}  // namespace strata::server
