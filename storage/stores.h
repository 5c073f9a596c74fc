// storage/stores.h: the store ports' records, outcomes and synchronous backends.
//
// Four kinds of data leave the node for a store; what a blob holds is the sim's business (the node
// encodes it with schema/), the stores only keep bytes under a key and a version:
//   - player state: PlayerKey -> (version, state bytes)
//   - maps:         MapId -> (version, hash) and its changed chunks (cx, cy) -> (version, bytes)
//   - positions:    PlayerKey -> (x, y) of connected players, queried by "who is within r of (x, y)"
//   - sessions:     SessionId -> (version, region, start tick, end tick, log location)
//
// Across regions (issue 16 item 5), the global cold store also keeps which region holds each player
// online (a hold with a lease): see PlayerHolds below.
//
// Versioned records are idempotent by (key, version): a store applies a record only when its version
// is newer than the stored one, so a batch retried after a lost acknowledgement never applies twice
// and an older record never overwrites a newer one. Positions are not versioned (last write wins):
// they are live data, rewritten every few ticks.
//
// A backend here is synchronous and may block on I/O: it is called by an AsyncPort's worker
// (storage/async_port.h), never by the node's tick. Every failure is an Outcome value with a status
// and a reason; nothing a caller or a store hands in reaches an assertion.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace strata::storage {

enum class PlayerKey : uint32_t {};
enum class MapId : uint32_t {};
enum class SessionId : uint64_t {};

// Why an operation did not (or may not) take effect.
enum class StoreStatus : uint8_t {
  ok,
  refused,          // the input breaks a limit (storage/limits.h); retrying cannot help
  unavailable,      // the store cannot be reached or answered an error; nothing was applied
  stalled,          // no answer within the deadline; nothing was applied (a retry is safe)
  lost_connection,  // the connection broke mid-call: the write may or may not have applied
  corrupt,          // the store holds bytes that do not decode
};
inline constexpr size_t store_status_count = 6;
[[nodiscard]] const char* status_name(StoreStatus status);

struct Outcome {
  StoreStatus status = StoreStatus::ok;
  std::string reason;  // empty when ok
  [[nodiscard]] bool ok() const { return status == StoreStatus::ok; }
  [[nodiscard]] static Outcome success() { return {}; }
  [[nodiscard]] static Outcome failure(StoreStatus status, std::string reason) { return {status, std::move(reason)}; }
};

template <class T>
struct Result {
  Outcome outcome;
  T value{};
  [[nodiscard]] bool ok() const { return outcome.ok(); }
};

struct PlayerRecord {
  PlayerKey player{};
  uint64_t version = 0;
  std::string state;
  // A save: the player left this region, so a store with holds releases this region's hold in the
  // same transaction as the save (other stores ignore it).
  bool release = false;
  // A load's answer from a store with holds: another region holds the player online (its lease runs):
  // `version` and `state` are not given, the load must be asked again later.
  uint16_t held_by = 0;
  friend bool operator==(const PlayerRecord&, const PlayerRecord&) = default;
};

struct ChunkRecord {
  int32_t cx = 0;
  int32_t cy = 0;
  uint64_t version = 0;
  std::string bytes;
  friend bool operator==(const ChunkRecord&, const ChunkRecord&) = default;
};

// A map save carries the map's version and hash and the chunks that changed; a load returns every
// chunk stored for the map, sorted by (cx, cy).
struct MapRecord {
  MapId map{};
  uint64_t version = 0;
  uint64_t hash = 0;
  std::vector<ChunkRecord> chunks;
  friend bool operator==(const MapRecord&, const MapRecord&) = default;
};

