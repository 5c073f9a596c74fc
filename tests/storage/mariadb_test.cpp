// tests/storage/mariadb_test.cpp: MariaDbStores against a real mariadbd (the services.mariadb
// fixture): the player, map and session conformance suites (hostile bytes, newer-wins, batched ==
// one by one), the migrations, a map reloaded by a fresh connection, and an outage mid-test (the
// server killed and restarted: writes queue bounded, reconnect and re-prepare, nothing lost).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "storage/async_port.h"
#include "storage/mariadb_stores.h"
#include "storage/store_set.h"
#include "tests/storage/conformance.h"
#include "tests/storage/local_factories.h"
#include "tests/storage/service_env.h"

namespace strata::storage::testing {
namespace {

MariaDbOptions mariadb_options(const std::string& database) {
  const ServiceEnv env("mariadb");
  MariaDbOptions options;
  options.host = env.get("STRATA_MARIADB_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_MARIADB_PORT")));
  options.user = env.get("STRATA_MARIADB_USER");
  options.password = env.get("STRATA_MARIADB_PASSWORD");
  options.database = database;
  options.create_database = true;
  return options;
}

std::unique_ptr<MariaDbStores> open_or_throw(const MariaDbOptions& options) {
  std::string error;
  auto stores = MariaDbStores::open(options, error);
  if (!stores) throw std::runtime_error("cannot open MariaDB: " + error);
  return stores;
}

struct MariaDbFactory {
  struct Instance {
    std::unique_ptr<MariaDbStores> stores = open_or_throw(mariadb_options(unique_name("strata_t")));
    PlayerBackend& players() { return *stores; }
    MapBackend& maps() { return *stores; }
    SessionBackend& sessions() { return *stores; }
    ~Instance() { (void)stores->drop_database(); }
  };
  static std::unique_ptr<Instance> make() { return std::make_unique<Instance>(); }
};

// Two regions (two connections with region 1 and 2) over one database; leases of 1 s on MariaDB's
// clock, so expire() sleeps past one.
struct MariaDbHoldsFactory {
  static constexpr std::chrono::milliseconds lease{1000};
  struct Instance {
    std::string database = unique_name("strata_h");
    std::unique_ptr<MariaDbStores> one = open_region(1);
    std::unique_ptr<MariaDbStores> two = open_region(2);
    std::unique_ptr<MariaDbStores> open_region(uint16_t region) {
      MariaDbOptions options = mariadb_options(database);
      options.region = region;
      options.lease = lease;
      return open_or_throw(options);
    }
    MariaDbStores& region(int which) { return which == 1 ? *one : *two; }
    PlayerHolds& holds(int which) { return region(which); }
    void expire() { std::this_thread::sleep_for(lease + std::chrono::milliseconds(100)); }
    ~Instance() { (void)one->drop_database(); }
  };
  static std::unique_ptr<Instance> make() { return std::make_unique<Instance>(); }
};

