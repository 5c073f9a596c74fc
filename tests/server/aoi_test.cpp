// tests/server/aoi_test.cpp — interest management end to end without sockets: the server builds
// delta snapshots against each client's acknowledged view, they go through the wire codec, the
// client applies them to its own history, and its reconstruction must match the server's AOI
// checksum on every snapshot, whatever acks are lost or late.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "schema/client/codec.h"
#include "schema/client/messages.h"
#include "server/aoi.h"
#include "server/snapshots.h"
#include "sim/rng.h"
#include "tools/scenario/scenario.h"

namespace strata::server {
namespace {

using namespace strata::sim;

const SystemClock test_clock;  // the builders time their builds with it (figures only: never what is built)

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
  // A snapshot as the builders hand it to the network (a message: kind byte, then the snapshot).
  std::string receive_message(const std::vector<uint8_t>& message) {
    auto decoded = view::decode_message(message);
    if (!decoded.message) return "message: " + decoded.error;
    std::vector<uint8_t> wire;
    view::encode_client_snapshot(decoded.message->snapshot, wire);
    return receive(wire);
  }
};

struct Server {
  Simulation sim;
  FramePublisher frames{64};
  std::shared_ptr<const TickFrame> frame;
  explicit Server(const WorldParams& params) : sim(params) {
    frame = frames.publish(sim.world(), {}, sim.quick_hash());
  }
  void step(const TickInput& input) {
    const Effects& effects = sim.step(input);
    frame = frames.publish(sim.world(), effects.changed_cells, sim.quick_hash());
  }
  // One tick in which players 1..count join.
  void join(uint32_t count) {
    TickInput input;
    input.tick = sim.tick() + 1;
    for (uint32_t id = 1; id <= count; ++id) input.commands.emplace_back(JoinCommand{PlayerId{id}});
    step(input);
  }
  view::ClientSnapshot build(ClientInterest& client, PlayerId player, const AoiParams& aoi) const {
    const ViewerState* viewer = frame->viewer(raw(player));
    RC_ASSERT(viewer != nullptr);
    return build_client_snapshot(*frame, client, *viewer, aoi);
  }
};

// Threads of this process whose nice value is at least `by` above the calling thread's
// (/proc/self/task/TID/stat, field 19). Waits up to a second for `expected`: new threads renice
// themselves as they start.
size_t threads_niced_by(int by, size_t expected) {
  auto nice_of = [](const std::string& path) {
    std::ifstream in(path);
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return 0;
    std::istringstream fields(stat.substr(paren + 2));
    std::string f;
    for (int i = 3; i <= 19 && fields >> f; ++i) {
    }
    return std::atoi(f.c_str());
  };
  const int mine = nice_of("/proc/thread-self/stat");
  size_t count = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    count = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      if (nice_of(task.path().string() + "/stat") >= mine + by) count += 1;
    }
    if (count >= expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return count;
}

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
  aoi.near_cells = *rc::gen::inRange(0, 12);
  aoi.mid_cells = aoi.near_cells + *rc::gen::inRange(0, 12);
  aoi.mid_every = *rc::gen::inRange(1u, 4u);
  aoi.far_every = *rc::gen::inRange(1u, 6u);
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
      auto snapshot = server.build(interest[raw(p.id)], p.id, aoi);
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
  server.join(2);
  TickInput input;
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
  auto seen_by_2 = server.build(two, p2.id, aoi);
  ASSERT_EQ(seen_by_2.entities.size(), 1U) << "player 1 is indoors: hidden from player 2 outside";
  EXPECT_EQ(seen_by_2.entities[0].key.id, 2U);
  auto seen_by_1 = server.build(one, p1.id, aoi);
  EXPECT_EQ(seen_by_1.entities.size(), 2U) << "indoors sees outside";
  // Player 2 keeps walking in a straight line: after the ack, its snapshot carries no entity data.
  two.acknowledge(seen_by_2.tick);
  input.tick = server.sim.tick() + 1;
  input.commands.clear();
  server.step(input);
  auto delta = server.build(two, server.sim.world().players[1].id, aoi);
  EXPECT_EQ(delta.baseline_tick, seen_by_2.tick);
  EXPECT_TRUE(delta.entities.empty());
  EXPECT_TRUE(delta.chunks.empty());
  std::vector<uint8_t> wire;
  view::encode_client_snapshot(delta, wire);
  EXPECT_LT(wire.size(), 80U);
}

