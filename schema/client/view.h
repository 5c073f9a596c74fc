// schema/client/view.h — what one client sees of the world (its area of interest), the delta that
// turns the view it acknowledged into the current one, and the AOI checksum both sides compute.
// Shared by the server (which builds deltas) and the client SDK (which applies them), so the two
// cannot disagree on the rules below.
//
// Delta rules (all integer, deterministic):
//  - Entities are keyed by (kind, region, id) and kept sorted by key.
//  - An entity present in the baseline is dead-reckoned: expected = base.pos + base.vel * (tick -
//    baseline_tick), or with a turn (see EntityDelta). Its delta carries (actual - expected) and the
//    new values of the fields that changed, and is omitted when nothing changed — an entity moving
//    in a straight line costs nothing.
//  - An entity new to the view is sent whole (fresh); one that left the view is listed as removed.
//  - Chunks newly in view are sent whole; chunks that left are dropped; cells that changed in
//    chunks in view at both ends are sent with their current value.
//  - The checksum covers the entities and the content of every chunk in view.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/limits.h"

namespace strata::view {

enum class EntityKind : uint8_t { player, npc, ghost, count };

struct EntityKey {
  EntityKind kind = EntityKind::player;
  uint16_t region = 0;  // origin region for ghosts, 0 otherwise
  uint32_t id = 0;
  constexpr auto operator<=>(const EntityKey&) const = default;
};

struct EntityState {
  EntityKey key;
  int32_t x = 0;
  int32_t y = 0;
  int32_t vx = 0;
  int32_t vy = 0;
  uint8_t facing = 0;
  uint16_t health = 0;
  constexpr bool operator==(const EntityState&) const = default;
};

using ChunkCoord = std::pair<int32_t, int32_t>;  // (chunk x, chunk y), ordered

struct ChunkContent {
  static constexpr size_t cells = sim::limits::chunk_cells;
  std::array<uint8_t, cells> floor{};
  std::array<uint8_t, cells> active{};
  std::array<uint8_t, cells> active_state{};
  std::array<uint8_t, cells> ceiling{};
  bool operator==(const ChunkContent&) const = default;
};

// A chunk as a client holds it: immutable and shared by every view (tick) that has the same
// content, with its checksum computed once. A snapshot that changes cells of a chunk makes a new
// one; views of other ticks keep theirs (copy on write), so applying a snapshot copies and hashes
// only the chunks it touches.
struct ViewChunk {
  ChunkContent content;
  uint64_t checksum = 0;  // chunk_checksum(content)
};

// A chunk in view: its coordinate and its shared, never null, content.
struct ViewChunkRef {
  ChunkCoord coord;
  std::shared_ptr<const ViewChunk> chunk;
};

// The client's reconstruction of its view at one tick. Flat sorted vectors, not node containers:
// a client applies 20 snapshots a second, and a view reused for the next tick (apply_snapshot_into)
// keeps their capacity, so applying a delta in steady state allocates nothing but the chunks whose
// cells changed.
struct ClientView {
  uint64_t tick = 0;
  std::vector<EntityState> entities;  // sorted by key
  std::vector<ViewChunkRef> chunks;   // sorted by coord, unique

