// sim/world.h — the whole state of one region's simulation. Everything here is walked by the one
// canonical walk (sim/walk.h), hence hashed, saved and compared; nothing else is state.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sim/entities.h"
#include "sim/map.h"
#include "sim/regions.h"
#include "sim/rng.h"
#include "sim/types.h"

namespace strata::sim {

// Bump when a rule changes what step computes: logs record it and a build refuses logs whose rules
// it does not implement.
// 2: velocity is the motion that happened (blocked axes are zero); intent is heading + mode.
// 3: players join at a spot spread around the centre (by seed and id), not all on one cell.
// 4: regions own chunks (params.region_map): random ticks and NPCs run only in the owner's chunks;
//    their draws are keyed by (seed, tick, chunk) and (seed, tick, NPC), not taken from one shared
//    stream (so what runs in one region never shifts another's draws); random-tick writes are stamped
//    (the successor of the stamp they replace, by the owner region) and listed in Effects::rule_writes.
// 5: remote world-batch ends (RemoteBatchCommand) are recorded per origin in World::bus_applied
//    (state), and remote NPC positions (RemoteNpcCommand) move the local copies of other regions' NPCs.
// 6: a join may carry the player's save (JoinCommand::save: position, facing, stamina, health,
//    inventory), checked by the rules (refused or moved, and counted); Counters count saves.
inline constexpr uint32_t rules_version = 6;

struct WorldParams {
  uint64_t seed = 1;
  int32_t chunks_x = 8;  // map width in chunks (8 -> 256 cells)
  int32_t chunks_y = 8;
  uint32_t random_ticks_per_chunk = 3;
  uint32_t npc_count = 0;  // NPCs created with the world
  RegionId region{1};      // this region's id (remote presence of the own region is refused)
  uint32_t rules = rules_version;
  RegionMap region_map;  // who runs each chunk's random ticks and NPCs (sim/regions.h says why it is here)
  bool operator==(const WorldParams&) const = default;
};

// Returns nullptr when the parameters are valid, else what is wrong (for config/log errors).
[[nodiscard]] const char* validate(const WorldParams& params);

struct Counters {
  uint64_t commands_applied = 0;
  std::array<uint64_t, reject_reason_count> rejected{};
  uint64_t remote_writes_applied = 0;
  uint64_t remote_writes_superseded = 0;  // arrived with an older (or equal) stamp: LWW kept ours
  uint64_t random_updates = 0;
  uint64_t evictions = 0;        // entities pushed out of a cell made solid remotely
  uint64_t saves_loaded = 0;     // joins whose save the player continues from
  uint64_t saves_refused = 0;    // joins whose save broke a limit: the player started fresh
  uint64_t saves_relocated = 0;  // loaded saves whose position was off the map or blocked: moved
};

// The highest stream sequence of one origin's world batches this world has applied.
struct BusMark {
  RegionId origin{};
  uint64_t seq = 0;
  constexpr bool operator==(const BusMark&) const = default;
};

struct World {
  WorldParams params;
  uint64_t tick = 0;
  // Draws of world generation (the initial NPCs). step draws nothing from it since rules 4: its
  // draws are keyed per chunk and per NPC (see rules_version); it stays state for generation.
  Rng rng;
  uint32_t next_npc_id = 1;
  Counters counters;
  std::vector<Player> players;  // sorted by id, unique
  std::vector<Npc> npcs;        // sorted by id, unique
  std::vector<Ghost> ghosts;    // sorted by (region, player), unique
  // Per origin region, the last world batch applied (RemoteBatchCommand), sorted by origin, unique;
  // at most limits::regions_max entries.
  std::vector<BusMark> bus_applied;
  TileMap map;
};

}  // namespace strata::sim
