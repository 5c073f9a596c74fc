// tests/server/region_log_test.cpp — a region's own batches read back from its session log
// (RegionLink::use_log, LogOwnWrites): the log is the record of truth, so no batch the link once
// held is lost, whatever the link held in memory:
//   - a long cut from the stream, with more batches waiting than world_batches_max: the oldest are
//     let go of memory and read again from the log, none dropped;
//   - a restart after a cut longer than the stream's dedup window: every recovered tick after the
//     last batch the stream stored is published again (a window of recent ticks, as before, lost
//     the older unstored ones, and strata-vopr --regions 3 seeds 2, 22, 26 and 34 diverged);
//   - the reader itself: ticks that wrote, in order, re-simulated from the nearest snapshot, read
//     on from where the last read stopped, and ticks before the log's start said to be gone.
// Each region is a Simulation writing an in-memory session log (replay/memory_log.h) as a node
// does; the regions replicate through the JetStream twin.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "replay/memory_log.h"
#include "server/hlc.h"
#include "server/input_scheduler.h"
#include "server/memory_bus.h"
#include "server/region_bus.h"
#include "server/region_link.h"
#include "sim/hash.h"
#include "sim/simulation.h"
#include "tools/scenario/scenario.h"

namespace strata::server {
namespace {

using sim::RegionId;

constexpr uint64_t tick_us = 50'000;

sim::WorldParams params_of(RegionId region) {
  sim::WorldParams p;
  p.seed = 12;
  p.chunks_x = 2;
  p.chunks_y = 2;
  p.random_ticks_per_chunk = 0;  // writes only by players: the regions go quiet when play stops
  p.npc_count = 0;
  p.region = region;
  p.region_map.mode = sim::Ownership::by_map;
  p.region_map.fallback = RegionId{1};
  p.region_map.rects.push_back(sim::RegionRect{0, 0, 1, 2, RegionId{1}});
  p.region_map.rects.push_back(sim::RegionRect{1, 0, 1, 2, RegionId{2}});
  return p;
}

replay::LogConfig log_config() {
  replay::LogConfig c;
  c.snapshot_every = 64;  // reads start from a snapshot near the ticks they want
  c.full_hash_every = 16;
  return c;
}

// One region: its world, its log on a memory disk, its link and its connection to the twin.
struct Region {
  Region(RegionId id, MemoryStream& stream, size_t world_batches_max)
      : sim(params_of(id)),
        scheduler(default_input_scheduler_config(), id, hlc),
        players(scenario_config(id)),
        stream_(stream),
        world_batches_max_(world_batches_max) {
    replay::Status status;
    log = replay::MemorySessionLog::create(disk, sim.world(), log_config(), status);
    EXPECT_TRUE(log) << status.describe();
    open_link(0);
  }

  static scenario::ScenarioConfig scenario_config(RegionId id) {
    scenario::ScenarioConfig c;
    c.seed = 300 + raw(id);
    c.players = 6;
    c.join_ramp_ticks = 5;
    c.build_per_mille = 200;
    c.break_per_mille = 150;
    c.leave_per_mille = 0;
    return c;
  }

  // A new process: link, reader and bus connection (what a restart makes anew).
  void open_link(uint64_t recovered_tick) {
    RegionLinkConfig c;
    c.region = sim.world().params.region;
    c.regions = {RegionId{1}, RegionId{2}};
    c.map_cells_x = 2 * sim::limits::chunk_size;
    c.map_cells_y = 2 * sim::limits::chunk_size;
    c.health_every_ms = 50;
    c.world_batches_max = world_batches_max_;
    c.log_ticks_per_pump = 8;
    link = std::make_unique<RegionLink>(c);
    bus = std::make_unique<MemoryBus>(stream_, MemoryBusConfig{});
    own_writes = std::make_unique<LogOwnWrites>([this](replay::Status&) { return disk.source(); });
    link->use_log(own_writes.get(), recovered_tick);
    link->start(*bus, sim.world(), 0);
  }

  void tick(uint64_t now_us, bool play) {
    input.commands.clear();
    if (play) players.next(sim.world(), input);
    link->take_remote(scheduler, now_us / 1000);
    scheduler.build(sim.tick() + 1, now_us / 1000, remote);
    input.tick = sim.tick() + 1;
    input.commands.insert(input.commands.end(), remote.commands.begin(), remote.commands.end());
    const sim::Effects& effects = sim.step(input);
    local_writes += effects.block_writes.size();
    ASSERT_TRUE(log->append(input, sim).ok());
    log->release_world();
    disk.os_flush();
    link->on_tick(sim, input, effects);
  }
  void pump(uint64_t now_us) { link->pump(*bus, now_us, log->durable_tick()); }