// A client whose acks stop coming costs a bounded number of remembered entity states, however
// crowded its view; once its acknowledged view has been let go, it gets a full snapshot.
TEST(Aoi, LateAcksHoldBoundedMemory) {
  WorldParams params = scenario::world_for(5, 3, 0);
  params.random_ticks_per_chunk = 0;
  Server server(params);
  server.join(300);
  TickInput input;
  AoiParams aoi;
  ClientInterest client;
  view::ClientSnapshot first;
  EXPECT_EQ(build_client_snapshot(*server.frame, client, *server.frame->viewer(1), aoi, first),
            SnapshotKind::full_first);
  ASSERT_GT(first.entities.size(), 200U) << "a crowded view";
  client.acknowledge(first.tick);
  size_t deltas = 0;
  size_t evicted = 0;
  for (int i = 0; i < 60; ++i) {
    input.tick = server.sim.tick() + 1;
    input.commands.clear();
    server.step(input);
    view::ClientSnapshot s;
    const SnapshotKind kind = build_client_snapshot(*server.frame, client, *server.frame->viewer(1), aoi, s);
    EXPECT_EQ(kind == SnapshotKind::delta, s.baseline_tick == first.tick);
    deltas += kind == SnapshotKind::delta ? 1 : 0;
    evicted += kind == SnapshotKind::full_evicted ? 1 : 0;
    EXPECT_LE(client.entities_held(), ClientInterest::history_entities_max);
    EXPECT_GE(client.views_held(), 1U);
  }
  EXPECT_GT(deltas, 0U) << "deltas against the acknowledged view while it is held";
  EXPECT_EQ(deltas + evicted, 60U) << "then fulls, since the acknowledged view was let go";
  EXPECT_GT(evicted, 0U);
  EXPECT_TRUE(client.needs_full());
}

// An acknowledged view older than the frame's change history gets a full snapshot, said so.
TEST(Aoi, AnAckOlderThanTheChangeHistoryGetsAFullSnapshot) {
  WorldParams params = scenario::world_for(5, 2, 0);
  params.random_ticks_per_chunk = 4;  // cells change every tick: the change history fills
  Simulation sim(params);
  FramePublisher frames(4);  // 4 ticks of change history
  auto frame = frames.publish(sim.world(), {}, sim.quick_hash());
  TickInput input;
  // Until some tick changed a cell, no history is kept at all (every baseline is covered).
  while (frame->changes.empty() && sim.tick() < 100) {
    input.tick = sim.tick() + 1;
    frame = frames.publish(sim.world(), sim.step(input).changed_cells, sim.quick_hash());
  }
  ASSERT_FALSE(frame->changes.empty());
  input.tick = sim.tick() + 1;
  input.commands = {JoinCommand{PlayerId{1}}};
  frame = frames.publish(sim.world(), sim.step(input).changed_cells, sim.quick_hash());
  AoiParams aoi;
  aoi.radius_cells = 20;
  ClientInterest client;
  view::ClientSnapshot s;
  ASSERT_EQ(build_client_snapshot(*frame, client, *frame->viewer(1), aoi, s), SnapshotKind::full_first);
  client.acknowledge(s.tick);
  std::vector<SnapshotKind> kinds;
  for (int i = 0; i < 6; ++i) {
    input.tick = sim.tick() + 1;
    input.commands.clear();
    frame = frames.publish(sim.world(), sim.step(input).changed_cells, sim.quick_hash());
    ClientInterest held = client;  // the same acknowledged view each time
    kinds.push_back(build_client_snapshot(*frame, held, *frame->viewer(1), aoi, s));
  }
  using K = SnapshotKind;
  EXPECT_EQ(kinds, (std::vector<K>{K::delta, K::delta, K::delta, K::delta, K::full_too_old, K::full_too_old}));
}

// A frame dropped by its last holder goes back to the publisher's pool: a server whose builders
// keep up (one frame held at a time) makes two frames in all, whatever the number of ticks, and a
// recycled frame holds only its own tick's viewers and entities.
TEST(Aoi, DroppedFramesAreReused) {
  scenario::ScenarioConfig config;
  config.seed = 5;
  config.players = 20;
  config.join_ramp_ticks = 3;
  Server server(scenario::world_for(5, 2, 4));
  scenario::ScenarioGenerator generator(config);
  TickInput input;
  for (int t = 0; t < 100; ++t) {
    generator.next(server.sim.world(), input);
    server.step(input);  // the previous frame is dropped as the new one replaces it
    ASSERT_EQ(server.frame->viewers.size(), server.sim.world().players.size());
    ASSERT_EQ(server.frame->index.size(),
              server.sim.world().players.size() + server.sim.world().npcs.size() + server.sim.world().ghosts.size());
  }
  EXPECT_EQ(server.frames.frames_allocated(), 2U);
}

