// tests/sim/save_test.cpp — player state that persists (issue 16 item 1): a player leaves with its
// state in Effects::left_saves (by command or by an eviction with nowhere to go), rejoins with it in
// JoinCommand::save and continues from it; saves beyond the limits are refused (the player starts
// fresh), positions off the map or over solid cells are moved, each counted; and a session log whose
// joins carry saves replays bit-exact from the log alone.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "replay/log_source.h"
#include "replay/replayer.h"
#include "sim/movement.h"
#include "tests/replay/log_fixture.h"
#include "tests/sim/test_world.h"

namespace strata::sim {
namespace {

using test::small_params;
using test::step_with;

constexpr PlayerId alice{5};

const Player* find(const Simulation& sim, PlayerId id) {
  for (const Player& p : sim.world().players) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

void expect_sound(const Simulation& sim) {
  EXPECT_EQ(check_invariants(sim.world()), "");
  EXPECT_EQ(sim.check_derived(), "");
}

// Alice joins fresh, walks east, runs a while, builds a wall and breaks it again with its cost
// spent elsewhere: position, facing, stamina and inventory all differ from a fresh player's.
Simulation played_world() {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  uint32_t seq = 1;
  for (int i = 0; i < 12; ++i) step_with(sim, {MoveCommand{alice, seq++, Direction::e, MoveMode::run}});
  step_with(sim, {MoveCommand{alice, seq++, Direction::none, MoveMode::walk}});
  const Player& p = *find(sim, alice);
  const CellPos at{p.pos.x.tile(), p.pos.y.tile() + 2};
  step_with(sim, {PlaceCommand{alice, seq++, at, Layer::active, to_underlying(Block::stone_wall), {1, RegionId{1}}}});
  step_with(sim, {MoveCommand{alice, seq++, Direction::ne, MoveMode::walk}});
  step_with(sim, {MoveCommand{alice, seq++, Direction::none, MoveMode::walk}});
  return sim;
}

PlayerSave fresh_save(const Simulation& sim) {
  Simulation fresh(sim.world().params);
  step_with(fresh, {JoinCommand{alice}});
  return save_of(*find(fresh, alice));
}

TEST(Saves, APlayerLeavesWithItsStateAndContinuesFromItOnRejoin) {
  Simulation sim = played_world();
  const PlayerSave before = save_of(*find(sim, alice));
  ASSERT_NE(before, fresh_save(sim)) << "the played state must differ from a fresh one for this test to mean much";
  const Effects& left = step_with(sim, {LeaveCommand{alice}});
  ASSERT_EQ(left.left, std::vector<PlayerId>{alice});
  ASSERT_EQ(left.left_saves.size(), 1U);
  EXPECT_EQ(left.left_saves[0].first, alice);
  EXPECT_EQ(left.left_saves[0].second, before);
  const PlayerSave saved = left.left_saves[0].second;
  for (int i = 0; i < 5; ++i) step_with(sim, {});
  const Effects& joined = step_with(sim, {JoinCommand{alice, saved}});
  ASSERT_TRUE(joined.rejections.empty());
  const Player& back = *find(sim, alice);
  // The join step also integrates: a returning player stands still (no heading), regenerating
  // stamina like any player standing that tick.
  PlayerSave expected = saved;
  expected.stamina = static_cast<uint16_t>(std::min<int>(limits::stamina_max, saved.stamina + limits::stamina_regen));
  EXPECT_EQ(save_of(back), expected);
  EXPECT_EQ(back.heading, Direction::none);
  EXPECT_EQ(back.vel, Vec2{});
  EXPECT_EQ(back.joined_tick, sim.tick());
  EXPECT_EQ(sim.world().counters.saves_loaded, 1U);
  EXPECT_EQ(sim.world().counters.saves_refused, 0U);
  EXPECT_EQ(sim.world().counters.saves_relocated, 0U);
  expect_sound(sim);
}

TEST(Saves, LeavingAndRejoiningInOneTickGivesTheSameState) {
  Simulation sim = played_world();
  const PlayerSave before = save_of(*find(sim, alice));
  const Effects& e = step_with(sim, {LeaveCommand{alice}, JoinCommand{alice, before}});
  ASSERT_EQ(e.left_saves.size(), 1U);
  EXPECT_EQ(e.left_saves[0].second, before);
  EXPECT_EQ(find(sim, alice)->inventory, before.inventory);
  EXPECT_EQ(find(sim, alice)->pos, before.pos);
}

TEST(Saves, HostileValuesAreRefusedAndThePlayerStartsFresh) {
  const Simulation played = played_world();
  const PlayerSave good = save_of(*find(played, alice));
  std::vector<PlayerSave> hostile(5, good);
  hostile[0].stamina = limits::stamina_max + 1;
  hostile[1].health = limits::health_max + 1;
  hostile[2].inventory[static_cast<size_t>(Item::stone)] = limits::item_stack_max + 1;
  hostile[3].facing = Direction::count;
  hostile[4].inventory[static_cast<size_t>(Item::produce)] = UINT16_MAX;
  uint64_t refused = 0;
  for (const PlayerSave& save : hostile) {
    Simulation sim(small_params());
    step_with(sim, {});
    const Effects& e = step_with(sim, {JoinCommand{alice, save}});
    EXPECT_TRUE(e.rejections.empty()) << "the join happens, fresh";
    const Player& p = *find(sim, alice);
    Simulation fresh(small_params());
    step_with(fresh, {});
    step_with(fresh, {JoinCommand{alice}});
    EXPECT_EQ(save_of(p), save_of(*find(fresh, alice)));
    EXPECT_EQ(sim.world().counters.saves_refused, 1U);
    EXPECT_EQ(sim.world().counters.saves_loaded, 0U);
    refused += sim.world().counters.saves_refused;
    expect_sound(sim);
  }
  EXPECT_EQ(refused, hostile.size());
}

TEST(Saves, APositionOffTheMapOrOverASolidCellMovesToTheNearestFreeCell) {
  const Simulation played = played_world();
  const PlayerSave good = save_of(*find(played, alice));
  const int32_t width = played.world().map.width() * limits::fixed_one;
  const std::vector<Vec2> outside = {
      Vec2{Fixed::from_raw(INT32_MIN), Fixed::from_raw(INT32_MIN)}, Vec2{Fixed::from_raw(INT32_MAX), good.pos.y},
      Vec2{Fixed::from_raw(-5), good.pos.y},
      Vec2{Fixed::from_raw(width - 3), good.pos.y},  // the centre on the map, the box over its edge
  };
  for (const Vec2 pos : outside) {
    Simulation sim(small_params());
    PlayerSave save = good;
    save.pos = pos;
    ASSERT_TRUE(step_with(sim, {JoinCommand{alice, save}}).rejections.empty());
    const Player& p = *find(sim, alice);
    EXPECT_EQ(p.inventory, good.inventory);
    EXPECT_FALSE(box_blocked(sim.world().map, p.pos));
    EXPECT_EQ(sim.world().counters.saves_loaded, 1U);
    EXPECT_EQ(sim.world().counters.saves_relocated, 1U);
    expect_sound(sim);
  }
  // A wall written where the player stood while it was away: it comes back next to the wall.
  Simulation sim(small_params());
  const CellPos cell{good.pos.x.tile(), good.pos.y.tile()};
  step_with(sim, {RemoteBlockWriteCommand{cell, Layer::active, to_underlying(Block::stone_wall), 0, {9, RegionId{2}}}});
  ASSERT_TRUE(step_with(sim, {JoinCommand{alice, good}}).rejections.empty());
  const Player& p = *find(sim, alice);
  EXPECT_FALSE(box_blocked(sim.world().map, p.pos));
  const int32_t dx = p.pos.x.tile() - cell.x;
  const int32_t dy = p.pos.y.tile() - cell.y;
  EXPECT_LE(dx * dx + dy * dy, 2) << "the nearest free cell, next to the wall";
  EXPECT_EQ(sim.world().counters.saves_relocated, 1U);
  expect_sound(sim);
}

TEST(Saves, APlayerEvictedWithNowhereToGoLeavesWithItsState) {
  World world = played_world().world();
  Player& p = world.players.front();
  const CellPos stand{p.pos.x.tile(), p.pos.y.tile()};
  p.pos = cell_centre(stand);  // its box in that one cell
  ASSERT_EQ(box_cells(p.pos), (CellRange{stand.x, stand.y, stand.x, stand.y}));
  // Water everywhere but the player's cell: no free cell within the eviction radius.
  for (int32_t y = 0; y < world.map.height(); ++y) {
    for (int32_t x = 0; x < world.map.width(); ++x) {
      if (CellPos{x, y} == stand) continue;
      world.map.set_unstamped(CellPos{x, y}, Layer::floor, CellValue{to_underlying(Floor::water), 0});
    }
  }
  std::string error;
  auto sim = Simulation::from_world(world, &error);
  ASSERT_TRUE(sim.has_value()) << error;
  const PlayerSave before = save_of(p);
  const Effects& e = step_with(
      *sim, {RemoteBlockWriteCommand{stand, Layer::active, to_underlying(Block::stone_wall), 0, {9, RegionId{2}}}});
  ASSERT_EQ(e.left, std::vector<PlayerId>{alice});
  ASSERT_EQ(e.left_saves.size(), 1U);
  EXPECT_EQ(e.left_saves[0].first, alice);
  EXPECT_EQ(e.left_saves[0].second, before);
  expect_sound(*sim);
}

// Any save, hostile or not, joins without breaking the world's invariants, and the outcome is one
// of: loaded as it was, loaded and moved, or refused (fresh), each counted once.
RC_GTEST_PROP(Saves, AnySaveJoinsSoundlyAndIsCountedOnce, ()) {
  PlayerSave save;
  save.pos = Vec2{Fixed::from_raw(*rc::gen::oneOf(rc::gen::inRange(-500, 17000), rc::gen::arbitrary<int32_t>())),
                  Fixed::from_raw(*rc::gen::oneOf(rc::gen::inRange(-500, 17000), rc::gen::arbitrary<int32_t>()))};
  save.facing = static_cast<Direction>(*rc::gen::inRange<int>(0, to_underlying(Direction::count) + 2));
  save.stamina =
      *rc::gen::oneOf(rc::gen::inRange<uint16_t>(0, limits::stamina_max + 2), rc::gen::arbitrary<uint16_t>());
  save.health = *rc::gen::oneOf(rc::gen::inRange<uint16_t>(0, limits::health_max + 2), rc::gen::arbitrary<uint16_t>());
  for (uint16_t& count : save.inventory) {
    count = *rc::gen::oneOf(rc::gen::inRange<uint16_t>(0, limits::item_stack_max + 2), rc::gen::arbitrary<uint16_t>());
  }
  Simulation sim(small_params(*rc::gen::inRange<uint64_t>(1, 50), 0, 3));
  const Effects& e = step_with(sim, {JoinCommand{alice, save}});
  RC_ASSERT(e.rejections.empty());
  RC_ASSERT(check_invariants(sim.world()).empty());
  RC_ASSERT(sim.check_derived().empty());
  const Counters& c = sim.world().counters;
  RC_ASSERT(c.saves_loaded + c.saves_refused == 1U);
  RC_ASSERT(c.saves_relocated <= c.saves_loaded);
  const Player& p = *find(sim, alice);
  if (c.saves_loaded == 1) {
    RC_ASSERT(p.inventory == save.inventory);
    RC_ASSERT(p.health == save.health);
    RC_ASSERT((p.pos == save.pos) == (c.saves_relocated == 0));
  }
}

// A session in which players leave and come back with the save their leave produced (the scenario
// generator carries it, as the server will), and some strangers arrive with hostile saves, is
// recorded, then replayed from its log alone: the saves are in the log.
TEST(Saves, ALogWithSavedJoinsReplaysBitExact) {
  test::TempDir dir;
  Simulation sim(scenario::world_for(13, 2, 6));
  replay::LogConfig config;
  config.full_hash_every = 10;
  config.snapshot_every = 60;
  replay::Status status;
  auto writer = replay::LogWriter::create(dir.path("log"), sim.world(), config, status);
  ASSERT_TRUE(writer) << status.describe();
  scenario::ScenarioConfig scenario_config = test::busy_scenario(4, 12);
  scenario_config.leave_per_mille = 30;
  scenario::ScenarioGenerator generator(scenario_config);
  std::map<PlayerId, PlayerSave> left_with;
  TickInput input;
  uint64_t carried = 0;
  for (uint32_t t = 0; t < 240; ++t) {
    generator.next(sim.world(), input);
    for (const Command& c : input.commands) {
      const auto* join = std::get_if<JoinCommand>(&c);
      // (Hostile joins carry arbitrary saves for any id: only count the generator's own.)
      if (join != nullptr && join->save.has_value() && left_with.contains(join->player) &&
          *join->save == left_with[join->player]) {
        carried += 1;
      }
    }
    if (t % 30 == 7) {  // a stranger with a save beyond the limits
      PlayerSave hostile;
      hostile.pos = cell_centre(spawn_cell(sim.world().map));
      hostile.health = limits::health_max + t;
      input.commands.insert(input.commands.begin(), JoinCommand{PlayerId{2000 + t}, hostile});
    }
    const Effects& effects = sim.step(input);
    for (const auto& [id, save] : effects.left_saves) left_with[id] = save;
    ASSERT_TRUE((status = writer->append(input, sim)).ok()) << status.describe();
  }
  writer.reset();
  EXPECT_GT(carried, 3U) << "players came back with what they left with";
  EXPECT_GT(sim.world().counters.saves_loaded, 3U);
  EXPECT_GE(sim.world().counters.saves_refused, 8U) << "the strangers' saves, at least";

  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log) << status.describe();
  for (const replay::ReplayMode mode : {replay::ReplayMode::verify, replay::ReplayMode::save_load}) {
    replay::ReplayOptions options;
    options.mode = mode;
    uint64_t last_quick = 0;
    options.on_tick = [&](uint64_t, uint64_t quick, std::optional<uint64_t>) { last_quick = quick; };
    const replay::ReplayResult result = replay::replay(*log, options);
    ASSERT_TRUE(result.status.ok()) << result.status.describe() << " " << result.which;
    EXPECT_EQ(result.last_tick, 240U);
    EXPECT_EQ(last_quick, sim.quick_hash());
  }
  replay::StateAt at = replay::state_at(*log, 240);
  ASSERT_TRUE(at.sim.has_value()) << at.status.describe();
  EXPECT_EQ(at.sim->full_hash(), sim.full_hash());
}

}  // namespace
}  // namespace strata::sim
