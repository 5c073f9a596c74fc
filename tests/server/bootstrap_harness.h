// tests/server/bootstrap_harness.h — a region bootstrapped from a published map snapshot (issue 15
// item 4), on any Bus and MapStore: the twin (map_snapshots_test.cpp) or a real nats-server
// (map_snapshots_nats_test.cpp). Region 1 plays (players build and break), publishes its map,
// plays on; region 3 starts from that snapshot (its world seeded with the map and the vector), its
// link subscribes after the vector, and it must reach region 1's map hash by applying the stream
// after the snapshot. Region 3 logs every tick to a memory log, which must replay without the bus.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "replay/memory_log.h"
#include "replay/replayer.h"
#include "server/bus.h"
#include "server/hlc.h"
#include "server/input_scheduler.h"
#include "server/map_snapshots.h"
#include "server/region_link.h"
#include "sim/hash.h"
#include "sim/simulation.h"
#include "tools/scenario/scenario.h"

namespace strata::server::test {

using sim::RegionId;

inline sim::WorldParams bootstrap_params(RegionId region) {
  sim::WorldParams p;
  p.seed = 77;
  p.chunks_x = 4;
  p.chunks_y = 2;
  p.random_ticks_per_chunk = 0;  // writes only by players: the regions go quiet when play stops
  p.npc_count = 6;
  p.region = region;
  p.region_map.mode = sim::Ownership::by_map;
  p.region_map.fallback = RegionId{1};
  for (int32_t r = 0; r < 3; ++r) {
    p.region_map.rects.push_back(sim::RegionRect{r, 0, 1, 2, RegionId{static_cast<uint16_t>(r + 1)}});
  }
  return p;
}

inline RegionLinkConfig bootstrap_link_config(RegionId id) {
  RegionLinkConfig c;
  c.region = id;
  for (uint16_t r = 1; r <= 3; ++r) c.regions.push_back(RegionId{r});
  c.map_cells_x = 4 * sim::limits::chunk_size;
  c.map_cells_y = 2 * sim::limits::chunk_size;
  c.health_every_ms = 50;
  c.presence_every_ticks = 5;
  return c;
}

struct BootRegion {
  BootRegion(RegionId id, Bus& bus_, std::optional<sim::WorldSeed> seed)
      : sim(seed ? sim::Simulation(bootstrap_params(id), std::move(*seed)) : sim::Simulation(bootstrap_params(id))),
        scheduler(default_input_scheduler_config(), id, hlc),
        link(bootstrap_link_config(id)),
        bus(bus_),
        players(scenario_config(id)) {}

  static scenario::ScenarioConfig scenario_config(RegionId id) {
    scenario::ScenarioConfig c;
    c.seed = 300 + sim::raw(id);
    c.players = 10;
    c.join_ramp_ticks = 10;
    c.build_per_mille = 200;
    c.break_per_mille = 120;
    c.leave_per_mille = 0;
    return c;
  }

  void tick(uint64_t now_us, bool play) {
    input.commands.clear();
    if (play) players.next(sim.world(), input);
    link.take_remote(scheduler, now_us / 1000);
    scheduler.build(sim.tick() + 1, now_us / 1000, remote);
    input.tick = sim.tick() + 1;
    input.commands.insert(input.commands.end(), remote.commands.begin(), remote.commands.end());
    if (log) log->release_world();
    const sim::Effects& effects = sim.step(input);
    local_writes += effects.block_writes.size();
    if (log) {
      const replay::Status status = log->append(input, sim);
      EXPECT_TRUE(status.ok()) << status.describe();
    }
    link.on_tick(sim, input, effects);
    if (after_tick) after_tick(sim);  // as the node's Options::after_tick
  }
  void pump(uint64_t now_us) { link.pump(bus, now_us, sim.tick()); }

