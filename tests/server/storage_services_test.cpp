// tests/server/storage_services_test.cpp: the storage service against the real redis-server and
// mariadbd the CTest fixtures start (tools/service-redis.sh, tools/service-mariadb.sh):
//   - positions written every M ticks appear in near queries answered by Redis (worker threads);
//   - Redis and then MariaDB down: the service is degraded (the /readyz and metrics source), writes
//     queue, and when the service returns it recovers and the queued writes are applied in order;
//   - Redis stalled (SIGSTOP): the tick side's calls never wait; the queue fills to its bound and
//     refuses (counted) instead; after the stall everything still queued reaches Redis;
//   - a map saved to MariaDB and loaded by a fresh service gives the same map hash and world hash.
//   - players leaving and rejoining while MariaDB is down keep their state (answered from the queue),
//     and their saves reach MariaDB afterwards.
//   - the hot cache's reads and the positions, pumped by two threads as the service's two workers
//     do, never see each other's Redis replies.
// Assertions are on queues, counters and store contents, never on time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "server/map_chunks.h"
#include "server/player_saves.h"
#include "server/storage_service.h"
#include "sim/hash.h"
#include "sim/simulation.h"
#include "tests/storage/service_env.h"

namespace strata::server {
namespace {

using storage::testing::ServiceEnv;
using storage::testing::StallGuard;
using storage::testing::unique_name;

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("strata-storage-services-test-" + unique_name(name))) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

storage::RedisOptions redis_options() {
  const ServiceEnv env("redis");
  storage::RedisOptions options;
  options.host = env.get("STRATA_REDIS_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_REDIS_PORT")));
  options.prefix = unique_name("svc") + ":";
  options.timeout = std::chrono::milliseconds(300);
  return options;
}

storage::MariaDbOptions mariadb_options(const std::string& database) {
  const ServiceEnv env("mariadb");
  storage::MariaDbOptions options;
  options.host = env.get("STRATA_MARIADB_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_MARIADB_PORT")));
  options.user = env.get("STRATA_MARIADB_USER");
  options.password = env.get("STRATA_MARIADB_PASSWORD");
  options.database = database;
  options.create_database = true;
  options.connect_timeout_s = 1;
  options.io_timeout_s = 2;
  return options;
}

StorageService::Options service_options(const TempDir& dir, bool workers) {
  StorageService::Options options;
  options.stores.data_dir = dir.path.string();
  options.stores.sync = false;
  options.positions_every_ticks = 4;
  options.worker_threads = workers;
  options.worker_idle = std::chrono::milliseconds(5);
  options.log_location = "/logs/" + unique_name("s");
  options.session = storage::SessionId{(uint64_t{9} << 48) | (::getpid() & 0xFFFF)};
  return options;
}

std::unique_ptr<StorageService> open_or_throw(const StorageService::Options& options) {
  std::string error;
  auto service = StorageService::open(options, error);
  if (!service) throw std::runtime_error("cannot open the storage service: " + error);
  return service;
}

sim::WorldParams small_params() {
  sim::WorldParams params;
  params.seed = 11;
  params.chunks_x = 2;
  params.chunks_y = 2;
  params.npc_count = 0;
  return params;
}

sim::Player player_at(uint32_t id, int32_t x, int32_t y) {
  sim::Player p;
  p.id = sim::PlayerId{id};
  p.pos = {sim::Fixed::from_tiles(x), sim::Fixed::from_tiles(y)};
  return p;
}

