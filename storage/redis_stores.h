// storage/redis_stores.h: live positions and the regional hot cache of player state on Redis
// (hiredis 0.14.1, synchronous API, called only by an AsyncPort's worker).
//
// Keys, under a prefix per region (RedisOptions::prefix), every id and coordinate binary:
//   <prefix>pos                       hash: player id (u32 BE) -> exact tile x, y (codec::encode_xy)
//   <prefix>geo                       GEO index (sorted set) of the players' positions  (index geo)
//   <prefix>cell:<cx><cy>             set of player ids in a grid cell of position_cell_tiles (grid)
//   <prefix>player:<id>               versioned player state (codec::encode_versioned), PX ttl;
//                                     put keeps the newer version (one EVAL of a fixed script)
//
// The near query is exact with either index: the index finds candidates, their exact tiles come from
// the hash (one HMGET) and (x - px)^2 + (y - py)^2 <= r^2 is decided in integers.
//   geo (default): tile (x, y) -> (longitude, latitude) = (x, y) / 111226.29 degrees, so one tile is
//     one metre along a meridian of Redis's sphere (R = 6372797.56 m); |x|, |y| <= 2^22 tiles stay
//     within +-37.8 degrees. Error: the 52-bit geohash moves a stored point by <= 0.6 m, and a step
//     east is cos(latitude) metres, so the sphere distance never exceeds the tile distance by more
//     than the geohash error. GEOSEARCH BYRADIUS r * 1.001 + 2 m therefore returns a superset of the
//     circle, and the filter drops the extras. An update is one round trip (MULTI, GEOADD, HSET,
//     ZREM, HDEL, EXEC); a query two (GEOSEARCH, HMGET).
//   grid: a set per cell; an update is two round trips (HMGET of the old tiles, then MULTI, SREM old
//     cell, SADD new cell, HSET, HDEL, EXEC; a player is always re-added to its cell, so a retried
//     update repairs what an interrupted one left); a query reads every cell the circle touches with
//     one SUNION (up to 34 x 34 cells at r = 1024) and one HMGET.
//   strata-bench-stores, 2,000 players in 4,000 x 4,000 tiles, loopback, on a loaded 2-core machine
//     (4 runs): updates per second about equal (GEO 0.7x to 1.2x the grid); r = 128 queries about
//     equal (0.9x to 1.2x); r uniform in [0, 1024] GEO 1.5x to 2x faster (one GEOSEARCH against a
//     SUNION of up to 1,156 keys); identical answers on every query. Hence GEO by default; the grid
//     stays for worlds outside GEO's range and as the twin-like reference in the conformance suite.
// Every argument goes through redisAppendCommandArgv / redisCommandArgv with its length; nothing is
// interpolated into a command string.
//
// Connection: connected lazily; any I/O error frees the context, the call fails (lost_connection
// for a write: it may have applied; stalled on a timeout) and the next call reconnects (counted).
// Not thread-safe: one caller at a time (the port's worker).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "storage/stores.h"

namespace strata::storage {

// How live positions are indexed for the near query (both exact; see the top of this file).
enum class PositionIndex : uint8_t { geo, grid };

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string prefix = "strata:";  // one per region (and per test)
  std::chrono::milliseconds timeout{500};
  std::chrono::milliseconds cache_ttl{std::chrono::minutes(30)};  // of a cached player state
  PositionIndex index = PositionIndex::geo;
};

// Read on the thread that calls the store (the port's worker), or while it is idle.
struct RedisCounters {
  uint64_t connects = 0;
  uint64_t reconnects = 0;  // connects after a lost connection
  uint64_t connect_failures = 0;
  uint64_t connections_lost = 0;
  uint64_t timeouts = 0;
  uint64_t error_replies = 0;
  uint64_t round_trips = 0;
  uint64_t commands = 0;
  uint64_t corrupt_values = 0;
};

class RedisStores final : public PositionBackend, public PlayerCache {
 public:
  struct Impl;
  explicit RedisStores(RedisOptions options);
  ~RedisStores() override;
  RedisStores(const RedisStores&) = delete;
  RedisStores& operator=(const RedisStores&) = delete;

  [[nodiscard]] Outcome update(std::span<const PositionBatch> batches) override;
  [[nodiscard]] Result<std::vector<Position>> near(const NearQuery& query) override;
  [[nodiscard]] Result<std::optional<PlayerRecord>> get(PlayerKey player) override;
  [[nodiscard]] Outcome put(std::span<const PlayerRecord> records) override;

  // The same update with every command its own round trip (the benchmark's baseline).
  [[nodiscard]] Outcome update_one_by_one(std::span<const PositionBatch> batches);
  // Removes every key under the prefix (tests).
  [[nodiscard]] Outcome clear();
  [[nodiscard]] const RedisCounters& counters() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::storage