struct Position {
  PlayerKey player{};
  int32_t x = 0;
  int32_t y = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

// One update of live positions: players that moved (their new position) and players that left.
struct PositionBatch {
  std::vector<Position> moved;
  std::vector<PlayerKey> gone;
};

// Players with (x - px)^2 + (y - py)^2 <= r^2, exactly; answered sorted by player.
struct NearQuery {
  int32_t x = 0;
  int32_t y = 0;
  uint32_t r = 0;
};

struct SessionRecord {
  SessionId session{};
  uint64_t version = 0;
  std::string region;
  uint64_t start_tick = 0;
  uint64_t end_tick = 0;  // 0 while the session runs
  std::string log_location;
  friend bool operator==(const SessionRecord&, const SessionRecord&) = default;
};

// --- validation (shared by every backend and by AsyncPort::write) ---------------------------------
[[nodiscard]] Outcome validate(const PlayerRecord& record);
[[nodiscard]] Outcome validate(const MapRecord& record);
[[nodiscard]] Outcome validate(const PositionBatch& batch);
[[nodiscard]] Outcome validate(const NearQuery& query);
[[nodiscard]] Outcome validate(const SessionRecord& record);
[[nodiscard]] Outcome validate(PlayerKey player);
// Validates a whole batch first, so a refused record refuses the batch before anything applies
// (what a transaction gives the real stores); every implementation's writes start with it.
template <class Record>
[[nodiscard]] Outcome validate_all(std::span<const Record> records) {
  for (const Record& record : records) {
    if (Outcome valid = validate(record); !valid.ok()) return valid;
  }
  return Outcome::success();
}
// True when (x, y) is within the query's circle (exact integer arithmetic).
[[nodiscard]] bool within(const NearQuery& query, int32_t x, int32_t y);
// The grid cell of a coordinate (floor division by position_cell_tiles).
[[nodiscard]] int32_t cell_of(int32_t coord);

// --- backends --------------------------------------------------------------------------------------
// A save of several records is applied record by record under the (key, version) rule; it is one
// transaction where the store has them. On failure nothing is promised applied (a retry is safe).
class PlayerBackend {
 public:
  virtual ~PlayerBackend() = default;
  [[nodiscard]] virtual Outcome save(std::span<const PlayerRecord> records) = 0;
  [[nodiscard]] virtual Result<std::optional<PlayerRecord>> load(PlayerKey player) = 0;
  // True for a store with holds (PlayerHolds): its load claims the player for this region and is
  // the truth, so a cache in front of it must not answer first.
  [[nodiscard]] virtual bool holds_players() const { return false; }
};

// Holds of players by regions, kept by the global cold store (MariaDB, or the twin's RegionPlayers in
// storage/memory_holds.h) for one region, so a player moving between regions continues with the
// same state (issue 16 item 5). The rules, in every store with holds:
//   - load claims: the player is held by this region unless another region holds them with a lease
//     still running; then the answer is a record with held_by = that region and no state (ask again).
//     A player the store does not know is claimed too (so two regions never both start them fresh).
//   - save: applies by (key, version) like any store, but only when the player is free, held by this
//     region, or its holder's lease ran out (else it is fenced: dropped, a region that lost its hold
//     never overwrites the holder). The newest save of the player also sets the hold: a leave save
//     (PlayerRecord::release) releases it, any other save takes or keeps it and renews the lease.
//     An older save (a retry, a periodic save overtaken by a leave save) never changes the hold.
//   - a lease runs `lease` from the last claim, save or renew(); a crashed region's players are free
//     when it runs out, or at once when the region restarts (restart()).
class PlayerHolds {
 public:
  virtual ~PlayerHolds() = default;
  // Extends the lease of every player this region holds (called every lease / 3).
  [[nodiscard]] virtual Outcome renew() = 0;
  // At the region's start: releases every player it holds except `keep` (the players of its
  // recovered world, which leave in its first tick and are released by their leave saves), and
  // claims those.
  [[nodiscard]] virtual Outcome restart(std::span<const PlayerKey> keep) = 0;
};

class MapBackend {
 public:
  virtual ~MapBackend() = default;
  // The map's (version, hash) applies when newer; each chunk applies when newer than its stored one.
  [[nodiscard]] virtual Outcome save(std::span<const MapRecord> records) = 0;
  [[nodiscard]] virtual Result<std::optional<MapRecord>> load(MapId map) = 0;
};

class PositionBackend {
 public:
  virtual ~PositionBackend() = default;
  // Batches apply in order; within a batch, `moved` before `gone`.
  [[nodiscard]] virtual Outcome update(std::span<const PositionBatch> batches) = 0;
  [[nodiscard]] virtual Result<std::vector<Position>> near(const NearQuery& query) = 0;
};

class SessionBackend {
 public:
  virtual ~SessionBackend() = default;
  [[nodiscard]] virtual Outcome save(std::span<const SessionRecord> records) = 0;
  [[nodiscard]] virtual Result<std::optional<SessionRecord>> load(SessionId session) = 0;
};

// A cache of player state in front of a PlayerBackend (storage/cached_players.h). put keeps the
// newer version like a store does (a fill after a miss never overwrites a newer save).
class PlayerCache {
 public:
  virtual ~PlayerCache() = default;
  [[nodiscard]] virtual Result<std::optional<PlayerRecord>> get(PlayerKey player) = 0;
  [[nodiscard]] virtual Outcome put(std::span<const PlayerRecord> records) = 0;
};

}  // namespace strata::storage