// Frames are read by builder threads while the sim steps on: each must keep the map, checksums
// and viewers of its own tick, however long it is held and however the mirrors are recycled.
RC_GTEST_PROP(Aoi, FramesKeepTheirTickWhileTheWorldMovesOn, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 100000);
  scenario::ScenarioConfig config;
  config.seed = seed;
  config.players = *rc::gen::inRange<uint32_t>(2, 30);
  config.join_ramp_ticks = 3;
  config.build_per_mille = 200;
  config.break_per_mille = 100;
  WorldParams params = scenario::world_for(seed, 2, 4);
  params.random_ticks_per_chunk = 32;
  Server server(params);
  scenario::ScenarioGenerator generator(config);
  struct Held {
    std::shared_ptr<const TickFrame> frame;
    std::vector<view::ChunkContent> map;  // the world's content at that tick
    std::vector<uint64_t> checksums;
    std::vector<ViewerState> viewers;  // a copy: the frame's own must not change while held
    std::vector<view::EntityState> entities;
  };
  std::vector<Held> held;
  Rng rng = Rng::seeded(seed, 9);
  TickInput input;
  for (int t = 0; t < 150; ++t) {
    generator.next(server.sim.world(), input);
    server.step(input);
    Held h{server.frame, {}, {}, server.frame->viewers, {}};
    for (uint32_t rank = 0; rank < server.frame->index.size(); ++rank)
      h.entities.push_back(server.frame->index.entity(rank));
    for (const Chunk& c : server.sim.world().map.chunks()) {
      view::ChunkContent content;
      content.floor = c.floor;
      content.active = c.active;
      content.active_state = c.active_state;
      content.ceiling = c.ceiling;
      h.checksums.push_back(view::chunk_checksum(content));
      h.map.push_back(content);
    }
    RC_ASSERT(server.frame->tick == server.sim.tick());
    RC_ASSERT(server.frame->viewers.size() == server.sim.world().players.size());
    held.push_back(std::move(h));
    while (!held.empty() && rng.below(100) < 45) held.erase(held.begin() + rng.below(held.size()));
    for (const Held& k : held) {
      RC_ASSERT(k.frame->map->tick() == k.frame->tick);
      RC_ASSERT(k.frame->chunk_checksums == k.checksums);
      for (size_t i = 0; i < k.map.size(); ++i) RC_ASSERT(k.frame->map->chunk(i) == k.map[i]);
      RC_ASSERT(k.frame->viewers == k.viewers);
      RC_ASSERT(k.frame->index.size() == k.entities.size());
      for (uint32_t rank = 0; rank < k.entities.size(); ++rank)
        RC_ASSERT(k.frame->index.entity(rank) == k.entities[rank]);
    }
  }
  RC_ASSERT(server.frames.mirrors_allocated() <= 160U);
}

// Builder threads produce byte for byte what the inline builder does, given the same frames and acks.
TEST(Snapshots, ThreadedBuildersMatchInlineBuildsByteForByte) {
  scenario::ScenarioConfig config;
  config.seed = 77;
  config.players = 40;
  config.join_ramp_ticks = 4;
  config.build_per_mille = 60;
  WorldParams params = scenario::world_for(77, 2, 8);
  params.random_ticks_per_chunk = 8;
  Server server(params);
  scenario::ScenarioGenerator generator(config);
  SnapshotOutbox inline_out;
  SnapshotOutbox threaded_out;
  AoiParams aoi;
  aoi.radius_cells = 12;
  aoi.near_cells = 4;
  SnapshotBuilders inline_builders(0, 0, aoi, inline_out, test_clock);
  SnapshotBuilders threaded(3, 5, aoi, threaded_out, test_clock);
  EXPECT_EQ(threads_niced_by(5, 3), 3U) << "builder threads run nicer than the tick thread";
  std::map<std::pair<uint64_t, uint64_t>, std::vector<uint8_t>> expected;  // (client, tick) -> bytes
  std::map<std::pair<uint64_t, uint64_t>, std::vector<uint8_t>> got;
  std::map<uint64_t, uint64_t> acked;
  TickInput input;
  std::vector<BuiltSnapshot> batch;
  uint64_t jobs_done = 0;
  for (int t = 0; t < 80; ++t) {
    generator.next(server.sim.world(), input);
    server.step(input);
    std::vector<SnapshotJob> jobs;
    for (const Player& p : server.sim.world().players) jobs.push_back({raw(p.id), 1, raw(p.id), acked[raw(p.id)]});
    inline_builders.publish(server.frame, jobs);
    threaded.publish(server.frame, jobs);
    inline_out.take(batch);
    for (BuiltSnapshot& b : batch) expected[{b.client, b.tick}] = std::move(b.bytes);
    // Wait for this frame's jobs to be done (a builder that is still busy would skip a frame).
    const auto done = [&] {
      const auto c = threaded.counters();
      return c.snapshots_built + c.fulls_deferred;
    };
    while (done() < jobs_done + jobs.size()) std::this_thread::yield();
    jobs_done += jobs.size();
    threaded_out.take(batch);
    // Copied, and the buffers handed back as the network side does: the builders encode the next
    // frames into used buffers, which must give the same bytes.
    for (BuiltSnapshot& b : batch) got[{b.client, b.tick}] = b.bytes;
    threaded_out.recycle(batch);
    for (const SnapshotJob& j : jobs) {
      if ((j.client + static_cast<uint64_t>(t)) % 3 != 0) acked[j.client] = server.frame->tick;  // some acks lost
    }
  }
  EXPECT_EQ(threaded.counters().frames_skipped, 0U);
  EXPECT_EQ(threaded.counters().fulls_deferred, inline_builders.counters().fulls_deferred);
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [key, bytes] : expected)
    ASSERT_EQ(got[key], bytes) << "client " << key.first << " tick " << key.second;
}

