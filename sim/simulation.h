// sim/simulation.h — the one front door to the simulation (0 A.D.'s Simulation2 in spirit):
//   world(T+1) = step(world(T), inputs(T))
// plus the state hashes. A Simulation owns its World and the derived indexes step needs (per-cell
// occupancy, per-chunk player buckets) and the reusable effects buffer; nothing derived is state.
// step() allocates nothing in steady state (buffers are reserved to their limits up front).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/command.h"
#include "sim/movement.h"
#include "sim/world.h"

namespace strata::sim {

// A cell layer written by a local command, to be replicated to other regions.
struct BlockWrite {
  CellPos cell;
  Layer layer = Layer::active;
  uint8_t kind = 0;
  uint8_t state = 0;
  LwwStamp stamp;
  constexpr auto operator<=>(const BlockWrite&) const = default;
};

// A cell layer that changed this tick, by any cause (local or remote write, random tick). Clients'
// map views are kept in sync from these.
struct CellChange {
  CellPos cell;
  Layer layer = Layer::active;
  constexpr auto operator<=>(const CellChange&) const = default;
};

// What a changed cell layer held just before the change (Effects::changed_before, one per
// changed_cells entry): with it a caller can take a tick back (the link's map at a peer's applied
// vector, server/map_history.h) without a second copy of the map.
struct CellBefore {
  CellValue value;
  LwwStamp stamp;
  constexpr bool operator==(const CellBefore&) const = default;
};

struct Rejection {
  uint32_t command_index = 0;  // index in TickInput::commands
  RejectReason reason = RejectReason::none;
};

// What one step did that the outside world needs to know. Not state: rebuilt by every step.
struct Effects {
  uint64_t tick = 0;
  std::vector<BlockWrite> block_writes;  // by commands, in command order
  // Cell layers the rules wrote in chunks this region owns (random ticks: grass spreading, crops
  // growing; NPCs write none yet), each stamped (the successor of the stamp it replaced, by this
  // region), in the order written: chunk index order, then draw order. Other regions apply them as
  // remote writes; what the owner publishes per tick.
  std::vector<BlockWrite> rule_writes;
  // NPCs this region ran this tick (those standing in its chunks when the tick's NPC phase began),
  // in id order: the presence the owner publishes. The others stood still here.
  std::vector<NpcId> npcs_run;
  std::vector<Rejection> rejections;
  std::vector<PlayerId> joined;
  std::vector<PlayerId> left;  // by command, or evicted with nowhere to go
  // The state of each player in `left`, same order: what the server saves (a leave at shutdown is
  // a LeaveCommand like any other).
  std::vector<std::pair<PlayerId, PlayerSave>> left_saves;
  std::vector<CellChange> changed_cells;   // every map change, in the order it happened
  std::vector<CellBefore> changed_before;  // changed_cells[i]'s layer before that change
  void clear();
};

// What a new world may start from besides its parameters: a region bootstrapped from another
// region's published map (server/map_snapshots.h) starts at that snapshot's tick with its map and
// with the applied-sequence vector that map holds, so its consumers start after those sequences and
// its log's start snapshot records all of it (the log replays without the bus). Part of the world's
// construction, not a command: nothing steps it, and the same seed makes the same world.
struct WorldSeed {
  uint64_t tick = 0;                 // the new world's tick (> 0: a log starting at tick 0 must regenerate)
  TileMap map;                       // the params' size; every cell valid (a decoded, validated world's)
  std::vector<BusMark> bus_applied;  // sorted by origin, unique, not the own region, sequences > 0
};
// nullptr when `seed` fits `params`, else what is wrong.
[[nodiscard]] const char* validate(const WorldParams& params, const WorldSeed& seed);

class Simulation {
 public:
  // A new world generated from the parameters (which the caller has validated).
  explicit Simulation(const WorldParams& params);
  // A new world generated from the parameters, then given the seed's tick, map and bus marks (both
  // validated by the caller: validate(params) and validate(params, seed)). The generated NPCs that
  // the seed's map blocks move to the nearest free cell, as a remote write would move them, or are
  // dropped when there is none.
  Simulation(const WorldParams& params, WorldSeed seed);
  // Adopts a decoded world. Returns nullopt (and the reason) when validate_world refuses it.
  [[nodiscard]] static std::optional<Simulation> from_world(World world, std::string* error = nullptr);

  // Advances one tick. input.tick must be world().tick + 1 (the caller's job to check).
  const Effects& step(const TickInput& input);

  [[nodiscard]] const World& world() const { return world_; }
  [[nodiscard]] uint64_t tick() const { return world_.tick; }
  [[nodiscard]] uint64_t quick_hash() const;
  [[nodiscard]] uint64_t full_hash() const;
  // Whether this region runs the rules (random ticks, NPCs) of the chunk holding `cell` (in the map).
  [[nodiscard]] bool owns(CellPos cell) const;

  // Derived-index check for tests: occupancy counts match the entities. Empty when consistent.
  [[nodiscard]] std::string check_derived() const;

 private:
  explicit Simulation(World world);
  void rebuild_derived();

  World world_;
  // Derived state. occupancy[cell] = number of entity boxes overlapping the cell.
  std::vector<uint16_t> occupancy_;
  // blocking_ answers map.blocks(cell) for movement; updated on every map write that step makes.
  BlockingBits blocking_;
  // Players bucketed by chunk (counting sort, rebuilt each tick before NPCs think).
  std::vector<uint32_t> bucket_start_;
  std::vector<uint32_t> bucket_players_;
  // The owner of each chunk (params.region_map resolved, chunk index order) and, per NPC of the
  // current step, whether this region runs it (set by the NPC phase, read by movement).
  std::vector<RegionId> chunk_owner_;
  std::vector<uint8_t> npc_runs_;
  Effects effects_;

  friend class StepContext;
};

// Checks the world's invariants (no entity box overlapping a blocking cell, inventory bounds, order
// of lists). Empty string when they hold.
[[nodiscard]] std::string check_invariants(const World& world);

}  // namespace strata::sim
