// tests/sim/sim_unit_test.cpp — the rules one by one: joins, movement and collision, building,
// breaking, doors, crops, stamps (LWW), remote writes and evictions, limits, the codec and the diff.
#include <gtest/gtest.h>

#include <type_traits>

#include "sim/diff.h"
#include "sim/hash.h"
#include "sim/state_codec.h"
#include "tests/sim/test_world.h"

namespace strata::sim {
namespace {

using test::small_params;
using test::step_with;

constexpr PlayerId alice{5};
constexpr PlayerId bob{9};
constexpr RegionId own_region{1};

LwwStamp stamp(uint64_t hlc, uint16_t region = 1) { return LwwStamp{hlc, RegionId{region}}; }

const Player& player(const Simulation& sim, PlayerId id) {
  for (const Player& p : sim.world().players) {
    if (p.id == id) return p;
  }
  ADD_FAILURE() << "no player " << raw(id);
  return sim.world().players.front();
}

RejectReason only_rejection(const Effects& effects) {
  if (effects.rejections.size() != 1) return RejectReason::none;
  return effects.rejections[0].reason;
}

void expect_sound(const Simulation& sim) {
  EXPECT_EQ(check_invariants(sim.world()), "");
  EXPECT_EQ(sim.check_derived(), "");
}

static_assert(!std::is_constructible_v<Fixed, double>, "Fixed must refuse doubles");
static_assert(!std::is_constructible_v<Fixed, float>, "Fixed must refuse floats");
static_assert(!std::is_convertible_v<Fixed, double>);

TEST(Join, SpawnsAtTheSpawnCellAndRefusesDuplicatesAndBadIds) {
  Simulation sim(small_params());
  const Effects& e = step_with(sim, {JoinCommand{alice}, JoinCommand{alice}, JoinCommand{PlayerId{0}}});
  ASSERT_EQ(e.joined.size(), 1U);
  ASSERT_EQ(e.rejections.size(), 2U);
  EXPECT_EQ(e.rejections[0].reason, RejectReason::already_joined);
  EXPECT_EQ(e.rejections[0].command_index, 1U);
  EXPECT_EQ(e.rejections[1].reason, RejectReason::bad_player_id);
  EXPECT_EQ(player(sim, alice).pos, cell_centre(spawn_cell(sim.world().map)));
  EXPECT_EQ(sim.world().counters.rejected[static_cast<size_t>(RejectReason::already_joined)], 1U);
  expect_sound(sim);
}

TEST(Move, WalksAndStopsFlushAgainstAWall) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  const CellPos spawn = spawn_cell(sim.world().map);
  const CellPos wall{spawn.x + 2, spawn.y};
  ASSERT_EQ(only_rejection(step_with(
                sim, {PlaceCommand{alice, 1, wall, Layer::active, to_underlying(Block::wood_wall), stamp(1)}})),
            RejectReason::none);
  step_with(sim, {MoveCommand{alice, 2, Direction::e, MoveMode::walk}});
  EXPECT_EQ(player(sim, alice).pos.x.raw(), cell_centre(spawn).x.raw() + limits::walk_speed);
  for (int i = 0; i < 40; ++i) step_with(sim, {});
  EXPECT_EQ(player(sim, alice).pos.x.raw(), wall.x * limits::fixed_one - limits::entity_half_extent - 1);
  EXPECT_EQ(player(sim, alice).pos.y, cell_centre(spawn).y);
  EXPECT_EQ(player(sim, alice).vel, Vec2{}) << "velocity is the motion that happened: none against the wall";
  EXPECT_EQ(player(sim, alice).heading, Direction::e) << "the intent is kept";
  expect_sound(sim);
}

TEST(Move, DiagonalIsSlowerPerAxisAndDuplicateMovesAreRefused) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  const Vec2 start = player(sim, alice).pos;
  const Effects& e = step_with(
      sim, {MoveCommand{alice, 1, Direction::se, MoveMode::walk}, MoveCommand{alice, 2, Direction::n, MoveMode::walk}});
  EXPECT_EQ(only_rejection(e), RejectReason::duplicate_move);
  const int32_t diagonal = limits::walk_speed * limits::diagonal_numerator / limits::fixed_one;
  EXPECT_EQ(player(sim, alice).pos.x.raw(), start.x.raw() + diagonal);
  EXPECT_EQ(player(sim, alice).pos.y.raw(), start.y.raw() + diagonal);
}

