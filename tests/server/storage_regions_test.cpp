// tests/server/storage_regions_test.cpp: a player moving between regions (issue 16 item 5), with two
// StorageServices (regions 1 = A and 2 = B) sharing one real MariaDB database, each with its own
// Redis key prefix (the CTest fixtures' servers), pumped by the test (no worker threads):
//   - B's hot cache holds an older state of the player (they played in B before A): B's join
//     gets A's newer save, never the cached one;
//   - A's leave save is still queued when the player joins B: B's join waits (held, counted) and
//     gets the save once A's queue reaches MariaDB;
//   - a crashed holder (A gone without its leave saves) holds its players until its lease runs out;
//     meanwhile B would refuse the join rather than join with an older state;
//   - a restarted A releases at once the players it held, except those of its recovered world;
//   - a player rejoining A while its leave save is still queued there stays held by A.
// Assertions are on answers, counters and store contents, never on time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "server/player_saves.h"
#include "server/storage_service.h"
#include "sim/simulation.h"
#include "storage/codec.h"
#include "tests/storage/service_env.h"

namespace strata::server {
namespace {

using storage::testing::ServiceEnv;
using storage::testing::unique_name;

constexpr std::chrono::milliseconds test_lease{1000};

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("strata-storage-regions-test-" + unique_name(name))) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

storage::RedisOptions redis_options(const std::string& prefix) {
  const ServiceEnv env("redis");
  storage::RedisOptions options;
  options.host = env.get("STRATA_REDIS_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_REDIS_PORT")));
  options.prefix = prefix;
  options.timeout = std::chrono::milliseconds(1000);
  return options;
}

storage::MariaDbOptions mariadb_options(const std::string& database, uint16_t region) {
  const ServiceEnv env("mariadb");
  storage::MariaDbOptions options;
  options.host = env.get("STRATA_MARIADB_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_MARIADB_PORT")));
  options.user = env.get("STRATA_MARIADB_USER");
  options.password = env.get("STRATA_MARIADB_PASSWORD");
  options.database = database;
  options.create_database = true;
  options.region = region;
  options.lease = test_lease;
  return options;
}

// Two regions' stores over one database: each region its own data dir and Redis prefix.
struct Regions {
  std::string database = unique_name("strata_xr");
  std::string prefix = unique_name("xr");
  TempDir dir_a{"a"};
  TempDir dir_b{"b"};

  StorageService::Options options(uint16_t region, const TempDir& dir, uint64_t epoch) const {
    StorageService::Options out;
    out.stores.data_dir = dir.path.string();
    out.stores.sync = false;
    out.stores.redis = redis_options(prefix + ":" + std::to_string(region) + ":");
    out.stores.mariadb = mariadb_options(database, region);
    out.worker_threads = false;
    out.region = region;
    out.version_epoch_s = epoch;
    out.session = storage::SessionId{(uint64_t{region} << 48) | (::getpid() & 0xFFFF)};
    out.log_location = "/logs/" + prefix + "-" + std::to_string(region);
    return out;
  }
  static std::unique_ptr<StorageService> open(const StorageService::Options& options) {
    std::string error;
    auto service = StorageService::open(options, error);
    if (!service) throw std::runtime_error("cannot open the storage service: " + error);
    return service;
  }
  // A started earlier than B (its versions' high half is smaller): versions still order A's save
  // after B's older one, because a save is versioned above the version its region loaded.
  std::unique_ptr<StorageService> open_a() const { return open(options(1, dir_a, 1000)); }
  std::unique_ptr<StorageService> open_b() const { return open(options(2, dir_b, 2000)); }
  ~Regions() {
    std::string error;
    auto db = storage::MariaDbStores::open(mariadb_options(database, 0), error);
    if (db) (void)db->drop_database();
    (void)storage::RedisStores(redis_options(prefix + ":1:")).clear();
    (void)storage::RedisStores(redis_options(prefix + ":2:")).clear();
  }
};

sim::PlayerSave save_at(int32_t x, uint16_t wood) {
  sim::PlayerSave save;
  save.pos = {sim::Fixed::from_tiles(x), sim::Fixed::from_tiles(5)};
  save.stamina = 40;
  save.health = 90;
  save.inventory[0] = wood;
  return save;
}