  replay::MemoryDisk disk;
  std::unique_ptr<replay::MemorySessionLog> log;
  sim::Simulation sim;
  Hlc hlc{2000};
  InputScheduler scheduler;
  scenario::ScenarioGenerator players;
  std::unique_ptr<LogOwnWrites> own_writes;
  std::unique_ptr<RegionLink> link;
  std::unique_ptr<MemoryBus> bus;
  sim::TickInput input;
  sim::TickInput remote;
  uint64_t local_writes = 0;

 private:
  MemoryStream& stream_;
  size_t world_batches_max_;
};

struct Pair {
  explicit Pair(size_t world_batches_max, MemoryStreamConfig stream_config = {}) : stream(stream_config) {
    a = std::make_unique<Region>(RegionId{1}, stream, world_batches_max);
    b = std::make_unique<Region>(RegionId{2}, stream, world_batches_max);
  }
  void run(uint64_t ticks, bool play) {
    for (uint64_t t = 0; t < ticks; ++t) {
      now_us += tick_us;
      for (Region* r : {a.get(), b.get()}) {
        r->tick(now_us, play);
        for (int i = 0; i < 4; ++i) r->pump(now_us + static_cast<uint64_t>(i) * 1000);
      }
    }
  }
  // The last world message of `origin` in the stream (0: none).
  [[nodiscard]] uint64_t last_world_seq(RegionId origin) const {
    for (uint64_t seq = stream.last_seq(); seq >= 1; --seq) {
      if (stream.at(seq).subject == BusSubject{origin, BusChannel::world}) return seq;
    }
    return 0;
  }
  // Nothing held or waiting anywhere, each region's world holds the other's last message in the
  // stream, and each peer's last health point agrees with ours; `why` (when given) says what is
  // not drained yet.
  [[nodiscard]] bool drained(std::string* why = nullptr) const {
    for (const Region* r : {a.get(), b.get()}) {
      const RegionLinkStatus s = r->link->status();
      const std::string who = "region " + std::to_string(raw(s.region)) + ": ";
      if (s.world_held != 0 || s.inbound_waiting != 0) {
        if (why) *why = who + "held " + std::to_string(s.world_held) + ", inbound " + std::to_string(s.inbound_waiting);
        return false;
      }
      for (const PeerStatus& p : s.peers) {
        if (p.applied_seq < last_world_seq(p.region) || p.agreement != Agreement::agree) {
          if (why)
            *why = who + "applied " + std::to_string(p.applied_seq) + " of " +
                   std::to_string(last_world_seq(p.region)) + ", agreement " + name(p.agreement);
          return false;
        }
      }
    }
    return true;
  }
  void drain() {
    for (int i = 0; i < 4000 && !drained(); ++i) run(1, false);
  }
  MemoryStream stream;
  std::unique_ptr<Region> a;
  std::unique_ptr<Region> b;
  uint64_t now_us = 1'000'000'000;
};

// The writes each tick of `region`'s log made, read whole by a fresh reader.
std::vector<std::pair<uint64_t, std::vector<sim::BlockWrite>>> all_writes(Region& region) {
  LogOwnWrites reader([&region](replay::Status&) { return region.disk.source(); });
  const OwnWritesRead read = reader.read(1, region.sim.tick(), 1'000'000);
  EXPECT_TRUE(read.error.empty()) << read.error;
  return read.ticks;
}

TEST(RegionLog, TheReaderGivesEveryTickThatWroteInOrderAndReadsOnWhereItStopped) {
  std::string why;
  Pair pair(64);
  pair.run(150, true);
  Region& a = *pair.a;
  const auto whole = all_writes(a);
  ASSERT_GT(whole.size(), 20U);
  // In pieces of 7 ticks: the same ticks and writes as one read.
  LogOwnWrites reader([&a](replay::Status&) { return a.disk.source(); });
  std::vector<std::pair<uint64_t, std::vector<sim::BlockWrite>>> pieces;
  uint64_t from = 1;
  while (from <= a.sim.tick()) {
    OwnWritesRead read = reader.read(from, a.sim.tick(), 7);
    ASSERT_TRUE(read.error.empty()) << read.error;
    ASSERT_EQ(read.next, std::min<uint64_t>(from + 7, a.sim.tick() + 1));
    for (auto& t : read.ticks) pieces.push_back(std::move(t));
    from = read.next;
  }
  ASSERT_EQ(pieces.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(pieces[i].first, whole[i].first);
    EXPECT_EQ(pieces[i].second.size(), whole[i].second.size());
  }
  uint64_t writes = 0;
  for (const auto& t : whole) writes += t.second.size();
  EXPECT_GE(writes, a.local_writes);  // player writes and the owned chunks' rule writes
  // Ticks the log does not hold: beyond its end an error; before its start, said to be gone.
  EXPECT_FALSE(reader.read(a.sim.tick() + 5, a.sim.tick() + 9, 10).error.empty());
}

TEST(RegionLog, BatchesBeyondTheBoundAreLetGoAndPublishedFromTheLogNoneDropped) {
  std::string why;
  Pair pair(4);  // at most 4 in the outbox and 4 waiting
  pair.run(20, true);
  pair.a->bus->disconnect();
  pair.run(200, true);  // region 1 plays on, cut from the stream
  RegionLinkStatus s = pair.a->link->status();
  EXPECT_GT(s.counters.world_let_go, 20U);
  EXPECT_GT(s.world_held, 20U);  // counted with the ticks waiting in the log
  pair.a->bus->reconnect(pair.now_us);
  pair.run(40, true);
  pair.drain();
  ASSERT_TRUE(pair.drained(&why)) << why;
  s = pair.a->link->status();
  EXPECT_EQ(s.counters.world_overflow, 0U);
  EXPECT_GT(s.counters.world_read_from_log, 20U);
  EXPECT_EQ(s.counters.log_read_errors, 0U);
  EXPECT_EQ(s.counters.desyncs, 0U);
  EXPECT_EQ(sim::map_hash(pair.a->sim.world()), sim::map_hash(pair.b->sim.world()));
  // Every batch of region 1 reached region 2, each once.
  const RegionLinkStatus b = pair.b->link->status();
  EXPECT_EQ(b.counters.world_batches_consumed, s.counters.world_batches_published);
  EXPECT_EQ(s.counters.world_batches_published + s.counters.world_ticks_merged, all_writes(*pair.a).size());
  EXPECT_GT(s.counters.world_ticks_merged, 20U);  // catching up, ticks went out together
}

TEST(RegionLog, ARestartAfterACutLongerThanTheDedupWindowPublishesEveryUnstoredTick) {
  std::string why;
  MemoryStreamConfig stream_config;
  stream_config.dedup_window_us = 2'000'000;  // 40 ticks
  Pair pair(1024, stream_config);
  pair.run(30, true);
  pair.drain();
  ASSERT_TRUE(pair.drained(&why)) << why;
  pair.a->bus->disconnect();
  pair.run(300, true);  // 15 s cut: far beyond the window
  // Region 1 dies (what it held in memory is gone) and comes back on the same log, still cut off.
  pair.a->bus->close();
  pair.a->open_link(pair.a->sim.tick());
  pair.a->bus->disconnect();
  pair.run(20, true);
  pair.a->bus->reconnect(pair.now_us);
  pair.run(20, true);
  pair.drain();
  ASSERT_TRUE(pair.drained(&why)) << why;
  const RegionLinkStatus s = pair.a->link->status();
  EXPECT_GT(s.counters.world_republished_after_restart, 50U);
  EXPECT_EQ(s.counters.log_ticks_lost, 0U);
  EXPECT_EQ(s.counters.own_ids_ahead, 0U);
  EXPECT_EQ(sim::map_hash(pair.a->sim.world()), sim::map_hash(pair.b->sim.world()));
}

// A restart finds the stream holding everything: nothing is published again, and the health
// vector names the stored batch at once.
TEST(RegionLog, ARestartWithEverythingStoredPublishesNothingAgain) {
  std::string why;
  Pair pair(1024);
  pair.run(60, true);
  pair.drain();
  ASSERT_TRUE(pair.drained(&why)) << why;
  pair.a->bus->close();
  pair.a->open_link(pair.a->sim.tick());
  pair.run(5, false);
  pair.drain();
  ASSERT_TRUE(pair.drained(&why)) << why;
  const RegionLinkStatus s = pair.a->link->status();
  EXPECT_LE(s.counters.world_republished_after_restart, 1U);  // at most the last stored tick, a duplicate
  EXPECT_EQ(pair.a->bus->counters().acks_duplicate, s.counters.world_republished_after_restart);
  EXPECT_EQ(sim::map_hash(pair.a->sim.world()), sim::map_hash(pair.b->sim.world()));
}

}  // namespace
}  // namespace strata::server
