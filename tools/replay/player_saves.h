// tools/replay/player_saves.h: what session logs say players took with them and brought back
// (strata-replay saves). A leave's state is not in the log (only the LeaveCommand is): it is the
// step's Effects::left_saves, so the logs are replayed from their start snapshots (every quick hash
// checked on the way). A join carries the save the server loaded (JoinCommand::save). Over logs
// given in the order they ran (a crash recovered into the same log is one log; a fresh server over
// the same stores is the next), every applied join of a player who left before must carry exactly
// the state of that player's last leave: anything else (another state, or a fresh start) is a
// mismatch. Joins the rules rejected (the player was in the world) are counted, not compared.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "replay/log_source.h"
#include "sim/entities.h"
#include "sim/types.h"

namespace strata::tools {

// A return that did not bring back the state of its leave.
struct ReturnMismatch {
  size_t log = 0;  // index of the join's log in the order given
  uint64_t tick = 0;
  sim::PlayerId player{};
  size_t left_log = 0;
  uint64_t left_tick = 0;
  sim::PlayerSave left;
  std::optional<sim::PlayerSave> brought;  // nullopt: joined fresh
};

// The state a player last left with.
struct LastLeave {
  size_t log = 0;
  uint64_t tick = 0;
  sim::PlayerSave save;
  bool in_world = false;  // joined again after it (and not left since)
  uint64_t returns = 0;   // joins of this player after a leave of its, in all the logs
};

// One applied join or leave, in log order (SavesReport::events, when asked for).
struct SaveEvent {
  size_t log = 0;
  uint64_t tick = 0;
  sim::PlayerId player{};
  bool leave = false;                   // else a join
  std::optional<sim::PlayerSave> save;  // a leave's state; a join's save (nullopt: fresh)
};

struct SavesReport {
  bool keep_events = false;  // set by the caller: fill `events`
  std::vector<SaveEvent> events;
  size_t logs = 0;
  uint64_t leaves = 0;
  uint64_t joins = 0;              // applied
  uint64_t joins_rejected = 0;     // refused by the rules (e.g. already in the world)
  uint64_t first_joins = 0;        // of players with no earlier leave in these logs
  uint64_t first_joins_saved = 0;  // of those, joins that carried a save (from before these logs)
  uint64_t returns_matched = 0;    // joins that brought exactly their last leave's state
  uint64_t saves_refused = 0;      // sim counters over the replayed ticks (sim/world.h)
  uint64_t saves_relocated = 0;
  std::vector<ReturnMismatch> mismatches;
  std::map<uint32_t, LastLeave> last;  // by player: the last leave, in any log
  // By player: the items it had after its first join in these logs (what its saves are compared
  // with to tell that players gathered and built).
  std::map<uint32_t, sim::Inventory> first_items;
  std::vector<uint32_t> in_world_at_end;  // players of the last log's world at its last tick
};

// Replays `log` (the `index`-th of the sequence) and adds its leaves and joins to `report`.
// Returns the replay's status (damaged log, hash mismatch...); the report then holds the ticks
// before the failure.
[[nodiscard]] replay::Status scan_player_saves(replay::LogSource& log, size_t index, SavesReport& report);

// Players whose last leave holds other items than their first join gave them.
[[nodiscard]] size_t players_with_changed_items(const SavesReport& report);

// "x=<raw> y=<raw> facing=<n> stamina=<n> health=<n> items=<n>,<n>,..." (Fixed raw values: exact).
[[nodiscard]] std::string describe(const sim::PlayerSave& save);

}  // namespace strata::tools
