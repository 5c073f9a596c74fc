// tests/storage/redis_test.cpp: RedisStores against a real redis-server (the services.redis
// fixture): the position conformance suite (near == brute force), the hot cache (hostile bytes,
// newer-wins, TTL, read-through counters) and an outage mid-test (the server killed and restarted).
#include <gtest/gtest.h>

#include <thread>

#include "storage/async_port.h"
#include "storage/cached_players.h"
#include "storage/memory_stores.h"
#include "storage/redis_stores.h"
#include "tests/storage/conformance.h"
#include "tests/storage/service_env.h"

namespace strata::storage::testing {
namespace {

RedisOptions redis_options(PositionIndex index = PositionIndex::geo) {
  const ServiceEnv env("redis");
  RedisOptions options;
  options.host = env.get("STRATA_REDIS_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_REDIS_PORT")));
  options.prefix = unique_name("t") + ":";
  options.index = index;
  return options;
}

template <PositionIndex index>
struct RedisFactory {
  struct Instance {
    RedisStores stores{redis_options(index)};
    PositionBackend& positions() { return stores; }
    ~Instance() { (void)stores.clear(); }
  };
  static std::unique_ptr<Instance> make() { return std::make_unique<Instance>(); }
};

// The hot cache in front of a cold store (the twin here), held to the player rules of every store.
struct CachedRedisFactory {
  struct Instance {
    RedisStores cache{redis_options()};
    MemoryStores cold;
    CachedPlayers players_{cache, cold};
    PlayerBackend& players() { return players_; }
    ~Instance() { (void)cache.clear(); }
  };
  static std::unique_ptr<Instance> make() { return std::make_unique<Instance>(); }
};

using RedisIndexes = ::testing::Types<RedisFactory<PositionIndex::geo>, RedisFactory<PositionIndex::grid>>;
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, PositionConformance, RedisIndexes);
INSTANTIATE_TYPED_TEST_SUITE_P(RedisCache, PlayerConformance, ::testing::Types<CachedRedisFactory>);

TEST(RedisCache, HostileBytesRoundTripAndTheNewerVersionStays) {
  RedisStores cache(redis_options());
  uint32_t id = 1;
  std::vector<PlayerRecord> records;
  for (const std::string& bytes : hostile_strings()) records.push_back({PlayerKey{id++}, 3, bytes});
  ASSERT_TRUE(cache.put(records).ok());
  for (const PlayerRecord& record : records) EXPECT_EQ(cache.get(record.player).value, record);
  const PlayerRecord older{PlayerKey{1}, 2, "older"};
  ASSERT_TRUE(cache.put(std::span(&older, 1)).ok());
  EXPECT_EQ(cache.get(PlayerKey{1}).value, records[0]);
  EXPECT_FALSE(cache.get(PlayerKey{id + 5}).value.has_value());
  ASSERT_TRUE(cache.clear().ok());
}

