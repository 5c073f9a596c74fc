// tests/server/map_snapshots_test.cpp — map snapshots without a service: the codec (and what it
// refuses), the parts in the in-memory bucket, the seeded world, the desync map files and their
// comparison, and a region bootstrapped over the twins (MemoryBus, MemoryMapStore).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/map_snapshots.h"
#include "server/memory_bus.h"
#include "sim/hash.h"
#include "sim/state_codec.h"
#include "tests/server/bootstrap_harness.h"

namespace strata::server::test {
namespace {

using sim::CellPos;
using sim::Layer;
using sim::LwwStamp;

sim::Simulation world_with_writes(RegionId region) {
  sim::Simulation sim(bootstrap_params(region));
  sim::World world = sim.world();
  world.tick = 40;
  world.bus_applied = {sim::BusMark{RegionId{2}, 17}};
  world.map.set(CellPos{5, 6}, Layer::active, sim::CellValue{static_cast<uint8_t>(sim::Block::stone_wall), 0},
                LwwStamp{1000, region});
  std::string error;
  std::optional<sim::Simulation> out = sim::Simulation::from_world(world, &error);
  EXPECT_TRUE(out) << error;
  return std::move(*out);
}

MapSnapshotInfo info_of(const sim::World& world) {
  MapSnapshotInfo info;
  info.origin = world.params.region;
  info.tick = world.tick;
  info.map_hash = sim::map_hash(world);
  info.applied = world.bus_applied;
  info.applied.push_back(sim::BusMark{world.params.region, 30});
  std::sort(info.applied.begin(), info.applied.end(),
            [](const sim::BusMark& a, const sim::BusMark& b) { return sim::raw(a.origin) < sim::raw(b.origin); });
  info.note = "test";
  return info;
}

TEST(MapSnapshot, RoundTripsWorldVectorHashAndNote) {
  const sim::Simulation sim = world_with_writes(RegionId{1});
  const MapSnapshotInfo info = info_of(sim.world());
  std::vector<uint8_t> blob;
  encode_map_snapshot(info, sim.world(), blob);
  MapSnapshotDecode decoded = decode_map_snapshot(blob);
  ASSERT_TRUE(decoded.snapshot) << decoded.error;
  EXPECT_EQ(decoded.snapshot->info, info);
  EXPECT_EQ(sim::full_hash(decoded.snapshot->world), sim.full_hash());
}

TEST(MapSnapshot, RefusesTruncatedAlteredAndForeignBytes) {
  const sim::Simulation sim = world_with_writes(RegionId{1});
  std::vector<uint8_t> blob;
  encode_map_snapshot(info_of(sim.world()), sim.world(), blob);
  for (const size_t size : {size_t{0}, size_t{3}, size_t{10}, size_t{40}, blob.size() / 2, blob.size() - 1}) {
    EXPECT_FALSE(decode_map_snapshot(std::span(blob).first(size)).snapshot) << "truncated to " << size;
  }
  std::vector<uint8_t> longer = blob;
  longer.push_back(0);
  EXPECT_FALSE(decode_map_snapshot(longer).snapshot);
  std::vector<uint8_t> wrong_hash = blob;
  wrong_hash[4 + 4 + 2 + 8] ^= 1;  // the map hash's first byte
  EXPECT_FALSE(decode_map_snapshot(wrong_hash).snapshot);
  std::vector<uint8_t> wrong_tick = blob;
  wrong_tick[4 + 4 + 2] ^= 1;
  EXPECT_FALSE(decode_map_snapshot(wrong_tick).snapshot);
  std::vector<uint8_t> huge_vector = blob;
  huge_vector[4 + 4 + 2 + 8 + 8 + 3] = 0x7f;  // the vector's count
  EXPECT_FALSE(decode_map_snapshot(huge_vector).snapshot);
  std::vector<uint8_t> frame = blob;
  frame[frame.size() - 5] ^= 0x55;  // inside the zstd frame
  EXPECT_FALSE(decode_map_snapshot(frame).snapshot);
}

TEST(MapSnapshot, PartsGoThroughTheBucketAndAChangedPartIsNotTakenForTheSnapshot) {
  const sim::Simulation sim = world_with_writes(RegionId{1});
  std::vector<uint8_t> blob;
  encode_map_snapshot(info_of(sim.world()), sim.world(), blob);
  // Many parts: a blob bigger than one part (random bytes do not compress), cut and joined again.
  MemoryMapStore store;
  std::vector<uint8_t> big(2 * map_snapshot_limits::part_data_bytes_max + 12345);
  uint64_t x = 1;
  for (uint8_t& b : big) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    b = static_cast<uint8_t>(x >> 56);
  }
  ASSERT_EQ(publish_map_snapshot(store, RegionId{2}, 5, big), "");
  std::vector<uint8_t> part;
  ASSERT_EQ(store.get(map_part_key(RegionId{2}, 2), part), MapStoreStatus::ok);
  std::string error;
  EXPECT_FALSE(read_map_snapshot(store, RegionId{2}, error, 1)) << "random bytes are no snapshot";
  EXPECT_NE(error.find("magic"), std::string::npos) << error;

