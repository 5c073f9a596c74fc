// tests/sim/bus_test.cpp — what a region applies from the bus (issue 15): world-batch marks
// (RemoteBatchCommand -> World::bus_applied: order, staleness, own region, limits, state), remote
// NPC positions (RemoteNpcCommand: only for NPCs this region does not run, kept on walkable cells,
// derived indexes kept right), map_hash (the map alone), and the convergence property: any
// interleaving, duplication and delay of one set of remote writes gives one map hash.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "sim/hash.h"
#include "sim/movement.h"
#include "sim/state_codec.h"
#include "tests/sim/test_world.h"

namespace strata::sim {
namespace {

using test::small_params;
using test::step_with;

constexpr RegionId own{1};
constexpr RegionId peer{2};

RejectReason only_rejection(const Effects& effects) {
  if (effects.rejections.size() != 1) return RejectReason::none;
  return effects.rejections[0].reason;
}

void expect_sound(const Simulation& sim) {
  EXPECT_EQ(check_invariants(sim.world()), "");
  EXPECT_EQ(sim.check_derived(), "");
}

uint64_t mark_of(const World& world, RegionId origin) {
  for (const BusMark& m : world.bus_applied) {
    if (m.origin == origin) return m.seq;
  }
  return 0;
}

TEST(BusMarks, RecordTheHighestSequencePerOriginSortedAndRefuseStaleOnes) {
  Simulation sim(small_params());
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{RegionId{3}, 5}})), RejectReason::none);
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{RegionId{3}, 5}})), RejectReason::stale_batch);
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{RegionId{3}, 4}})), RejectReason::stale_batch);
  EXPECT_EQ(mark_of(sim.world(), RegionId{3}), 5U);
  // A later origin first, an earlier one after: the list stays sorted by origin.
  const Effects& e = step_with(sim, {RemoteBatchCommand{RegionId{9}, 1}, RemoteBatchCommand{RegionId{3}, 8},
                                     RemoteBatchCommand{peer, 2}, RemoteBatchCommand{RegionId{9}, 1}});
  ASSERT_EQ(e.rejections.size(), 1U);
  EXPECT_EQ(e.rejections[0].command_index, 3U);
  EXPECT_EQ(e.rejections[0].reason, RejectReason::stale_batch);
  const std::vector<BusMark> expected = {{peer, 2}, {RegionId{3}, 8}, {RegionId{9}, 1}};
  EXPECT_EQ(sim.world().bus_applied, expected);
  EXPECT_EQ(sim.world().counters.rejected[static_cast<size_t>(RejectReason::stale_batch)], 3U);
  expect_sound(sim);
}

TEST(BusMarks, RefuseTheOwnRegionRegionZeroAndSequenceZero) {
  Simulation sim(small_params());
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{own, 7}})), RejectReason::own_region);
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{RegionId{0}, 7}})), RejectReason::bad_region);
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{peer, 0}})), RejectReason::stale_batch);
  EXPECT_TRUE(sim.world().bus_applied.empty());
}

TEST(BusMarks, AtMostRegionsMaxOriginsTheNextIsRefused) {
  Simulation sim(small_params());
  std::vector<Command> batches;
  for (uint32_t i = 0; i < limits::regions_max; ++i) {
    batches.emplace_back(RemoteBatchCommand{RegionId{static_cast<uint16_t>(i + 2)}, 1});
  }
  EXPECT_TRUE(step_with(sim, batches).rejections.empty());
  EXPECT_EQ(sim.world().bus_applied.size(), limits::regions_max);
  const auto beyond = RegionId{static_cast<uint16_t>(limits::regions_max + 2)};
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{beyond, 1}})), RejectReason::region_limit);
  // Known origins still advance.
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteBatchCommand{peer, 2}})), RejectReason::none);
  EXPECT_EQ(mark_of(sim.world(), peer), 2U);
  expect_sound(sim);
}

