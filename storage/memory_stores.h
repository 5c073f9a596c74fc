// storage/memory_stores.h: the in-memory twin of every store, with outages driven by the caller.
//
// MemoryStores implements all four backends and the player cache with plain maps, under exactly the
// rules the real stores follow (the conformance suite, tests/storage/, runs the same typed tests over
// this twin, RocksDB, Redis and MariaDB), so strata-vopr can run the node's stores on simulated time.
// It owns no thread, clock or randomness: the caller (a seeded simulation) decides every fault.
//
// Faults, as a real store shows them to its caller:
//   - down (set_down): every call fails unavailable, nothing applies (a stopped server).
//   - stall:           the call fails stalled, nothing applies (a deadline passed).
//   - error:           the call fails unavailable, nothing applies (the server refused the batch).
//   - lost_connection: a write APPLIES, then the call fails lost_connection (the acknowledgement was
//                      lost); a read fails. This is the case idempotency by (key, version) is for.
//   - restart(everything): what a store without persistence (Redis here) keeps across a restart:
//                      nothing; restart(nothing) keeps everything applied (RocksDB, MariaDB).
// A fault is met by the next calls in a script (inject), or by every call while it is held (hold: a
// window of a seeded simulation, whose length is in time, not in calls).
// Not thread-safe: one caller at a time (an AsyncPort's pump, or the simulation).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>

#include "storage/stores.h"

namespace strata::storage {

enum class Fault : uint8_t { stall, error, lost_connection };

enum class RestartLoses : uint8_t { nothing, everything };

struct FaultCounters {
  uint64_t calls = 0;
  uint64_t failed_down = 0;
  uint64_t stalls = 0;
  uint64_t errors = 0;
  uint64_t lost_connections = 0;
  uint64_t restarts = 0;
};

class MemoryStores final : public PlayerBackend,
                           public MapBackend,
                           public PositionBackend,
                           public SessionBackend,
                           public PlayerCache {
 public:
  // --- faults (the caller's script) ---
  void set_down(bool down) { down_ = down; }
  // The next `calls` calls (reads or writes, any kind) meet `fault`, in order after earlier ones.
  void inject(Fault fault, uint32_t calls = 1);
  // Every call meets `fault` until hold(nullopt) (after down, before the script).
  void hold(std::optional<Fault> fault) { held_ = fault; }
  void restart(RestartLoses loses);
  [[nodiscard]] const FaultCounters& fault_counters() const { return faults_; }

  // --- backends ---
  [[nodiscard]] Outcome save(std::span<const PlayerRecord> records) override;
  [[nodiscard]] Result<std::optional<PlayerRecord>> load(PlayerKey player) override;
  [[nodiscard]] Outcome save(std::span<const MapRecord> records) override;
  [[nodiscard]] Result<std::optional<MapRecord>> load(MapId map) override;
  [[nodiscard]] Outcome update(std::span<const PositionBatch> batches) override;
  [[nodiscard]] Result<std::vector<Position>> near(const NearQuery& query) override;
  [[nodiscard]] Outcome save(std::span<const SessionRecord> records) override;
  [[nodiscard]] Result<std::optional<SessionRecord>> load(SessionId session) override;
  [[nodiscard]] Result<std::optional<PlayerRecord>> get(PlayerKey player) override;
  [[nodiscard]] Outcome put(std::span<const PlayerRecord> records) override;

  // Everything held, for invariants (no fault applies).
  [[nodiscard]] const std::map<PlayerKey, PlayerRecord>& players() const { return players_; }
  [[nodiscard]] const std::map<SessionId, SessionRecord>& sessions() const { return sessions_; }

 private:
  struct MapState {
    uint64_t version = 0;
    uint64_t hash = 0;
    std::map<std::pair<int32_t, int32_t>, ChunkRecord> chunks;
  };
  enum class Gate : uint8_t { pass, apply_then_lose, refuse };
  // Decides the fate of one call; fills `outcome` when the call must not (or not only) succeed.
  [[nodiscard]] Gate gate(Outcome& outcome);

  bool down_ = false;
  std::optional<Fault> held_;
  std::deque<Fault> script_;
  FaultCounters faults_;
  std::map<PlayerKey, PlayerRecord> players_;
  std::map<PlayerKey, PlayerRecord> cache_;
  std::map<MapId, MapState> maps_;
  std::map<PlayerKey, std::pair<int32_t, int32_t>> positions_;
  std::map<SessionId, SessionRecord> sessions_;
};

}  // namespace strata::storage
