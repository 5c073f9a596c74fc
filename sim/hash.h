// sim/hash.h — checksums of the state: XXH3-64 of the canonical bytes of the walk.
// quick_hash covers players, NPCs, ghosts, bus marks, RNG and counters (every tick); full_hash everything.
#pragma once

#include <cstdint>
#include <span>

#include "sim/world.h"

namespace strata::sim {

[[nodiscard]] uint64_t quick_hash(const World& world);
[[nodiscard]] uint64_t full_hash(const World& world);
// The map alone (its size, and every chunk's layers and LWW stamps): what regions that applied the
// same events agree on whatever the order (players, NPCs, ghosts and counters are each region's own).
// It is a hash of the chunks' hashes, in chunk index order, so a caller that keeps chunk_hash()
// of each chunk recomputes only the chunks a tick changed (Effects::changed_cells lists every map
// write, stamps included) and gets the same value from map_hash_of().
[[nodiscard]] uint64_t map_hash(const World& world);
[[nodiscard]] uint64_t chunk_hash(const Chunk& chunk);
[[nodiscard]] uint64_t map_hash_of(int32_t chunks_x, int32_t chunks_y, std::span<const uint64_t> chunk_hashes);
// The map as a sum (mod 2^64) of one hash per cell layer (its position, layer, value and LWW
// stamp), plus the map's size: what map_hash covers, in a form that follows a change in O(1)
// (take the layer's old term out, put the new one in) and that a region takes back to a peer's
// applied vector by touching only the cells that differ (server/map_history.h). The region
// health points carry it; snapshots and desync bundles keep map_hash. Not for adversaries: terms
// are 64-bit mixes, so an accidental difference survives with probability about 2^-64.
[[nodiscard]] uint64_t cell_layer_term(CellPos cell, Layer layer, CellValue value, LwwStamp stamp);
[[nodiscard]] uint64_t chunk_cell_sum(const TileMap& map, size_t chunk_index);  // its cells' terms
[[nodiscard]] uint64_t map_size_term(int32_t chunks_x, int32_t chunks_y);
// map_size_term + every chunk_cell_sum.
[[nodiscard]] uint64_t map_cell_sum(const TileMap& map);
// XXH3-64 of canonical walk bytes as they are (sim/canonical.h): full_hash(w) is walk_hash of the
// bytes of w's full walk. For state bytes that are only to be compared with a known world.
[[nodiscard]] uint64_t walk_hash(std::span<const uint8_t> walk_bytes);

}  // namespace strata::sim
