// tests/bench/store_bench.cpp: strata-bench-stores, the storage figures of issue 16 against real
// servers (start them with tools/service-redis.sh / tools/service-mariadb.sh start <dir> and pass
// STRATA_SERVICES_DIR=<dir>). Prints, never asserts:
//   - positions written to Redis per second, pipelined (one update per batch) vs one by one (every
//     command its own round trip), with the GEO index and with the grid of cell sets
//   - near queries per second with each index, and whether their (exact) answers agree
//   - player saves per second to MariaDB, batched transactions (array binding) vs one statement and
//     transaction per save
//   - player saves per second to the embedded RocksDB (fsync on), batched vs one by one
//   - the hot cache's hit ratio in a churn run (players leave and rejoin, Redis before MariaDB)
//   - what holds across regions cost: a join's load (claim + row) against a Redis hit and a plain
//     MariaDB load, and batched saves with and without the fence
// Usage: strata-bench-stores [players (default 2000)] [seed (default 1)]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "storage/cached_players.h"
#include "storage/limits.h"
#include "storage/mariadb_stores.h"
#include "storage/redis_stores.h"
#include "storage/rocks_stores.h"
#include "tests/storage/service_env.h"

namespace {

using namespace strata::storage;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void require(const Outcome& outcome, const char* what) {
  if (!outcome.ok()) {
    std::fprintf(stderr, "%s failed: %s\n", what, outcome.reason.c_str());
    std::exit(1);
  }
}

std::vector<PositionBatch> position_batches(uint32_t players, int rounds, std::mt19937_64& random) {
  std::uniform_int_distribution<int32_t> coord(-2000, 2000);
  std::vector<PositionBatch> batches(static_cast<size_t>(rounds));
  for (PositionBatch& batch : batches) {
    for (uint32_t p = 1; p <= players; ++p) batch.moved.push_back({PlayerKey{p}, coord(random), coord(random)});
  }
  return batches;
}

// Positions per second, pipelined and one by one, and near queries per second, for one index; the
// answers of every query are compared with the other index's (both must be exact).
void bench_redis(const strata::storage::testing::ServiceEnv& env, uint32_t players, std::mt19937_64& random) {
  RedisStores* stores[2] = {nullptr, nullptr};
  std::unique_ptr<RedisStores> owned[2];
  const PositionIndex indexes[2] = {PositionIndex::geo, PositionIndex::grid};
  const char* names[2] = {"geo", "grid"};
  const auto batches = position_batches(players, 10, random);
  for (int i = 0; i < 2; ++i) {
    RedisOptions options;
    options.host = env.get("STRATA_REDIS_HOST");
    options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_REDIS_PORT")));
    options.prefix = strata::storage::testing::unique_name("bench") + ":";
    options.index = indexes[i];
    owned[i] = std::make_unique<RedisStores>(options);
    stores[i] = owned[i].get();
    auto start = Clock::now();
    for (size_t b = 0; b < 2; ++b) require(stores[i]->update_one_by_one(std::span(&batches[b], 1)), "redis update");
    const double single = static_cast<double>(players) * 2.0 / seconds_since(start);
    start = Clock::now();
    for (const PositionBatch& batch : batches) require(stores[i]->update(std::span(&batch, 1)), "redis update");
    const double pipelined = static_cast<double>(players) * static_cast<double>(batches.size()) / seconds_since(start);
    std::printf("redis positions/s (%s index): pipelined %.0f, one by one %.0f, ratio %.1fx (%u players per update)\n",
                names[i], pipelined, single, pipelined / single, players);
  }
  std::uniform_int_distribution<int32_t> coord(-2000, 2000);
  std::uniform_int_distribution<uint32_t> radius(0, near_radius_max);
  for (const bool wide : {false, true}) {
    const int queries = 2000;
    double seconds[2] = {0, 0};
    size_t found = 0;
    size_t differing = 0;
    for (int q = 0; q < queries; ++q) {
      const NearQuery query{coord(random), coord(random), wide ? radius(random) : 128U};
      Result<std::vector<Position>> answers[2];
      for (int i = 0; i < 2; ++i) {
        const auto start = Clock::now();
        answers[i] = stores[i]->near(query);
        seconds[i] += seconds_since(start);
        require(answers[i].outcome, "redis near");
      }
      found += answers[0].value.size();
      if (answers[0].value != answers[1].value) ++differing;
    }
    std::printf(
        "redis near, r %s over %u players in 4000 x 4000: geo %.0f queries/s, grid %.0f queries/s, %.1f "
        "players per answer, %zu answers differing\n",
        wide ? "uniform in [0, 1024]" : "= 128", players, queries / seconds[0], queries / seconds[1],
        static_cast<double>(found) / queries, differing);
  }
  for (auto& store : owned) require(store->clear(), "redis clear");
}

std::vector<PlayerRecord> player_records(uint32_t players, uint64_t version, size_t state_bytes) {
  std::vector<PlayerRecord> records;
  for (uint32_t p = 1; p <= players; ++p) records.push_back({PlayerKey{p}, version, std::string(state_bytes, 's')});
  return records;
}

double saves_per_second(PlayerBackend& backend, const std::vector<PlayerRecord>& records, size_t batch) {
  const auto start = Clock::now();
  for (size_t i = 0; i < records.size(); i += batch) {
    const size_t count = std::min(batch, records.size() - i);
    require(backend.save(std::span(records).subspan(i, count)), "save");
  }
  return static_cast<double>(records.size()) / seconds_since(start);
}

void bench_mariadb(const strata::storage::testing::ServiceEnv& env, uint32_t players) {
  MariaDbOptions options;
  options.host = env.get("STRATA_MARIADB_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_MARIADB_PORT")));
  options.user = env.get("STRATA_MARIADB_USER");
  options.password = env.get("STRATA_MARIADB_PASSWORD");
  options.database = strata::storage::testing::unique_name("strata_bench");
  options.create_database = true;
  std::string error;
  auto stores = MariaDbStores::open(options, error);
  if (!stores) {
    std::fprintf(stderr, "mariadb: %s\n", error.c_str());
    std::exit(1);
  }
  const double batched = saves_per_second(*stores, player_records(players, 1, 512), 256);
  const auto singles = player_records(players / 4, 2, 512);
  const auto start = Clock::now();
  require(stores->save_one_by_one(singles), "mariadb single saves");
  const double single = static_cast<double>(singles.size()) / seconds_since(start);
  std::printf(
      "mariadb player saves/s (512-byte state): batched (256 per transaction) %.0f, one by one %.0f, ratio %.1fx\n",
      batched, single, batched / single);
  require(stores->drop_database(), "mariadb drop");
}