INSTANTIATE_TYPED_TEST_SUITE_P(MariaDb, PlayerConformance, ::testing::Types<MariaDbFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(MariaDb, HoldsConformance, ::testing::Types<MariaDbHoldsFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(MariaDb, MapConformance, ::testing::Types<MariaDbFactory>);
INSTANTIATE_TYPED_TEST_SUITE_P(MariaDb, SessionConformance, ::testing::Types<MariaDbFactory>);

TEST(MariaDb, MigratesOnceAndRecordsTheSchemaVersion) {
  const MariaDbOptions options = mariadb_options(unique_name("strata_m"));
  auto first = open_or_throw(options);
  EXPECT_EQ(first->counters().migrations_applied, mariadb_schema_version);
  EXPECT_EQ(first->schema_version().value, mariadb_schema_version);
  auto second = open_or_throw(options);
  EXPECT_EQ(second->counters().migrations_applied, 0U);
  EXPECT_EQ(second->schema_version().value, mariadb_schema_version);
  ASSERT_TRUE(first->drop_database().ok());
}

TEST(MariaDb, RefusesAHostileDatabaseName) {
  MariaDbOptions options = mariadb_options("strata_x`; DROP DATABASE mysql; --");
  std::string error;
  EXPECT_EQ(MariaDbStores::open(options, error), nullptr);
  EXPECT_NE(error.find("database name"), std::string::npos) << error;
}

// A map saved by one server and loaded by a fresh one (a new connection) is the same map: the same
// version, hash and chunks.
TEST(MariaDb, AMapReloadedByAFreshConnectionIsTheSameMap) {
  const MariaDbOptions options = mariadb_options(unique_name("strata_map"));
  MapRecord map{MapId{1}, 7, 0x0123456789abcdefULL, {}};
  for (int32_t cx = -3; cx <= 3; ++cx) {
    for (int32_t cy = -3; cy <= 3; ++cy) {
      map.chunks.push_back(
          {cx, cy, 1, std::string(static_cast<size_t>(100 + cx * 10 + cy), static_cast<char>(cx * cy))});
    }
  }
  {
    auto writer = open_or_throw(options);
    ASSERT_TRUE(save_one(static_cast<MapBackend&>(*writer), map).ok());
  }
  auto reader = open_or_throw(options);
  const auto loaded = reader->load(MapId{1});
  ASSERT_TRUE(loaded.ok()) << loaded.outcome.reason;
  EXPECT_EQ(loaded.value, map);
  ASSERT_TRUE(reader->drop_database().ok());
}

// mariadbd stops answering (SIGSTOP) mid-run: calls time out, the connection is dropped, saves
// queue; after it resumes the store reconnects, prepares again, and every save is there once.
TEST(MariaDbStall, TimeoutsQueueAndFlushAfterResume) {
  const ServiceEnv env("mariadb");
  MariaDbOptions options = mariadb_options(unique_name("strata_stall"));
  options.io_timeout_s = 1;
  options.connect_timeout_s = 1;
  auto stores = open_or_throw(options);
  auto port = make_player_port(*stores, {.writes_queued_max = 16, .reads_queued_max = 4, .batch_max = 4});
  ASSERT_EQ(port->write({PlayerKey{1}, 1, "one"}).status, Submit::queued);
  (void)port->pump();
  ASSERT_EQ(port->durable_sequence(), 1U);
  {
    StallGuard stall(env, "STRATA_MARIADB_CTL");
    ASSERT_EQ(port->write({PlayerKey{1}, 2, "two"}).status, Submit::queued);
    ASSERT_EQ(port->write({PlayerKey{2}, 1, "other"}).status, Submit::queued);
    (void)port->pump();
    EXPECT_TRUE(port->degraded());
    EXPECT_EQ(port->durable_sequence(), 1U);
    EXPECT_EQ(port->last_error().status, StoreStatus::lost_connection) << port->last_error().reason;
  }
  for (int round = 0; round < 100 && !port->idle(); ++round) (void)port->pump(4);
  ASSERT_TRUE(port->idle()) << port->last_error().reason;
  EXPECT_GE(stores->counters().reconnects, 1U);
  auto fresh = open_or_throw(options);
  EXPECT_EQ(fresh->load(PlayerKey{1}).value, (PlayerRecord{PlayerKey{1}, 2, "two"}));
  EXPECT_EQ(fresh->load(PlayerKey{2}).value, (PlayerRecord{PlayerKey{2}, 1, "other"}));
  ASSERT_TRUE(fresh->drop_database().ok());
}

// Batches far over max_allowed_packet (16 MiB) are sent in slices of one transaction.
TEST(MariaDb, BatchesOverTheServerPacketLimitAreSliced) {
  auto stores = open_or_throw(mariadb_options(unique_name("strata_big")));
  std::vector<PlayerRecord> players;
  for (uint32_t p = 1; p <= 300; ++p) {
    players.push_back({PlayerKey{p}, 1, std::string(player_state_bytes_max, static_cast<char>(p))});
  }
  ASSERT_TRUE(stores->save(players).ok());  // 19.7 MB
  MapRecord map{MapId{2}, 1, 5, {}};
  for (int32_t c = 0; c < 300; ++c)
    map.chunks.push_back({c, -c, 1, std::string(chunk_bytes_max, static_cast<char>(c))});
  ASSERT_TRUE(save_one(static_cast<MapBackend&>(*stores), map).ok());  // 19.7 MB
  EXPECT_EQ(stores->load(PlayerKey{300}).value, players.back());
  const auto loaded = stores->load(MapId{2});
  ASSERT_TRUE(loaded.ok()) << loaded.outcome.reason;
  ASSERT_TRUE(loaded.value.has_value());
  EXPECT_EQ(loaded.value->chunks.size(), 300U);
  ASSERT_TRUE(stores->drop_database().ok());
}

// mariadbd is killed mid-test and restarted on the same data: saves queue (bounded) while it is
// down, the store reconnects and prepares its statements again, every accepted save is in the
// database once afterwards, and loads answered from the queue during the outage were right.
TEST(MariaDbOutage, SavesQueueBoundedAndFlushAfterRestart) {
  const ServiceEnv env("mariadb");
  const MariaDbOptions options = mariadb_options(unique_name("strata_out"));
  auto stores = open_or_throw(options);
  auto port = make_player_port(*stores, {.writes_queued_max = 64, .reads_queued_max = 8, .batch_max = 16});
  std::map<PlayerKey, PlayerRecord> accepted;
  for (uint32_t player = 1; player <= 10; ++player) {
    const PlayerRecord record{PlayerKey{player}, 1, "before " + std::to_string(player)};
    ASSERT_EQ(port->write(record).status, Submit::queued);
    accepted[record.player] = record;
  }
  while (!port->idle()) (void)port->pump(4);
  const uint64_t prepared_before = stores->counters().statements_prepared;
  env.control("STRATA_MARIADB_CTL", "down");
  size_t full = 0;
  for (uint32_t step = 0; step < 80; ++step) {
    const PlayerRecord record{PlayerKey{1 + step % 10}, 2 + step / 10,
                              std::string("during\0", 7) + std::to_string(step)};
    const SubmitResult submitted = port->write(record);
    if (submitted.status == Submit::queued) {
      accepted[record.player] = record;
    } else {
      ASSERT_EQ(submitted.status, Submit::full);
      ++full;
    }
    if (step % 20 == 0) (void)port->pump();
  }
  EXPECT_EQ(full, 80U - 64U);
  EXPECT_TRUE(port->degraded());
  const auto ticket = port->read(PlayerKey{3});
  ASSERT_TRUE(ticket);
  (void)port->pump();
  const auto during = port->take(*ticket);
  ASSERT_TRUE(during && during->ok());
  EXPECT_EQ(during->value, accepted[PlayerKey{3}]);  // from the queue, while the store is down
  env.control("STRATA_MARIADB_CTL", "up");
  for (int round = 0; round < 200 && !port->idle(); ++round) (void)port->pump(8);
  ASSERT_TRUE(port->idle()) << port->last_error().reason;
  EXPECT_EQ(port->durable_sequence(), port->last_sequence());
  EXPECT_GE(stores->counters().reconnects, 1U);
  EXPECT_GE(stores->counters().statements_prepared, prepared_before + 8);
  auto fresh = open_or_throw(options);
  for (const auto& [player, record] : accepted) {
    const auto loaded = fresh->load(player);
    ASSERT_TRUE(loaded.ok()) << loaded.outcome.reason;
    EXPECT_EQ(loaded.value, record);
  }
  ASSERT_TRUE(fresh->drop_database().ok());
}

// The configured set: players through the Redis hot cache into MariaDB, positions in Redis, maps and
// sessions in MariaDB; a save reaches MariaDB, a second load hits the cache.
TEST(StoreSet, ConfiguredWithRedisAndMariaDb) {
  TempDir dir;
  const ServiceEnv redis_env("redis");
  StoreSetConfig config;
  config.data_dir = (dir.path() / "data").string();
  config.sync = false;
  config.mariadb = mariadb_options(unique_name("strata_set"));
  RedisOptions redis;
  redis.host = redis_env.get("STRATA_REDIS_HOST");
  redis.port = static_cast<uint16_t>(std::stoi(redis_env.get("STRATA_REDIS_PORT")));
  redis.prefix = unique_name("set") + ":";
  config.redis = redis;
  std::string error;
  auto set = StoreSet::open(config, error);
  ASSERT_TRUE(set) << error;
  ASSERT_EQ(set->players().write({PlayerKey{8}, 3, std::string("it's\0mine", 9)}).status, Submit::queued);
  PositionBatch moved;
  moved.moved = {{PlayerKey{8}, -10, 10}};
  ASSERT_EQ(set->positions().write(moved).status, Submit::queued);
  for (auto& pump : set->pumps()) (void)pump();
  for (int i = 0; i < 2; ++i) {
    const auto ticket = set->players().read(PlayerKey{8});
    ASSERT_TRUE(ticket);
    for (auto& pump : set->pumps()) (void)pump();
    EXPECT_EQ(set->players().take(*ticket)->value, (PlayerRecord{PlayerKey{8}, 3, std::string("it's\0mine", 9)}));
  }
  EXPECT_EQ(set->cache_counters().hits, 2U);  // filled by the save, so both loads hit
  const auto near = set->positions().read(NearQuery{-10, 10, 0});
  ASSERT_TRUE(near);
  for (auto& pump : set->pumps()) (void)pump();
  EXPECT_EQ(set->positions().take(*near)->value, (std::vector<Position>{{PlayerKey{8}, -10, 10}}));
  auto cold = open_or_throw(*config.mariadb);
  EXPECT_EQ(cold->load(PlayerKey{8}).value, (PlayerRecord{PlayerKey{8}, 3, std::string("it's\0mine", 9)}));
  ASSERT_TRUE(cold->drop_database().ok());
  EXPECT_FALSE(set->degraded());
}

// --- the account registry: the same rules on RocksDB and MariaDB -----------------------------------

struct RocksRegistryFactory {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::unique_ptr<AccountRegistry> open(uint32_t ids_max) {
    std::string error;
    auto registry = RocksAccountRegistry::open((dir->path() / "accounts").string(), ids_max, false, error);
    if (!registry) throw std::runtime_error(error);
    return registry;
  }
};

struct MariaDbRegistryFactory {
  std::string database = unique_name("strata_acc");
  ~MariaDbRegistryFactory() {
    std::string error;
    if (auto stores = MariaDbStores::open(mariadb_options(database), error)) (void)stores->drop_database();
  }
  std::unique_ptr<AccountRegistry> open(uint32_t ids_max) {
    std::string error;
    auto registry = MariaDbAccountRegistry::open(mariadb_options(database), ids_max, error);
    if (!registry) throw std::runtime_error(error);
    return registry;
  }
};

template <class F>
class RegistryConformance : public ::testing::Test {};
using RegistryFactories = ::testing::Types<RocksRegistryFactory, MariaDbRegistryFactory>;
TYPED_TEST_SUITE(RegistryConformance, RegistryFactories);

TYPED_TEST(RegistryConformance, HostileNamesKeepTheirIdsAcrossAReopen) {
  TypeParam factory;
  std::vector<std::string> names;
  for (const std::string& name : hostile_strings()) {
    if (!name.empty() && name.size() <= account_name_bytes_max) names.push_back(name);
  }
  names.push_back(std::string(account_name_bytes_max, 'n'));
  std::map<std::string, uint32_t> ids;
  {
    auto registry = factory.open(100);
    for (const std::string& name : names) {
      const Binding created = registry->bind(name, true);
      ASSERT_EQ(created.status, Binding::Status::created) << name.size();
      ids[name] = created.player;
    }
    EXPECT_EQ(registry->size(), names.size());
    EXPECT_EQ(registry->bind("", true).status, Binding::Status::not_found);
    EXPECT_EQ(registry->bind(std::string(5000, 'x'), true).status, Binding::Status::not_found);
    EXPECT_EQ(registry->bind("nobody", false).status, Binding::Status::not_found);
  }
  auto reopened = factory.open(100);
  for (const std::string& name : names) {
    const Binding again = reopened->bind(name, true);
    EXPECT_EQ(again.status, Binding::Status::existing);
    EXPECT_EQ(again.player, ids[name]);
  }
  std::set<uint32_t> distinct;
  for (const auto& [name, id] : ids) distinct.insert(id);
  EXPECT_EQ(distinct.size(), ids.size());
  EXPECT_EQ(*distinct.begin(), 1U);
  EXPECT_EQ(*distinct.rbegin(), ids.size());
}

TYPED_TEST(RegistryConformance, RefusesNewNamesWhenFull) {
  TypeParam factory;
  auto registry = factory.open(2);
  EXPECT_EQ(registry->bind("a", true).player, 1U);
  EXPECT_EQ(registry->bind("b", true).player, 2U);
  EXPECT_EQ(registry->bind("c", true).status, Binding::Status::full);
  EXPECT_EQ(registry->bind("a", true).status, Binding::Status::existing);
}

}  // namespace
}  // namespace strata::storage::testing