TEST(Move, RunningSpendsStaminaAndExhaustionRefusesRunning) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  for (int i = 0; i < 200; ++i) {
    const Direction d = (i / 10) % 2 == 0 ? Direction::e : Direction::w;  // pace to stay in the clearing
    step_with(sim, {MoveCommand{alice, static_cast<uint32_t>(i + 1), d, MoveMode::run}});
    if (player(sim, alice).stamina < limits::stamina_run_min) break;
  }
  const Effects& e = step_with(sim, {MoveCommand{alice, 999, Direction::e, MoveMode::run}});
  EXPECT_EQ(only_rejection(e), RejectReason::exhausted);
  expect_sound(sim);
}

TEST(Build, PlaceAndBreakMoveItemsAndCheckReachBoundsAndInventory) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  const CellPos spawn = spawn_cell(sim.world().map);
  const CellPos near{spawn.x + 1, spawn.y + 2};
  const uint16_t wood = player(sim, alice).inventory[static_cast<size_t>(Item::wood)];
  EXPECT_EQ(only_rejection(step_with(
                sim, {PlaceCommand{alice, 1, near, Layer::active, to_underlying(Block::wood_wall), stamp(1)}})),
            RejectReason::none);
  EXPECT_EQ(player(sim, alice).inventory[static_cast<size_t>(Item::wood)], wood - 1);
  EXPECT_EQ(sim.world().map.active(near), Block::wood_wall);
  EXPECT_EQ(only_rejection(step_with(
                sim, {PlaceCommand{alice, 2, near, Layer::active, to_underlying(Block::stone_wall), stamp(2)}})),
            RejectReason::cell_occupied);
  EXPECT_EQ(only_rejection(step_with(
                sim, {PlaceCommand{
                         alice, 3, {spawn.x + 5, spawn.y}, Layer::active, to_underlying(Block::wood_wall), stamp(3)}})),
            RejectReason::out_of_reach);
  EXPECT_EQ(only_rejection(step_with(
                sim, {PlaceCommand{alice, 4, {-1, 3}, Layer::active, to_underlying(Block::wood_wall), stamp(4)}})),
            RejectReason::out_of_bounds);
  EXPECT_EQ(
      only_rejection(step_with(
          sim, {PlaceCommand{alice, 5, {spawn.x, spawn.y + 1}, Layer::active, to_underlying(Block::chest), stamp(5)}})),
      RejectReason::no_item);
  EXPECT_EQ(
      only_rejection(step_with(sim, {PlaceCommand{alice, 6, {spawn.x, spawn.y + 1}, Layer::active, 200, stamp(6)}})),
      RejectReason::bad_enum);
  EXPECT_EQ(
      only_rejection(step_with(
          sim, {PlaceCommand{alice, 7, {spawn.x, spawn.y + 1}, Layer::active, to_underlying(Block::tree), stamp(7)}})),
      RejectReason::not_placeable);
  EXPECT_EQ(only_rejection(step_with(
                sim, {PlaceCommand{alice, 8, spawn, Layer::active, to_underlying(Block::stone_wall), stamp(8)}})),
            RejectReason::blocked_by_entity);
  EXPECT_EQ(only_rejection(step_with(sim, {BreakCommand{alice, 9, near, Layer::active, stamp(9)}})),
            RejectReason::none);
  EXPECT_EQ(player(sim, alice).inventory[static_cast<size_t>(Item::wood)], wood);
  EXPECT_EQ(only_rejection(step_with(sim, {BreakCommand{alice, 10, near, Layer::active, stamp(10)}})),
            RejectReason::nothing_to_break);
  EXPECT_EQ(player(sim, alice).last_seq, 10U);
  expect_sound(sim);
}

TEST(Build, LocalWritesCarryTheirStampAndStaleStampsAreRefused) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  const CellPos cell{spawn_cell(sim.world().map).x + 2, spawn_cell(sim.world().map).y};
  const Effects& e =
      step_with(sim, {PlaceCommand{alice, 1, cell, Layer::ceiling, to_underlying(Ceiling::thatch_roof), stamp(50)}});
  ASSERT_EQ(e.block_writes.size(), 1U);
  EXPECT_EQ(e.block_writes[0].stamp, stamp(50));
  EXPECT_EQ(sim.world().map.stamp(cell, Layer::ceiling), stamp(50));
  EXPECT_EQ(only_rejection(step_with(sim, {BreakCommand{alice, 2, cell, Layer::ceiling, stamp(40)}})),
            RejectReason::stale_stamp);
  EXPECT_EQ(sim.world().map.ceiling(cell), Ceiling::thatch_roof);
}