  // The chunk at `coord`, or nullptr when it is not in view (binary search).
  [[nodiscard]] const ViewChunk* chunk(ChunkCoord coord) const;
};

// How an entity in the baseline changed (the record that turns it into its state at `tick`).
// Dead reckoning with a turn: the entity kept its baseline velocity until `turn` ticks before
// `tick`, then moved with the new one, so
//   expected = base.pos + base.vel * (elapsed - turn) + vel * turn,   elapsed = tick - baseline_tick
// (vel = the new velocity when has_velocity, else base.vel; turn is 0 unless has_velocity, and at
// most elapsed). A walker that turned once since the baseline costs its new velocity and the turn
// tick, with no position correction. Fields not flagged keep their baseline values.
struct EntityDelta {
  EntityKey key;
  bool fresh = false;         // new in view: x, y, vx, vy, facing, health are the whole state
  bool has_velocity = false;  // not fresh: vx, vy are the new velocity
  bool has_facing = false;    // not fresh: facing is the new facing
  bool has_health = false;    // not fresh: health is the new health
  uint32_t turn = 0;          // not fresh: ticks before `tick` the velocity changed (see above)
  int32_t x = 0;              // fresh: position; else actual - expected
  int32_t y = 0;
  int32_t vx = 0;
  int32_t vy = 0;
  uint8_t facing = 0;
  uint16_t health = 0;
  constexpr bool operator==(const EntityDelta&) const = default;
};

struct CellUpdate {
  int32_t x = 0;
  int32_t y = 0;
  uint8_t layer = 0;  // sim::Layer
  uint8_t kind = 0;
  uint8_t state = 0;
  constexpr auto operator<=>(const CellUpdate&) const = default;
};

struct FreshChunk {
  ChunkCoord coord;
  ChunkContent content;
};

// One snapshot message for one client.
struct ClientSnapshot {
  uint64_t tick = 0;
  uint64_t baseline_tick = 0;  // 0: a full snapshot (no baseline)
  uint64_t aoi_checksum = 0;
  uint64_t world_quick_hash = 0;
  uint32_t last_input_seq = 0;  // the last input of this client the server processed
  uint32_t viewer = 0;          // the client's player id
  // The viewer's own intent and stamina at `tick` (not visible to others): the base of prediction.
  uint8_t viewer_heading = 0;  // sim::Direction
  uint8_t viewer_mode = 0;     // sim::MoveMode
  uint16_t viewer_stamina = 0;
  std::vector<EntityDelta> entities;  // sorted by key
  std::vector<EntityKey> removed;     // sorted
  std::vector<FreshChunk> chunks;     // sorted by coord
  std::vector<ChunkCoord> dropped_chunks;
  std::vector<CellUpdate> cells;  // sorted, unique by (x, y, layer)
};

// Limits of one snapshot (the decoder refuses more before allocating).
inline constexpr size_t snapshot_entities_max = 8192;
inline constexpr size_t snapshot_chunks_max = 81;  // 9x9 chunks: an AOI radius up to 4 chunks
inline constexpr size_t snapshot_cells_max = 65536;
// The most ticks a delta may span (tick - baseline tick): the server sends a full snapshot instead.
// Bounds dead reckoning (velocity * ticks) far from overflow, and fits the wire's 16 bits.
inline constexpr uint64_t delta_ticks_max = 65535;

[[nodiscard]] uint64_t chunk_checksum(const ChunkContent& content);
// The AOI checksum from entities and (coord, chunk checksum) pairs in coord order.
[[nodiscard]] uint64_t view_checksum(const std::vector<EntityState>& entities,
                                     const std::vector<std::pair<ChunkCoord, uint64_t>>& chunk_checksums);
[[nodiscard]] uint64_t view_checksum(const ClientView& view);

// The entity part of a delta (server side).
void diff_entities(const std::vector<EntityState>* baseline, uint64_t baseline_tick,
                   const std::vector<EntityState>& now, uint64_t tick, ClientSnapshot& out);

// Applies a snapshot to the baseline it names (nullptr for a full one). Returns the new view, or an
// error when the snapshot does not fit the baseline (unknown entity, cell outside the view...).
struct ApplyResult {
  std::optional<ClientView> view;
  std::string error;
};
[[nodiscard]] ApplyResult apply_snapshot(const ClientView* baseline, const ClientSnapshot& snapshot);
// The same into `out` (which must not be the baseline), reusing its storage; returns the error, or
// empty. On error `out` holds a partial view: do not use it.
[[nodiscard]] std::string apply_snapshot_into(const ClientView* baseline, const ClientSnapshot& snapshot,
                                              ClientView& out);

}  // namespace strata::view