// The server's versions are (session start in Unix s << 32) | tick: far beyond 2^53, where Lua's
// numbers (doubles) no longer tell a tick from the next one.
TEST(RedisCache, TheNewerOfTwoLargeVersionsStays) {
  RedisStores cache(redis_options());
  const uint64_t epoch = uint64_t{1'796'000'000} << 32;
  const PlayerRecord periodic{PlayerKey{2}, epoch | 100, "periodic save"};
  const PlayerRecord left{PlayerKey{2}, epoch | 115, "the leave's save"};
  ASSERT_TRUE(cache.put(std::span(&periodic, 1)).ok());
  ASSERT_TRUE(cache.put(std::span(&left, 1)).ok());
  EXPECT_EQ(cache.get(PlayerKey{2}).value, left);
  ASSERT_TRUE(cache.put(std::span(&periodic, 1)).ok());  // a late retry of the older one
  EXPECT_EQ(cache.get(PlayerKey{2}).value, left);
  const PlayerRecord next{PlayerKey{2}, epoch | 116, "one tick later"};
  ASSERT_TRUE(cache.put(std::span(&next, 1)).ok());
  EXPECT_EQ(cache.get(PlayerKey{2}).value, next);
  ASSERT_TRUE(cache.clear().ok());
}

TEST(RedisCache, EntriesExpire) {
  RedisOptions options = redis_options();
  options.cache_ttl = std::chrono::milliseconds(50);
  RedisStores cache(options);
  const PlayerRecord record{PlayerKey{5}, 1, "short-lived"};
  ASSERT_TRUE(cache.put(std::span(&record, 1)).ok());
  bool expired = false;
  for (int i = 0; i < 500 && !expired; ++i) {  // up to 5 s for a 50 ms TTL: a liveness bound, not a timing check
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto got = cache.get(PlayerKey{5});
    ASSERT_TRUE(got.ok());
    expired = !got.value.has_value();
  }
  EXPECT_TRUE(expired);
}

TEST(RedisCache, ReadThroughCountsHitsAndMisses) {
  RedisStores cache(redis_options());
  MemoryStores cold;
  CachedPlayers players(cache, cold);
  const PlayerRecord record{PlayerKey{9}, 4, "in the cold store only"};
  ASSERT_TRUE(cold.save(std::span(&record, 1)).ok());
  EXPECT_EQ(players.load(PlayerKey{9}).value, record);  // miss, fill
  EXPECT_EQ(players.load(PlayerKey{9}).value, record);  // hit
  EXPECT_FALSE(players.load(PlayerKey{10}).value.has_value());
  EXPECT_EQ(players.counters().hits, 1U);
  EXPECT_EQ(players.counters().misses, 2U);
  EXPECT_EQ(players.counters().fills, 1U);
  const PlayerRecord newer{PlayerKey{9}, 5, "saved through the cache"};
  ASSERT_TRUE(players.save(std::span(&newer, 1)).ok());
  EXPECT_EQ(cache.get(PlayerKey{9}).value, newer);
  EXPECT_EQ(cold.load(PlayerKey{9}).value, newer);
  ASSERT_TRUE(cache.clear().ok());
}

// redis-server is killed mid-test and restarted (empty: no persistence). Writes queue bounded while
// it is down, reads fail with a reason, the port reconnects and flushes in order, and the near
// query then answers exactly the last positions written.
class RedisOutage : public ::testing::TestWithParam<PositionIndex> {};
INSTANTIATE_TEST_SUITE_P(Index, RedisOutage, ::testing::Values(PositionIndex::geo, PositionIndex::grid));

TEST_P(RedisOutage, WritesQueueBoundedAndFlushAfterRestart) {
  const ServiceEnv env("redis");
  RedisStores stores(redis_options(GetParam()));
  auto port = make_position_port(stores, {.writes_queued_max = 32, .reads_queued_max = 8, .batch_max = 4});
  PositionBatch first;
  first.moved = {{PlayerKey{1}, 0, 0}, {PlayerKey{2}, 100, 100}};
  ASSERT_EQ(port->write(first).status, Submit::queued);
  EXPECT_EQ(port->pump(), 1U);
  env.control("STRATA_REDIS_CTL", "down");
  std::map<PlayerKey, Position> truth = {{PlayerKey{1}, {PlayerKey{1}, 0, 0}},
                                         {PlayerKey{2}, {PlayerKey{2}, 100, 100}}};
  size_t refused_full = 0;
  for (int32_t step = 0; step < 40; ++step) {
    PositionBatch batch;
    const PlayerKey player{static_cast<uint32_t>(1 + step % 5)};
    batch.moved = {{player, step * 3, -step}};
    const SubmitResult submitted = port->write(batch);
    if (submitted.status == Submit::queued) {
      truth[player] = batch.moved.front();
    } else {
      ASSERT_EQ(submitted.status, Submit::full);
      ++refused_full;
    }
    (void)port->pump();
  }
  EXPECT_EQ(refused_full, 40U - 32U);
  EXPECT_TRUE(port->degraded());
  const StoreStatus down_status = port->last_error().status;
  EXPECT_TRUE(down_status == StoreStatus::unavailable || down_status == StoreStatus::lost_connection)
      << port->last_error().reason;
  const auto ticket = port->read(NearQuery{0, 0, 10});
  ASSERT_TRUE(ticket);
  (void)port->pump();
  const auto failed_read = port->take(*ticket);
  ASSERT_TRUE(failed_read);
  EXPECT_FALSE(failed_read->ok());
  EXPECT_FALSE(failed_read->outcome.reason.empty());
  env.control("STRATA_REDIS_CTL", "up");
  for (int round = 0; round < 100 && !port->idle(); ++round) (void)port->pump(8);
  ASSERT_TRUE(port->idle());
  // The restarted server is empty; the first batch (acknowledged before the outage) is live data
  // that the next update of each player replaces: write it again as the node's next tick would.
  ASSERT_EQ(port->write(first).status, Submit::queued);
  (void)port->pump();
  ASSERT_TRUE(port->idle());
  EXPECT_FALSE(port->degraded());
  EXPECT_GE(stores.counters().reconnects, 1U);
  std::vector<Position> expected;
  for (const auto& [player, position] : truth) {
    if (player == PlayerKey{1} || player == PlayerKey{2}) continue;  // rewritten by `first` last
    expected.push_back(position);
  }
  expected.push_back(first.moved[0]);
  expected.push_back(first.moved[1]);
  std::sort(expected.begin(), expected.end(), [](const Position& a, const Position& b) { return a.player < b.player; });
  const auto all = stores.near({0, 0, near_radius_max});
  ASSERT_TRUE(all.ok()) << all.outcome.reason;
  std::vector<Position> within_range;
  for (const Position& p : expected) {
    if (within({0, 0, near_radius_max}, p.x, p.y)) within_range.push_back(p);
  }
  EXPECT_EQ(all.value, within_range);
  ASSERT_TRUE(stores.clear().ok());
}

// redis-server stops answering (SIGSTOP) with connections open: calls time out (stalled), the port
// queues, and everything flushes once it answers again.
TEST(RedisStall, TimeoutsQueueAndFlushAfterResume) {
  const ServiceEnv env("redis");
  RedisOptions options = redis_options();
  options.timeout = std::chrono::milliseconds(200);
  RedisStores stores(options);
  auto port = make_position_port(stores, {.writes_queued_max = 16, .reads_queued_max = 4, .batch_max = 4});
  PositionBatch first;
  first.moved = {{PlayerKey{1}, 1, 1}};
  ASSERT_EQ(port->write(first).status, Submit::queued);
  (void)port->pump();
  ASSERT_EQ(port->durable_sequence(), 1U);
  {
    StallGuard stall(env, "STRATA_REDIS_CTL");
    PositionBatch moved;
    moved.moved = {{PlayerKey{1}, 5, 5}, {PlayerKey{2}, 6, 6}};
    ASSERT_EQ(port->write(moved).status, Submit::queued);
    (void)port->pump();
    (void)port->pump();
    EXPECT_TRUE(port->degraded());
    EXPECT_EQ(port->durable_sequence(), 1U);
    EXPECT_GE(stores.counters().timeouts, 1U);
    const StoreStatus status = port->last_error().status;
    EXPECT_TRUE(status == StoreStatus::stalled || status == StoreStatus::lost_connection) << port->last_error().reason;
  }
  for (int round = 0; round < 100 && !port->idle(); ++round) (void)port->pump(4);
  ASSERT_TRUE(port->idle()) << port->last_error().reason;
  const auto near = stores.near({0, 0, 20});
  ASSERT_TRUE(near.ok()) << near.outcome.reason;
  EXPECT_EQ(near.value, (std::vector<Position>{{PlayerKey{1}, 5, 5}, {PlayerKey{2}, 6, 6}}));
  ASSERT_TRUE(stores.clear().ok());
}

}  // namespace
}  // namespace strata::storage::testing