TEST(Doors, ToggleAndRefuseToCloseOnSomeone) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  const CellPos spawn = spawn_cell(sim.world().map);
  const CellPos door{spawn.x + 1, spawn.y};
  ASSERT_EQ(only_rejection(
                step_with(sim, {PlaceCommand{alice, 1, door, Layer::active, to_underlying(Block::door), stamp(1)}})),
            RejectReason::none);
  EXPECT_TRUE(sim.world().map.blocks(door));
  ASSERT_EQ(only_rejection(step_with(sim, {InteractCommand{alice, 2, door, stamp(2)}})), RejectReason::none);
  EXPECT_FALSE(sim.world().map.blocks(door));
  // Walk into the open doorway, then try to close it.
  step_with(sim, {MoveCommand{alice, 3, Direction::e, MoveMode::walk}});
  for (int i = 0; i < 7; ++i) step_with(sim, {});
  step_with(sim, {MoveCommand{alice, 4, Direction::none, MoveMode::walk}});
  ASSERT_EQ(player(sim, alice).pos.x.tile(), door.x);
  EXPECT_EQ(only_rejection(step_with(sim, {InteractCommand{alice, 5, door, stamp(5)}})),
            RejectReason::blocked_by_entity);
  EXPECT_EQ(only_rejection(step_with(sim, {InteractCommand{alice, 6, {spawn.x - 1, spawn.y}, stamp(6)}})),
            RejectReason::nothing_to_interact);
  expect_sound(sim);
}

TEST(Crops, GrowOnRandomTicksAndHarvest) {
  WorldParams params = small_params(3, limits::random_ticks_per_chunk_max);
  Simulation sim(params);
  step_with(sim, {JoinCommand{alice}});
  const CellPos spawn = spawn_cell(sim.world().map);
  const CellPos field{spawn.x, spawn.y + 1};
  // Dirt and the crop in one tick: the tick's random ticks run after its commands, and grass could
  // spread onto bare dirt before a later tick's planting.
  ASSERT_EQ(only_rejection(step_with(
                sim, {RemoteBlockWriteCommand{field, Layer::floor, to_underlying(Floor::dirt), 0, stamp(1, 2)},
                      PlaceCommand{alice, 1, field, Layer::active, to_underlying(Block::crop), stamp(2)}})),
            RejectReason::none);
  for (int i = 0; i < 3000 && sim.world().map.active_state(field) < crop_stage_ripe; ++i) step_with(sim, {});
  ASSERT_EQ(sim.world().map.active_state(field), crop_stage_ripe);
  const uint16_t produce = player(sim, alice).inventory[static_cast<size_t>(Item::produce)];
  EXPECT_EQ(only_rejection(step_with(sim, {InteractCommand{alice, 2, field, stamp(3'000'000)}})), RejectReason::none);
  EXPECT_EQ(player(sim, alice).inventory[static_cast<size_t>(Item::produce)], produce + 2);
  EXPECT_EQ(sim.world().map.active_state(field), 0);
  EXPECT_GT(sim.world().counters.random_updates, 0U);
}

TEST(Effects, EveryMapChangeIsReportedWhateverItsCause) {
  Simulation sim(small_params(3, limits::random_ticks_per_chunk_max));
  step_with(sim, {JoinCommand{alice}});
  const CellPos spawn = spawn_cell(sim.world().map);
  const CellPos field{spawn.x, spawn.y + 1};
  // A remote write, then a local one, in one tick (so no random tick turns the dirt to grass between).
  const Effects& both =
      step_with(sim, {RemoteBlockWriteCommand{field, Layer::floor, to_underlying(Floor::dirt), 0, stamp(1, 2)},
                      PlaceCommand{alice, 1, field, Layer::active, to_underlying(Block::crop), stamp(2)}});
  ASSERT_GE(both.changed_cells.size(), 2U);
  EXPECT_EQ(both.changed_cells[0], (CellChange{field, Layer::floor}));
  EXPECT_EQ(both.changed_cells[1], (CellChange{field, Layer::active}));
  bool grew = false;
  for (int i = 0; i < 3000 && !grew; ++i) {
    for (const CellChange& c : step_with(sim, {}).changed_cells)
      grew = grew || (c.cell == field && c.layer == Layer::active);
  }
  EXPECT_TRUE(grew) << "a random tick grew the crop without reporting the cell";
}

