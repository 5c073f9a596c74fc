// tests/schema/snapshot_codec_test.cpp — snapshots: save at a random tick of a scenario, restore,
// continue, and get the uninterrupted run's hash stream; every header check refuses with its own
// code; damaged bytes are refused (or, if capnp happens to accept them, decode to the same world).
#include <capnp/message.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "schema/codec.h"
#include "schema/limits.h"
#include "schema/packed_io.h"
#include "schema/snapshot.capnp.h"
#include "sim/hash.h"
#include "sim/simulation.h"
#include "sim/state_codec.h"
#include "tools/scenario/scenario.h"

namespace strata {
namespace {

using schema::DecodeError;

scenario::ScenarioConfig busy_config(uint64_t seed, uint32_t players) {
  scenario::ScenarioConfig config;
  config.seed = seed;
  config.players = players;
  config.join_ramp_ticks = 20;
  config.build_per_mille = 80;
  config.break_per_mille = 60;
  config.interact_per_mille = 40;
  config.leave_per_mille = 5;
  config.remote_regions = 2;
  config.remote_writes_per_tick = 2;
  config.remote_presence_per_tick = 3;
  config.hostile_per_mille = 20;
  return config;
}

// A world after `ticks` ticks of a busy scenario.
sim::World world_after(uint64_t seed, uint64_t ticks) {
  sim::Simulation sim(scenario::world_for(seed, 2, 6));
  scenario::ScenarioGenerator generator(busy_config(seed, 20));
  sim::TickInput input;
  for (uint64_t t = 0; t < ticks; ++t) {
    generator.next(sim.world(), input);
    sim.step(input);
  }
  return sim.world();
}

RC_GTEST_PROP(Snapshot, SaveRestoreContinueGivesTheUninterruptedHashStream, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  const auto ticks = *rc::gen::inRange<uint64_t>(2, 120);
  const auto cut = *rc::gen::inRange<uint64_t>(1, ticks);
  const sim::WorldParams params = scenario::world_for(seed, 2, 6);
  scenario::ScenarioGenerator generator(busy_config(seed, 30));

  sim::Simulation sim(params);
  std::vector<sim::TickInput> inputs(ticks);
  std::vector<uint64_t> uninterrupted;
  std::vector<uint8_t> snapshot;
  uint64_t saved_full_hash = 0;
  for (uint64_t t = 0; t < ticks; ++t) {
    generator.next(sim.world(), inputs[t]);
    sim.step(inputs[t]);
    uninterrupted.push_back(sim.quick_hash());
    if (t + 1 == cut) {
      snapshot = schema::encode_snapshot(sim.world());
      saved_full_hash = sim.full_hash();
    }
  }

  auto decoded = schema::decode_snapshot(snapshot);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(sim::full_hash(*decoded.value) == saved_full_hash);
  const auto header = schema::decode_snapshot_header(snapshot);
  RC_ASSERT(header.ok());
  RC_ASSERT(header.value->tick == cut);
  RC_ASSERT(header.value->full_hash == saved_full_hash);

  auto restored = sim::Simulation::from_world(std::move(*decoded.value));
  RC_ASSERT(restored.has_value());
  std::vector<uint64_t> stream(uninterrupted.begin(), uninterrupted.begin() + static_cast<long>(cut));
  for (uint64_t t = cut; t < ticks; ++t) {
    restored->step(inputs[t]);
    stream.push_back(restored->quick_hash());
  }
  RC_ASSERT(stream == uninterrupted);
  RC_ASSERT(restored->full_hash() == sim.full_hash());
}

RC_GTEST_PROP(Snapshot, DamagedBytesAreRefusedOrDecodeToTheSameWorld, ()) {
  static const sim::World world = world_after(11, 60);
  static const std::vector<uint8_t> bytes = schema::encode_snapshot(world);
  static const uint64_t hash = sim::full_hash(world);
  auto damaged = bytes;
  const int kind = *rc::gen::inRange(0, 3);
  if (kind == 0) {
    damaged.resize(*rc::gen::inRange<size_t>(0, bytes.size()));
  } else {
    const int flips = kind == 1 ? 1 : *rc::gen::inRange(2, 10);
    for (int i = 0; i < flips; ++i) {
      const size_t bit = *rc::gen::inRange<size_t>(0, damaged.size() * 8);
      damaged[bit / 8] = static_cast<uint8_t>(damaged[bit / 8] ^ (1U << (bit % 8)));
    }
  }
  const auto decoded = schema::decode_snapshot(damaged);
  if (decoded.ok()) {
    RC_ASSERT(sim::full_hash(*decoded.value) == hash);
  } else {
    RC_ASSERT(decoded.code != DecodeError::none);
    RC_ASSERT(!decoded.error.empty());
  }
  // The digest (tick-0 replays) accepts only bytes whose state hashes as the world's did.
  const auto digest = schema::decode_snapshot_digest(damaged);
  if (digest.ok()) {
    RC_ASSERT(digest.value->state_hash == hash);
  } else {
    RC_ASSERT(digest.code != DecodeError::none);
    RC_ASSERT(!digest.error.empty());
  }
}

TEST(Snapshot, DigestIsTheDecodedWorldsFullHashWithoutDecoding) {
  const sim::World world = world_after(5, 40);
  const std::vector<uint8_t> bytes = schema::encode_snapshot(world);
  const auto digest = schema::decode_snapshot_digest(bytes);
  ASSERT_TRUE(digest.ok()) << digest.error;
  EXPECT_EQ(digest.value->state_hash, sim::full_hash(world));
  EXPECT_EQ(digest.value->header.tick, world.tick);
  EXPECT_TRUE(digest.value->header.params == world.params);
  std::vector<uint8_t> state;
  sim::encode_state(world, state);
  EXPECT_EQ(sim::state_bytes_full_hash(state), sim::full_hash(world));
  state[0] ^= 1U;  // magic
  EXPECT_FALSE(sim::state_bytes_full_hash(state).has_value());
}

TEST(Snapshot, StateSizeLimitsMatchTheCanonicalEncoding) {
  sim::World world = world_after(5, 80);
  world.bus_applied = {{sim::RegionId{2}, 7}, {sim::RegionId{9}, 1}};
  ASSERT_FALSE(world.players.empty());
  ASSERT_FALSE(world.npcs.empty());
  ASSERT_FALSE(world.ghosts.empty());
  std::vector<uint8_t> state;
  sim::encode_state(world, state);
  namespace l = schema::limits;
  EXPECT_EQ(state.size(), l::state_fixed_bytes + world.players.size() * l::state_player_bytes +
                              world.npcs.size() * l::state_npc_bytes + world.ghosts.size() * l::state_ghost_bytes +
                              world.bus_applied.size() * l::state_bus_mark_bytes +
                              world.map.chunks().size() * l::state_chunk_bytes);
}

// Builds a snapshot from a valid one with one header field changed.
template <class Fn>
std::vector<uint8_t> with_header(const sim::World& world, Fn&& change) {
  std::vector<uint8_t> state;
  sim::encode_state(world, state);
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::wire::Snapshot>();
  auto h = root.initHeader();
  h.setMagic(schema::snapshot_magic);
  h.setFormatVersion(schema::snapshot_format_version);
  h.setRulesVersion(sim::rules_version);
  h.setStateFormatVersion(sim::state_format_version);
  h.setTick(world.tick);
  h.setFullHash(sim::full_hash(world));
  auto p = h.initParams();
  p.setSeed(world.params.seed);
  p.setChunksX(world.params.chunks_x);
  p.setChunksY(world.params.chunks_y);
  p.setRandomTicksPerChunk(world.params.random_ticks_per_chunk);
  p.setNpcCount(world.params.npc_count);
  p.setRegion(sim::raw(world.params.region));
  p.setRules(world.params.rules);
  root.setState(capnp::Data::Reader(state.data(), state.size()));
  change(root);
  std::vector<uint8_t> out;
  schema::detail::write_packed(message, out);
  return out;
}

TEST(Snapshot, EveryHeaderCheckRefusesWithItsOwnCode) {
  const sim::World world = world_after(3, 30);
  using B = schema::wire::Snapshot::Builder;
  EXPECT_TRUE(schema::decode_snapshot(with_header(world, [](B) {})).ok());
  const struct {
    const char* what;
    std::function<void(B)> change;
    DecodeError expected;
  } cases[] = {
      {"magic", [](B b) { b.getHeader().setMagic(42); }, DecodeError::bad_magic},
      {"no header", [](B b) { b.disownHeader(); }, DecodeError::bad_magic},
      {"format", [](B b) { b.getHeader().setFormatVersion(99); }, DecodeError::bad_version},
      {"rules", [](B b) { b.getHeader().setRulesVersion(sim::rules_version + 1); }, DecodeError::rules_version},
      {"params rules", [](B b) { b.getHeader().getParams().setRules(sim::rules_version + 1); },
       DecodeError::rules_version},
      {"state format", [](B b) { b.getHeader().setStateFormatVersion(7); }, DecodeError::bad_version},
      {"params", [](B b) { b.getHeader().getParams().setChunksX(0); }, DecodeError::bad_params},
      {"params differ", [](B b) { b.getHeader().getParams().setSeed(12345); }, DecodeError::bad_state},
      {"tick", [](B b) { b.getHeader().setTick(b.getHeader().getTick() + 1); }, DecodeError::bad_state},
      {"hash", [](B b) { b.getHeader().setFullHash(b.getHeader().getFullHash() ^ 1); }, DecodeError::hash_mismatch},
      {"no state", [](B b) { b.disownState(); }, DecodeError::bad_state},
      {"state bytes", [](B b) { b.getState()[0] = 'X'; }, DecodeError::bad_state},
  };
  for (const auto& c : cases) {
    schema::DecodeStats stats;
    const auto decoded = schema::decode_snapshot(with_header(world, c.change), &stats);
    EXPECT_FALSE(decoded.ok()) << c.what;
    EXPECT_EQ(decoded.code, c.expected) << c.what << ": " << decoded.error;
    EXPECT_EQ(stats.refused[static_cast<size_t>(c.expected)], 1U) << c.what;
  }
}

TEST(Snapshot, HugeClaimedSizeIsRefusedWithoutAllocating) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < schema::limits::snapshot_words_max / 256 + 10; ++i) {
    bytes.push_back(0);
    bytes.push_back(255);
  }
  EXPECT_EQ(schema::decode_snapshot(bytes).code, DecodeError::too_large);
}

TEST(Snapshot, DecodeStateRefusesTruncatedStates) {
  const sim::World world = world_after(8, 20);
  std::vector<uint8_t> state;
  sim::encode_state(world, state);
  for (size_t n : {size_t{0}, size_t{3}, size_t{8}, size_t{100}, state.size() / 2, state.size() - 1}) {
    EXPECT_FALSE(sim::decode_state(std::span(state.data(), n)).world.has_value()) << n;
  }
}

}  // namespace
}  // namespace strata
