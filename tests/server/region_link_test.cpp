// tests/server/region_link_test.cpp — regions replicating through RegionLink over the JetStream twin
// (MemoryBus): each region a Simulation with its own scheduler and HLC, players building and
// breaking in overlapping areas (the scenario generator), the bus losing acks, publishes and
// deliveries and disconnecting. After play stops and the streams drain: one map hash, every
// batch applied once, peers' health points agree. Bad payloads on the stream are refused and
// counted, never applied.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "schema/bus_codec.h"
#include "server/hlc.h"
#include "server/input_scheduler.h"
#include "server/memory_bus.h"
#include "server/region_link.h"
#include "sim/hash.h"
#include "sim/simulation.h"
#include "tools/scenario/scenario.h"

namespace strata::server {
namespace {

using sim::RegionId;

constexpr uint64_t tick_us = 50'000;

// How a test's regions run: the defaults go quiet when play stops and compare every tick.
struct RegionSetup {
  uint32_t random_ticks_per_chunk = 0;  // writes only by players: the regions go quiet when play stops
  uint64_t health_every_ms = 50;        // a health point every tick: the peers' vectors meet once all is drained
};

sim::WorldParams params_of(RegionId region, uint32_t regions, const RegionSetup& setup) {
  sim::WorldParams p;
  p.seed = 11;
  p.chunks_x = 4;
  p.chunks_y = 2;
  p.random_ticks_per_chunk = setup.random_ticks_per_chunk;
  p.npc_count = 0;
  p.region = region;
  p.region_map.mode = sim::Ownership::by_map;
  p.region_map.fallback = RegionId{1};
  for (uint32_t r = 0; r < regions; ++r) {
    p.region_map.rects.push_back(
        sim::RegionRect{static_cast<int32_t>(r), 0, 1, 2, RegionId{static_cast<uint16_t>(r + 1)}});
  }
  return p;
}

struct Region {
  Region(RegionId id, uint32_t regions, MemoryStream& stream, MemoryBusFaults faults, const RegionSetup& setup)
      : sim(params_of(id, regions, setup)),
        scheduler(default_input_scheduler_config(), id, hlc),
        link(link_config(id, regions, setup)),
        bus(stream, MemoryBusConfig{}, faults),
        players(scenario_config(id)) {}

  static RegionLinkConfig link_config(RegionId id, uint32_t regions, const RegionSetup& setup) {
    RegionLinkConfig c;
    c.region = id;
    for (uint32_t r = 1; r <= regions; ++r) c.regions.push_back(RegionId{static_cast<uint16_t>(r)});
    c.map_cells_x = 4 * sim::limits::chunk_size;
    c.map_cells_y = 2 * sim::limits::chunk_size;
    c.health_every_ms = setup.health_every_ms;
    c.presence_every_ticks = 5;
    return c;
  }
  static scenario::ScenarioConfig scenario_config(RegionId id) {
    scenario::ScenarioConfig c;
    c.seed = 100 + raw(id);
    c.players = 12;
    c.join_ramp_ticks = 10;
    c.build_per_mille = 150;
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
    input.commands.insert(input.commands.end(), inject.begin(), inject.end());
    inject.clear();
    const sim::Effects& effects = sim.step(input);
    local_writes += effects.block_writes.size() + effects.rule_writes.size();
    link.on_tick(sim, input, effects);
  }
  void pump(uint64_t now_us) { link.pump(bus, now_us, sim.tick()); }

