// sim/motion.h — the player motion rule, shared by sim::step and the client SDK's prediction so
// both compute the same thing: whether a move command is accepted, and one tick of stamina, gait
// and movement (intent -> velocity -> collision). Pure functions over a small state.
#pragma once

#include <cstdint>

#include "sim/movement.h"
#include "sim/types.h"

namespace strata::sim {

// A player's intent and stamina: what the motion rule reads and writes.
struct MotionState {
  Direction heading = Direction::none;
  MoveMode mode = MoveMode::walk;
  uint16_t stamina = 0;
};

// The move rule (the enum values are valid; a second move in a tick is the caller's to refuse).
[[nodiscard]] constexpr RejectReason accept_move(MotionState& m, Direction direction, MoveMode mode) {
  const bool running = mode == MoveMode::run && direction != Direction::none;
  if (running && m.stamina < limits::stamina_run_min) return RejectReason::exhausted;
  m.heading = direction;
  m.mode = mode;
  return RejectReason::none;
}

// One tick: running spends stamina (out of breath drops to a walk), anything else regenerates;
// the intended velocity then moves the box. Returns the new position.
template <class Map>
[[nodiscard]] Vec2 advance(MotionState& m, const Map& map, Vec2 pos) {
  const bool wants_to_move = m.heading != Direction::none;
  if (wants_to_move && m.mode == MoveMode::run) {
    if (m.stamina < limits::stamina_run_cost) {
      m.mode = MoveMode::walk;
    } else {
      m.stamina = static_cast<uint16_t>(m.stamina - limits::stamina_run_cost);
    }
  } else if (m.stamina < limits::stamina_max) {
    m.stamina = static_cast<uint16_t>(m.stamina + limits::stamina_regen);
  }
  if (!wants_to_move) return pos;
  return move_box(map, pos, velocity_for(m.heading, m.mode == MoveMode::run ? limits::run_speed : limits::walk_speed));
}

}  // namespace strata::sim