// Polls a join (pumping the service before each poll) at most `polls` times.
struct Join {
  PlayerSaves::Poll poll = PlayerSaves::Poll::waiting;
  std::optional<sim::PlayerSave> save;
};
Join poll_join(StorageService& service, uint32_t player, int polls) {
  Join join;
  for (int i = 0; i < polls && join.poll == PlayerSaves::Poll::waiting; ++i) {
    service.pump();
    join.poll = service.poll(sim::PlayerId{player}, join.save);
  }
  return join;
}
Join join(StorageService& service, uint32_t player, int polls = 20) {
  if (!service.request(sim::PlayerId{player})) throw std::runtime_error("the load could not be queued");
  return poll_join(service, player, polls);
}

void leave(StorageService& service, uint64_t tick, uint32_t player, const sim::PlayerSave& save) {
  const std::pair<sim::PlayerId, sim::PlayerSave> left[] = {{sim::PlayerId{player}, save}};
  service.left(tick, left);
}

TEST(StorageRegions, AStaleHotCacheEntryNeverWinsOverAnotherRegionsNewerSave) {
  Regions regions;
  auto a = regions.open_a();
  auto b = regions.open_b();
  // Yesterday, in B: the player's state is saved in MariaDB and B's cache.
  Join first = join(*b, 7);
  ASSERT_EQ(first.poll, PlayerSaves::Poll::answered);
  EXPECT_FALSE(first.save);
  const sim::PlayerSave old_state = save_at(10, 1);
  leave(*b, 50, 7, old_state);
  ASSERT_TRUE(b->flush(std::chrono::seconds(20)));
  storage::RedisStores b_cache(redis_options(regions.prefix + ":2:"));
  const auto cached = b_cache.get(storage::PlayerKey{7});
  ASSERT_TRUE(cached.ok() && cached.value) << cached.outcome.reason;
  EXPECT_EQ(cached.value->state, encode_player_save(old_state));
  // Today, in A: the player continues from B's save and leaves with more.
  Join in_a = join(*a, 7);
  ASSERT_EQ(in_a.poll, PlayerSaves::Poll::answered);
  EXPECT_EQ(in_a.save, old_state);
  const sim::PlayerSave new_state = save_at(300, 77);
  leave(*a, 60, 7, new_state);
  ASSERT_TRUE(a->flush(std::chrono::seconds(20)));
  // Back in B: A's save, although B's cache still holds the old one (with a version whose high
  // half, B's later session start, is larger than A's own epoch).
  EXPECT_EQ(b_cache.get(storage::PlayerKey{7}).value->state, encode_player_save(old_state));
  Join back = join(*b, 7);
  ASSERT_EQ(back.poll, PlayerSaves::Poll::answered);
  EXPECT_EQ(back.save, new_state);
  EXPECT_EQ(b->stores().cache_counters().hits, 0U);
  EXPECT_GE(b->stores().cache_counters().cold_first, 2U);
}

TEST(StorageRegions, AJoinWaitsForTheOtherRegionsQueuedLeaveSave) {
  Regions regions;
  auto a = regions.open_a();
  auto b = regions.open_b();
  ASSERT_EQ(join(*a, 8).poll, PlayerSaves::Poll::answered);
  const sim::PlayerSave left_a = save_at(123, 9);
  leave(*a, 70, 8, left_a);  // queued in A, not yet in MariaDB (nobody pumps A)
  ASSERT_TRUE(b->request(sim::PlayerId{8}));
  Join waiting = poll_join(*b, 8, 3 * static_cast<int>(storage_limits::hold_retry_polls));
  EXPECT_EQ(waiting.poll, PlayerSaves::Poll::waiting);
  EXPECT_GE(b->counters().player_loads_held, 2U);  // asked again while held
  ASSERT_TRUE(a->flush(std::chrono::seconds(20)));
  Join handed = poll_join(*b, 8, 4 * static_cast<int>(storage_limits::hold_retry_polls));
  ASSERT_EQ(handed.poll, PlayerSaves::Poll::answered);
  EXPECT_EQ(handed.save, left_a);
  // And A now waits for B in turn.
  ASSERT_TRUE(a->request(sim::PlayerId{8}));
  EXPECT_EQ(poll_join(*a, 8, 2).poll, PlayerSaves::Poll::waiting);
  EXPECT_GE(a->counters().player_loads_held, 1U);
}

