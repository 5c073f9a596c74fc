// server/map_chunks.h: the sim's map as the map store keeps it (storage/stores.h MapRecord): one
// record per chunk that differs from what the store holds, each chunk's bytes being its canonical
// form (sim/canonical.h walk_chunk: four byte layers, then the stamps), and the map's hash.
//
// A map is saved as its changed chunks: the ones whose bytes differ from a baseline (what the store
// held at start, or the terrain the seed generates), versioned by the tick. A map is loaded by
// generating the terrain from the seed and laying the stored chunks over it, so a chunk that never
// changed need not be stored. Stored bytes are untrusted on the way back: a chunk of the wrong size,
// out of the map, or with a value no layer has, refuses the load (fuzzed: fuzz/map_chunks.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/map.h"
#include "sim/world.h"
#include "storage/stores.h"

namespace strata::server {

// A chunk's canonical bytes (sim::Chunk::canonical_bytes of them).
[[nodiscard]] std::string encode_chunk(const sim::Chunk& chunk);
// False when `bytes` are not exactly one chunk's canonical form (values are checked by load_map).
[[nodiscard]] bool decode_chunk(std::string_view bytes, sim::Chunk& chunk);
// (A chunk's hash is sim::chunk_hash: XXH3 of its canonical bytes.)

// The chunk hashes a map save compares against.
using ChunkHashes = std::vector<uint64_t>;
// The hashes of the terrain `params` generate (what a never-changed chunk holds).
[[nodiscard]] ChunkHashes generated_chunk_hashes(const sim::WorldParams& params);
// The generated hashes with the stored chunks' over them (the store's view of the map).
[[nodiscard]] ChunkHashes stored_chunk_hashes(const sim::WorldParams& params, const storage::MapRecord& stored);

// The record saving `world`'s map at `version` with its sim::map_hash: every chunk whose hash
// differs from `baseline` (which is then updated to the map's hashes). nullopt when nothing changed.
[[nodiscard]] std::optional<storage::MapRecord> map_save(storage::MapId id, const sim::World& world, uint64_t version,
                                                         ChunkHashes& baseline);

// A new world of `params` whose map is the generated terrain with `stored`'s chunks over it. The
// world's hash check: the rebuilt map's sim::map_hash must be stored.hash. nullopt and `error` when a chunk
// does not decode or lies outside the map, a value is invalid, an NPC of the new world stands in a
// blocking cell of the stored map, or the hash differs.
[[nodiscard]] std::optional<sim::World> world_with_stored_map(const sim::WorldParams& params,
                                                              const storage::MapRecord& stored, std::string& error);

}  // namespace strata::server