TEST(BusMarks, AreStateHashedSavedAndValidatedButNotMap) {
  Simulation a(small_params());
  Simulation b(small_params());
  step_with(a, {RemoteBatchCommand{peer, 4}});
  step_with(b, {});
  EXPECT_NE(a.quick_hash(), b.quick_hash());
  EXPECT_NE(a.full_hash(), b.full_hash());
  EXPECT_EQ(map_hash(a.world()), map_hash(b.world()));

  std::vector<uint8_t> bytes;
  encode_state(a.world(), bytes);
  const StateDecodeResult decoded = decode_state(bytes);
  ASSERT_TRUE(decoded.world.has_value()) << decoded.error;
  EXPECT_EQ(decoded.world->bus_applied, a.world().bus_applied);
  EXPECT_EQ(full_hash(*decoded.world), a.full_hash());

  auto refused = [&](std::vector<BusMark> marks) {
    World w = a.world();
    w.bus_applied = std::move(marks);
    return validate_world(w);
  };
  EXPECT_EQ(refused({{peer, 1}, {RegionId{3}, 1}}), "");
  EXPECT_NE(refused({{RegionId{3}, 1}, {peer, 1}}), "");  // not sorted
  EXPECT_NE(refused({{peer, 1}, {peer, 2}}), "");         // not unique
  EXPECT_NE(refused({{RegionId{0}, 1}}), "");
  EXPECT_NE(refused({{own, 1}}), "");
  EXPECT_NE(refused({{peer, 0}}), "");
  std::vector<BusMark> too_many;
  for (uint32_t i = 0; i <= limits::regions_max; ++i) too_many.push_back({RegionId{static_cast<uint16_t>(i + 2)}, 1});
  EXPECT_NE(refused(too_many), "");
  // The decoder refuses what validate refuses: marks out of order in the bytes.
  World unsorted = a.world();
  unsorted.bus_applied = {{RegionId{3}, 1}, {peer, 1}};
  encode_state(unsorted, bytes);
  EXPECT_FALSE(decode_state(bytes).world.has_value());
}

// --- remote NPC positions -------------------------------------------------------------------

// A 2x2-chunk map where the local region (1) owns the west column and `peer` the east one, with
// NPC 1 standing in the east (run by the peer) and NPC 2 in the west (run here).
Simulation split_world_with_npcs() {
  WorldParams params = small_params(7, 0, 2);
  params.region_map.mode = Ownership::by_map;
  params.region_map.rects = {RegionRect{0, 0, 1, 2, own}, RegionRect{1, 0, 1, 2, peer}};
  World world = Simulation(params).world();
  EXPECT_EQ(world.npcs.size(), 2U);
  CellPos east;
  CellPos west;
  EXPECT_TRUE(find_free_cell(world.map, CellPos{48, 16}, 16, east));
  EXPECT_TRUE(find_free_cell(world.map, CellPos{16, 16}, 16, west));
  world.npcs[0].pos = cell_centre(east);
  world.npcs[1].pos = cell_centre(west);
  world.npcs[0].vel = world.npcs[1].vel = Vec2{};
  std::string error;
  auto sim = Simulation::from_world(std::move(world), &error);
  EXPECT_TRUE(sim.has_value()) << error;
  return std::move(*sim);
}

const Npc& npc(const Simulation& sim, NpcId id) {
  for (const Npc& n : sim.world().npcs) {
    if (n.id == id) return n;
  }
  ADD_FAILURE() << "no npc " << raw(id);
  return sim.world().npcs.front();
}

// A free cell in chunk column `chunk_x`, other than `not`.
CellPos free_cell_in_column(const TileMap& map, int32_t chunk_x, CellPos not_this) {
  for (int32_t y = 2; y < map.height() - 2; ++y) {
    for (int32_t x = chunk_x * limits::chunk_size + 2; x < (chunk_x + 1) * limits::chunk_size - 2; ++x) {
      const CellPos c{x, y};
      if (c != not_this && !box_blocked(map, cell_centre(c))) return c;
    }
  }
  ADD_FAILURE() << "no free cell in chunk column " << chunk_x;
  return {};
}

TEST(RemoteNpc, MovesTheLocalCopyOfAnNpcAnotherRegionRuns) {
  Simulation sim = split_world_with_npcs();
  const NpcId remote{1};
  const CellPos from{npc(sim, remote).pos.x.tile(), npc(sim, remote).pos.y.tile()};
  const CellPos to = free_cell_in_column(sim.world().map, 1, from);
  const Effects& e = step_with(sim, {RemoteNpcCommand{peer, remote, cell_centre(to), Direction::w}});
  EXPECT_TRUE(e.rejections.empty());
  EXPECT_EQ(npc(sim, remote).pos, cell_centre(to));
  EXPECT_EQ(npc(sim, remote).facing, Direction::w);
  EXPECT_EQ(npc(sim, remote).vel, Vec2{});  // documented: the copy's velocity is zero, not the jump
  expect_sound(sim);                        // occupancy moved with it
  // Not run here: it stays where the owner put it.
  step_with(sim, {});
  EXPECT_EQ(npc(sim, remote).pos, cell_centre(to));
  expect_sound(sim);
}

