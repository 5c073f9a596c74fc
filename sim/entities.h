// sim/entities.h — players, NPCs and ghosts. Each list in the world is kept sorted by id (ghosts by
// (region, player)), which is the one iteration order of the simulation.
#pragma once

#include <cstdint>

#include "sim/fixed.h"
#include "sim/types.h"

namespace strata::sim {

struct Player {
  PlayerId id{};
  Vec2 pos;
  Vec2 vel;  // the motion of the last tick (zero on a blocked axis): what observers dead-reckon
  Direction facing = Direction::s;
  Direction heading = Direction::none;  // intent: the direction of the last accepted move, kept
  MoveMode mode = MoveMode::walk;
  uint16_t stamina = 0;
  uint16_t health = 0;
  uint32_t last_seq = 0;  // client sequence of the last command applied for this player
  uint64_t joined_tick = 0;
  Inventory inventory{};
  // Transient, reset at the start of every step; not state (not walked, hashed or saved).
  uint8_t commands_this_tick = 0;
  bool moved_this_tick = false;
};

// What a player keeps between sessions (issue 16): the server saves it when the player leaves
// (Effects::left_saves) and carries it back inside the join (JoinCommand::save), so the log holds it
// and a replay needs no store. Not saved: the id (the key), last_seq and joined_tick (per session),
// and vel, heading and mode (the motion and intent of a session that ended: a returning player
// stands still, walking).
struct PlayerSave {
  Vec2 pos;
  Direction facing = Direction::s;
  uint16_t stamina = 0;
  uint16_t health = 0;
  Inventory inventory{};
  constexpr bool operator==(const PlayerSave&) const = default;
};

[[nodiscard]] constexpr PlayerSave save_of(const Player& p) {
  return PlayerSave{p.pos, p.facing, p.stamina, p.health, p.inventory};
}

struct Npc {
  NpcId id{};
  Vec2 pos;
  Vec2 vel;  // the motion of the last tick, as for players
  Direction facing = Direction::s;
  Direction heading = Direction::none;  // wander direction, re-drawn when timer runs out
  NpcBehavior behavior = NpcBehavior::wander;
  PlayerId target{};   // followed player, 0 when none
  uint16_t timer = 0;  // ticks until the next wander decision
};

// A player of another region, known from its remote presence events. Visual only: no collision.
struct Ghost {
  RegionId region{};
  PlayerId player{};
  Vec2 pos;
  Direction facing = Direction::s;
  uint64_t last_update_tick = 0;
};

}  // namespace strata::sim
