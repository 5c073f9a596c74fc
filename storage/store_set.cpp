// storage/store_set.cpp: StoreSet, which backend serves which port (see store_set.h).
#include "storage/store_set.h"

#include <filesystem>

#include "storage/cached_players.h"
#include "storage/rocks_stores.h"
#include "storage/spill.h"

namespace strata::storage {

struct StoreSet::Impl {
  // Backends first: the ports borrow them and are destroyed before them.
  std::unique_ptr<RocksStores> embedded;
  std::unique_ptr<MariaDbStores> mariadb;
  // Two Redis connections: the positions port and the players port (through the hot cache) are
  // pumped by different workers (server/storage_service.h), and a RedisStores is one hiredis
  // context, for one thread. Shared, the two threads' commands and replies crossed: a cache read
  // got the reply meant for an earlier one (a returning player got an older save).
  std::unique_ptr<RedisStores> redis;
  std::unique_ptr<RedisStores> redis_cache;
  std::unique_ptr<CachedPlayers> cached;
  std::unique_ptr<RocksSpill> player_spill;
  std::unique_ptr<RocksSpill> session_spill;
  std::unique_ptr<RocksSpill> player_journal;
  std::unique_ptr<PlayerPort> players;
  std::unique_ptr<MapPort> maps;
  std::unique_ptr<PositionPort> positions;
  std::unique_ptr<SessionPort> sessions;
};

StoreSet::StoreSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoreSet::~StoreSet() = default;

std::unique_ptr<StoreSet> StoreSet::open(const StoreSetConfig& config, std::string& error) {
  auto impl = std::make_unique<Impl>();
  const std::filesystem::path dir(config.data_dir);
  std::error_code created;
  std::filesystem::create_directories(dir, created);
  impl->embedded = RocksStores::open((dir / "stores").string(), {.sync = config.sync}, error);
  if (!impl->embedded) return nullptr;
  impl->player_spill = RocksSpill::open((dir / "spill-players").string(), config.spill_entries_max, error);
  if (!impl->player_spill) return nullptr;
  impl->session_spill = RocksSpill::open((dir / "spill-sessions").string(), config.spill_entries_max, error);
  if (!impl->session_spill) return nullptr;
  impl->player_journal = RocksSpill::open((dir / "journal-players").string(), config.spill_entries_max, error);
  if (!impl->player_journal) return nullptr;
  if (config.mariadb) {
    impl->mariadb = MariaDbStores::open(*config.mariadb, error);
    if (!impl->mariadb) return nullptr;
  }
  PlayerBackend* cold_players = impl->embedded.get();
  MapBackend* maps = impl->embedded.get();
  SessionBackend* sessions = impl->embedded.get();
  PositionBackend* positions = impl->embedded.get();
  if (impl->mariadb) {
    cold_players = impl->mariadb.get();
    maps = impl->mariadb.get();
    sessions = impl->mariadb.get();
  }
  PlayerBackend* players = cold_players;
  if (config.redis) {
    impl->redis = std::make_unique<RedisStores>(*config.redis);
    impl->redis_cache = std::make_unique<RedisStores>(*config.redis);
    impl->cached = std::make_unique<CachedPlayers>(*impl->redis_cache, *cold_players);
    players = impl->cached.get();
    positions = impl->redis.get();
  }
  impl->players = make_player_port(*players, config.port);
  impl->players->attach_spill(*impl->player_spill);
  impl->players->attach_journal(*impl->player_journal);
  impl->maps = make_map_port(*maps, config.port);
  impl->positions = make_position_port(*positions, config.port);
  impl->sessions = make_session_port(*sessions, config.port);
  impl->sessions->attach_spill(*impl->session_spill);
  return std::unique_ptr<StoreSet>(new StoreSet(std::move(impl)));
}

std::unique_ptr<StoreSet> StoreSet::over(PlayerBackend& players, MapBackend& maps, PositionBackend& positions,
                                         SessionBackend& sessions, PortConfig port, Spill* player_journal) {
  auto impl = std::make_unique<Impl>();
  impl->players = make_player_port(players, port);
  if (player_journal != nullptr) impl->players->attach_journal(*player_journal);
  impl->maps = make_map_port(maps, port);
  impl->positions = make_position_port(positions, port);
  impl->sessions = make_session_port(sessions, port);
  return std::unique_ptr<StoreSet>(new StoreSet(std::move(impl)));
}

PlayerPort& StoreSet::players() { return *impl_->players; }
MapPort& StoreSet::maps() { return *impl_->maps; }
PositionPort& StoreSet::positions() { return *impl_->positions; }
SessionPort& StoreSet::sessions() { return *impl_->sessions; }

std::vector<std::function<size_t()>> StoreSet::pumps(size_t batches) {
  Impl* impl = impl_.get();
  return {
      [impl, batches] { return impl->players->pump(batches); },
      [impl, batches] { return impl->maps->pump(batches); },
      [impl, batches] { return impl->positions->pump(batches); },
      [impl, batches] { return impl->sessions->pump(batches); },
  };
}

bool StoreSet::degraded() const {
  return impl_->players->degraded() || impl_->maps->degraded() || impl_->positions->degraded() ||
         impl_->sessions->degraded();
}

PlayerHolds* StoreSet::holds() {
  return impl_->mariadb && impl_->mariadb->holds_players() ? impl_->mariadb.get() : nullptr;
}

CacheCounters StoreSet::cache_counters() const { return impl_->cached ? impl_->cached->counters() : CacheCounters{}; }

}  // namespace strata::storage