// Sent snapshots' buffers come back empty with their capacity, at most spares_max of them and
// none larger than spare_bytes_max (full snapshots would hold memory for nothing).
TEST(Snapshots, OutboxRecyclesBoundedBuffers) {
  SnapshotOutbox out;
  std::vector<BuiltSnapshot> sent(SnapshotOutbox::spares_max + 10);
  for (BuiltSnapshot& s : sent) s.bytes.assign(300, 7);
  sent[0].bytes.assign(SnapshotOutbox::spare_bytes_max + 1, 7);
  sent.back().bytes.assign(SnapshotOutbox::spare_bytes_max * 4, 7);
  out.recycle(sent);
  EXPECT_TRUE(sent.empty());
  std::vector<std::vector<uint8_t>> spares;
  out.take_spares(spares, 5);
  ASSERT_EQ(spares.size(), 5U);
  for (const auto& b : spares) {
    EXPECT_TRUE(b.empty());
    EXPECT_GE(b.capacity(), 300U);
  }
  out.take_spares(spares, SnapshotOutbox::spares_max * 2);
  EXPECT_EQ(spares.size(), SnapshotOutbox::spares_max);
  for (const auto& b : spares) EXPECT_LE(b.capacity(), SnapshotOutbox::spare_bytes_max);
}

// A client that does not acknowledge its full snapshot is not sent another one every tick.
TEST(Snapshots, UnacknowledgedFullSnapshotsAreRetriedNotRepeated) {
  WorldParams params = scenario::world_for(8, 2, 0);
  Server server(params);
  server.join(1);
  TickInput input;
  SnapshotOutbox out;
  AoiParams aoi;
  aoi.full_retry_ticks = 10;
  SnapshotBuilders builders(0, 0, aoi, out, test_clock);
  std::vector<uint64_t> built_at;
  std::vector<BuiltSnapshot> batch;
  for (int t = 0; t < 25; ++t) {
    input.tick = server.sim.tick() + 1;
    input.commands.clear();
    server.step(input);
    builders.publish(server.frame, {SnapshotJob{1, 1, 1, 0}});  // never acknowledged
    out.take(batch);
    for (const BuiltSnapshot& b : batch) built_at.push_back(b.tick);
  }
  EXPECT_EQ(built_at, (std::vector<uint64_t>{2, 12, 22}));
  EXPECT_EQ(builders.counters().fulls_deferred, 22U);
  // Once it acknowledges, deltas flow every tick again.
  builders.publish(server.frame, {SnapshotJob{1, 1, 1, 22}});
  input.tick = server.sim.tick() + 1;
  server.step(input);
  builders.publish(server.frame, {SnapshotJob{1, 1, 1, 22}});
  out.take(batch);
  ASSERT_EQ(batch.size(), 2U);
  auto decoded = view::decode_message(batch[1].bytes);
  ASSERT_TRUE(decoded.message.has_value());
  EXPECT_EQ(decoded.message->snapshot.baseline_tick, 22U);
}

