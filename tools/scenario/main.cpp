// strata-scenario — runs a seeded scenario through the simulation and prints (or writes) the hash
// stream: one line per tick, "tick quick_hash [full_hash]", full hash on tick 1 and every
// --full-every ticks. Two runs, two processes or two builds that print different streams have
// diverged; the determinism gate compares these files byte for byte.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>

#include "sim/simulation.h"
#include "tools/scenario/scenario.h"

int main(int argc, char** argv) {
  CLI::App app{"strata-scenario: run a seeded scenario and print its hash stream"};
  uint64_t seed = 1;
  uint32_t players = 100;
  uint64_t ticks = 1000;
  int32_t chunks = 16;
  uint32_t npcs = 50;
  uint64_t full_every = 100;
  uint32_t remote_regions = 0;
  uint32_t hostile = 0;
  std::string out_path;
  bool quiet = false;
  app.add_option("--seed", seed, "world and scenario seed");
  app.add_option("--players", players, "number of distinct players")->check(CLI::Range(0U, 16384U));
  app.add_option("--ticks", ticks, "ticks to simulate")->check(CLI::Range(uint64_t{0}, uint64_t{100000000}));
  app.add_option("--chunks", chunks, "map size in chunks per axis (32 cells each)")->check(CLI::Range(1, 64));
  app.add_option("--npcs", npcs, "NPCs created with the world")->check(CLI::Range(0U, 16384U));
  app.add_option("--full-every", full_every, "full hash period in ticks (0: only tick 1)");
  app.add_option("--remote-regions", remote_regions, "other regions sending writes and presence")
      ->check(CLI::Range(0U, 16U));
  app.add_option("--hostile", hostile, "per-mille of commands replaced by random ones")->check(CLI::Range(0U, 1000U));
  uint32_t split_regions = 0;
  app.add_option("--split-regions", split_regions,
                 "split the map's chunk columns into this many strips owned by regions 1..N (this run is region 1; "
                 "leftover columns belong to no region); 0: region 1 owns every chunk")
      ->check(CLI::Range(0U, 64U));
  app.add_option("--hash-stream", out_path, "write the hash stream to this file instead of stdout");
  app.add_flag("--quiet", quiet, "no summary line on stderr");
  CLI11_PARSE(app, argc, argv);

  strata::scenario::ScenarioConfig config;
  config.seed = seed;
  config.players = players;
  config.join_ramp_ticks = static_cast<uint32_t>(std::min<uint64_t>(ticks / 10 + 1, 200));
  config.remote_regions = remote_regions;
  config.remote_writes_per_tick = remote_regions > 0 ? 4 : 0;
  config.remote_presence_per_tick = remote_regions > 0 ? 8 : 0;
  config.hostile_per_mille = hostile;
  strata::sim::WorldParams params = strata::scenario::world_for(seed, chunks, npcs);
  if (split_regions > 0) {
    const int32_t strip = chunks / static_cast<int32_t>(split_regions);
    if (strip < 1) {
      std::fprintf(stderr, "strata-scenario: --split-regions %u needs at least that many chunk columns\n",
                   split_regions);
      return 2;
    }
    params.region_map.mode = strata::sim::Ownership::by_map;
    for (uint32_t i = 0; i < split_regions; ++i) {
      params.region_map.rects.push_back(strata::sim::RegionRect{static_cast<int32_t>(i) * strip, 0, strip, chunks,
                                                                strata::sim::RegionId{static_cast<uint16_t>(i + 1)}});
    }
  }
  auto sim = std::make_unique<strata::sim::Simulation>(params);
  strata::scenario::ScenarioGenerator generator(config);

  std::FILE* out = stdout;
  if (!out_path.empty()) {
    out = std::fopen(out_path.c_str(), "w");
    if (out == nullptr) {
      std::fprintf(stderr, "strata-scenario: cannot write %s\n", out_path.c_str());
      return 2;
    }
  }
  strata::sim::TickInput input;
  uint64_t commands = 0;
  uint64_t rejected = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t t = 0; t < ticks; ++t) {
    generator.next(sim->world(), input);
    commands += input.commands.size();
    rejected += sim->step(input).rejections.size();
    const uint64_t tick = sim->tick();
    if (tick == 1 || (full_every > 0 && tick % full_every == 0)) {
      std::fprintf(out, "%" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n", tick, sim->quick_hash(), sim->full_hash());
    } else {
      std::fprintf(out, "%" PRIu64 " %016" PRIx64 "\n", tick, sim->quick_hash());
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (out != stdout) std::fclose(out);
  if (!quiet) {
    std::fprintf(stderr,
                 "strata-scenario: %" PRIu64 " ticks, %zu players and %zu npcs at the end, %" PRIu64
                 " commands (%" PRIu64 " rejected), final full hash %016" PRIx64 ", %.0f ticks/s\n",
                 ticks, sim->world().players.size(), sim->world().npcs.size(), commands, rejected, sim->full_hash(),
                 seconds > 0 ? static_cast<double>(ticks) / seconds : 0.0);
  }
  return 0;
}