void bench_rocks(uint32_t players) {
  const auto dir = std::filesystem::temp_directory_path() / strata::storage::testing::unique_name("strata-bench-rocks");
  std::string error;
  {
    auto stores = RocksStores::open(dir.string(), {.sync = true}, error);
    if (!stores) {
      std::fprintf(stderr, "rocksdb: %s\n", error.c_str());
      std::exit(1);
    }
    const double batched = saves_per_second(*stores, player_records(players, 1, 512), 256);
    const double single = saves_per_second(*stores, player_records(players / 4, 2, 512), 1);
    std::printf("rocksdb player saves/s (fsync on): batched (256 per write) %.0f, one by one %.0f, ratio %.1fx\n",
                batched, single, batched / single);
  }
  std::filesystem::remove_all(dir);
}

// Players leave (save) and rejoin (load) at random; a rejoin soon after a leave hits the cache.
void bench_cache_churn(const strata::storage::testing::ServiceEnv& redis_env,
                       const strata::storage::testing::ServiceEnv& env, uint32_t players, std::mt19937_64& random) {
  RedisOptions redis_options;
  redis_options.host = redis_env.get("STRATA_REDIS_HOST");
  redis_options.port = static_cast<uint16_t>(std::stoi(redis_env.get("STRATA_REDIS_PORT")));
  redis_options.prefix = strata::storage::testing::unique_name("churn") + ":";
  RedisStores cache(redis_options);
  MariaDbOptions options;
  options.host = env.get("STRATA_MARIADB_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_MARIADB_PORT")));
  options.user = env.get("STRATA_MARIADB_USER");
  options.password = env.get("STRATA_MARIADB_PASSWORD");
  options.database = strata::storage::testing::unique_name("strata_churn");
  options.create_database = true;
  std::string error;
  auto cold = MariaDbStores::open(options, error);
  if (!cold) {
    std::fprintf(stderr, "mariadb: %s\n", error.c_str());
    std::exit(1);
  }
  // The world existed before this server: every player has a state in the cold store only.
  require(cold->save(player_records(players, 1, 256)), "seed cold store");
  CachedPlayers cached(cache, *cold);
  std::vector<uint64_t> version(players + 1, 1);
  std::uniform_int_distribution<uint32_t> pick(1, players);
  const int events = 20000;
  for (int e = 0; e < events; ++e) {
    const PlayerKey player{pick(random)};
    require(cached.load(player).outcome, "churn load");
    const PlayerRecord left{player, ++version[static_cast<uint32_t>(player)], std::string(256, 'c')};
    require(cached.save(std::span(&left, 1)), "churn save");
  }
  const CacheCounters counters = cached.counters();
  std::printf("hot cache churn (%d joins over %u players): hits %lu, misses %lu, hit ratio %.3f\n", events, players,
              static_cast<unsigned long>(counters.hits), static_cast<unsigned long>(counters.misses),
              static_cast<double>(counters.hits) / static_cast<double>(counters.hits + counters.misses));
  require(cache.clear(), "redis clear");
  require(cold->drop_database(), "mariadb drop");
}