// A near query through the StorageView; with worker threads the answer comes from the positions
// worker, so the test waits for it (bounded) rather than pumping.
std::optional<HttpResponse> ask_near(StorageService& service, const std::string& query, bool workers) {
  struct Slot {
    std::mutex mutex;
    std::optional<HttpResponse> response;
  };
  auto slot = std::make_shared<Slot>();
  service.near(query, [slot](HttpResponse response) {
    std::lock_guard lock(slot->mutex);
    slot->response = std::move(response);
  });
  for (int i = 0; i < 2000; ++i) {
    if (!workers) service.pump();
    {
      std::lock_guard lock(slot->mutex);
      if (slot->response) return slot->response;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

// Players 1..n on a line at x = base + id, y = 7.
void place(sim::World& world, uint32_t n, int32_t base) {
  world.players.clear();
  for (uint32_t id = 1; id <= n; ++id) world.players.push_back(player_at(id, base + static_cast<int32_t>(id), 7));
}

TEST(StorageServices, PositionsEveryMTicksAppearInRedisNearQueries) {
  TempDir dir("positions");
  StorageService::Options options = service_options(dir, true);
  options.stores.redis = redis_options();
  auto service = open_or_throw(options);
  sim::World world = sim::Simulation(small_params()).world();
  service->start(world);
  for (uint64_t tick = 1; tick <= 12; ++tick) {
    world.tick = tick;
    place(world, 20, static_cast<int32_t>(tick));
    service->observe(world);
  }
  EXPECT_EQ(service->counters().position_batches, 3U);  // ticks 4, 8, 12
  ASSERT_TRUE(service->flush(std::chrono::seconds(20)));
  // At tick 12 player id stands at x = 12 + id: within 3 of (20, 7) are ids 5..11.
  const std::optional<HttpResponse> answer = ask_near(*service, "x=20&y=7&r=3", true);
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  EXPECT_NE(answer->body.find("\"count\":7"), std::string::npos) << answer->body;
  EXPECT_NE(answer->body.find("{\"player\":5,\"x\":17,\"y\":7}"), std::string::npos) << answer->body;
  EXPECT_NE(answer->body.find("{\"player\":11,\"x\":23,\"y\":7}"), std::string::npos) << answer->body;
  EXPECT_FALSE(service->degraded());
}

// Redis down, then MariaDB down: degraded while each is out, writes queued in order, and after each
// comes back everything queued is applied (the near query sees the last positions; the session
// record holds its last version) and the service is no longer degraded.
TEST(StorageServices, DegradedDuringOutagesAndQueuedWritesFlushInOrderAfter) {
  const ServiceEnv redis_env("redis");
  const ServiceEnv db_env("mariadb");
  TempDir dir("outage");
  StorageService::Options options = service_options(dir, false);
  options.stores.redis = redis_options();
  options.stores.mariadb = mariadb_options(unique_name("strata_svc"));
  auto service = open_or_throw(options);
  sim::World world = sim::Simulation(small_params()).world();
  service->start(world);
  ASSERT_TRUE(service->flush(std::chrono::seconds(20)));
  EXPECT_FALSE(service->degraded());
  EXPECT_NE(service->prometheus().find("strata_storage_degraded 0\n"), std::string::npos);

  redis_env.control("STRATA_REDIS_CTL", "down");
  uint64_t tick = 0;
  for (int round = 0; round < 6; ++round) {  // six batches, each moving everyone
    tick += 4;
    world.tick = tick;
    place(world, 10, static_cast<int32_t>(100 + round * 10));
    service->observe(world);
    service->pump();
  }
  // A player leaves during the outage: the gone comes after its moves.
  world.players.erase(world.players.begin());
  world.tick = tick += 4;
  service->observe(world);
  service->pump();
  EXPECT_TRUE(service->degraded());
  EXPECT_NE(service->prometheus().find("strata_storage_degraded 1\n"), std::string::npos);
  const storage::PortCounters during = service->stores().positions().counters();
  EXPECT_EQ(during.writes_waiting, 7U);
  EXPECT_EQ(during.writes_applied, 0U);
  EXPECT_GE(during.batches_failed, 1U);
  // The near query during the outage fails with a reason (Redis is the only positions store).
  std::optional<HttpResponse> answer = ask_near(*service, "x=150&y=7&r=20", false);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 503) << answer->body;
  redis_env.control("STRATA_REDIS_CTL", "up");
  ASSERT_TRUE(service->flush(std::chrono::seconds(30)));
  EXPECT_FALSE(service->degraded());
  EXPECT_EQ(service->stores().positions().durable_sequence(), service->stores().positions().last_sequence());
  // The last batch won: players 2..10 at x = 150 + id; player 1 gone.
  answer = ask_near(*service, "x=150&y=7&r=1024", false);
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  EXPECT_NE(answer->body.find("\"count\":9"), std::string::npos) << answer->body;
  EXPECT_EQ(answer->body.find("\"player\":1,"), std::string::npos) << answer->body;
  EXPECT_NE(answer->body.find("{\"player\":2,\"x\":152,\"y\":7}"), std::string::npos) << answer->body;

  // MariaDB down: the session's end and the map save queue; then they are applied.
  db_env.control("STRATA_MARIADB_CTL", "down");
  world.map.set({3, 3}, sim::Layer::ceiling, {static_cast<uint8_t>(sim::Ceiling::stone_roof), 0}, {5, {}});
  world.tick = tick += 4;
  ASSERT_TRUE(service->save_map(world));
  ASSERT_EQ(service->stores().sessions().write({options.session, 2, "1", 0, tick, options.log_location}).status,
            storage::Submit::queued);
  service->pump();
  EXPECT_TRUE(service->degraded());
  EXPECT_EQ(service->stores().sessions().counters().writes_waiting, 1U);
  EXPECT_EQ(service->stores().maps().counters().writes_waiting, 1U);
  db_env.control("STRATA_MARIADB_CTL", "up");
  ASSERT_TRUE(service->flush(std::chrono::seconds(60)));
  EXPECT_FALSE(service->degraded());
  auto ticket = service->stores().sessions().read(options.session);
  ASSERT_TRUE(ticket);
  service->pump();
  auto session = service->stores().sessions().take(*ticket);
  ASSERT_TRUE(session && session->ok() && session->value);
  EXPECT_EQ(session->value->version, 2U);
  EXPECT_EQ(session->value->end_tick, tick);
  std::string error;
  std::optional<sim::World> loaded = service->load_map_world(small_params(), std::chrono::seconds(20), error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(sim::map_hash(*loaded), sim::map_hash(world));
  auto cleanup = storage::MariaDbStores::open(*options.stores.mariadb, error);
  ASSERT_TRUE(cleanup) << error;
  EXPECT_TRUE(cleanup->drop_database().ok());
}

// Redis stalled with the worker threads running: every call of the tick side returns (the test's
// thread keeps calling); the positions queue fills to its bound, then batches are refused and
// counted, never waited for. After the stall every queued batch reaches Redis and the near query
// sees the last accepted positions.
TEST(StorageServices, AStallNeverHoldsTheTickSide) {
  const ServiceEnv env("redis");
  TempDir dir("stall");
  StorageService::Options options = service_options(dir, true);
  options.stores.redis = redis_options();
  options.stores.port.writes_queued_max = 16;
  options.stores.port.batch_max = 4;
  options.positions_every_ticks = 1;
  auto service = open_or_throw(options);
  sim::World world = sim::Simulation(small_params()).world();
  service->start(world);
  ASSERT_TRUE(service->flush(std::chrono::seconds(20)));
  storage::PositionPort& port = service->stores().positions();
  uint64_t last_accepted_tick = 0;
  {
    StallGuard stall(env, "STRATA_REDIS_CTL");
    for (uint64_t tick = 1; tick <= 200; ++tick) {
      world.tick = tick;
      place(world, 5, static_cast<int32_t>(tick));
      const uint64_t refused_before = service->counters().position_batches_refused;
      service->observe(world);  // returns: the assertion is that the loop runs to the end
      if (service->counters().position_batches_refused == refused_before) last_accepted_tick = tick;
    }
    const storage::PortCounters stalled = port.counters();
    // The worker holds at most one batch in its call to the stalled Redis: the rest wait, bounded.
    EXPECT_LE(stalled.writes_waiting, 16U);
    EXPECT_GE(stalled.writes_waiting, 16U - 4U);
    EXPECT_GE(service->counters().position_batches_refused, 200U - 16U - 4U);
    EXPECT_EQ(stalled.writes_refused_full, service->counters().position_batches_refused);
    EXPECT_LE(port.durable_sequence(), 4U);
  }
  ASSERT_TRUE(service->flush(std::chrono::seconds(30)));
  EXPECT_EQ(port.durable_sequence(), port.last_sequence());
  EXPECT_FALSE(service->degraded());
  // The last accepted batch holds everyone's position at that tick (a refused batch left the
  // previous positions as the base of the next difference).
  const int32_t x = static_cast<int32_t>(last_accepted_tick) + 3;
  const std::optional<HttpResponse> answer = ask_near(*service, "x=" + std::to_string(x) + "&y=7&r=0", true);
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  EXPECT_NE(answer->body.find("\"count\":1,"), std::string::npos) << answer->body;
  EXPECT_NE(answer->body.find("{\"player\":3,"), std::string::npos) << answer->body;
}

// Player saves while MariaDB is down (players through the Redis hot cache into MariaDB): the saves
// of players who leave queue; one who comes back during the outage joins with what it left with
// (answered from the queue); after the outage the saves reach MariaDB, newest version kept.
TEST(StorageServices, PlayersLeavingAndRejoiningDuringAMariaDbOutageKeepTheirState) {
  const ServiceEnv db_env("mariadb");
  TempDir dir("players");
  StorageService::Options options = service_options(dir, false);
  options.stores.redis = redis_options();
  options.stores.mariadb = mariadb_options(unique_name("strata_pl"));
  options.version_epoch_s = 7;
  auto service = open_or_throw(options);
  sim::World world = sim::Simulation(small_params()).world();
  service->start(world);
  ASSERT_TRUE(service->flush(std::chrono::seconds(20)));
  sim::PlayerSave save;
  save.pos = {sim::Fixed::from_tiles(30), sim::Fixed::from_tiles(31)};
  save.facing = sim::Direction::w;
  save.stamina = 12;
  save.health = 34;
  save.inventory[0] = 56;
  db_env.control("STRATA_MARIADB_CTL", "down");
  const std::pair<sim::PlayerId, sim::PlayerSave> left[] = {{sim::PlayerId{7}, save}};
  service->left(100, left);
  service->pump();
  EXPECT_TRUE(service->degraded());
  EXPECT_EQ(service->counters().player_saves_left, 1U);
  ASSERT_TRUE(service->request(sim::PlayerId{7}));
  std::optional<sim::PlayerSave> loaded;
  PlayerSaves::Poll poll = PlayerSaves::Poll::waiting;
  for (int i = 0; i < 20 && poll == PlayerSaves::Poll::waiting; ++i) {
    service->pump();
    poll = service->poll(sim::PlayerId{7}, loaded);
  }
  ASSERT_EQ(poll, PlayerSaves::Poll::answered);
  EXPECT_EQ(loaded, save);  // from the queue, while the store is down
  EXPECT_EQ(service->counters().player_loads_found, 1U);
  db_env.control("STRATA_MARIADB_CTL", "up");
  ASSERT_TRUE(service->flush(std::chrono::seconds(60)));
  EXPECT_FALSE(service->degraded());
  std::string error;
  auto db = storage::MariaDbStores::open(*options.stores.mariadb, error);
  ASSERT_TRUE(db) << error;
  const auto stored = db->load(storage::PlayerKey{7});
  ASSERT_TRUE(stored.ok() && stored.value) << stored.outcome.reason;
  EXPECT_EQ(stored.value->version, (uint64_t{7} << 32) | 100);
  EXPECT_EQ(decode_player_save(stored.value->state), save);
  EXPECT_TRUE(db->drop_database().ok());
}

// "A map saved to MariaDB and loaded by a fresh server gives the same map hash": the map's changed
// chunks go to MariaDB; a fresh service (its own data dir and connection) builds a world over them
// with the same map hash, the same chunk bytes and the same full hash.
// The service pumps the positions port and the players port on two workers: each must have a
// Redis connection of its own (one hiredis context shared by two threads crossed their replies,
// and a returning player was answered an older save).
TEST(StorageServices, TheHotCacheAndThePositionsNeverShareARedisConnection) {
  const TempDir dir("two-workers");
  storage::StoreSetConfig config;
  config.data_dir = dir.path.string();
  config.sync = false;
  config.redis = redis_options();
  std::string error;
  std::unique_ptr<storage::StoreSet> stores = storage::StoreSet::open(config, error);
  ASSERT_NE(stores, nullptr) << error;
  const std::vector<std::function<size_t()>> pumps = stores->pumps(1);  // players, maps, positions, sessions
  std::atomic<bool> done{false};
  std::thread positions([&] {
    for (int32_t i = 0; !done.load(); ++i) {
      storage::PositionBatch batch;
      for (uint32_t p = 1; p <= 20; ++p)
        batch.moved.push_back({storage::PlayerKey{p}, i % 500, static_cast<int32_t>(p)});
      (void)stores->positions().write(std::move(batch));
      pumps[2]();
    }
  });
  const uint64_t epoch = uint64_t{1'796'000'000} << 32;  // versions as the server makes them
  size_t wrong = 0;
  for (uint64_t v = 1; v <= 300; ++v) {
    const storage::PlayerRecord record{storage::PlayerKey{7}, epoch | v, "state " + std::to_string(v)};
    ASSERT_EQ(stores->players().write(record).status, storage::Submit::queued);
    pumps[0]();  // applied: the cold store, then the cache
    const std::optional<storage::Ticket> ticket = stores->players().read(storage::PlayerKey{7});
    ASSERT_TRUE(ticket.has_value());
    pumps[0]();  // answered from the cache (nothing queued any more)
    const auto answer = stores->players().take(*ticket);
    ASSERT_TRUE(answer.has_value());
    wrong += answer->ok() && answer->value == record ? 0 : 1;
  }
  done = true;
  positions.join();
  EXPECT_EQ(wrong, 0U);
  EXPECT_GE(stores->cache_counters().hits, 1U);
}

TEST(StorageServices, MapSavedToMariaDbLoadsIntoAFreshWorldWithTheSameHash) {
  const storage::MariaDbOptions db = mariadb_options(unique_name("strata_map"));
  sim::World world = sim::Simulation(small_params()).world();
  const sim::LwwStamp stamp{987654321, sim::RegionId{2}};
  world.map.set({2, 2}, sim::Layer::active, {static_cast<uint8_t>(sim::Block::stone_wall), 0}, stamp);
  world.map.set({40, 50}, sim::Layer::floor, {static_cast<uint8_t>(sim::Floor::farmland), 0}, stamp);
  world.map.set({41, 50}, sim::Layer::active, {static_cast<uint8_t>(sim::Block::crop), 2}, stamp);
  world.tick = 1234;
  {
    TempDir dir("map-a");
    StorageService::Options options = service_options(dir, true);
    options.stores.mariadb = db;
    auto service = open_or_throw(options);
    service->start(world);
    ASSERT_TRUE(service->save_map(world));
    ASSERT_TRUE(service->flush(std::chrono::seconds(30)));
  }
  TempDir dir("map-b");
  StorageService::Options options = service_options(dir, true);
  options.stores.mariadb = db;
  auto fresh = open_or_throw(options);
  std::string error;
  std::optional<sim::World> loaded = fresh->load_map_world(small_params(), std::chrono::seconds(30), error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(sim::map_hash(*loaded), sim::map_hash(world));
  EXPECT_NE(sim::map_hash(*loaded), sim::map_hash(sim::Simulation(small_params()).world()));
  for (size_t i = 0; i < world.map.chunks().size(); ++i)
    EXPECT_EQ(encode_chunk(loaded->map.chunks()[i]), encode_chunk(world.map.chunks()[i])) << "chunk " << i;
  loaded->tick = world.tick;
  EXPECT_EQ(sim::full_hash(*loaded), sim::full_hash(world));
  fresh.reset();
  auto cleanup = storage::MariaDbStores::open(db, error);
  ASSERT_TRUE(cleanup) << error;
  EXPECT_TRUE(cleanup->drop_database().ok());
}

}  // namespace
}  // namespace strata::server