  sim::Simulation sim;
  Hlc hlc{2000};
  InputScheduler scheduler;
  RegionLink link;
  Bus& bus;
  scenario::ScenarioGenerator players;
  sim::TickInput input;
  sim::TickInput remote;
  uint64_t local_writes = 0;
  std::unique_ptr<replay::SessionLog> log;  // region 3's
  std::function<void(const sim::Simulation&)> after_tick;
};

// How the scenario lets time pass: `now_us` reads it, `pause` lets a little go by (false once the
// harness has waited too long).
struct BootClock {
  std::function<uint64_t()> now_us;
  std::function<bool()> pause;
  std::function<std::string()> diagnose;  // more to say when the scenario fails (may be empty)
};

// Runs `region` (and `other`) ticks with pumps in between, `ticks` times.
inline void boot_run(BootClock& clock, std::vector<BootRegion*> regions, int ticks, bool play) {
  for (int t = 0; t < ticks; ++t) {
    for (BootRegion* r : regions) r->tick(clock.now_us(), play && sim::raw(r->sim.world().params.region) == 1);
    for (int i = 0; i < 3; ++i) {
      for (BootRegion* r : regions) r->pump(clock.now_us());
      (void)clock.pause();
    }
  }
}

inline void run_bootstrap_scenario(Bus& bus1, Bus& bus3, MapStore& store, BootClock& clock) {
  BootRegion one(RegionId{1}, bus1, std::nullopt);
  one.link.start(bus1, one.sim.world(), clock.now_us());
  MapSnapshotPublisherConfig publisher_config;
  publisher_config.region = RegionId{1};
  publisher_config.every_ticks = 0;  // on request only: the test says when
  publisher_config.background = true;
  MapSnapshotPublisher publisher(publisher_config, &store, [&one] { return one.link.status().own_acked_seq; });
  one.after_tick = [&publisher](const sim::Simulation& sim) { publisher.on_tick(sim); };

  boot_run(clock, {&one}, 80, true);
  // Let region 1's batches be acknowledged, so the snapshot's own entry is not zero.
  for (int i = 0; i < 200 && one.link.status().world_held > 0; ++i) boot_run(clock, {&one}, 1, false);
  ASSERT_GT(one.link.status().own_acked_seq, 0U);
  Desync none;  // a snapshot on request: the desync path (no desync_dir: nothing written)
  none.peer = RegionId{3};
  publisher.request_desync(none);
  boot_run(clock, {&one}, 1, false);
  publisher.wait_idle();
  ASSERT_EQ(publisher.counters().published, 1U);
  const uint64_t snapshot_tick = publisher.last_published_tick();
  const uint64_t writes_before = one.local_writes;
  boot_run(clock, {&one}, 60, true);  // more writes after the snapshot
  ASSERT_GT(one.local_writes, writes_before) << "no writes after the snapshot: nothing to catch up on";

  std::string error;
  std::optional<MapSnapshot> snapshot = read_map_snapshot(store, RegionId{1}, error);
  ASSERT_TRUE(snapshot) << error;
  EXPECT_EQ(snapshot->info.tick, snapshot_tick);
  EXPECT_FALSE(snapshot->info.applied.empty());
  const uint64_t snapshot_hash = snapshot->info.map_hash;
  std::optional<sim::WorldSeed> seed = bootstrap_seed(std::move(*snapshot), bootstrap_params(RegionId{3}), error);
  ASSERT_TRUE(seed) << error;
  ASSERT_EQ(seed->bus_applied.size(), 1U);
  EXPECT_EQ(seed->bus_applied[0].origin, RegionId{1});

  BootRegion three(RegionId{3}, bus3, std::move(seed));
  EXPECT_EQ(three.sim.tick(), std::max<uint64_t>(1, snapshot_tick));
  EXPECT_EQ(sim::map_hash(three.sim.world()), snapshot_hash);
  EXPECT_NE(sim::map_hash(three.sim.world()), sim::map_hash(one.sim.world()));
  replay::MemoryDisk disk;
  replay::Status status;
  three.log = replay::MemorySessionLog::create(disk, three.sim.world(), replay::LogConfig{}, status);
  ASSERT_TRUE(three.log) << status.describe();
  three.link.start(bus3, three.sim.world(), clock.now_us());

  // Play stops; both drain; region 3 must reach region 1's map hash.
  bool converged = false;
  while (!converged) {
    boot_run(clock, {&one, &three}, 1, false);
    const RegionLinkStatus s1 = one.link.status();
    const RegionLinkStatus s3 = three.link.status();
    uint64_t applied_from_one = 0;
    for (const sim::BusMark& m : three.sim.world().bus_applied) {
      if (m.origin == RegionId{1}) applied_from_one = m.seq;
    }
    converged = s1.world_held == 0 && applied_from_one == s1.own_acked_seq &&
                sim::map_hash(three.sim.world()) == sim::map_hash(one.sim.world());
    if (!converged && !clock.pause()) break;
  }
  if (!converged) {
    uint64_t applied_from_one = 0;
    for (const sim::BusMark& m : three.sim.world().bus_applied) {
      if (m.origin == RegionId{1}) applied_from_one = m.seq;
    }
    const MapDifference d = compare_maps(one.sim.world().map, three.sim.world().map);
    const RegionLinkStatus s1 = one.link.status();
    const RegionLinkStatus s3 = three.link.status();
    ADD_FAILURE() << "region 3 applied region 1 up to " << applied_from_one << ", region 1 acked " << s1.own_acked_seq
                  << " held " << s1.world_held << "; region 3 consumed " << s3.counters.world_batches_consumed
                  << " batches, " << s3.counters.remote_writes_consumed << " writes, clock ahead "
                  << s3.counters.refused_clock_ahead << " decode refused "
                  << s3.counters.refused_decode[0] + s3.counters.refused_decode[9] << " duplicates "
                  << s3.counters.consumed_duplicate << ", remote writes applied "
                  << three.sim.world().counters.remote_writes_applied << " superseded "
                  << three.sim.world().counters.remote_writes_superseded << "; " << d.differing
                  << " cells differ; region 3 subscribe failures " << s3.counters.subscribe_failures
                  << " bus deliveries " << s3.bus.deliveries << " refused subject " << s3.bus.deliveries_refused_subject
                  << " id " << s3.bus.deliveries_refused_message_id << " forged " << s3.bus.deliveries_refused_forged
                  << " dup " << s3.bus.deliveries_duplicate << " resets " << s3.bus.consumer_resets
                  << (clock.diagnose ? clock.diagnose() : std::string()) << "; first (" << d.cell.x << "," << d.cell.y
                  << ") layer " << static_cast<int>(d.layer) << " kinds " << int{d.a_value.kind} << "/"
                  << int{d.b_value.kind} << " stamps " << d.a_stamp.hlc << "/" << d.b_stamp.hlc;
  }
  ASSERT_TRUE(converged) << "region 3 did not reach region 1's map hash";
  EXPECT_EQ(three.link.status().counters.desyncs, 0U);
  EXPECT_EQ(one.link.status().counters.desyncs, 0U);
  EXPECT_GT(three.sim.world().counters.remote_writes_applied, 0U) << "region 3 applied nothing after the snapshot";

  // Region 3's own log replays bit-exact, without the bus: its start snapshot holds the seeded map.
  three.log->release_world();
  auto source = disk.source();
  const replay::ReplayResult verified = replay::replay(*source, {});
  EXPECT_TRUE(verified.status.ok()) << verified.status.describe();
  EXPECT_EQ(verified.last_tick, three.sim.tick());
}

}  // namespace strata::server::test