TEST(Remote, LastWriterWinsWithRegionTieBreakInAnyOrder) {
  const CellPos cell{3, 3};
  const RemoteBlockWriteCommand from2{cell, Layer::active, to_underlying(Block::stone_wall), 0, stamp(100, 2)};
  const RemoteBlockWriteCommand from3{cell, Layer::active, to_underlying(Block::wood_wall), 0, stamp(100, 3)};
  Simulation a(small_params());
  Simulation b(small_params());
  step_with(a, {from2, from3, from2});
  step_with(b, {from3, from2});
  EXPECT_EQ(a.world().map.active(cell), Block::wood_wall);  // equal HLC: the higher region id wins
  EXPECT_EQ(a.world().map.active(cell), b.world().map.active(cell));
  EXPECT_EQ(a.world().map.stamp(cell, Layer::active), stamp(100, 3));
  EXPECT_EQ(a.world().counters.remote_writes_superseded, 1U);  // the second from2
  EXPECT_EQ(b.world().counters.remote_writes_superseded, 1U);  // from2 after from3
  EXPECT_EQ(only_rejection(step_with(a, {RemoteBlockWriteCommand{cell, Layer::active, 1, 0, stamp(999, 1)}})),
            RejectReason::own_region);
  EXPECT_EQ(only_rejection(step_with(
                a, {RemoteBlockWriteCommand{cell, Layer::active, to_underlying(Block::door), 7, stamp(999, 2)}})),
            RejectReason::bad_state);
}

TEST(Remote, SolidWriteOnAPlayerEvictsItToTheNearestFreeCell) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}, JoinCommand{bob}});
  const CellPos spawn = spawn_cell(sim.world().map);
  step_with(sim, {RemoteBlockWriteCommand{spawn, Layer::active, to_underlying(Block::stone_wall), 0, stamp(7, 2)}});
  EXPECT_EQ(sim.world().map.active(spawn), Block::stone_wall);
  EXPECT_EQ(sim.world().counters.evictions, 2U);
  const CellPos now_at{player(sim, alice).pos.x.tile(), player(sim, alice).pos.y.tile()};
  EXPECT_NE(now_at, spawn);
  expect_sound(sim);
}

TEST(Remote, PresenceMakesGhostsThatExpire) {
  Simulation sim(small_params());
  const Vec2 pos{Fixed::from_tiles(3), Fixed::from_tiles(4)};
  EXPECT_EQ(only_rejection(step_with(sim, {RemotePresenceCommand{RegionId{2}, alice, pos, Direction::n}})),
            RejectReason::none);
  EXPECT_EQ(only_rejection(step_with(sim, {RemotePresenceCommand{own_region, alice, pos, Direction::n}})),
            RejectReason::own_region);
  EXPECT_EQ(only_rejection(step_with(
                sim, {RemotePresenceCommand{RegionId{2}, bob, Vec2{Fixed::from_tiles(-1), pos.y}, Direction::n}})),
            RejectReason::out_of_bounds);
  ASSERT_EQ(sim.world().ghosts.size(), 1U);
  for (uint64_t i = 0; i <= limits::ghost_ttl_ticks; ++i) step_with(sim, {});
  EXPECT_TRUE(sim.world().ghosts.empty());
}

TEST(Limits, CommandsPerPlayerPerTickAreCapped) {
  Simulation sim(small_params());
  step_with(sim, {JoinCommand{alice}});
  std::vector<Command> flood;
  for (uint32_t i = 0; i < limits::commands_per_player_per_tick_max + 3; ++i) {
    flood.emplace_back(InteractCommand{alice, i, {0, 0}, stamp(i + 1)});
  }
  const Effects& e = step_with(sim, flood);
  size_t capped = 0;
  for (const Rejection& r : e.rejections) capped += r.reason == RejectReason::too_many_commands ? 1 : 0;
  EXPECT_EQ(capped, 3U);
  EXPECT_EQ(only_rejection(step_with(sim, {MoveCommand{bob, 1, Direction::n, MoveMode::walk}})),
            RejectReason::unknown_player);
  EXPECT_EQ(only_rejection(step_with(sim, {MoveCommand{alice, 1, static_cast<Direction>(77), MoveMode::walk}})),
            RejectReason::bad_enum);
}

