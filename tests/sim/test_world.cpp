// tests/sim/test_world.cpp — see test_world.h.
#include "tests/sim/test_world.h"

namespace strata::test {

sim::WorldParams small_params(uint64_t seed, uint32_t random_ticks, uint32_t npcs) {
  sim::WorldParams params;
  params.seed = seed;
  params.chunks_x = 2;
  params.chunks_y = 2;
  params.random_ticks_per_chunk = random_ticks;
  params.npc_count = npcs;
  return params;
}

const sim::Effects& step_with(sim::Simulation& sim, std::vector<sim::Command> commands) {
  static sim::TickInput input;  // tests only: reused so callers can hold the effects reference
  input.tick = sim.tick() + 1;
  input.commands = std::move(commands);
  return sim.step(input);
}

HashStream run_scenario(const sim::WorldParams& params, const scenario::ScenarioConfig& config, uint64_t ticks) {
  sim::Simulation sim(params);
  scenario::ScenarioGenerator generator(config);
  sim::TickInput input;
  HashStream stream;
  for (uint64_t t = 0; t < ticks; ++t) {
    generator.next(sim.world(), input);
    sim.step(input);
    stream.quick.push_back(sim.quick_hash());
  }
  stream.final_full = sim.full_hash();
  return stream;
}

}  // namespace strata::test
