// tests/sim/sim_property_test.cpp — rapidcheck properties of the core: determinism in-process and
// across processes, snapshot/restore equivalence, garbage commands keep invariants, LWW convergence
// under any order with duplicates.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <cstddef>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "sim/diff.h"
#include "sim/hash.h"
#include "sim/state_codec.h"
#include "tests/sim/test_world.h"

namespace strata::sim {
namespace {

scenario::ScenarioConfig busy_config(uint64_t seed, uint32_t players, uint32_t hostile = 0) {
  scenario::ScenarioConfig config;
  config.seed = seed;
  config.players = players;
  config.join_ramp_ticks = 20;
  config.build_per_mille = 60;
  config.break_per_mille = 40;
  config.interact_per_mille = 30;
  config.leave_per_mille = 5;
  config.remote_regions = 2;
  config.remote_writes_per_tick = 3;
  config.remote_presence_per_tick = 2;
  config.hostile_per_mille = hostile;
  return config;
}

RC_GTEST_PROP(Determinism, SameSeedAndCommandsGiveTheSameHashStream, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  const auto players = *rc::gen::inRange<uint32_t>(1, 60);
  const auto ticks = *rc::gen::inRange<uint64_t>(1, 150);
  const WorldParams params = scenario::world_for(seed, 2, 8);
  const auto first = test::run_scenario(params, busy_config(seed, players, 20), ticks);
  const auto second = test::run_scenario(params, busy_config(seed, players, 20), ticks);
  RC_ASSERT(first == second);
}

std::string run_process(uint64_t seed, uint32_t players, uint64_t ticks) {
  const std::string command = std::string(STRATA_SCENARIO_BIN) + " --quiet --chunks 2 --npcs 8 --full-every 25" +
                              " --seed " + std::to_string(seed) + " --players " + std::to_string(players) +
                              " --ticks " + std::to_string(ticks);
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  return status == 0 ? out : "exit status " + std::to_string(status);
}

RC_GTEST_PROP(Determinism, TwoProcessesPrintTheSameStreamAsThisOne, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  const auto players = *rc::gen::inRange<uint32_t>(1, 80);
  const auto ticks = *rc::gen::inRange<uint64_t>(1, 120);
  const std::string a = run_process(seed, players, ticks);
  const std::string b = run_process(seed, players, ticks);
  RC_ASSERT(a == b);
  // The same stream computed here, in this process, formatted the way strata-scenario prints it.
  scenario::ScenarioConfig config;
  config.seed = seed;
  config.players = players;
  config.join_ramp_ticks = static_cast<uint32_t>(std::min<uint64_t>(ticks / 10 + 1, 200));
  Simulation sim(scenario::world_for(seed, 2, 8));
  scenario::ScenarioGenerator generator(config);
  TickInput input;
  std::string mine;
  char line[64];
  for (uint64_t t = 0; t < ticks; ++t) {
    generator.next(sim.world(), input);
    sim.step(input);
    if (sim.tick() == 1 || sim.tick() % 25 == 0) {
      std::snprintf(line, sizeof line, "%" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n", sim.tick(), sim.quick_hash(),
                    sim.full_hash());
    } else {
      std::snprintf(line, sizeof line, "%" PRIu64 " %016" PRIx64 "\n", sim.tick(), sim.quick_hash());
    }
    mine += line;
  }
  RC_ASSERT(a == mine);
}

RC_GTEST_PROP(Snapshot, RestoreAtAnyTickContinuesWithTheSameHashes, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  const auto ticks = *rc::gen::inRange<uint64_t>(2, 160);
  const auto cut = *rc::gen::inRange<uint64_t>(1, ticks);
  const WorldParams params = scenario::world_for(seed, 2, 8);
  const auto config = busy_config(seed, 40);
  const auto uninterrupted = test::run_scenario(params, config, ticks);

  Simulation sim(params);
  scenario::ScenarioGenerator generator(config);
  TickInput input;
  std::vector<uint64_t> stream;
  for (uint64_t t = 0; t < cut; ++t) {
    generator.next(sim.world(), input);
    sim.step(input);
    stream.push_back(sim.quick_hash());
  }
  std::vector<uint8_t> bytes;
  encode_state(sim.world(), bytes);
  StateDecodeResult decoded = decode_state(bytes);
  RC_ASSERT(decoded.world.has_value());
  RC_ASSERT(full_hash(*decoded.world) == sim.full_hash());
  std::string error;
  auto restored = Simulation::from_world(std::move(*decoded.world), &error);
  RC_ASSERT(restored.has_value());
  for (uint64_t t = cut; t < ticks; ++t) {
    generator.next(restored->world(), input);
    restored->step(input);
    stream.push_back(restored->quick_hash());
  }
  RC_ASSERT(stream == uninterrupted.quick);
  RC_ASSERT(restored->full_hash() == uninterrupted.final_full);
}

Command arbitrary_command() {
  static_assert(command_kind_count == 10, "a new command kind needs a case here");
  const auto kind = *rc::gen::inRange(0, 10);
  const auto u32 = [] { return *rc::gen::arbitrary<uint32_t>(); };
  const auto small = [] { return static_cast<uint8_t>(*rc::gen::inRange(0, 12)); };
  const auto cell = [] { return CellPos{*rc::gen::inRange(-3, 70), *rc::gen::inRange(-3, 70)}; };
  const auto player = [] {
    return PlayerId{*rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, 6), rc::gen::arbitrary<uint32_t>())};
  };
  const auto stamp = [] {
    return LwwStamp{*rc::gen::arbitrary<uint64_t>(), RegionId{*rc::gen::inRange<uint16_t>(0, 4)}};
  };
  switch (kind) {
    case 0: {
      JoinCommand join{player()};
      if (*rc::gen::arbitrary<bool>()) {
        PlayerSave save;
        save.pos = Vec2{Fixed::from_raw(*rc::gen::oneOf(rc::gen::inRange(-300, 17000), rc::gen::arbitrary<int32_t>())),
                        Fixed::from_raw(*rc::gen::inRange(-300, 17000))};
        save.facing = static_cast<Direction>(small());
        save.stamina = *rc::gen::inRange<uint16_t>(0, limits::stamina_max + 3);
        save.health = *rc::gen::inRange<uint16_t>(0, limits::health_max + 3);
        for (uint16_t& count : save.inventory) count = *rc::gen::inRange<uint16_t>(0, limits::item_stack_max + 3);
        join.save = save;
      }
      return join;
    }
    case 1: return LeaveCommand{player()};
    case 2: return MoveCommand{player(), u32(), static_cast<Direction>(small()), static_cast<MoveMode>(small())};
    case 3: return PlaceCommand{player(), u32(), cell(), static_cast<Layer>(small()), small(), stamp()};
    case 4: return BreakCommand{player(), u32(), cell(), static_cast<Layer>(small()), stamp()};
    case 5: return InteractCommand{player(), u32(), cell(), stamp()};
    case 6: return RemoteBlockWriteCommand{cell(), static_cast<Layer>(small()), small(), small(), stamp()};
    case 7:
      return RemotePresenceCommand{
          RegionId{*rc::gen::inRange<uint16_t>(0, 4)}, player(),
          Vec2{Fixed::from_raw(*rc::gen::arbitrary<int32_t>()), Fixed::from_raw(*rc::gen::inRange(-300, 20000))},
          static_cast<Direction>(small())};
    case 8:
      return RemoteBatchCommand{RegionId{*rc::gen::inRange<uint16_t>(0, 4)},
                                *rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 6), rc::gen::arbitrary<uint64_t>())};
    default:
      // Positions mostly on the 64x64-cell map (many of them in walls), some far off it.
      return RemoteNpcCommand{
          RegionId{*rc::gen::inRange<uint16_t>(0, 4)},
          NpcId{*rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, 8), rc::gen::arbitrary<uint32_t>())},
          Vec2{Fixed::from_raw(*rc::gen::oneOf(rc::gen::inRange(-300, 17000), rc::gen::arbitrary<int32_t>())),
               Fixed::from_raw(*rc::gen::inRange(-300, 17000))},
          static_cast<Direction>(small())};
  }
}