// Frames published faster than the builders can keep up: builders skip to the newest frame, and
// whatever arrives still applies cleanly on the client with a matching checksum.
TEST(Snapshots, OverloadedBuildersSkipFramesAndClientsStayConsistent) {
  scenario::ScenarioConfig config;
  config.seed = 5;
  config.players = 60;
  config.join_ramp_ticks = 2;
  WorldParams params = scenario::world_for(5, 2, 10);
  Server server(params);
  scenario::ScenarioGenerator generator(config);
  SnapshotOutbox out;
  SnapshotBuilders builders(1, 0, AoiParams{}, out, test_clock);
  std::map<uint32_t, FakeClient> clients;
  std::map<uint64_t, uint64_t> acked;
  TickInput input;
  std::vector<BuiltSnapshot> batch;
  uint64_t jobs_published = 0;
  for (int t = 0; t < 300; ++t) {
    generator.next(server.sim.world(), input);
    server.step(input);
    std::vector<SnapshotJob> jobs;
    for (const Player& p : server.sim.world().players) jobs.push_back({raw(p.id), 1, raw(p.id), acked[raw(p.id)]});
    jobs_published += jobs.size();
    const uint64_t built_before = builders.counters().snapshots_built;
    builders.publish(server.frame, jobs);
    if (t % 4 == 0) {  // now and then let the builder catch up; in between it falls behind
      for (int spin = 0; spin < 5'000'000 && builders.counters().snapshots_built == built_before; ++spin)
        std::this_thread::yield();
    }
    out.take(batch);
    for (const BuiltSnapshot& b : batch) {
      ASSERT_EQ(clients[static_cast<uint32_t>(b.client)].receive_message(b.bytes), "");
      acked[b.client] = b.tick;
    }
  }
  builders.publish(server.frame, {});
  const auto c = builders.counters();
  EXPECT_LE(c.snapshots_built, jobs_published);
  EXPECT_GT(c.snapshots_built, 0U);
  EXPECT_FALSE(clients.empty());
  for (const auto& [id, client] : clients) {
    EXPECT_GT(client.snapshots, 0U) << "client " << id;
    EXPECT_EQ(client.mismatches, 0U) << "client " << id;
  }
  std::printf("published %llu jobs, built %llu, frames skipped %llu\n", static_cast<unsigned long long>(jobs_published),
              static_cast<unsigned long long>(c.snapshots_built), static_cast<unsigned long long>(c.frames_skipped));
}

