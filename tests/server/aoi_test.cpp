// tests/server/aoi_test.cpp — interest management end to end without sockets: the server builds
// delta snapshots against each client's acknowledged view, they go through the wire codec, the
// client applies them to its own history, and its reconstruction must match the server's AOI
// checksum on every snapshot, whatever acks are lost or late.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "schema/client/codec.h"
#include "server/aoi.h"
#include "sim/rng.h"
#include "tools/scenario/scenario.h"

namespace strata::server {
namespace {

using namespace strata::sim;

// The client side of the protocol, as the SDK does it: keeps recent views by tick.
struct FakeClient {
  std::map<uint64_t, view::ClientView> views;
  uint64_t mismatches = 0;
  uint64_t bytes = 0;
  uint64_t snapshots = 0;

  std::string receive(const std::vector<uint8_t>& wire) {
    bytes += wire.size();
    snapshots += 1;
    auto decoded = view::decode_client_snapshot(wire);
    if (!decoded.snapshot) return "decode: " + decoded.error;
    const view::ClientSnapshot& s = *decoded.snapshot;
    const view::ClientView* base = nullptr;
    if (s.baseline_tick != 0) {
      auto it = views.find(s.baseline_tick);
      if (it == views.end()) return "baseline " + std::to_string(s.baseline_tick) + " not kept";
      base = &it->second;
    }
    auto applied = view::apply_snapshot(base, s);
    if (!applied.view) return "apply: " + applied.error;
    if (view::view_checksum(*applied.view) != s.aoi_checksum) mismatches += 1;
    views[s.tick] = std::move(*applied.view);
    while (views.size() > 64) views.erase(views.begin());
    return {};
  }
};

struct Server {
  Simulation sim;
  InterestIndex index;
  ChunkChecksums checksums;
  MapChangeLog changes{64};
  explicit Server(const WorldParams& params) : sim(params) { checksums.rebuild(sim.world()); }
  void step(const TickInput& input) {
    const Effects& effects = sim.step(input);
    checksums.update(sim.world(), effects.changed_cells);
    changes.record(sim.world(), effects.changed_cells);
    index.rebuild(sim.world());
  }
};

RC_GTEST_PROP(Aoi, ClientsReconstructEveryViewWhateverAcksAreLost, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 100000);
  scenario::ScenarioConfig config;
  config.seed = seed;
  config.players = *rc::gen::inRange<uint32_t>(4, 60);
  config.join_ramp_ticks = 5;
  config.build_per_mille = 80;
  config.break_per_mille = 40;
  config.remote_regions = 1;
  config.remote_writes_per_tick = 4;
  config.remote_presence_per_tick = 3;
  WorldParams params = scenario::world_for(seed, 3, 10);
  params.random_ticks_per_chunk = 16;
  Server server(params);
  scenario::ScenarioGenerator generator(config);
  std::map<uint32_t, FakeClient> clients;
  std::map<uint32_t, ClientInterest> interest;
  std::vector<std::pair<uint64_t, std::pair<uint32_t, uint64_t>>> acks_in_flight;  // (arrival tick, (player, tick))
  Rng rng = Rng::seeded(seed, 5);
  const uint32_t loss_per_mille = *rc::gen::inRange<uint32_t>(0, 600);
  TickInput input;
  AoiParams aoi;
  aoi.radius_cells = *rc::gen::inRange(6, 40);
  for (int t = 0; t < 120; ++t) {
    generator.next(server.sim.world(), input);
    server.step(input);
    const uint64_t tick = server.sim.tick();
    for (auto it = acks_in_flight.begin(); it != acks_in_flight.end();) {
      if (it->first <= tick) {
        interest[it->second.first].acknowledge(it->second.second);
        it = acks_in_flight.erase(it);
      } else {
        ++it;
      }
    }
    for (const Player& p : server.sim.world().players) {
      auto snapshot = build_client_snapshot(server.sim.world(), server.index, server.checksums, server.changes,
                                            interest[raw(p.id)], p, aoi, server.sim.quick_hash());
      std::vector<uint8_t> wire;
      view::encode_client_snapshot(snapshot, wire);
      if (rng.below(1000) < loss_per_mille) continue;  // the snapshot itself is lost
      const std::string problem = clients[raw(p.id)].receive(wire);
      RC_ASSERT(problem.empty());
      if (rng.below(1000) >= loss_per_mille) {
        acks_in_flight.push_back({tick + rng.below(6), {raw(p.id), snapshot.tick}});
      }
    }
    for (const Player& p : server.sim.world().players) RC_ASSERT(clients[raw(p.id)].mismatches == 0U);
  }
}

TEST(Aoi, EntitiesUnderARoofAreHiddenFromOutsideAndStraightMotionCostsNothing) {
  WorldParams params = scenario::world_for(3, 2, 0);
  params.random_ticks_per_chunk = 0;
  Server server(params);
  TickInput input;
  input.tick = 1;
  input.commands = {JoinCommand{PlayerId{1}}, JoinCommand{PlayerId{2}}};
  server.step(input);
  const CellPos spawn = spawn_cell(server.sim.world().map);
  // A roof over the spawn cell written by another region: both players now stand indoors.
  input.tick = 2;
  input.commands = {
      RemoteBlockWriteCommand{spawn, Layer::ceiling, to_underlying(Ceiling::thatch_roof), 0, LwwStamp{1, RegionId{2}}},
      MoveCommand{PlayerId{2}, 1, Direction::e, MoveMode::walk}};
  server.step(input);
  ClientInterest one;
  AoiParams aoi;
  // Player 2 walks east out from under the roof; player 1 stays inside.
  for (int i = 0; i < 12; ++i) {
    input.tick = server.sim.tick() + 1;
    input.commands.clear();
    server.step(input);
  }
  const Player& p1 = server.sim.world().players[0];
  const Player& p2 = server.sim.world().players[1];
  ASSERT_NE(server.sim.world().map.ceiling(CellPos{p1.pos.x.tile(), p1.pos.y.tile()}), Ceiling::none);
  ASSERT_EQ(server.sim.world().map.ceiling(CellPos{p2.pos.x.tile(), p2.pos.y.tile()}), Ceiling::none);
  ClientInterest two;
  auto seen_by_2 =
      build_client_snapshot(server.sim.world(), server.index, server.checksums, server.changes, two, p2, aoi, 0);
  ASSERT_EQ(seen_by_2.entities.size(), 1U) << "player 1 is indoors: hidden from player 2 outside";
  EXPECT_EQ(seen_by_2.entities[0].key.id, 2U);
  auto seen_by_1 =
      build_client_snapshot(server.sim.world(), server.index, server.checksums, server.changes, one, p1, aoi, 0);
  EXPECT_EQ(seen_by_1.entities.size(), 2U) << "indoors sees outside";
  // Player 2 keeps walking in a straight line: after the ack, its snapshot carries no entity data.
  two.acknowledge(seen_by_2.tick);
  input.tick = server.sim.tick() + 1;
  input.commands.clear();
  server.step(input);
  auto delta = build_client_snapshot(server.sim.world(), server.index, server.checksums, server.changes, two,
                                     server.sim.world().players[1], aoi, 0);
  EXPECT_EQ(delta.baseline_tick, seen_by_2.tick);
  EXPECT_TRUE(delta.entities.empty());
  EXPECT_TRUE(delta.chunks.empty());
  std::vector<uint8_t> wire;
  view::encode_client_snapshot(delta, wire);
  EXPECT_LT(wire.size(), 80U);
}

TEST(Aoi, HostileSnapshotBytesAreErrorsNotCrashes) {
  std::vector<uint8_t> junk(3000);
  Rng rng = Rng::seeded(1, 1);
  for (int round = 0; round < 200; ++round) {
    for (auto& b : junk) b = static_cast<uint8_t>(rng.below(256));
    auto r = view::decode_client_snapshot(std::span(junk).first(rng.below(3000)));
    if (r.snapshot) {
      auto applied = view::apply_snapshot(nullptr, *r.snapshot);
      (void)applied;
    }
  }
  EXPECT_FALSE(view::decode_client_snapshot({}).snapshot.has_value());
}

}  // namespace
}  // namespace strata::server
