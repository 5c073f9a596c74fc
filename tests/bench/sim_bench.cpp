// tests/bench/sim_bench.cpp — figures of the simulation core (issue 2):
//   sim/step/players:N         entity-steps per second (players + NPCs, each stepped once = one)
//   sim/step_hash/players:N    the same with the per-tick quick hash
//   sim/hash/full_vs_raw       full-hash throughput next to raw XXH3_64bits over as many bytes
//   sim/snapshot/encode|decode the canonical state codec, MB/s
// World: 1024x1024 cells (32x32 chunks), players spread over free cells, NPCs = 10% of players,
// every entity moving, 5% of players turning each tick, 3 random ticks per chunk.
#include <benchmark/benchmark.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <chrono>
#include <memory>

#include "sim/hash.h"
#include "sim/movement.h"
#include "sim/simulation.h"
#include "sim/state_codec.h"

namespace {

using namespace strata::sim;

constexpr int32_t bench_chunks = 32;

std::unique_ptr<Simulation> populated(uint32_t players) {
  WorldParams params;
  params.seed = 2024;
  params.chunks_x = bench_chunks;
  params.chunks_y = bench_chunks;
  params.npc_count = players / 10;
  World world = Simulation(params).world();
  Rng rng = Rng::seeded(99, 1);
  for (uint32_t i = 0; i < players; ++i) {
    Player p;
    p.id = PlayerId{i + 1};
    for (;;) {
      const CellPos cell{static_cast<int32_t>(rng.below(static_cast<uint32_t>(world.map.width()))),
                         static_cast<int32_t>(rng.below(static_cast<uint32_t>(world.map.height())))};
      if (world.map.blocks(cell)) continue;
      p.pos = cell_centre(cell);
      break;
    }
    p.stamina = limits::stamina_max;
    p.health = limits::health_max;
    p.heading = static_cast<Direction>(1 + rng.below(8));
    p.facing = p.heading;
    p.vel = velocity_for(p.heading, limits::walk_speed);
    world.players.push_back(p);
  }
  auto sim = Simulation::from_world(std::move(world));
  return std::make_unique<Simulation>(std::move(*sim));
}

// 5% of players turn each tick (a rotating window), as moves ordered by player id.
void turning_input(const Simulation& sim, uint32_t players, uint64_t round, TickInput& input) {
  input.tick = sim.tick() + 1;
  input.commands.clear();
  const uint32_t turning = players / 20;
  const uint32_t first = static_cast<uint32_t>((round * turning) % std::max(players, 1U));
  for (uint32_t k = 0; k < turning; ++k) {
    const uint32_t id = 1 + (first + k) % players;
    const auto direction = static_cast<Direction>(1 + (id + round) % 8);
    input.commands.emplace_back(MoveCommand{PlayerId{id}, static_cast<uint32_t>(round), direction, MoveMode::walk});
  }
}

void step_benchmark(benchmark::State& state, bool with_hash) {
  const auto players = static_cast<uint32_t>(state.range(0));
  auto sim = populated(players);
  TickInput input;
  input.commands.reserve(players);
  uint64_t round = 0;
  uint64_t entity_steps = 0;
  uint64_t sink = 0;
  // Building the input (5% of players turning) is timed too: it is cheaper than pausing the timer
  // around it, which costs clock reads that dominate a 60 us iteration in a VM.
  for (auto _ : state) {
    turning_input(*sim, players, round++, input);
    sim->step(input);
    if (with_hash) sink ^= sim->quick_hash();
    entity_steps += sim->world().players.size() + sim->world().npcs.size();
  }
  benchmark::DoNotOptimize(sink);
  state.counters["entity_steps_per_s"] =
      benchmark::Counter(static_cast<double>(entity_steps), benchmark::Counter::kIsRate);
  state.counters["entities"] = static_cast<double>(sim->world().players.size() + sim->world().npcs.size());
}

void BM_Step(benchmark::State& state) { step_benchmark(state, false); }
void BM_StepHash(benchmark::State& state) { step_benchmark(state, true); }
BENCHMARK(BM_Step)->Name("sim/step/players")->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StepHash)->Name("sim/step_hash/players")->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_FullHashVsRaw(benchmark::State& state) {
  auto sim = populated(10000);
  std::vector<uint8_t> bytes;
  encode_state(sim->world(), bytes);
  double full_seconds = 0;
  double raw_seconds = 0;
  uint64_t sink = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    sink ^= full_hash(sim->world());
    const auto t1 = std::chrono::steady_clock::now();
    sink ^= XXH3_64bits(bytes.data(), bytes.size());
    const auto t2 = std::chrono::steady_clock::now();
    full_seconds += std::chrono::duration<double>(t1 - t0).count();
    raw_seconds += std::chrono::duration<double>(t2 - t1).count();
  }
  benchmark::DoNotOptimize(sink);
  const double n = static_cast<double>(state.iterations()) * static_cast<double>(bytes.size());
  state.counters["state_MB"] = static_cast<double>(bytes.size()) / 1e6;
  state.counters["full_hash_GBps"] = n / full_seconds / 1e9;
  state.counters["raw_xxh3_GBps"] = n / raw_seconds / 1e9;
  state.counters["full_over_raw"] = raw_seconds / full_seconds;
}
BENCHMARK(BM_FullHashVsRaw)->Name("sim/hash/full_vs_raw")->Unit(benchmark::kMillisecond);

void BM_QuickHash(benchmark::State& state) {
  auto sim = populated(static_cast<uint32_t>(state.range(0)));
  uint64_t sink = 0;
  for (auto _ : state) sink ^= sim->quick_hash();
  benchmark::DoNotOptimize(sink);
}
BENCHMARK(BM_QuickHash)->Name("sim/hash/quick/players")->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_SnapshotEncode(benchmark::State& state) {
  auto sim = populated(10000);
  std::vector<uint8_t> bytes;
  for (auto _ : state) {
    encode_state(sim->world(), bytes);
    benchmark::DoNotOptimize(bytes.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_SnapshotEncode)->Name("sim/snapshot/encode")->Unit(benchmark::kMillisecond);

void BM_SnapshotDecode(benchmark::State& state) {
  auto sim = populated(10000);
  std::vector<uint8_t> bytes;
  encode_state(sim->world(), bytes);
  for (auto _ : state) {
    StateDecodeResult r = decode_state(bytes);
    if (!r.world) state.SkipWithError(r.error.c_str());
    benchmark::DoNotOptimize(r.world);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_SnapshotDecode)->Name("sim/snapshot/decode")->Unit(benchmark::kMillisecond);

}  // namespace
