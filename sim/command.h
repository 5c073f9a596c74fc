// sim/command.h — the inputs of a tick. Every change to the world is one of these commands, logged
// before it is applied. Commands are intents: a move carries a direction and a gait, never a
// position or a speed, so a client cannot claim either. Field values are untrusted: the rules
// validate every one and reject with a reason.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "sim/entities.h"
#include "sim/fixed.h"
#include "sim/types.h"

namespace strata::sim {

// A player arrives: fresh (spawn, starting inventory) without a save, else with what it had when it
// left (the server loads it off the tick thread). The rules check the save: stamina, health or a
// count beyond its limit, or a bad facing, refuse it (the player starts fresh; Counters::
// saves_refused); a position off the map or over a solid cell moves to the nearest free cell
// (saves_relocated).
struct JoinCommand {
  PlayerId player{};
  std::optional<PlayerSave> save{};
};
struct LeaveCommand {
  PlayerId player{};
};
struct MoveCommand {
  PlayerId player{};
  uint32_t seq = 0;
  Direction direction = Direction::none;
  MoveMode mode = MoveMode::walk;
};
// Place a block (active layer) or a roof (ceiling layer) of `kind` at `cell`. `stamp` is the LWW
// stamp the server's HLC gave this write when it scheduled the command.
struct PlaceCommand {
  PlayerId player{};
  uint32_t seq = 0;
  CellPos cell;
  Layer layer = Layer::active;
  uint8_t kind = 0;
  LwwStamp stamp;
};
struct BreakCommand {
  PlayerId player{};
  uint32_t seq = 0;
  CellPos cell;
  Layer layer = Layer::active;
  LwwStamp stamp;
};
// Open/close a door, harvest a ripe crop.
struct InteractCommand {
  PlayerId player{};
  uint32_t seq = 0;
  CellPos cell;
  LwwStamp stamp;
};
// A cell layer written in another region (from the event bus). Applied when its stamp wins (LWW).
struct RemoteBlockWriteCommand {
  CellPos cell;
  Layer layer = Layer::active;
  uint8_t kind = 0;
  uint8_t state = 0;
  LwwStamp stamp;  // stamp.region is the origin region
};
// Sampled position of a player of another region.
struct RemotePresenceCommand {
  RegionId origin{};
  PlayerId player{};
  Vec2 pos;
  Direction facing = Direction::s;
};

// The end of `origin`'s world batch stored at stream sequence `stream_seq` (its remote writes came
// before it, in this TickInput or earlier ones): the world records it as the highest sequence
// applied for that origin (World::bus_applied), from which the region's consumer of that origin
// resumes after a restart, and which its health reports. Refused (stale_batch) unless above the
// recorded one, and (own_region) for the own region.
struct RemoteBatchCommand {
  RegionId origin{};
  uint64_t stream_seq = 0;
};
// Where the region running an NPC (the owner of the chunk it stands in) says it is: the local copy
// of that NPC is moved there. Refused (unknown_npc) for an NPC this world does not have, and
// (own_region) when the NPC stands in a chunk this region runs (its own rules move it).
struct RemoteNpcCommand {
  RegionId origin{};
  NpcId npc{};
  Vec2 pos;
  Direction facing = Direction::s;
};

using Command = std::variant<JoinCommand, LeaveCommand, MoveCommand, PlaceCommand, BreakCommand, InteractCommand,
                             RemoteBlockWriteCommand, RemotePresenceCommand, RemoteBatchCommand, RemoteNpcCommand>;
inline constexpr size_t command_kind_count = std::variant_size_v<Command>;

// All the inputs of one tick, in the order the server fixed (DESIGN.md: system commands, then
// player commands by (player id, client sequence), then remote events by (origin, stream sequence)).
struct TickInput {
  uint64_t tick = 0;
  std::vector<Command> commands;
};

}  // namespace strata::sim
