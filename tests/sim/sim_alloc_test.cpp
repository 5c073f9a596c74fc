// tests/sim/sim_alloc_test.cpp — step() allocates nothing in steady state: global operator new is
// replaced by a counting one, a busy scenario warms up, then many more ticks must allocate zero.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/sim/test_world.h"

namespace {
std::atomic<uint64_t> allocations{0};
}

// operator new is malloc and operator delete is free here, by design; GCC cannot see they pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace strata::sim {
namespace {

TEST(Allocation, StepAllocatesNothingInSteadyState) {
  Simulation sim(scenario::world_for(5, 4, 40));
  scenario::ScenarioConfig config;
  config.players = 300;
  config.join_ramp_ticks = 10;
  config.build_per_mille = 30;
  config.break_per_mille = 30;
  config.leave_per_mille = 2;
  config.remote_regions = 2;
  config.remote_writes_per_tick = 5;
  config.remote_presence_per_tick = 5;
  scenario::ScenarioGenerator generator(config);
  TickInput input;
  input.commands.reserve(4096);
  std::vector<TickInput> inputs(400);
  for (auto& in : inputs) in.commands.reserve(4096);
  // Pre-generate by running a twin, so the generator's own work is outside the measured window.
  {
    Simulation twin(scenario::world_for(5, 4, 40));
    for (auto& in : inputs) {
      generator.next(twin.world(), in);
      twin.step(in);
    }
  }
  for (size_t i = 0; i < 50; ++i) sim.step(inputs[i]);  // warm-up: joins, ghosts fill reserved space
  const uint64_t before = allocations.load();
  uint64_t hashes = 0;
  for (size_t i = 50; i < inputs.size(); ++i) {
    sim.step(inputs[i]);
    hashes ^= sim.quick_hash();
  }
  EXPECT_EQ(allocations.load() - before, 0U) << "step or quick_hash allocated in steady state";
  EXPECT_NE(hashes, 0U);
  EXPECT_GT(sim.world().players.size(), 100U);
}

}  // namespace
}  // namespace strata::sim