TEST(RemoteNpc, AnNpcMovedIntoAnOwnChunkIsRunHereFromTheNextTick) {
  Simulation sim = split_world_with_npcs();
  const NpcId remote{1};
  const CellPos to = free_cell_in_column(sim.world().map, 0, CellPos{-1, -1});
  const Effects& moved = step_with(sim, {RemoteNpcCommand{peer, remote, cell_centre(to), Direction::w}});
  ASSERT_TRUE(moved.rejections.empty());
  const std::vector<NpcId> run_then(moved.npcs_run.begin(), moved.npcs_run.end());
  EXPECT_TRUE(std::find(run_then.begin(), run_then.end(), remote) != run_then.end())
      << "the NPC phase comes after the commands: it stands in an own chunk already";
  // Now in an own chunk: the peer's word on it is refused.
  EXPECT_EQ(only_rejection(step_with(sim, {RemoteNpcCommand{peer, remote, cell_centre(to), Direction::n}})),
            RejectReason::own_region);
  expect_sound(sim);
}

TEST(RemoteNpc, RefusesUnknownOwnOffTheMapSolidAndBadEnums) {
  Simulation sim = split_world_with_npcs();
  const NpcId remote{1};
  const NpcId local{2};
  const Vec2 start = npc(sim, remote).pos;
  const CellPos free = free_cell_in_column(sim.world().map, 1, CellPos{start.x.tile(), start.y.tile()});
  auto reason = [&](RemoteNpcCommand c) { return only_rejection(step_with(sim, {c})); };
  EXPECT_EQ(reason({peer, NpcId{77}, cell_centre(free), Direction::s}), RejectReason::unknown_npc);
  EXPECT_EQ(reason({peer, local, cell_centre(free), Direction::s}), RejectReason::own_region);
  EXPECT_EQ(reason({own, remote, cell_centre(free), Direction::s}), RejectReason::own_region);
  EXPECT_EQ(reason({peer, remote, cell_centre(free), static_cast<Direction>(200)}), RejectReason::bad_enum);
  const int32_t width = sim.world().map.width() * limits::fixed_one;
  EXPECT_EQ(reason({peer, remote, Vec2{Fixed::from_raw(-1), start.y}, Direction::s}), RejectReason::out_of_bounds);
  EXPECT_EQ(reason({peer, remote, Vec2{Fixed::from_raw(INT32_MAX), start.y}, Direction::s}),
            RejectReason::out_of_bounds);
  EXPECT_EQ(reason({peer, remote, Vec2{Fixed::from_raw(INT32_MIN), start.y}, Direction::s}),
            RejectReason::out_of_bounds);
  // The centre on the map, the box over its edge.
  EXPECT_EQ(reason({peer, remote, Vec2{Fixed::from_raw(width - 10), start.y}, Direction::s}),
            RejectReason::out_of_bounds);
  // A solid cell (a wall the peer wrote).
  step_with(sim, {RemoteBlockWriteCommand{free, Layer::active, to_underlying(Block::stone_wall), 0, {5, peer}}});
  EXPECT_EQ(reason({peer, remote, cell_centre(free), Direction::s}), RejectReason::cell_occupied);
  EXPECT_EQ(npc(sim, remote).pos, start);
  EXPECT_EQ(sim.world().counters.rejected[static_cast<size_t>(RejectReason::unknown_npc)], 1U);
  expect_sound(sim);
}

// --- map_hash -------------------------------------------------------------------------------

TEST(MapHash, DependsOnTheMapAloneNotOnEntitiesGhostsCountersOrMarks) {
  Simulation plain(small_params(7, 0, 0));
  Simulation busy(small_params(7, 0, 0));
  step_with(plain, {});
  const CellPos spawn = spawn_cell(busy.world().map);
  step_with(busy, {JoinCommand{PlayerId{5}}, MoveCommand{PlayerId{5}, 1, Direction::e, MoveMode::walk},
                   RemotePresenceCommand{peer, PlayerId{8}, cell_centre(spawn), Direction::n},
                   RemoteBatchCommand{peer, 3}, LeaveCommand{PlayerId{77}}});
  EXPECT_NE(plain.full_hash(), busy.full_hash());
  EXPECT_EQ(map_hash(plain.world()), map_hash(busy.world()));
  World params_differ = plain.world();
  params_differ.params.seed += 1;  // the seed is params, not the map
  EXPECT_EQ(map_hash(params_differ), map_hash(plain.world()));

  // Any cell's value or stamp, on any layer, changes it.
  const uint64_t before = map_hash(plain.world());
  World stamped = plain.world();
  stamped.map.set(CellPos{3, 3}, Layer::floor, stamped.map.get(CellPos{3, 3}, Layer::floor), LwwStamp{1, peer});
  EXPECT_NE(map_hash(stamped), before);
  step_with(plain, {RemoteBlockWriteCommand{CellPos{3, 3}, Layer::ceiling, 1, 0, LwwStamp{9, peer}}});
  EXPECT_NE(map_hash(plain.world()), before);
  // A different map size with the same bytes per chunk is a different map.
  EXPECT_NE(map_hash(Simulation(small_params(7)).world()), map_hash([] {
              WorldParams p = small_params(7);
              p.chunks_y = 3;
              return Simulation(p).world();
            }()));
}

