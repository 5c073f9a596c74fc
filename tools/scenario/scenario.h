// tools/scenario/scenario.h — seeded, realistic command streams for tests, benchmarks, the
// determinism gate and later the bots: players join over a ramp, walk and run in changing
// directions, build, break and use doors and crops near themselves, leave and come back with the state
// they left with (a join carrying their save); optionally remote block writes and presence from other
// regions, each origin's tick closed by a world-batch mark, and a fraction of hostile commands with
// arbitrary field values. Pure and deterministic: same config + same world -> same inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sim/command.h"
#include "sim/rng.h"
#include "sim/world.h"

namespace strata::scenario {

struct ScenarioConfig {
  uint64_t seed = 1;
  uint32_t players = 100;           // distinct player ids 1..players
  uint32_t join_ramp_ticks = 100;   // players join spread over this many ticks
  uint32_t turn_per_mille = 50;     // chance per tick a player changes direction
  uint32_t run_per_mille = 300;     // chance a new direction is run rather than walk
  uint32_t build_per_mille = 10;    // chance per tick of a place command
  uint32_t break_per_mille = 8;     // ... of a break command
  uint32_t interact_per_mille = 5;  // ... of an interact command
  uint32_t leave_per_mille = 1;     // ... of leaving (comes back after a while)
  uint32_t remote_regions = 0;      // other regions sending block writes and presence
  uint32_t remote_writes_per_tick = 0;
  uint32_t remote_presence_per_tick = 0;
  uint32_t hostile_per_mille = 0;  // chance a generated command is replaced by a random one
};

// Parameters matching a benchmark-style world for `players` players.
[[nodiscard]] sim::WorldParams world_for(uint64_t seed, int32_t chunks_per_axis, uint32_t npcs);

class ScenarioGenerator {
 public:
  explicit ScenarioGenerator(const ScenarioConfig& config);

  // Fills `out` with the commands for tick world.tick + 1, ordered as the server would order them
  // (system commands, player commands by (player, seq), remote events).
  void next(const sim::World& world, sim::TickInput& out);

 private:
  struct Agent {
    bool joined = false;
    uint32_t rejoin_at = 0;
    uint32_t seq = 0;
    std::optional<sim::PlayerSave> save;  // the state it left with, carried by its next join
  };
  sim::Command hostile_command(const sim::World& world);
  void player_commands(const sim::World& world, const sim::Player& p, Agent& agent, std::vector<sim::Command>& out);
  sim::LwwStamp local_stamp(const sim::World& world);

  ScenarioConfig config_;
  sim::Rng rng_;
  std::vector<Agent> agents_;
  uint32_t hlc_counter_ = 0;
  uint64_t hlc_tick_ = 0;
};

}  // namespace strata::scenario
