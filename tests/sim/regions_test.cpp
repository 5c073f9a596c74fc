// tests/sim/regions_test.cpp — chunk ownership (sim/regions.h): random ticks and NPCs run only in
// the chunks a region owns, their writes are stamped and listed in Effects::rule_writes, two regions
// splitting a map do together what one region owning it does (where that is true by construction:
// when nothing the rules read crosses the split), their writes replicate as remote writes, and any
// valid map is a partition of the chunks.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "sim/hash.h"
#include "sim/movement.h"
#include "sim/state_codec.h"
#include "tests/sim/test_world.h"

namespace strata::sim {
namespace {

constexpr RegionId west{1};
constexpr RegionId east{2};

// A map of 4x2 chunks: chunk columns 0-1 owned by `west`, 2-3 by `east`.
RegionMap split_map() {
  RegionMap map;
  map.mode = Ownership::by_map;
  map.rects = {RegionRect{0, 0, 2, 2, west}, RegionRect{2, 0, 2, 2, east}};
  return map;
}

WorldParams split_params(uint32_t random_ticks, uint32_t npcs) {
  WorldParams params;
  params.seed = 11;
  params.chunks_x = 4;
  params.chunks_y = 2;
  params.random_ticks_per_chunk = random_ticks;
  params.npc_count = npcs;
  return params;
}

// The same world as region `local` under `map` (the map is params, hence part of the state).
Simulation as_region(World world, RegionId local, const RegionMap& map) {
  world.params.region = local;
  world.params.region_map = map;
  std::string error;
  auto sim = Simulation::from_world(std::move(world), &error);
  EXPECT_TRUE(sim.has_value()) << error;
  return std::move(*sim);
}

// A world whose two halves cannot affect each other by rules: a two-cell water moat along the split
// (no grass reads across it, no NPC walks across it), NPCs that stood in it removed.
World moated_world(uint32_t random_ticks, uint32_t npcs) {
  World world = Simulation(split_params(random_ticks, npcs)).world();
  const int32_t split_x = 2 * limits::chunk_size;
  for (int32_t y = 0; y < world.map.height(); ++y) {
    for (int32_t x = split_x - 1; x <= split_x; ++x) {
      world.map.set_unstamped(CellPos{x, y}, Layer::floor, CellValue{to_underlying(Floor::water), 0});
      world.map.set_unstamped(CellPos{x, y}, Layer::active, CellValue{0, 0});
      world.map.set_unstamped(CellPos{x, y}, Layer::ceiling, CellValue{0, 0});
    }
  }
  std::erase_if(world.npcs, [&](const Npc& n) { return box_blocked(world.map, n.pos); });
  return world;
}

bool in_region(CellPos cell, RegionId region) {
  const int32_t cx = cell.x >> limits::chunk_shift;
  return region == west ? cx < 2 : cx >= 2;
}

// A rule write without its stamp's region (each region stamps its own writes).
using Written = std::tuple<int32_t, int32_t, uint8_t, uint8_t, uint8_t, uint64_t>;
Written written(const BlockWrite& w) {
  return {w.cell.x, w.cell.y, to_underlying(w.layer), w.kind, w.state, w.stamp.hlc};
}

const Npc* find_npc(const World& world, NpcId id) {
  for (const Npc& n : world.npcs) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

bool same_npc(const Npc& a, const Npc& b) {
  return a.pos == b.pos && a.vel == b.vel && a.facing == b.facing && a.heading == b.heading && a.target == b.target &&
         a.timer == b.timer;
}

TEST(Regions, TheDefaultMapOwnsEveryChunk) {
  Simulation sim(test::small_params(7, 16, 4));
  for (int32_t y = 0; y < sim.world().map.height(); y += limits::chunk_size)
    for (int32_t x = 0; x < sim.world().map.width(); x += limits::chunk_size) EXPECT_TRUE(sim.owns(CellPos{x, y}));
  size_t writes = 0;
  for (int t = 0; t < 50; ++t) {
    const Effects& e = test::step_with(sim, {});
    writes += e.rule_writes.size();
    EXPECT_EQ(e.npcs_run.size(), sim.world().npcs.size());
  }
  EXPECT_GT(writes, 0U);
  EXPECT_EQ(writes, sim.world().counters.random_updates);
}

TEST(Regions, RuleWritesAreStampedListedInOrderAndMatchTheMap) {
  Simulation sim(test::small_params(7, 32, 0));
  for (int t = 0; t < 30; ++t) {
    const World before = sim.world();
    const Effects& e = test::step_with(sim, {});
    for (size_t i = 0; i < e.rule_writes.size(); ++i) {
      const BlockWrite& w = e.rule_writes[i];
      EXPECT_EQ(w.stamp.region, sim.world().params.region);
      // The successor of the stamp the cell held: it beats exactly what the rule read.
      EXPECT_EQ(w.stamp.hlc, before.map.stamp(w.cell, w.layer).hlc + 1);
      EXPECT_EQ(sim.world().map.stamp(w.cell, w.layer), w.stamp);
      EXPECT_EQ(sim.world().map.get(w.cell, w.layer).kind, w.kind);
      EXPECT_EQ(sim.world().map.get(w.cell, w.layer).state, w.state);
      if (i > 0) {  // chunk index order
        const TileMap& m = sim.world().map;
        EXPECT_LE(m.chunk_index(e.rule_writes[i - 1].cell), m.chunk_index(w.cell));
      }
    }
  }
}

TEST(Regions, EachRegionRunsRandomTicksAndNpcsOnlyInItsChunks) {
  const World start = Simulation(split_params(24, 40)).world();
  Simulation a = as_region(start, west, split_map());
  Simulation b = as_region(start, east, split_map());
  size_t writes_a = 0;
  size_t writes_b = 0;
  for (int t = 0; t < 100; ++t) {
    const World before_a = a.world();
    const Effects& ea = test::step_with(a, {});
    writes_a += ea.rule_writes.size();
    for (const BlockWrite& w : ea.rule_writes) EXPECT_TRUE(in_region(w.cell, west)) << w.cell.x;
    for (const CellChange& c : ea.changed_cells) EXPECT_TRUE(in_region(c.cell, west)) << c.cell.x;
    for (const NpcId id : ea.npcs_run) {
      const Npc* n = find_npc(before_a, id);
      ASSERT_NE(n, nullptr);
      EXPECT_TRUE(in_region(CellPos{n->pos.x.tile(), n->pos.y.tile()}, west));
    }
    // NPCs the region did not run stood still.
    for (const Npc& n : a.world().npcs) {
      if (std::find(ea.npcs_run.begin(), ea.npcs_run.end(), n.id) != ea.npcs_run.end()) continue;
      const Npc* was = find_npc(before_a, n.id);
      ASSERT_NE(was, nullptr);
      EXPECT_EQ(n.pos, was->pos);
      EXPECT_EQ(n.vel, Vec2{});
    }
    const Effects& eb = test::step_with(b, {});
    writes_b += eb.rule_writes.size();
    for (const BlockWrite& w : eb.rule_writes) EXPECT_TRUE(in_region(w.cell, east)) << w.cell.x;
  }
  EXPECT_GT(writes_a, 0U);
  EXPECT_GT(writes_b, 0U);
  // Without any message between them, neither changed the other's chunks.
  const size_t chunks_x = 4;
  for (size_t c = 0; c < start.map.chunks().size(); ++c) {
    const Chunk& original = start.map.chunks()[c];
    const Chunk& held = (c % chunks_x < 2 ? b : a).world().map.chunks()[c];
    EXPECT_EQ(held.floor, original.floor) << c;
    EXPECT_EQ(held.active_state, original.active_state) << c;
    EXPECT_EQ(held.stamp_hlc, original.stamp_hlc) << c;
  }
}

// True by construction since rules 4 (draws keyed by tick and chunk / NPC): where nothing the rules
// read crosses the split, the two regions together write what one region owning everything writes,
// tick by tick, and each runs its NPCs exactly as that region does. (Across an open boundary it is
// not true: a rule reading a cell across the split sees the other region's writes a tick late, and
// within one tick the single region sees writes of lower-indexed chunks first.)
TEST(Regions, TwoRegionsSplittingAMoatedWorldDoTogetherWhatOneDoes) {
  const World start = moated_world(24, 40);
  ASSERT_GT(start.npcs.size(), 10U);
  Simulation whole = as_region(start, west, RegionMap{});
  Simulation a = as_region(start, west, split_map());
  Simulation b = as_region(start, east, split_map());
  size_t compared = 0;
  for (int t = 0; t < 300; ++t) {
    const Effects& ew = test::step_with(whole, {});
    std::multiset<Written> expected;
    for (const BlockWrite& w : ew.rule_writes) expected.insert(written(w));
    const std::vector<NpcId> all_npcs = ew.npcs_run;
    std::multiset<Written> together;
    const Effects& ea = test::step_with(a, {});
    for (const BlockWrite& w : ea.rule_writes) together.insert(written(w));
    std::vector<NpcId> run = ea.npcs_run;
    const Effects& eb = test::step_with(b, {});
    for (const BlockWrite& w : eb.rule_writes) together.insert(written(w));
    run.insert(run.end(), eb.npcs_run.begin(), eb.npcs_run.end());
    ASSERT_EQ(together, expected) << "tick " << t + 1;
    compared += expected.size();
    std::sort(run.begin(), run.end(), [](NpcId x, NpcId y) { return raw(x) < raw(y); });
    ASSERT_EQ(run, all_npcs) << "every NPC runs in exactly one region";
  }
  EXPECT_GT(compared, 100U);
  // Each region's own NPCs are where the all-owning region has them.
  for (const Npc& n : whole.world().npcs) {
    const bool west_side = in_region(CellPos{n.pos.x.tile(), n.pos.y.tile()}, west);
    const Npc* mine = find_npc((west_side ? a : b).world(), n.id);
    ASSERT_NE(mine, nullptr);
    EXPECT_TRUE(same_npc(*mine, n)) << raw(n.id);
  }
}

// The replication the next step builds: each region's rule writes of tick T enter the other's
// input of tick T+1 as remote writes. Every one is applied (its stamp wins), and a region's copy of
// the other's chunks is then exactly the owner's, stamps included: the owner's writes are the only
// way those chunks change.
TEST(Regions, RuleWritesReplicateAsRemoteWritesAndConverge) {
  const World start = Simulation(split_params(24, 20)).world();
  Simulation a = as_region(start, west, split_map());
  Simulation b = as_region(start, east, split_map());
  std::vector<Command> to_a;
  std::vector<Command> to_b;
  World a_before = a.world();
  World b_before = b.world();
  size_t replicated = 0;
  for (int t = 0; t < 200; ++t) {
    std::vector<Command> next_a;
    std::vector<Command> next_b;
    const Effects& ea = test::step_with(a, to_a);
    EXPECT_TRUE(ea.rejections.empty());
    for (const BlockWrite& w : ea.rule_writes)
      next_b.push_back(RemoteBlockWriteCommand{w.cell, w.layer, w.kind, w.state, w.stamp});
    const Effects& eb = test::step_with(b, to_b);
    EXPECT_TRUE(eb.rejections.empty());
    for (const BlockWrite& w : eb.rule_writes)
      next_a.push_back(RemoteBlockWriteCommand{w.cell, w.layer, w.kind, w.state, w.stamp});
    // After tick T, a's copy of b's chunks is b's after tick T-1 (and the other way round).
    for (size_t c = 0; c < start.map.chunks().size(); ++c) {
      const bool west_chunk = c % 4 < 2;
      const Chunk& copy = (west_chunk ? b : a).world().map.chunks()[c];
      const Chunk& owner_before = (west_chunk ? a_before : b_before).map.chunks()[c];
      ASSERT_EQ(copy.floor, owner_before.floor) << "tick " << t + 1 << " chunk " << c;
      ASSERT_EQ(copy.active_state, owner_before.active_state);
      ASSERT_EQ(copy.stamp_hlc, owner_before.stamp_hlc);
      ASSERT_EQ(copy.stamp_region, owner_before.stamp_region);
    }
    replicated += next_a.size() + next_b.size();
    to_a = std::move(next_a);
    to_b = std::move(next_b);
    a_before = a.world();
    b_before = b.world();
  }
  EXPECT_GT(replicated, 100U);
  EXPECT_EQ(a.world().counters.remote_writes_superseded, 0U);
  EXPECT_EQ(b.world().counters.remote_writes_superseded, 0U);
  EXPECT_EQ(a.world().counters.remote_writes_applied + b.world().counters.remote_writes_applied,
            replicated - to_a.size() - to_b.size());
}

TEST(Regions, ChunksOfRegionZeroRunNoRulesAnywhere) {
  RegionMap map;
  map.mode = Ownership::by_map;
  map.rects = {RegionRect{0, 0, 1, 2, west}};  // the rest falls to region 0: nobody
  const World start = Simulation(split_params(32, 30)).world();
  Simulation a = as_region(start, west, map);
  Simulation b = as_region(start, east, map);
  for (int t = 0; t < 50; ++t) {
    for (const BlockWrite& w : test::step_with(a, {}).rule_writes) EXPECT_LT(w.cell.x, limits::chunk_size);
    EXPECT_TRUE(test::step_with(b, {}).rule_writes.empty());
    EXPECT_TRUE(b.world().npcs.empty() || test::step_with(b, {}).npcs_run.empty());
  }
}

TEST(Regions, InvalidMapsAreRefusedWithTheRectangle) {
  WorldParams params = split_params(0, 0);
  size_t bad = 0;
  RegionMap map = split_map();
  EXPECT_EQ(validate_region_map(map, 4, 2, &bad), nullptr);
  map.rects.push_back(RegionRect{1, 1, 2, 1, RegionId{3}});
  EXPECT_STREQ(validate_region_map(map, 4, 2, &bad), "region map rectangles overlap");
  EXPECT_EQ(bad, 2U);
  map.rects.back() = RegionRect{3, 0, 2, 1, RegionId{3}};
  EXPECT_STREQ(validate_region_map(map, 3, 2, &bad), "region map rectangle reaches outside the map");
  EXPECT_EQ(bad, 1U);
  map = split_map();
  map.rects[0].region = RegionId{0};
  EXPECT_STREQ(validate_region_map(map, 4, 2, &bad), "region map rectangle owned by region 0");
  map = split_map();
  map.rects[1].w = 0;
  EXPECT_STREQ(validate_region_map(map, 4, 2, &bad), "region map rectangle is empty");
  map = RegionMap{};
  map.rects.push_back(RegionRect{});
  EXPECT_STREQ(validate_region_map(map, 4, 2), "a whole-world region map has no rectangles or fallback");
  map = RegionMap{};
  map.mode = Ownership::by_map;
  map.rects.assign(limits::region_rects_max + 1, RegionRect{});
  EXPECT_STREQ(validate_region_map(map, 4, 2), "region map has too many rectangles");
  params.region_map = split_map();
  params.region_map.rects[1].x = -1;
  EXPECT_NE(validate(params), nullptr) << "the world's params carry the check";
}

TEST(Regions, TheMapIsStateAndSurvivesTheCodec) {
  const World start = Simulation(split_params(8, 10)).world();
  Simulation b = as_region(start, east, split_map());
  Simulation other = as_region(start, east, RegionMap{});
  EXPECT_NE(b.full_hash(), other.full_hash()) << "ownership is hashed";
  EXPECT_NE(b.quick_hash(), other.quick_hash());
  std::vector<uint8_t> bytes;
  encode_state(b.world(), bytes);
  StateDecodeResult decoded = decode_state(bytes);
  ASSERT_TRUE(decoded.world.has_value()) << decoded.error;
  EXPECT_EQ(decoded.world->params.region_map, split_map());
  EXPECT_EQ(full_hash(*decoded.world), b.full_hash());
}

// Any map: every chunk has exactly one owner (possibly region 0, nobody), the one rectangle covering
// it or else the fallback; and the regions' own views agree: of all the regions, exactly the owner
// says it owns the chunk.
RC_GTEST_PROP(Regions, AnyValidMapIsAPartitionOfTheChunks, ()) {
  const auto cx = *rc::gen::inRange<int32_t>(1, 9);
  const auto cy = *rc::gen::inRange<int32_t>(1, 9);
  RegionMap map;
  map.mode = Ownership::by_map;
  map.fallback = RegionId{*rc::gen::inRange<uint16_t>(0, 5)};
  const auto attempts = *rc::gen::inRange<int>(0, 12);
  for (int i = 0; i < attempts; ++i) {
    RegionRect r;
    r.x = *rc::gen::inRange<int32_t>(0, cx);
    r.y = *rc::gen::inRange<int32_t>(0, cy);
    r.w = *rc::gen::inRange<int32_t>(1, cx - r.x + 1);
    r.h = *rc::gen::inRange<int32_t>(1, cy - r.y + 1);
    r.region = RegionId{*rc::gen::inRange<uint16_t>(1, 6)};
    map.rects.push_back(r);
    if (validate_region_map(map, cx, cy) != nullptr) map.rects.pop_back();  // overlapped: dropped
  }
  RC_ASSERT(validate_region_map(map, cx, cy) == nullptr);
  std::vector<RegionId> owners;
  chunk_owners(map, RegionId{1}, cx, cy, owners);
  RC_ASSERT(owners.size() == static_cast<size_t>(cx) * static_cast<size_t>(cy));
  WorldParams params;
  params.chunks_x = cx;
  params.chunks_y = cy;
  params.region_map = map;
  const World world = Simulation(params).world();
  std::vector<Simulation> regions;  // the same world as seen by regions 1..6
  for (uint16_t region = 1; region <= 6; ++region) {
    World as = world;
    as.params.region = RegionId{region};
    auto sim = Simulation::from_world(std::move(as));
    RC_ASSERT(sim.has_value());
    regions.push_back(std::move(*sim));
  }
  for (int32_t y = 0; y < cy; ++y) {
    for (int32_t x = 0; x < cx; ++x) {
      int covering = 0;
      RegionId expected = map.fallback;
      for (const RegionRect& r : map.rects) {
        if (x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) {
          covering += 1;
          expected = r.region;
        }
      }
      RC_ASSERT(covering <= 1);
      const RegionId owner = owners[static_cast<size_t>(y) * static_cast<size_t>(cx) + static_cast<size_t>(x)];
      RC_ASSERT(owner == expected);
      RC_ASSERT(chunk_owner(map, RegionId{1}, x, y) == owner);
      int claim = 0;
      for (const Simulation& sim : regions) {
        if (sim.owns(CellPos{x * limits::chunk_size + limits::chunk_size - 1, y * limits::chunk_size})) claim += 1;
      }
      RC_ASSERT(claim == (raw(owner) == 0 ? 0 : 1));
    }
  }
}

}  // namespace
}  // namespace strata::sim
