// tests/sim/test_world.h — small helpers to build worlds and run scenarios in tests.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/simulation.h"
#include "tools/scenario/scenario.h"

namespace strata::test {

// A small world (2x2 chunks) with the spawn area cleared, no NPCs, no random ticks unless asked.
sim::WorldParams small_params(uint64_t seed = 7, uint32_t random_ticks = 0, uint32_t npcs = 0);

// Steps one tick with the given commands; returns the effects.
const sim::Effects& step_with(sim::Simulation& sim, std::vector<sim::Command> commands);

// Runs `ticks` of a scenario from a fresh world; returns the quick hash after every tick and the
// full hash at the end.
struct HashStream {
  std::vector<uint64_t> quick;
  uint64_t final_full = 0;
  bool operator==(const HashStream&) const = default;
};
HashStream run_scenario(const sim::WorldParams& params, const scenario::ScenarioConfig& config, uint64_t ticks);

}  // namespace strata::test
