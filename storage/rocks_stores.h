// storage/rocks_stores.h: the embedded default of every store, RocksDB inside the server process
// (so the server's run command needs no service). One database in its own directory (by default
// <data dir>/stores, beside the session log and the account registry), one column family per kind:
//   players    player id (u32 BE)                       -> versioned state       (codec.h)
//   maps       map id (u32 BE)                          -> map head (version, hash)
//   chunks     map id (u32 BE) | cx | cy (i32 sortable) -> versioned chunk bytes
//   positions  "p" | player id                          -> x, y
//              "c" | cell x | cell y | player id        -> (empty): the grid index of the near query
//   sessions   session id (u64 BE)                      -> session record
// fsync policy: with `sync` (the default) every batch of players, maps and sessions is fsynced
// before save() returns, so an acknowledged save survives power loss; without it, a crash of the
// process only. Positions are written without the WAL: they are live data, rewritten every few
// ticks, and open() clears them: a restart starts with none (as Redis without persistence does).
// A batch is one WriteBatch (atomic). Versions are compared under the single writer (the port's
// worker), so read-compare-write needs no lock beyond the caller's one-at-a-time rule.
#pragma once

#include <memory>
#include <string>

#include "storage/stores.h"

namespace strata::storage {

struct RocksStoresOptions {
  bool sync = true;
};

class RocksStores final : public PlayerBackend, public MapBackend, public PositionBackend, public SessionBackend {
 public:
  [[nodiscard]] static std::unique_ptr<RocksStores> open(const std::string& dir, RocksStoresOptions options,
                                                         std::string& error);
  ~RocksStores() override;

  [[nodiscard]] Outcome save(std::span<const PlayerRecord> records) override;
  [[nodiscard]] Result<std::optional<PlayerRecord>> load(PlayerKey player) override;
  [[nodiscard]] Outcome save(std::span<const MapRecord> records) override;
  [[nodiscard]] Result<std::optional<MapRecord>> load(MapId map) override;
  [[nodiscard]] Outcome update(std::span<const PositionBatch> batches) override;
  [[nodiscard]] Result<std::vector<Position>> near(const NearQuery& query) override;
  [[nodiscard]] Outcome save(std::span<const SessionRecord> records) override;
  [[nodiscard]] Result<std::optional<SessionRecord>> load(SessionId session) override;

 private:
  struct Impl;
  explicit RocksStores(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::storage