// A newer frame published while a builder is on an older one cuts the older one short: the
// builder goes on with the next client of its rotation on the newer frame, so under overload every
// client is served in turn from the newest frame instead of waiting behind a whole stale frame.
TEST(Snapshots, ANewerFrameCutsTheBuildAndTheRotationGoesOn) {
  Server server(scenario::world_for(9, 2, 0));
  server.join(200);
  TickInput input;
  const auto step = [&] {
    input.tick = server.sim.tick() + 1;
    server.step(input);
  };
  const size_t players = server.sim.world().players.size();
  ASSERT_EQ(players, 200U);
  SnapshotOutbox out;
  SnapshotBuilders builders(1, 0, AoiParams{}, out, test_clock);
  std::mutex mutex;
  std::condition_variable changed;
  size_t taken = 0;
  size_t hold_at = 0;  // the hook blocks at this many jobs taken until released (0: never)
  bool released = false;
  builders.set_job_hook([&](uint64_t) {
    std::unique_lock lock(mutex);
    taken += 1;
    changed.notify_all();
    if (taken == hold_at) changed.wait(lock, [&] { return released; });
  });
  std::map<uint64_t, FakeClient> clients;
  std::map<uint64_t, uint64_t> acked;
  std::vector<BuiltSnapshot> batch;
  std::vector<std::pair<uint64_t, uint64_t>> order;  // (tick, client) as built
  const auto jobs = [&] {
    std::vector<SnapshotJob> list;
    for (const Player& p : server.sim.world().players) list.push_back({raw(p.id), 1, raw(p.id), acked[raw(p.id)]});
    std::reverse(list.begin(), list.end());  // the builder's rotation does not depend on the jobs' order
    return list;
  };
  const auto wait_taken = [&](size_t n) {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(60), [&] { return taken >= n; }));
  };
  const auto drain = [&](uint64_t built) {
    for (int spin = 0; spin < 60'000 && builders.counters().snapshots_built < built; ++spin)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(builders.counters().snapshots_built, built);
    out.take(batch);
    for (const BuiltSnapshot& b : batch) {
      order.emplace_back(b.tick, b.client);
      ASSERT_EQ(clients[b.client].receive_message(b.bytes), "");
      acked[b.client] = b.tick;
    }
  };
  // A first frame, built whole: every client has a full snapshot and acknowledges it.
  builders.publish(server.frame, jobs());
  wait_taken(players);
  drain(players);
  ASSERT_EQ(order.size(), players);
  for (size_t i = 0; i < players; ++i) EXPECT_EQ(order[i].second, i + 1) << "the rotation goes by client id";
  order.clear();
  // Frame A: the builder is held after 40 jobs while frame B is published; it notices B at its
  // next check (every 16 jobs), so A gets 48 clients and B starts with client 49.
  {
    std::lock_guard lock(mutex);
    hold_at = players + 40;
  }
  step();
  const uint64_t tick_a = server.frame->tick;
  builders.publish(server.frame, jobs());
  wait_taken(players + 40);
  step();
  const uint64_t tick_b = server.frame->tick;
  builders.publish(server.frame, jobs());
  {
    std::lock_guard lock(mutex);
    released = true;
  }
  changed.notify_all();
  wait_taken(players + 48 + players);
  drain(players + 48 + players);
  ASSERT_EQ(order.size(), 48 + players);
  for (size_t i = 0; i < 48; ++i) EXPECT_EQ(order[i], std::make_pair(tick_a, uint64_t{i + 1}));
  for (size_t i = 0; i < players; ++i)
    EXPECT_EQ(order[48 + i], std::make_pair(tick_b, uint64_t{(48 + i) % players + 1}));
  const SnapshotBuilderCounters c = builders.counters();
  EXPECT_EQ(c.frames_cut, 1U);
  EXPECT_EQ(c.frames_skipped, 0U);
  EXPECT_EQ(c.fulls_built, players);
  EXPECT_EQ(c.deltas_built, 48 + players);
  EXPECT_EQ(c.fulls_deferred, 0U);
  EXPECT_GT(c.delta_bytes, 0U);
  // B was built whole, so the next frame starts where B started.
  order.clear();
  step();
  builders.publish(server.frame, jobs());
  wait_taken(players + 48 + 2 * players);
  drain(players + 48 + 2 * players);
  ASSERT_EQ(order.size(), players);
  EXPECT_EQ(order.front().second, 49U);
  for (const auto& [id, client] : clients) EXPECT_EQ(client.mismatches, 0U) << "client " << id;
}

// Acks posted straight from the network side reach the builder before the sim thread's next job
// carries them: the next delta is against the newest acknowledged view. An ack of a tick the
// client was never sent, or from an unknown client, changes nothing.
TEST(Snapshots, PostedAcksAreUsedBeforeTheJobsCarryThem) {
  Server server(scenario::world_for(9, 2, 0));
  server.join(50);
  TickInput input;
  SnapshotOutbox out;
  SnapshotBuilders builders(0, 0, AoiParams{}, out, test_clock);  // inline: deterministic
  std::vector<SnapshotJob> jobs;
  for (uint32_t id = 1; id <= 50; ++id) jobs.push_back({id, 1, id, 0});  // the sim thread saw no ack
  std::vector<BuiltSnapshot> batch;
  builders.publish(server.frame, jobs);
  out.take(batch);
  ASSERT_EQ(batch.size(), 50U);
  const uint64_t first = server.frame->tick;
  std::vector<std::pair<uint64_t, uint64_t>> acks;
  for (uint64_t id = 1; id <= 50; ++id) acks.emplace_back(id, first);
  acks.emplace_back(1, first + 1000);  // never sent: ignored
  acks.emplace_back(999, first);       // no such client
  builders.post_acks(acks);
  input.tick = server.sim.tick() + 1;
  server.step(input);
  builders.publish(server.frame, jobs);
  out.take(batch);
  ASSERT_EQ(batch.size(), 50U);
  for (const BuiltSnapshot& b : batch) {
    auto decoded = view::decode_message(b.bytes);
    ASSERT_TRUE(decoded.message.has_value());
    EXPECT_EQ(decoded.message->snapshot.baseline_tick, first) << "client " << b.client;
  }
  const SnapshotBuilderCounters c = builders.counters();
  EXPECT_EQ(c.acks_posted, 52U);
  EXPECT_EQ(c.acks_advanced, 50U);
  EXPECT_EQ(c.acks_dropped, 0U);
  EXPECT_EQ(c.fulls_deferred, 0U);
}