TEST(StorageRegions, ACrashedHolderHoldsItsPlayersUntilItsLeaseRunsOut) {
  Regions regions;
  auto a = regions.open_a();
  auto b = regions.open_b();
  ASSERT_EQ(join(*a, 9).poll, PlayerSaves::Poll::answered);
  // A periodic save of the player reaches MariaDB, then A dies without its leave saves.
  sim::World world = sim::Simulation(sim::WorldParams{}).world();
  sim::Player player;
  player.id = sim::PlayerId{9};
  player.pos = {sim::Fixed::from_tiles(44), sim::Fixed::from_tiles(45)};
  player.health = 70;
  world.players = {player};
  world.tick = a->options().players_every_ticks;
  a->observe(world);
  ASSERT_TRUE(a->flush(std::chrono::seconds(20)));
  a.reset();
  ASSERT_TRUE(b->request(sim::PlayerId{9}));
  EXPECT_EQ(poll_join(*b, 9, 2).poll, PlayerSaves::Poll::waiting);
  EXPECT_FALSE(b->may_join_unloaded(sim::PlayerId{9}));  // a timeout here refuses, never joins older
  std::this_thread::sleep_for(test_lease + std::chrono::milliseconds(200));
  Join taken = poll_join(*b, 9, 3 * static_cast<int>(storage_limits::hold_retry_polls));
  ASSERT_EQ(taken.poll, PlayerSaves::Poll::answered);
  EXPECT_EQ(taken.save, sim::save_of(player));
}

TEST(StorageRegions, ARestartedRegionReleasesItsPlayersExceptItsRecoveredWorlds) {
  Regions regions;
  auto a = regions.open_a();
  auto b = regions.open_b();
  ASSERT_EQ(join(*a, 11).poll, PlayerSaves::Poll::answered);
  ASSERT_EQ(join(*a, 12).poll, PlayerSaves::Poll::answered);
  a.reset();  // killed
  sim::World recovered = sim::Simulation(sim::WorldParams{}).world();
  sim::Player eleven;
  eleven.id = sim::PlayerId{11};
  recovered.players = {eleven};  // its log recovered player 11 (who leaves in its first tick)
  a = regions.open_a();
  a->start(recovered);
  a->pump();
  EXPECT_EQ(a->counters().holds_restarted, 1U);
  Join twelve = join(*b, 12, 1);  // at once: no lease to wait for
  EXPECT_EQ(twelve.poll, PlayerSaves::Poll::answered);
  ASSERT_TRUE(b->request(sim::PlayerId{11}));
  EXPECT_EQ(poll_join(*b, 11, 2).poll, PlayerSaves::Poll::waiting);
  // A's first tick: player 11 leaves, the save releases them.
  const sim::PlayerSave at_leave = save_at(3, 2);
  leave(*a, 1, 11, at_leave);
  ASSERT_TRUE(a->flush(std::chrono::seconds(20)));
  Join handed = poll_join(*b, 11, 3 * static_cast<int>(storage_limits::hold_retry_polls));
  ASSERT_EQ(handed.poll, PlayerSaves::Poll::answered);
  EXPECT_EQ(handed.save, at_leave);
}

TEST(StorageRegions, ARejoinWhileTheLeaveSaveIsQueuedKeepsTheHold) {
  Regions regions;
  auto a = regions.open_a();
  auto b = regions.open_b();
  ASSERT_EQ(join(*a, 13).poll, PlayerSaves::Poll::answered);
  const sim::PlayerSave state = save_at(8, 8);
  leave(*a, 80, 13, state);
  ASSERT_TRUE(a->request(sim::PlayerId{13}));  // back before the leave save left the queue
  EXPECT_EQ(a->counters().player_saves_rehold, 1U);
  Join back = poll_join(*a, 13, 20);
  ASSERT_EQ(back.poll, PlayerSaves::Poll::answered);
  EXPECT_EQ(back.save, state);
  ASSERT_TRUE(a->flush(std::chrono::seconds(20)));
  ASSERT_TRUE(b->request(sim::PlayerId{13}));
  EXPECT_EQ(poll_join(*b, 13, 2).poll, PlayerSaves::Poll::waiting);  // A holds them again
  EXPECT_GE(b->counters().player_loads_held, 1U);
}

}  // namespace
}  // namespace strata::server