// The region map of the arbitrary-command worlds: the local region (1) owning every chunk, or one
// chunk column of two, region 2 one chunk and nobody the last (so remote NPC positions apply).
RegionMap arbitrary_region_map() {
  RegionMap map;
  if (*rc::gen::arbitrary<bool>()) {
    map.mode = Ownership::by_map;
    map.rects = {RegionRect{0, 0, 1, 2, RegionId{1}}, RegionRect{1, 0, 1, 1, RegionId{2}}};
  }
  return map;
}

RC_GTEST_PROP(Rules, ArbitraryCommandsNeverBreakInvariants, ()) {
  WorldParams params = scenario::world_for(*rc::gen::inRange<uint64_t>(1, 1000), 2, 6);
  params.region_map = arbitrary_region_map();
  Simulation sim(params);
  const auto ticks = *rc::gen::inRange(1, 40);
  TickInput input;
  for (int t = 0; t < ticks; ++t) {
    input.tick = sim.tick() + 1;
    input.commands.clear();
    const auto count = *rc::gen::inRange(0, 30);
    for (int i = 0; i < count; ++i) input.commands.push_back(arbitrary_command());
    const Effects& effects = sim.step(input);
    for (const Rejection& r : effects.rejections) RC_ASSERT(r.command_index < input.commands.size());
    RC_ASSERT(check_invariants(sim.world()) == "");
    RC_ASSERT(sim.check_derived() == "");
  }
}