// The compact records round-trip any sorted delta, removed and cell lists, extreme values included.
RC_GTEST_PROP(Aoi, RecordsRoundTripAnyDeltas, ()) {
  const auto n = *rc::gen::inRange<size_t>(0, 300);
  std::map<view::EntityKey, view::EntityDelta> by_key;
  const auto field = rc::gen::oneOf(rc::gen::just(0), rc::gen::inRange(-300, 300), rc::gen::arbitrary<int32_t>());
  // Mostly the velocities of the sim's gaits (one motion byte on the wire), sometimes any.
  const auto speed = rc::gen::element(0, sim::limits::walk_speed, sim::limits::run_speed, sim::limits::npc_speed);
  for (size_t i = 0; i < n; ++i) {
    view::EntityDelta d;
    d.key.kind = static_cast<view::EntityKind>(*rc::gen::inRange(0, 3));
    d.key.region = d.key.kind == view::EntityKind::ghost ? *rc::gen::arbitrary<uint16_t>() : 0;
    d.key.id = *rc::gen::oneOf(rc::gen::inRange<uint32_t>(1, 5000), rc::gen::arbitrary<uint32_t>());
    d.fresh = *rc::gen::arbitrary<bool>();
    d.has_velocity = !d.fresh && *rc::gen::arbitrary<bool>();
    d.has_facing = !d.fresh && *rc::gen::arbitrary<bool>();
    d.has_health = !d.fresh && *rc::gen::arbitrary<bool>();
    d.x = *field, d.y = *field;
    if (d.fresh || d.has_velocity) {
      if (*rc::gen::arbitrary<bool>()) {
        const Vec2 v = velocity_for(static_cast<Direction>(*rc::gen::inRange(1, 9)), *speed);
        d.vx = v.x.raw(), d.vy = v.y.raw();
      } else {
        d.vx = *field, d.vy = *field;
      }
    }
    if (d.has_velocity) d.turn = *rc::gen::oneOf(rc::gen::just(0U), rc::gen::arbitrary<uint32_t>());
    if (d.fresh || d.has_facing) d.facing = *rc::gen::arbitrary<uint8_t>();
    if (d.fresh || d.has_health) d.health = *rc::gen::arbitrary<uint16_t>();
    by_key[d.key] = d;
  }
  view::ClientSnapshot s;
  s.tick = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  s.baseline_tick = by_key.empty() ? 0 : s.tick - std::min<uint64_t>(s.tick - 1, *rc::gen::inRange<uint64_t>(1, 65536));
  for (const auto& [key, d] : by_key) s.entities.push_back(d);
  std::set<view::EntityKey> removed;
  for (size_t i = *rc::gen::inRange<size_t>(0, 50); i > 0; --i) {
    const auto kind = static_cast<view::EntityKind>(*rc::gen::inRange(0, 3));
    removed.insert(view::EntityKey{kind,
                                   kind == view::EntityKind::ghost ? *rc::gen::arbitrary<uint16_t>() : uint16_t{0},
                                   *rc::gen::arbitrary<uint32_t>()});
  }
  s.removed.assign(removed.begin(), removed.end());
  std::set<view::CellUpdate> cells;
  for (size_t i = *rc::gen::inRange<size_t>(0, 200); i > 0; --i) {
    view::CellUpdate c{*rc::gen::inRange(0, 1 << 20), *rc::gen::inRange(0, 1 << 20),
                       static_cast<uint8_t>(*rc::gen::inRange(0, 3)), *rc::gen::arbitrary<uint8_t>(), 0};
    if (c.layer == 1) c.state = *rc::gen::arbitrary<uint8_t>();
    cells.insert(c);
  }
  s.cells.assign(cells.begin(), cells.end());
  s.aoi_checksum = *rc::gen::arbitrary<uint64_t>();
  s.world_quick_hash = *rc::gen::arbitrary<uint64_t>();
  s.last_input_seq = *rc::gen::arbitrary<uint32_t>();
  s.viewer = *rc::gen::arbitrary<uint32_t>();
  // Enough fresh chunks, sometimes, for the message to outgrow the encoder's first segment.
  const int fresh_chunks = *rc::gen::resize(rc::kNominalSize, rc::gen::inRange(0, 12));
  for (int i = 0; i < fresh_chunks; ++i) {  // in coord order, as the server sends them
    view::FreshChunk c;
    c.coord = {i, 0};
    c.content.floor.fill(static_cast<uint8_t>(i + 1));
    s.chunks.push_back(c);
  }
  std::vector<uint8_t> wire;
  view::encode_client_snapshot(s, wire);
  auto decoded = view::decode_client_snapshot(wire);
  RC_ASSERT(decoded.error == "");
  RC_ASSERT(decoded.snapshot->baseline_tick == s.baseline_tick);
  RC_ASSERT(decoded.snapshot->entities == s.entities);
  RC_ASSERT(decoded.snapshot->removed == s.removed);
  RC_ASSERT(decoded.snapshot->cells == s.cells);
  // The header alone, read from the leading words, is the full decode's header.
  const auto header = view::decode_client_snapshot_header(wire);
  RC_ASSERT(header.has_value());
  RC_ASSERT(header->tick == s.tick && header->baseline_tick == s.baseline_tick);
  RC_ASSERT(header->aoi_checksum == s.aoi_checksum && header->world_quick_hash == s.world_quick_hash);
  RC_ASSERT(header->last_input_seq == s.last_input_seq && header->viewer == s.viewer);
  RC_ASSERT(header->entities.empty() && header->cells.empty());
}