// What a join's load costs across regions (holds, PlayerHolds in stores.h) against one region:
// loads per second of a Redis hit (the single-region hot path), a MariaDB load without holds
// (SELECT), and a MariaDB load with holds (the claim and the row in one transaction), each player
// loaded once in turn; and batched saves per second with and without holds (the fenced upsert).
void bench_holds(const strata::storage::testing::ServiceEnv& redis_env, const strata::storage::testing::ServiceEnv& env,
                 uint32_t players) {
  RedisOptions redis_options;
  redis_options.host = redis_env.get("STRATA_REDIS_HOST");
  redis_options.port = static_cast<uint16_t>(std::stoi(redis_env.get("STRATA_REDIS_PORT")));
  redis_options.prefix = strata::storage::testing::unique_name("holds") + ":";
  RedisStores cache(redis_options);
  MariaDbOptions options;
  options.host = env.get("STRATA_MARIADB_HOST");
  options.port = static_cast<uint16_t>(std::stoi(env.get("STRATA_MARIADB_PORT")));
  options.user = env.get("STRATA_MARIADB_USER");
  options.password = env.get("STRATA_MARIADB_PASSWORD");
  options.database = strata::storage::testing::unique_name("strata_holds");
  options.create_database = true;
  std::string error;
  auto plain = MariaDbStores::open(options, error);
  options.region = 1;
  auto held = plain ? MariaDbStores::open(options, error) : nullptr;
  if (!plain || !held) {
    std::fprintf(stderr, "mariadb: %s\n", error.c_str());
    std::exit(1);
  }
  // A player's state as the node saves it is ~40 bytes; 64 here.
  const auto records = player_records(players, 1, 64);
  const double saves_plain = saves_per_second(*plain, records, 256);
  const double saves_held = saves_per_second(*held, player_records(players, 2, 64), 256);
  require(cache.put(records), "cache fill");
  auto loads_per_second = [&](auto&& load) {
    const auto start = Clock::now();
    for (uint32_t p = 1; p <= players; ++p) require(load(PlayerKey{p}), "load");
    return static_cast<double>(players) / seconds_since(start);
  };
  const double redis_hit = loads_per_second([&](PlayerKey p) { return cache.get(p).outcome; });
  const double mariadb_plain = loads_per_second([&](PlayerKey p) { return plain->load(p).outcome; });
  const double mariadb_claim = loads_per_second([&](PlayerKey p) { return held->load(p).outcome; });
  std::printf(
      "join loads/s (%u players, one at a time): redis hit %.0f (%.0f us), mariadb select %.0f (%.0f us), "
      "mariadb claim + row (holds) %.0f (%.0f us)\n",
      players, redis_hit, 1e6 / redis_hit, mariadb_plain, 1e6 / mariadb_plain, mariadb_claim, 1e6 / mariadb_claim);
  std::printf("mariadb player saves/s (64-byte state, 256 per transaction): without holds %.0f, with holds %.0f\n",
              saves_plain, saves_held);
  require(cache.clear(), "redis clear");
  require(plain->drop_database(), "mariadb drop");
}

}  // namespace

int main(int argc, char** argv) {
  const uint32_t players = argc > 1 ? static_cast<uint32_t>(std::stoul(argv[1])) : 2000;
  std::mt19937_64 random(argc > 2 ? std::stoull(argv[2]) : 1);
  try {
    const strata::storage::testing::ServiceEnv redis_env("redis");
    const strata::storage::testing::ServiceEnv mariadb_env("mariadb");
    bench_redis(redis_env, players, random);
    bench_mariadb(mariadb_env, players);
    bench_rocks(players);
    bench_cache_churn(redis_env, mariadb_env, players, random);
    bench_holds(redis_env, mariadb_env, players);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "strata-bench-stores: %s\n", error.what());
    return 1;
  }
  return 0;
}
