// tests/sim/regions_replay_test.cpp — a session recorded by one region of a split map replays
// bit-exact from its log alone: the region map travels in the log header's params (and in every
// snapshot), so neither the replay from tick 0 (the world regenerated from the header) nor a restore
// from a snapshot falls back to "this region owns every chunk".
#include <gtest/gtest.h>

#include "replay/log_source.h"
#include "replay/replayer.h"
#include "tests/replay/log_fixture.h"

namespace strata::sim {
namespace {

RegionMap split_map() {
  RegionMap map;
  map.mode = Ownership::by_map;
  map.fallback = RegionId{0};  // chunk row 3 runs no rules anywhere
  map.rects = {RegionRect{0, 0, 2, 3, RegionId{1}}, RegionRect{2, 0, 2, 3, RegionId{2}}};
  return map;
}

TEST(RegionsReplay, ALogWithASplitMapReplaysBitExactFromItsHeaderAndSnapshots) {
  test::TempDir dir;
  WorldParams params = scenario::world_for(5, 4, 40);
  params.random_ticks_per_chunk = 16;
  params.region = RegionId{2};
  params.region_map = split_map();
  Simulation sim(params);
  Simulation whole = [&] {
    WorldParams p = params;
    p.region_map = RegionMap{};
    return Simulation(p);
  }();
  replay::LogConfig config;
  config.full_hash_every = 10;
  config.snapshot_every = 50;
  replay::Status status;
  auto writer = replay::LogWriter::create(dir.path("log"), sim.world(), config, status);
  ASSERT_TRUE(writer) << status.describe();
  scenario::ScenarioGenerator generator(test::busy_scenario(9, 20));
  TickInput input;
  size_t rule_writes = 0;
  for (int t = 0; t < 300; ++t) {
    generator.next(sim.world(), input);
    rule_writes += sim.step(input).rule_writes.size();
    whole.step(input);
    ASSERT_TRUE((status = writer->append(input, sim)).ok()) << status.describe();
  }
  writer.reset();
  EXPECT_GT(rule_writes, 0U);
  EXPECT_NE(whole.full_hash(), sim.full_hash()) << "the same inputs under another ownership are another session";

  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log) << status.describe();
  EXPECT_EQ(log->header().params.region_map, split_map());
  EXPECT_EQ(log->header().params.region, RegionId{2});
  for (const replay::ReplayMode mode : {replay::ReplayMode::verify, replay::ReplayMode::save_load}) {
    replay::ReplayOptions options;
    options.mode = mode;
    uint64_t last_quick = 0;
    options.on_tick = [&](uint64_t, uint64_t quick, std::optional<uint64_t>) { last_quick = quick; };
    const replay::ReplayResult result = replay::replay(*log, options);
    ASSERT_TRUE(result.status.ok()) << result.status.describe() << " " << result.which;
    EXPECT_EQ(result.start_tick, 0U) << "from the world the header's params generate";
    EXPECT_EQ(result.last_tick, 300U);
    EXPECT_EQ(last_quick, sim.quick_hash());
  }
  // From a snapshot in the middle: the restored world owns what the recorded one did.
  replay::StateAt at = replay::state_at(*log, 300);
  ASSERT_TRUE(at.sim.has_value()) << at.status.describe();
  EXPECT_EQ(at.sim->world().params.region_map, split_map());
  EXPECT_EQ(at.sim->full_hash(), sim.full_hash());
  replay::ReplayOptions from_middle;
  from_middle.from_tick = 150;
  const replay::ReplayResult result = replay::replay(*log, from_middle);
  ASSERT_TRUE(result.status.ok()) << result.status.describe();
  EXPECT_EQ(result.start_tick, 150U);
  EXPECT_EQ(result.last_tick, 300U);
}

}  // namespace
}  // namespace strata::sim