TEST(Npcs, FollowANearbyPlayer) {
  WorldParams params = small_params(11, 0, 0);
  Simulation sim(params);
  step_with(sim, {JoinCommand{alice}});
  World world = sim.world();
  Npc npc;
  npc.id = NpcId{world.next_npc_id++};
  npc.behavior = NpcBehavior::follow;
  npc.pos = cell_centre(CellPos{spawn_cell(world.map).x + 4, spawn_cell(world.map).y});
  world.npcs.push_back(npc);
  std::string error;
  auto with_npc = Simulation::from_world(world, &error);
  ASSERT_TRUE(with_npc.has_value()) << error;
  const int32_t start_distance = npc.pos.x.raw() - player(*with_npc, alice).pos.x.raw();
  for (int i = 0; i < 40; ++i) step_with(*with_npc, {});
  const int32_t distance = with_npc->world().npcs[0].pos.x.raw() - player(*with_npc, alice).pos.x.raw();
  EXPECT_LT(distance, start_distance);
  EXPECT_EQ(with_npc->world().npcs[0].target, alice);
  expect_sound(*with_npc);
}

TEST(Codec, RoundTripKeepsTheFullHashAndRefusesDamage) {
  Simulation sim(scenario::world_for(21, 2, 10));
  scenario::ScenarioConfig config;
  config.players = 30;
  config.remote_regions = 1;
  config.remote_writes_per_tick = 3;
  config.remote_presence_per_tick = 2;
  scenario::ScenarioGenerator generator(config);
  TickInput input;
  for (int i = 0; i < 200; ++i) {
    generator.next(sim.world(), input);
    sim.step(input);
  }
  std::vector<uint8_t> bytes;
  encode_state(sim.world(), bytes);
  StateDecodeResult decoded = decode_state(bytes);
  ASSERT_TRUE(decoded.world.has_value()) << decoded.error;
  EXPECT_EQ(full_hash(*decoded.world), sim.full_hash());
  EXPECT_EQ(diff_worlds(*decoded.world, sim.world()).total, 0U);
  // Truncations: always an error with the offset inside the input.
  for (size_t cut = 0; cut < bytes.size(); cut += 997) {
    StateDecodeResult r = decode_state(std::span(bytes).first(cut));
    EXPECT_FALSE(r.world.has_value()) << cut;
    EXPECT_LE(r.error_offset, cut);
  }
  // Hostile lengths: a player count over the limit is refused before allocating.
  std::vector<uint8_t> hostile = bytes;
  const size_t header = 4 + 4;  // magic, format version
  // seed, chunks x/y, random ticks, npcs, region, rules; region map mode, fallback, no rectangles
  const size_t params = 8 + 4 + 4 + 4 + 4 + 2 + 4 + 1 + 2 + 4;
  const size_t before_counters = 8 + 8 + 8 + 4;  // tick, rng state, rng increment, next npc id
  // commands applied, rejections by reason, remote writes applied and superseded, random updates,
  // evictions, saves loaded, refused and relocated
  const size_t counters = 8 + 8 * reject_reason_count + 8 * 7;
  const size_t players_count_offset = header + params + before_counters + counters;
  hostile[players_count_offset + 3] = 0x7F;
  StateDecodeResult r = decode_state(hostile);
  EXPECT_FALSE(r.world.has_value());
  EXPECT_EQ(r.error, "list longer than its limit");
}

TEST(Diff, NamesTheFieldThatDiffers) {
  Simulation a(small_params());
  Simulation b(small_params());
  step_with(a, {JoinCommand{PlayerId{42}}});
  step_with(b, {JoinCommand{PlayerId{42}}});
  step_with(a, {MoveCommand{PlayerId{42}, 1, Direction::e, MoveMode::walk}});
  step_with(b, {MoveCommand{PlayerId{42}, 1, Direction::w, MoveMode::walk}});
  const DiffResult d = diff_worlds(a.world(), b.world());
  ASSERT_FALSE(d.lines.empty());
  const int32_t xa = a.world().players[0].pos.x.raw();
  const int32_t xb = b.world().players[0].pos.x.raw();
  EXPECT_EQ(d.lines[0], "players[42].pos.x: " + std::to_string(xa) + " != " + std::to_string(xb));
  step_with(a, {RemoteBlockWriteCommand{CellPos{40, 3}, Layer::active, to_underlying(Block::rock), 0, stamp(5, 2)}});
  step_with(b, {});
  bool found = false;
  for (const std::string& line : diff_worlds(a.world(), b.world()).lines) {
    found = found || line == "map.chunks[1,0].active[8,3] (cell 40,3): 7 != 0";
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace strata::sim