  ASSERT_EQ(publish_map_snapshot(store, RegionId{1}, sim.tick(), blob), "");
  std::optional<MapSnapshot> read = read_map_snapshot(store, RegionId{1}, error, 1);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(read->info.map_hash, sim::map_hash(sim.world()));
  // A part of a newer snapshot under an older manifest: refused (the reader would try again).
  std::vector<uint8_t> value;
  ASSERT_EQ(store.get(map_part_key(RegionId{1}, 0), value), MapStoreStatus::ok);
  value[4 + 2] ^= 1;  // its tick
  ASSERT_EQ(store.put(map_part_key(RegionId{1}, 0), value), MapStoreStatus::ok);
  EXPECT_FALSE(read_map_snapshot(store, RegionId{1}, error, 1));
  EXPECT_NE(error.find("another snapshot"), std::string::npos) << error;
  EXPECT_FALSE(read_map_snapshot(store, RegionId{3}, error, 1));
  EXPECT_NE(error.find("not found"), std::string::npos) << error;
  std::vector<uint8_t> too_big(map_snapshot_limits::value_bytes_max + 1);
  EXPECT_EQ(store.put("x", too_big), MapStoreStatus::too_large);
}

TEST(MapSnapshot, ASeededWorldHasTheMapTheVectorAndTheTickAndItsNpcsStandFree) {
  sim::Simulation source = world_with_writes(RegionId{1});
  sim::WorldParams params = bootstrap_params(RegionId{3});
  sim::Simulation plain(params);
  // Wall in every NPC of the plain world's generation: the seeded world must move them.
  sim::World walled = source.world();
  for (const sim::Npc& npc : plain.world().npcs) {
    walled.map.set(CellPos{npc.pos.x.tile(), npc.pos.y.tile()}, Layer::active,
                   sim::CellValue{static_cast<uint8_t>(sim::Block::stone_wall), 0}, LwwStamp{2000, RegionId{1}});
  }
  std::string error;
  MapSnapshot snapshot{info_of(source.world()), walled};
  snapshot.info.map_hash = sim::map_hash(walled);
  std::optional<sim::WorldSeed> seed = bootstrap_seed(snapshot, params, error);
  ASSERT_TRUE(seed) << error;
  sim::Simulation seeded(params, std::move(*seed));
  EXPECT_EQ(seeded.tick(), 40U);
  EXPECT_EQ(sim::map_hash(seeded.world()), sim::map_hash(walled));
  ASSERT_EQ(seeded.world().bus_applied.size(), 2U);
  EXPECT_EQ(seeded.world().bus_applied[0], (sim::BusMark{RegionId{1}, 30}));
  EXPECT_EQ(seeded.world().bus_applied[1], (sim::BusMark{RegionId{2}, 17}));
  EXPECT_EQ(sim::validate_world(seeded.world()), "");
  EXPECT_EQ(seeded.world().npcs.size(), plain.world().npcs.size());
  // The same seed makes the same world (the construction is pure).
  sim::Simulation again(params, *bootstrap_seed(snapshot, params, error));
  EXPECT_EQ(again.full_hash(), seeded.full_hash());
  // Another deployment's world is refused.
  sim::WorldParams other = params;
  other.seed += 1;
  EXPECT_FALSE(bootstrap_seed(snapshot, other, error));
  sim::WorldSeed bad;
  bad.tick = 0;
  bad.map = walled.map;
  EXPECT_NE(sim::validate(params, bad), nullptr);
}

TEST(MapSnapshot, DesyncMapsOfTwoRegionsShowTheFirstDifferenceAndHowManyCells) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("strata-desync-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  sim::Simulation a = world_with_writes(RegionId{1});
  sim::World b_world = a.world();
  b_world.params.region = RegionId{2};
  b_world.bus_applied = {sim::BusMark{RegionId{1}, 30}};
  // Three cells differ: two values, one stamp only.
  b_world.map.set(CellPos{40, 3}, Layer::active, sim::CellValue{static_cast<uint8_t>(sim::Block::wood_wall), 0},
                  LwwStamp{1500, RegionId{2}});
  b_world.map.set(CellPos{41, 3}, Layer::ceiling, sim::CellValue{static_cast<uint8_t>(sim::Ceiling::thatch_roof), 0},
                  LwwStamp{1501, RegionId{2}});
  b_world.map.set(CellPos{5, 6}, Layer::active, sim::CellValue{static_cast<uint8_t>(sim::Block::stone_wall), 0},
                  LwwStamp{1001, RegionId{1}});
  std::string error;
  std::optional<sim::Simulation> b = sim::Simulation::from_world(b_world, &error);
  ASSERT_TRUE(b) << error;

  Desync d;
  d.applied = {schema::BusAppliedSeq{RegionId{1}, 30}, schema::BusAppliedSeq{RegionId{2}, 17}};
  d.our_tick = 39;
  d.peer_tick = 38;
  std::vector<std::string> files;
  for (sim::Simulation* sim : {&a, &*b}) {
    MapSnapshotPublisherConfig config;
    config.region = sim->world().params.region;
    config.desync_dir = dir.string();
    config.background = false;
    MapSnapshotPublisher publisher(config, nullptr, [] { return uint64_t{30}; });
    d.peer = sim == &a ? RegionId{2} : RegionId{1};
    publisher.request_desync(d);
    publisher.on_tick(*sim);
    ASSERT_EQ(publisher.counters().desync_maps_written, 1U);
    ASSERT_EQ(publisher.desync_files().size(), 1U);
    files.push_back(publisher.desync_files()[0]);
  }
  EXPECT_EQ(std::filesystem::path(files[0]).filename(), "40-region1-vs-2.map");
  std::vector<MapSnapshot> maps;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    MapSnapshotDecode decoded = decode_map_snapshot(bytes);
    ASSERT_TRUE(decoded.snapshot) << decoded.error;
    EXPECT_NE(decoded.snapshot->info.note.find("may have moved on"), std::string::npos);
    maps.push_back(std::move(*decoded.snapshot));
  }
  const MapDifference diff = compare_maps(maps[0].world.map, maps[1].world.map);
  ASSERT_TRUE(diff.found);
  EXPECT_EQ(diff.differing, 3U);
  EXPECT_EQ(diff.cell, (CellPos{5, 6}));  // chunk 0 comes first
  EXPECT_EQ(diff.chunk, 0U);
  EXPECT_EQ(diff.layer, Layer::active);
  EXPECT_EQ(diff.a_stamp, (LwwStamp{1000, RegionId{1}}));
  EXPECT_EQ(diff.b_stamp, (LwwStamp{1001, RegionId{1}}));
  EXPECT_EQ(diff.a_value.kind, diff.b_value.kind);
  EXPECT_FALSE(compare_maps(maps[0].world.map, maps[0].world.map).found);
  if (const char* seeds = std::getenv("STRATA_MAP_SEED_DIR")) {  // fuzz/corpus/map_snapshot's seeds
    for (const std::string& file : files) {
      std::filesystem::copy_file(file, std::filesystem::path(seeds) / std::filesystem::path(file).filename(),
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(MapSnapshot, ANewRegionBootstrapsOverTheTwinsAndConvergesToTheWriter) {
  MemoryStream stream;
  MemoryBus bus1(stream, MemoryBusConfig{});
  MemoryBus bus3(stream, MemoryBusConfig{});
  MemoryMapStore store;
  uint64_t now = 1'000'000;
  int pauses = 0;
  BootClock clock{[&] { return now; },
                  [&] {
                    now += 17'000;  // three pauses a tick: the scenario's stamps run 50 ms a tick
                    return ++pauses < 100'000;
                  },
                  {}};
  run_bootstrap_scenario(bus1, bus3, store, clock);
}

}  // namespace
}  // namespace strata::server::test
