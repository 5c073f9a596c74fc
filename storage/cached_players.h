// storage/cached_players.h: a regional hot cache (Redis, or the twin) in front of the player cold
// store (MariaDB, or RocksDB), as one PlayerBackend behind the node's PlayerPort.
//   read-through:  load asks the cache; on a miss (or a cache failure) it loads from the cold store
//                  and fills the cache with what it found.
//   write-behind:  the node's save is queued in the PlayerPort (answered at once, read back from the
//                  queue while it waits) and reaches the cold store in batches; after a batch is
//                  durable in the cold store it is put in the cache (newest version per player), so
//                  the cache never holds a state the cold store could lose.
//   TTL:           the cache's (RedisOptions::cache_ttl); the twin keeps entries until restart.
// A cache failure never fails a load or a save (it is counted): the cold store is the truth.
// The cache keeps the newer version on put, so a fill or a retried batch never rolls it back.
// Stale entries: when the put after a durable save fails (Redis down, slow or refusing), the cache
// may still hold an OLDER save of those players, and a hit would hand a returning player what they
// had before (strata-vopr --faults store, seeds 7, 15, 30, 39: a hot store outage as a player
// left). Those players are remembered as stale: their loads skip the cache and go to the cold
// store, and a successful put (the fill of that load, or a later save) makes the entry fresh
// again. The memory is this process's: a crash while an entry is stale leaves it to the cache's
// TTL (see storage/README.md). Beyond cache_stale_players_max stale players every load skips the
// cache until this process restarts.
//
// Across regions (a cold store with holds, PlayerBackend::holds_players()): each region has its own
// cache, so a region's entry may be older than what another region saved since (the player was
// here yesterday, then played there). A load then asks the cold store first, always: its answer is
// the claim of the player for this region (which the handoff needs anyway, PlayerHolds in
// stores.h) and carries the row, so the cache never answers a load and a stale entry can never win.
// The cache is not even read: one MariaDB transaction (claim + row) is what a load costs, and a
// version check against the cache would add a Redis round trip to save the transfer of a state of
// a few dozen bytes (strata-bench-stores measures both). A cold load that fails is a failure (no
// fallback to the cache: an entry this region cannot check might be older than another region's
// save, and a player joined with it would overwrite that save); the node then refuses the join.
// Entries are still filled after durable saves, and the hit and miss counters stay at zero.
#pragma once

#include <atomic>
#include <unordered_set>

#include "storage/stores.h"

namespace strata::storage {

struct CacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t cache_failures = 0;  // get or put failed; served from / written to the cold store only
  uint64_t fills = 0;           // entries put after a miss
  uint64_t stale_skips = 0;     // loads that skipped the cache: it may hold an older save
  uint64_t cold_first = 0;      // loads answered by a cold store with holds (the cache not asked)
};

class CachedPlayers final : public PlayerBackend {
 public:
  CachedPlayers(PlayerCache& cache, PlayerBackend& cold) : cache_(cache), cold_(cold) {}

  [[nodiscard]] Outcome save(std::span<const PlayerRecord> records) override;
  [[nodiscard]] Result<std::optional<PlayerRecord>> load(PlayerKey player) override;
  [[nodiscard]] bool holds_players() const override { return cold_.holds_players(); }
  // A snapshot; safe from any thread (metrics read it while the worker loads and saves).
  [[nodiscard]] CacheCounters counters() const {
    return {hits_.load(std::memory_order_relaxed),           misses_.load(std::memory_order_relaxed),
            cache_failures_.load(std::memory_order_relaxed), fills_.load(std::memory_order_relaxed),
            stale_skips_.load(std::memory_order_relaxed),    cold_first_.load(std::memory_order_relaxed)};
  }

 private:
  void mark_stale(std::span<const PlayerRecord> records);

  PlayerCache& cache_;
  PlayerBackend& cold_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> cache_failures_{0};
  std::atomic<uint64_t> fills_{0};
  std::atomic<uint64_t> stale_skips_{0};
  // Only the port's worker calls save and load: no lock.
  std::unordered_set<uint32_t> stale_;
  bool all_stale_ = false;  // stale_ overflowed
  std::atomic<uint64_t> cold_first_{0};
};

}  // namespace strata::storage