  sim::Simulation sim;
  Hlc hlc{2000};
  InputScheduler scheduler;
  RegionLink link;
  MemoryBus bus;
  scenario::ScenarioGenerator players;
  sim::TickInput input;
  sim::TickInput remote;
  std::vector<sim::Command> inject;  // into the next tick's input, past the bus (a test's corruption)
  uint64_t local_writes = 0;
};

struct Cluster {
  Cluster(uint32_t n, MemoryBusFaults faults, const RegionSetup& setup = {}) {
    for (uint32_t r = 1; r <= n; ++r) {
      faults.seed += r;
      regions.push_back(std::make_unique<Region>(RegionId{static_cast<uint16_t>(r)}, n, stream, faults, setup));
    }
    for (auto& region : regions) {
      region->link.start(region->bus, region->sim.world(), now_us);
      region->link.set_on_desync([r = region.get()](const Desync& d) {
        std::string v;
        for (auto& e : d.applied) v += std::to_string(raw(e.origin)) + ":" + std::to_string(e.seq) + " ";
        ADD_FAILURE() << "desync at region " << raw(r->sim.world().params.region) << " vs " << raw(d.peer)
                      << ": ours tick " << d.our_tick << " hash " << d.our_hash << ", peer tick " << d.peer_tick
                      << " hash " << d.peer_hash << ", vector " << v;
      });
    }
  }
  void run(uint64_t ticks, bool play) {
    for (uint64_t t = 0; t < ticks; ++t) {
      now_us += tick_us;
      for (auto& region : regions) {
        region->tick(now_us, play);
        for (int i = 0; i < 5; ++i) region->pump(now_us + static_cast<uint64_t>(i) * 1000);
      }
    }
  }
  // Nothing held, waiting or pending anywhere, and every peer's last health point agrees with ours.
  // `why` (when given) says what is not drained yet.
  [[nodiscard]] bool drained(std::string* why = nullptr) const {
    for (const auto& region : regions) {
      const RegionLinkStatus s = region->link.status();
      const std::string who = "region " + std::to_string(raw(s.region)) + ": ";
      if (s.world_held != 0 || s.inbound_waiting != 0) {  // (health points are always being published)
        if (why) *why = who + "held " + std::to_string(s.world_held) + ", inbound " + std::to_string(s.inbound_waiting);
        return false;
      }
      for (const PeerStatus& p : s.peers) {
        if (p.applied_seq < p.reported_seq || p.agreement != Agreement::agree) {
          if (why)
            *why = who + "peer " + std::to_string(raw(p.region)) + " applied " + std::to_string(p.applied_seq) +
                   " reported " + std::to_string(p.reported_seq) + " agreement " + name(p.agreement);
          return false;
        }
      }
    }
    return true;
  }
  MemoryStream stream;
  std::vector<std::unique_ptr<Region>> regions;
  uint64_t now_us = 1'000'000'000;
};

void expect_converged(Cluster& cluster) {
  const uint64_t hash = sim::map_hash(cluster.regions[0]->sim.world());
  uint64_t published = 0, consumed = 0;
  for (const auto& region : cluster.regions) {
    EXPECT_EQ(sim::map_hash(region->sim.world()), hash) << "region " << raw(region->sim.world().params.region);
    const RegionLinkStatus s = region->link.status();
    published += s.counters.world_batches_published;
    consumed += s.counters.world_batches_consumed;
    EXPECT_EQ(s.counters.desyncs, 0U);
    EXPECT_EQ(s.counters.world_overflow, 0U);
    // Health points keep coming while nothing is written (a point waits only for our own batches),
    // and their map hash, the cell sum the map history follows, is the world's.
    EXPECT_GE(s.tick + 3, region->sim.tick());
    if (s.tick == region->sim.tick()) {
      EXPECT_EQ(s.map_hash, sim::map_cell_sum(region->sim.world().map));
    }
    EXPECT_EQ(s.history.sum_mismatches, 0U);
    for (const PeerStatus& p : s.peers) EXPECT_EQ(p.agreement, Agreement::agree) << "peer " << raw(p.region);
  }
  // Every batch applied exactly once by each other region.
  EXPECT_EQ(consumed, published * (cluster.regions.size() - 1));
  EXPECT_GT(published, 10U);
}

TEST(RegionLink, TwoRegionsBuildingInTheSameAreaConvergeToOneMapHash) {
  Cluster cluster(2, {});
  cluster.run(200, true);
  for (int i = 0; i < 200 && !cluster.drained(); ++i) cluster.run(1, false);
  ASSERT_TRUE(cluster.drained());
  expect_converged(cluster);
  for (const auto& region : cluster.regions) EXPECT_GT(region->local_writes, 20U);
  // Presence: each region sees the other's players as ghosts.
  EXPECT_FALSE(cluster.regions[0]->sim.world().ghosts.empty());
}

TEST(RegionLink, ThreeRegionsConvergeThroughLostAcksLostPublishesGapsAndADisconnect) {
  MemoryBusFaults faults;
  faults.seed = 42;
  faults.ack_loss_per_mille = 50;
  faults.publish_loss_per_mille = 50;
  faults.delivery_loss_per_mille = 30;
  Cluster cluster(3, faults);
  cluster.run(100, true);
  cluster.regions[1]->bus.disconnect();
  cluster.run(60, true);  // region 2 plays on, cut from the stream
  cluster.regions[1]->bus.reconnect(cluster.now_us);
  cluster.run(60, true);
  for (int i = 0; i < 2000 && !cluster.drained(); ++i) cluster.run(1, false);
  std::string why;
  ASSERT_TRUE(cluster.drained(&why)) << why;
  expect_converged(cluster);
  uint64_t duplicates = 0;
  for (const auto& region : cluster.regions) duplicates += region->bus.counters().acks_duplicate;
  EXPECT_GT(duplicates, 0U);  // resends after lost acks were stored once
}

TEST(RegionLink, ForgedMalformedAndUnknownPayloadsAreRefusedAndCounted) {
  Cluster cluster(2, {});
  Region& a = *cluster.regions[0];
  Region& b = *cluster.regions[1];
  MemoryBus attacker(cluster.stream, MemoryBusConfig{});
  const uint64_t now = cluster.now_us;
  // Garbage on region 1's world subject.
  const std::vector<uint8_t> garbage{0x00, 0xff, 0x13, 0x37};
  ASSERT_EQ(attacker.publish({RegionId{1}, BusChannel::world}, {RegionId{1}, 900}, garbage, now),
            PublishVerdict::accepted);
  // A batch claiming region 2 on region 1's subject (forged).
  schema::BusWorldBatch forged;
  forged.origin = RegionId{2};
  forged.tick = 901;
  forged.writes.push_back(
      sim::BlockWrite{{3, 3}, sim::Layer::active, 1, 0, sim::LwwStamp{Hlc::pack(5, 0), RegionId{2}}});
  std::vector<uint8_t> bytes;
  schema::encode_bus_payload(forged, {}, bytes);
  ASSERT_EQ(attacker.publish({RegionId{1}, BusChannel::world}, {RegionId{1}, 901}, bytes, now),
            PublishVerdict::accepted);
  // A batch of region 1 sent on its presence subject (wrong channel).
  forged.origin = RegionId{1};
  forged.writes[0].stamp.region = RegionId{1};
  schema::encode_bus_payload(forged, {}, bytes);
  ASSERT_EQ(attacker.publish({RegionId{1}, BusChannel::presence}, {RegionId{1}, 902, BusChannel::presence}, bytes, now),
            PublishVerdict::accepted);
  const uint64_t hash_before = sim::map_hash(b.sim.world());
  cluster.run(5, false);
  const RegionLinkStatus s = b.link.status();
  EXPECT_EQ(s.counters.refused_decode[static_cast<size_t>(schema::BusDecodeError::forged)], 1U);
  EXPECT_EQ(s.counters.refused_wrong_channel, 1U);
  uint64_t refused = 0;
  for (const uint64_t n : s.counters.refused_decode) refused += n;
  EXPECT_EQ(refused, 2U);  // garbage (its reason is the decoder's) and the forged batch
  EXPECT_EQ(s.counters.world_batches_consumed, 0U);
  EXPECT_EQ(sim::map_hash(b.sim.world()), hash_before);
  (void)a;
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

// A batch stamped further ahead than the clock offset allows is held, not applied and not dropped:
// once our clock is near enough it is applied whole, every write of it (a held message kept in
// place once came back empty, its mark alone applied, and the regions differed for good).
TEST(RegionLink, ABatchFromAClockTooFarAheadIsHeldThenAppliedWhole) {
  Cluster cluster(2, {});
  cluster.run(1, false);  // the regions have asked the stream for their own last batch (none)
  Region& b = *cluster.regions[1];
  MemoryBus sender(cluster.stream, MemoryBusConfig{});
  const uint64_t ahead_ms = cluster.now_us / 1000 + 10'000;  // 10 s ahead; the offset limit is 2 s
  schema::BusWorldBatch batch;
  batch.origin = RegionId{1};
  batch.tick = 7;
  for (int32_t x = 40; x < 50; ++x) {
    batch.writes.push_back(sim::BlockWrite{{x, 40},
                                           sim::Layer::active,
                                           static_cast<uint8_t>(sim::Block::stone_wall),
                                           0,
                                           sim::LwwStamp{Hlc::pack(ahead_ms, 0), RegionId{1}}});
  }
  std::vector<uint8_t> bytes;
  schema::encode_bus_payload(batch, {}, bytes);
  ASSERT_EQ(sender.publish({RegionId{1}, BusChannel::world}, {RegionId{1}, 7}, bytes, cluster.now_us),
            PublishVerdict::accepted);
  cluster.run(20, false);  // 1 s: still 9 s ahead
  RegionLinkStatus s = b.link.status();
  EXPECT_EQ(s.counters.refused_clock_ahead, 1U);  // counted once, however many ticks it waits
  EXPECT_EQ(s.counters.world_batches_consumed, 0U);
  EXPECT_EQ(s.inbound_waiting, 1U);
  EXPECT_EQ(b.sim.world().map.active({45, 40}), sim::Block::none);
  cluster.run(200, false);  // 10 s later
  s = b.link.status();
  EXPECT_EQ(s.counters.world_batches_consumed, 1U);
  EXPECT_EQ(s.counters.remote_writes_consumed, 10U);
  for (int32_t x = 40; x < 50; ++x) EXPECT_EQ(b.sim.world().map.active({x, 40}), sim::Block::stone_wall) << x;
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

// During play: every region writes every tick (players and the random ticks of the chunks it
// owns), so two regions almost never hold the same vector at a health moment; each peer's point is
// judged by taking our map to its vector. Many are, and all agree.
TEST(RegionLink, RegionsWritingEveryTickAgreeDuringPlay) {
  for (const uint32_t n : {2U, 3U}) {
    RegionSetup setup;
    setup.random_ticks_per_chunk = 3;
    setup.health_every_ms = 500;  // every 10 ticks
    MemoryBusFaults faults;
    faults.seed = 7;
    // Deliveries lost (the consumer's gap, then redelivery). Not acks: a health point waits for our
    // batches' acks, so a lost one (MaxWait: 5 s) holds our points back that long.
    faults.delivery_loss_per_mille = 10;
    Cluster cluster(n, faults, setup);
    cluster.run(600, true);  // 30 s of play, never quiet
    for (const auto& region : cluster.regions) {
      const RegionLinkStatus s = region->link.status();
      SCOPED_TRACE("regions " + std::to_string(n) + ", region " + std::to_string(raw(s.region)));
      EXPECT_GT(region->local_writes, 600U);  // written every tick
      EXPECT_EQ(s.counters.desyncs, 0U);
      // 60 health points per peer; all but the first few and the last judged.
      EXPECT_GE(s.counters.health_judged_at_vector, 40U * (n - 1));
      EXPECT_GE(s.counters.health_agree, s.counters.health_judged_at_vector);
      EXPECT_GT(s.counters.judge_cells_reverted, 0U);  // the vectors were not ours: cells were set back
      EXPECT_GT(s.history.ticks_recorded, 500U);
      EXPECT_EQ(s.history.sum_mismatches, 0U);  // the sum followed is the map's (a chunk a tick checked)
      for (const PeerStatus& p : s.peers) EXPECT_EQ(p.agreement, Agreement::agree) << "peer " << raw(p.region);
    }
  }
}

// A cell written in one region only, past the bus (as a lost or corrupted event would leave it): the
// others report a desync naming that region within a few health periods, while play goes on.
TEST(RegionLink, ACorruptedCellIsReportedAsADesyncWhileWritingContinues) {
  RegionSetup setup;
  setup.random_ticks_per_chunk = 3;
  setup.health_every_ms = 500;
  Cluster cluster(3, {}, setup);
  std::vector<std::pair<uint16_t, Desync>> desyncs;
  for (auto& region : cluster.regions) {
    region->link.set_on_desync(
        [&desyncs, r = raw(region->sim.world().params.region)](const Desync& d) { desyncs.emplace_back(r, d); });
  }
  cluster.run(200, true);
  ASSERT_TRUE(desyncs.empty());
  Region& one = *cluster.regions[0];
  // Stamped by region 2 far ahead: nothing overwrites it, and region 1 never publishes it.
  one.inject.push_back(
      sim::RemoteBlockWriteCommand{{70, 33},
                                   sim::Layer::ceiling,
                                   static_cast<uint8_t>(sim::Ceiling::stone_roof),
                                   0,
                                   sim::LwwStamp{Hlc::pack(cluster.now_us / 1000 + 3'600'000, 0), RegionId{2}}});
  const uint64_t writes_before = cluster.regions[1]->local_writes;
  cluster.run(40, true);  // four health periods
  ASSERT_EQ(one.sim.world().map.ceiling({70, 33}), sim::Ceiling::stone_roof);
  EXPECT_GT(cluster.regions[1]->local_writes, writes_before);  // play went on
  bool seen_by_2 = false, seen_by_3 = false;
  for (const auto& [by, d] : desyncs) {
    if (d.peer != RegionId{1}) continue;  // (region 1 may report the others too)
    EXPECT_TRUE(d.at_vector);
    EXPECT_NE(d.our_hash, d.peer_hash);
    seen_by_2 = seen_by_2 || by == 2;
    seen_by_3 = seen_by_3 || by == 3;
  }
  EXPECT_TRUE(seen_by_2);
  EXPECT_TRUE(seen_by_3);
  for (size_t r = 1; r < 3; ++r) {
    const RegionLinkStatus s = cluster.regions[r]->link.status();
    EXPECT_GT(s.counters.desyncs, 0U);
    EXPECT_EQ(s.peers[0].agreement, Agreement::disagree);
  }
}

}  // namespace
}  // namespace strata::server
