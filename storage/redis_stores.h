// storage/redis_stores.h: live positions and the regional hot cache of player state on Redis
// (hiredis 0.14.1, synchronous API, called only by an AsyncPort's worker).
//
// Keys, under a prefix per region (RedisOptions::prefix), every id and coordinate binary:
//   <prefix>pos                       hash: player id (u32 BE) -> x, y (codec::encode_xy)
//   <prefix>cell:<cx><cy>             set of player ids in a grid cell of position_cell_tiles
//   <prefix>player:<id>               versioned player state (codec::encode_versioned), PX ttl;
//                                     put keeps the newer version (one EVAL of a fixed script)
// The near query is exact over a grid of cell sets, not GEO: tiles are integers on a plane, and
// GEOSEARCH would project them onto a sphere (52-bit geohash, ~0.6 m error at the equator, shape
// depending on latitude), so it needs a margin and the same exact filter anyway. The grid reads the
// candidate cells with one SUNION and their positions with one HMGET (two round trips) and keeps
// (x - px)^2 + (y - py)^2 <= r^2 in integers.
//
// An update is two round trips whatever its size: one HMGET of the old positions, then one pipeline
// MULTI / SREM old cell / SADD new cell / HSET / HDEL / EXEC (atomic: a connection lost before EXEC
// applies nothing). A player is always re-added to its current cell, so a retried update repairs any
// state an earlier one left. Nothing is interpolated into a command: every argument goes through
// redisAppendCommandArgv / redisCommandArgv with its length.
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

struct RedisOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string prefix = "strata:";  // one per region (and per test)
  std::chrono::milliseconds timeout{500};
  std::chrono::milliseconds cache_ttl{std::chrono::minutes(30)};  // of a cached player state
};

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
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::storage