// Whatever happened to the entities since the baseline (straight moves, turns, stops, collisions,
// teleports, facing and health changes, arrivals and departures), applying the delta to the
// baseline gives exactly the current entities, through the wire; and an entity that turned once
// costs no position correction.
RC_GTEST_PROP(Aoi, DeltasRebuildTheCurrentEntitiesExactly, ()) {
  const auto elapsed = *rc::gen::inRange<uint64_t>(1, 40);
  const auto speed = rc::gen::element(0, sim::limits::walk_speed, sim::limits::run_speed, sim::limits::npc_speed);
  auto velocity = [&] { return velocity_for(static_cast<Direction>(*rc::gen::inRange(1, 9)), *speed); };
  view::ClientView base;
  base.tick = 1000;
  std::vector<view::EntityState> now;
  std::set<uint32_t> turned_once;  // ids
  for (uint32_t id = 1; id <= 60; ++id) {
    const view::EntityKey key{view::EntityKind::player, 0, id};
    // Full-size range whatever the test size (inRange scales with it): every case in every test.
    const int what = *rc::gen::resize(
        rc::kNominalSize,
        rc::gen::inRange(0, 7));  // 0 new, 1 gone, 2 straight, 3 one turn, 4 collision, 5 teleport, 6 facing/health
    const Vec2 v0 = velocity();
    view::EntityState b{key,
                        *rc::gen::inRange(0, 1 << 18),
                        *rc::gen::inRange(0, 1 << 18),
                        v0.x.raw(),
                        v0.y.raw(),
                        static_cast<uint8_t>(*rc::gen::inRange(1, 9)),
                        *rc::gen::inRange<uint16_t>(1, 100)};
    if (what != 0) base.entities.push_back(b);
    if (what == 1) continue;
    view::EntityState e = b;
    const auto t = static_cast<int32_t>(elapsed);
    e.x = b.x + b.vx * t;
    e.y = b.y + b.vy * t;
    if (what == 3 || what == 4) {
      const Vec2 v1 = velocity();
      const auto k = *rc::gen::inRange<int32_t>(0, t + 1);
      e.vx = v1.x.raw(), e.vy = v1.y.raw();
      e.x = b.x + b.vx * (t - k) + e.vx * k;
      e.y = b.y + b.vy * (t - k) + e.vy * k;
      if (what == 4) e.x -= *rc::gen::inRange(1, 40), e.vx = 0;  // stopped by a wall
      if (what == 3 && (e.vx != b.vx || e.vy != b.vy)) turned_once.insert(id);
    }
    if (what == 5) e.x = *rc::gen::inRange(0, 1 << 18);
    if (what == 6) e.facing = static_cast<uint8_t>(*rc::gen::inRange(1, 9)), e.health = *rc::gen::arbitrary<uint16_t>();
    now.push_back(e);
  }
  view::ClientSnapshot s;
  s.tick = base.tick + elapsed;
  s.baseline_tick = base.tick;
  view::diff_entities(&base.entities, base.tick, now, s.tick, s);
  for (const view::EntityDelta& d : s.entities) {
    if (turned_once.count(d.key.id) != 0) RC_ASSERT(d.has_velocity && d.x == 0 && d.y == 0);
  }
  std::vector<uint8_t> wire;
  view::encode_client_snapshot(s, wire);
  auto decoded = view::decode_client_snapshot(wire);
  RC_ASSERT(decoded.error == "");
  auto applied = view::apply_snapshot(&base, *decoded.snapshot);
  RC_ASSERT(applied.error == "");
  RC_ASSERT(applied.view->entities == now);
  RC_TAG(turned_once.empty() ? "no turns" : "turns");
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
