// tools/vopr/stores.h — the node's stores in a strata-vopr run (issue 16): the real StorageService
// (server/storage_service.h) over the in-memory twins (storage/memory_stores.h), pumped by the
// simulation on its one thread (no worker threads), with the store group's outages and the
// invariants of player persistence.
//
// Two twins outlive the node's incarnations, as the services do: the cold store (players, maps,
// sessions: MariaDB's part, a restart loses nothing) and the hot one (the player cache and live
// positions: Redis's part, a restart loses everything). The player port reads through the cache
// (storage/cached_players.h) into the cold store, behind a recorder that sees every batch the port
// hands over. Each node incarnation gets a StorageService of its own (a crash loses its queues).
//
// Invariants (the Vopr reports them with the seed, like its own):
//   store_acked     every save the store acknowledged is still there (the cold store holds it or a
//                   newer version), after every outage and restart; the port's durable_sequence
//                   counts exactly the writes of the batches the store acknowledged
//   store_returns   a joining player's save, as the node logged it in the JoinCommand, is the state
//                   the player left with (the newest leave of the surviving timeline), or none for
//                   a player who never left; joins the node had to make without an answer from the
//                   store (a failed or timed-out load) are counted apart (joins_degraded)
//   store_versions  nothing applied twice: a save offered again carries the same version and bytes,
//                   and every new save of a player is versioned above all earlier ones
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/player_saves.h"
#include "server/storage_service.h"
#include "sim/command.h"
#include "storage/cached_players.h"
#include "storage/memory_stores.h"
#include "tools/vopr/schedule.h"

namespace strata::vopr {

// The cold store's player backend as the port sees it: forwards to the twin and keeps what was
// offered and acknowledged.
class RecordingPlayers final : public storage::PlayerBackend {
 public:
  explicit RecordingPlayers(storage::MemoryStores& cold) : cold_(cold) {}
  [[nodiscard]] storage::Outcome save(std::span<const storage::PlayerRecord> records) override;
  [[nodiscard]] storage::Result<std::optional<storage::PlayerRecord>> load(storage::PlayerKey player) override {
    return cold_.load(player);
  }

  struct Offered {
    uint64_t version = 0;
    std::string state;
  };
  std::map<storage::PlayerKey, storage::PlayerRecord> acked;  // the newest acknowledged save of each player
  std::map<storage::PlayerKey, uint64_t> newest_offered;      // the highest version ever offered
  std::map<std::pair<storage::PlayerKey, uint64_t>, std::string> offered;  // (player, version) -> bytes
  uint64_t acked_writes = 0;    // of this incarnation's port (reset at each open)
  uint64_t retried = 0;         // records offered again (after a failed batch)
  std::string version_problem;  // the first breach of store_versions

 private:
  storage::MemoryStores& cold_;
};

class VoprStores final : public server::PlayerSaves {
 public:
  VoprStores();
  // A node incarnation opens: a StorageService over the twins (its options as a server's, from
  // `config` and the wall clock), pumped by pump().
  void open(const server::ServerConfig& config, uint64_t wall_us);
  // After the node exists, before its first tick (the session record, the map's baseline).
  void start(const sim::World& world);
  [[nodiscard]] server::StorageService* service() { return service_.get(); }
  // A crash: the service and its queues are gone; leaves after `kept_tick` never happened.
  // `timeline_lost`: ticks the log policy does not promise were lost, and the saves of those ticks
  // may be in the store: each player's next join is then not held to store_returns (counted).
  void crash(uint64_t kept_tick, bool timeline_lost, bool machine);
  void closed();  // after the runtime's clean stop (at_stop flushed the queues)
  void pump();    // one turn of the store workers

  void apply(const Fault& fault, uint64_t tick);
  void end_faults(uint64_t tick);

  // After node tick `tick`, whose log record is `record`, with `before` the players in the world
  // before it: the joins' saves (store_returns). Returns a violation, or empty.
  [[nodiscard]] std::string check_joins(uint64_t tick, const schema::TickRecord& record,
                                        const std::set<uint32_t>& before, uint64_t& checks);
  // store_acked and store_versions now. Returns a violation, or empty.
  [[nodiscard]] std::string check_acked(uint64_t& checks);
  [[nodiscard]] std::string check_versions(uint64_t& checks);
  // After the clean stop: the cold store holds each player's last leave. A violation, or empty.
  [[nodiscard]] std::string check_final(uint64_t& checks);

  [[nodiscard]] std::vector<std::string> stats() const;

  // PlayerSaves: the node's calls, forwarded to the service, with what the checks need.
  [[nodiscard]] bool request(sim::PlayerId player) override;
  [[nodiscard]] Poll poll(sim::PlayerId player, std::optional<sim::PlayerSave>& save) override;
  void cancel(sim::PlayerId player) override;
  [[nodiscard]] std::optional<sim::PlayerSave> last_known(sim::PlayerId player) override;
  void left(uint64_t tick, std::span<const std::pair<sim::PlayerId, sim::PlayerSave>> saves) override;

 private:
  struct Left {
    uint64_t tick = 0;
    sim::PlayerSave save;
  };
  void add_counters();
  [[nodiscard]] storage::MemoryStores& twin(int64_t target) {
    return target == static_cast<int64_t>(StoreTarget::cold) ? cold_ : hot_;
  }
  void hold(int64_t target, std::optional<StoreOutage> outage);

  storage::MemoryStores cold_;
  storage::MemoryStores hot_;
  RecordingPlayers recorder_{cold_};
  storage::CachedPlayers cached_{hot_, recorder_};
  // The player port's journal (RocksSpill in a server: WAL, no fsync): a process crash keeps it, a
  // machine crash is taken to lose it all (the saves in it are then not held to store_returns).
  storage::MemorySpill journal_{size_t{1} << 20};
  std::set<uint32_t> journal_lost_;
  std::unique_ptr<server::StorageService> service_;
  std::map<uint32_t, std::vector<Left>> history_;  // each player's leaves in the surviving timeline
  std::set<uint32_t> degraded_;                    // players whose pending join got no answer from the store
  bool timeline_lost_ = false;                     // since the last such crash: players not yet rejoined
  std::set<uint32_t> rejoined_;                    // ... those who have
  uint64_t outage_until_[2] = {0, 0};
  // Figures.
  server::StorageCounters past_;  // of earlier incarnations
  uint64_t outages_ = 0, restarts_ = 0, joins_checked_ = 0, joins_with_save_ = 0, joins_degraded_ = 0;
  uint64_t joins_degraded_differ_ = 0, incarnations_ = 0, joins_policy_lost_ = 0, journal_lost_saves_ = 0;
  uint64_t joins_journal_lost_ = 0;
};

}  // namespace strata::vopr
