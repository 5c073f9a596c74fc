// storage/store_set.h: the stores a server runs with, built from its configuration in one place,
// for main() to wire (the node only borrows the four ports).
//   embedded (no service, the default): RocksStores under <data dir>/stores for every kind.
//   with MariaDB: player state, maps and sessions in MariaDB (the global cold store), with the
//                 holds of players across regions when MariaDbOptions::region is set.
//   with Redis:   live positions in Redis, and player state read through a Redis hot cache in front
//                 of the cold store (MariaDB if configured, else the embedded store).
// Player and session ports spill to <data dir>/spill-players and <data dir>/spill-sessions when their
// memory queue is full; the player port journals its memory queue in <data dir>/journal-players, so
// the saves a crash finds unapplied (a store out) are sent by the next run. The set owns no thread: pumps() gives one
// function per port for a StoreWorker (production) or the simulation's loop. Opening fails (with a reason) if the
// embedded store cannot open or MariaDB cannot be reached and migrated at start; after that, outages only make the
// ports degraded.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/async_port.h"
#include "storage/cached_players.h"
#include "storage/mariadb_stores.h"
#include "storage/redis_stores.h"

namespace strata::storage {

struct StoreSetConfig {
  std::string data_dir;
  bool sync = true;  // fsync the embedded store's player, map and session writes
  std::optional<RedisOptions> redis;
  std::optional<MariaDbOptions> mariadb;
  PortConfig port;
  size_t spill_entries_max = size_t{1} << 20;
};

class StoreSet {
 public:
  [[nodiscard]] static std::unique_ptr<StoreSet> open(const StoreSetConfig& config, std::string& error);
  // Ports over backends the caller owns (they must outlive the set), without spills, the player
  // port journaled in `player_journal` when given: strata-vopr's in-memory twins
  // (storage/memory_stores.h, MemorySpill).
  [[nodiscard]] static std::unique_ptr<StoreSet> over(PlayerBackend& players, MapBackend& maps,
                                                      PositionBackend& positions, SessionBackend& sessions,
                                                      PortConfig port = {}, Spill* player_journal = nullptr);
  ~StoreSet();

  [[nodiscard]] PlayerPort& players();
  [[nodiscard]] MapPort& maps();
  [[nodiscard]] PositionPort& positions();
  [[nodiscard]] SessionPort& sessions();
  // One pump per port (each applies up to `batches` batches and answers the reads).
  [[nodiscard]] std::vector<std::function<size_t()>> pumps(size_t batches = 4);
  // True while any port's last backend call failed.
  [[nodiscard]] bool degraded() const;
  // The hot cache's counters (all zero without Redis).
  [[nodiscard]] CacheCounters cache_counters() const;
  // The holds of players across regions (MariaDB with MariaDbOptions::region set), else nullptr.
  // Called only from the thread that pumps the player port (the backend is not thread-safe).
  [[nodiscard]] PlayerHolds* holds();

 private:
  struct Impl;
  explicit StoreSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::storage