RC_GTEST_PROP(Lww, RemoteWritesInAnyOrderWithDuplicatesGiveTheSameMap, ()) {
  const auto count = *rc::gen::inRange(1, 60);
  std::vector<Command> writes;
  for (int i = 0; i < count; ++i) {
    const CellPos cell{*rc::gen::inRange(0, 6), *rc::gen::inRange(0, 6)};  // few cells: many conflicts
    const auto layer = static_cast<Layer>(*rc::gen::inRange(0, 3));
    const uint8_t kind = layer == Layer::active ? static_cast<uint8_t>(*rc::gen::inRange(0, 5))
                                                : static_cast<uint8_t>(*rc::gen::inRange(0, 3));
    // Few distinct HLC values so ties (decided by region) are common.
    const LwwStamp stamp{*rc::gen::inRange<uint64_t>(1, 6), RegionId{*rc::gen::inRange<uint16_t>(2, 6)}};
    writes.emplace_back(RemoteBlockWriteCommand{cell, layer, kind, 0, stamp});
  }
  auto shuffled = *rc::gen::container<std::vector<int>>(static_cast<size_t>(count) * 2, rc::gen::inRange(0, count));
  std::vector<Command> permuted;
  for (int i : shuffled) permuted.push_back(writes[static_cast<size_t>(i)]);
  for (const Command& c : writes) permuted.push_back(c);  // every write at least once
  // Deliver in a different split across ticks too.
  Simulation a(test::small_params());
  Simulation b(test::small_params());
  test::step_with(a, writes);
  const size_t half = permuted.size() / 2;
  test::step_with(b, std::vector<Command>(permuted.begin(), permuted.begin() + static_cast<ptrdiff_t>(half)));
  test::step_with(b, std::vector<Command>(permuted.begin() + static_cast<ptrdiff_t>(half), permuted.end()));
  test::step_with(a, {});
  // The map (every layer and stamp) is identical; counters differ by design (duplicates counted).
  World ma = a.world();
  World mb = b.world();
  ma.counters = {};
  mb.counters = {};
  RC_ASSERT(full_hash(ma) == full_hash(mb));
}

}  // namespace
}  // namespace strata::sim