// --- convergence ----------------------------------------------------------------------------

// A remote write with a valid value for its layer, on a small patch of the map (so writes collide),
// by one of three origins with few distinct clock values (so stamps tie and the tie-break runs).
RemoteBlockWriteCommand arbitrary_write() {
  RemoteBlockWriteCommand c;
  c.cell = CellPos{*rc::gen::inRange(20, 26), *rc::gen::inRange(20, 26)};
  c.layer = static_cast<Layer>(*rc::gen::inRange(0, 3));
  switch (c.layer) {
    case Layer::floor: c.kind = static_cast<uint8_t>(*rc::gen::inRange<int>(0, to_underlying(Floor::count))); break;
    case Layer::active: {
      const auto block = static_cast<Block>(*rc::gen::inRange<int>(0, to_underlying(Block::count)));
      c.kind = to_underlying(block);
      if (block == Block::door) c.state = static_cast<uint8_t>(*rc::gen::inRange(0, 2));
      if (block == Block::crop) c.state = static_cast<uint8_t>(*rc::gen::inRange(0, crop_stage_ripe + 1));
      break;
    }
    default: c.kind = static_cast<uint8_t>(*rc::gen::inRange<int>(0, to_underlying(Ceiling::count))); break;
  }
  c.stamp = LwwStamp{static_cast<uint64_t>(*rc::gen::inRange(1, 6)),
                     RegionId{static_cast<uint16_t>(*rc::gen::inRange(2, 5))}};
  return c;
}

// One region's delivery of the events: each one to three times, in a random order, spread over
// random ticks (gaps of empty ticks between the ticks that carry some).
std::vector<std::vector<Command>> arbitrary_delivery(const std::vector<RemoteBlockWriteCommand>& events) {
  std::vector<std::pair<uint32_t, size_t>> keyed;  // (random key, event index) for the order
  for (size_t i = 0; i < events.size(); ++i) {
    const int copies = *rc::gen::inRange(1, 4);
    for (int k = 0; k < copies; ++k) keyed.emplace_back(*rc::gen::arbitrary<uint32_t>(), i);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::vector<Command>> ticks(1);
  for (const auto& [key, index] : keyed) {
    const int gap = *rc::gen::inRange(0, 4);  // 0: same tick as the previous one
    for (int g = 0; g < gap; ++g) ticks.emplace_back();
    ticks.back().emplace_back(events[index]);
  }
  return ticks;
}

// Issue 15's property: regions that applied the same set of remote writes have one map, whatever
// the order, the duplicates and the ticks they came in. Three deliveries of one random set to
// copies of one world (with NPCs and a player, so evictions happen too) end with one map hash, and
// each written cell layer holds the greatest (stamp, kind, state) written to it.
RC_GTEST_PROP(Convergence, AnyInterleavingDuplicationAndDelayOfRemoteWritesGivesOneMapHash, ()) {
  const int count = *rc::gen::inRange(1, 60);
  std::vector<RemoteBlockWriteCommand> events;
  for (int i = 0; i < count; ++i) events.push_back(arbitrary_write());
  const WorldParams params = small_params(7, 0, 4);
  std::vector<uint64_t> hashes;
  for (int copy = 0; copy < 3; ++copy) {
    Simulation sim(params);
    step_with(sim, {JoinCommand{PlayerId{5}}});
    for (const std::vector<Command>& tick : arbitrary_delivery(events)) step_with(sim, tick);
    RC_ASSERT(check_invariants(sim.world()).empty());
    RC_ASSERT(sim.check_derived().empty());
    hashes.push_back(map_hash(sim.world()));
    if (copy > 0) continue;
    using Key = std::tuple<int32_t, int32_t, uint8_t>;
    using Value = std::tuple<LwwStamp, uint8_t, uint8_t>;
    std::map<Key, Value> winner;
    for (const RemoteBlockWriteCommand& e : events) {
      const Key key{e.cell.x, e.cell.y, to_underlying(e.layer)};
      const Value value{e.stamp, e.kind, e.state};
      auto [it, inserted] = winner.emplace(key, value);
      if (!inserted) it->second = std::max(it->second, value);
    }
    for (const auto& [key, value] : winner) {
      const CellPos cell{std::get<0>(key), std::get<1>(key)};
      const auto layer = static_cast<Layer>(std::get<2>(key));
      RC_ASSERT(sim.world().map.stamp(cell, layer) == std::get<0>(value));
      RC_ASSERT(sim.world().map.get(cell, layer).kind == std::get<1>(value));
      RC_ASSERT(sim.world().map.get(cell, layer).state == std::get<2>(value));
    }
  }
  RC_ASSERT(hashes[0] == hashes[1]);
  RC_ASSERT(hashes[0] == hashes[2]);
}

}  // namespace
}  // namespace strata::sim
