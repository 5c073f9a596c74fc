// tests/bench/health_bench.cpp — what judging peers' health points during play costs the tick
// thread (server/map_history.h, issue 15 item 5):
//   health/record/writes:W          MapHistory::record per tick (every tick: the changes and writes kept)
//                                   (and the map's cell sum followed: the health points' hash)
//   health/hash_at/writes:W/lag:K   one peer point judged at a vector K ticks behind ours (the cells
//                                   written since set back in the cell sum)
//   health/full_sum                 the whole map's cell sum (once, at the first tick recorded)
//   health/refresh/writes:W         for scale, what the link did before at each health point: the
//                                   chunk hashes brought up to date 40 ticks (2 s) after the last
// World: 1024 x 1024 cells (32 x 32 chunks), 3 random ticks per chunk (this region owns them all),
// and each tick one remote world batch of W writes spread over the whole map (the worst case for
// chunks hashed again: a build site would touch a few).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "server/map_history.h"
#include "sim/hash.h"
#include "sim/simulation.h"

namespace {

using namespace strata;
using Clock = std::chrono::steady_clock;

constexpr int32_t bench_chunks = 32;
constexpr uint64_t window_ticks = 200;  // the link's default: 4 x 2 s + 2 s at 20 Hz

struct Region {
  explicit Region(size_t writes_per_tick) : writes(writes_per_tick), sim(params()), history(history_config()) {
    hashes.resize(sim.world().map.chunks().size());
    refresh();
  }
  static sim::WorldParams params() {
    sim::WorldParams p;
    p.seed = 2024;
    p.chunks_x = bench_chunks;
    p.chunks_y = bench_chunks;
    p.random_ticks_per_chunk = 3;
    return p;
  }
  static server::MapHistoryConfig history_config() {
    server::MapHistoryConfig c;
    c.window_ticks = window_ticks;
    return c;
  }
  // One tick: a remote batch of `writes` writes, then the step; returns the seconds record() took.
  double tick() {
    input.tick = sim.tick() + 1;
    input.commands.clear();
    const int32_t side = sim.world().map.width();
    for (size_t i = 0; i < writes; ++i) {
      rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
      const auto x = static_cast<int32_t>((rng >> 33) % static_cast<uint64_t>(side));
      const auto y = static_cast<int32_t>((rng >> 13) % static_cast<uint64_t>(side));
      // Roofs: they never block, so no entity moves and every write is taken.
      const auto kind = static_cast<uint8_t>((rng >> 60) % 2 == 0 ? sim::Ceiling::none : sim::Ceiling::stone_roof);
      input.commands.push_back(
          sim::RemoteBlockWriteCommand{{x, y}, sim::Layer::ceiling, kind, 0, sim::LwwStamp{++hlc, sim::RegionId{2}}});
    }
    input.commands.push_back(sim::RemoteBatchCommand{sim::RegionId{2}, ++seq});
    const sim::Effects& effects = sim.step(input);
    for (const sim::CellChange& c : effects.changed_cells) dirty.push_back(sim.world().map.chunk_index(c.cell));
    const auto start = Clock::now();
    history.record(sim.world(), input, effects);
    return std::chrono::duration<double>(Clock::now() - start).count();
  }
  void refresh() {
    const auto& chunks = sim.world().map.chunks();
    if (dirty.empty()) {
      for (size_t i = 0; i < chunks.size(); ++i) hashes[i] = sim::chunk_hash(chunks[i]);
    }
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    for (const size_t i : dirty) hashes[i] = sim::chunk_hash(chunks[i]);
    dirty.clear();
  }

  size_t writes;
  sim::Simulation sim;
  server::MapHistory history;
  sim::TickInput input;
  std::vector<uint64_t> hashes;
  std::vector<size_t> dirty;
  uint64_t hlc = uint64_t{1} << 32;
  uint64_t seq = 0;
  uint64_t rng = 7;
};

void record(benchmark::State& state) {
  Region region(static_cast<size_t>(state.range(0)));
  for (uint64_t t = 0; t < window_ticks; ++t) (void)region.tick();  // a full window
  for (auto _ : state) state.SetIterationTime(region.tick());
  state.counters["entries"] = static_cast<double>(region.history.counters().entries);
}

void hash_at(benchmark::State& state) {
  Region region(static_cast<size_t>(state.range(0)));
  const auto lag = static_cast<uint64_t>(state.range(1));
  for (uint64_t t = 0; t < window_ticks; ++t) (void)region.tick();
  region.refresh();
  server::VectorAt vector;
  vector.remote.push_back({sim::RegionId{2}, region.seq - lag});
  vector.own_through_tick = region.sim.tick() - lag;
  server::HashAt result;
  for (auto _ : state) {
    result = region.history.hash_at(region.sim.world(), vector);
    benchmark::DoNotOptimize(result.map_hash);
  }
  if (result.verdict != server::HashAtVerdict::hashed) state.SkipWithError("not hashed");
  state.counters["cells_reverted"] = static_cast<double>(result.cells_reverted);
}

void full_sum(benchmark::State& state) {
  Region region(0);
  for (auto _ : state) benchmark::DoNotOptimize(sim::map_cell_sum(region.sim.world().map));
}

void refresh(benchmark::State& state) {
  Region region(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    for (int t = 0; t < 40; ++t) (void)region.tick();
    state.ResumeTiming();
    region.refresh();
  }
}

BENCHMARK(record)->Name("health/record")->ArgName("writes")->Arg(0)->Arg(100)->Arg(1000)->UseManualTime();
BENCHMARK(hash_at)
    ->Name("health/hash_at")
    ->ArgNames({"writes", "lag"})
    ->Args({0, 10})
    ->Args({100, 10})
    ->Args({100, 40})
    ->Args({1000, 10})
    ->Args({1000, 40})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(full_sum)->Name("health/full_sum")->Unit(benchmark::kMillisecond);
BENCHMARK(refresh)
    ->Name("health/refresh")
    ->ArgName("writes")
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
