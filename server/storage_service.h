// server/storage_service.h: the node's stores wired to the server. Owns the StoreSet
// (storage/store_set.h: the embedded RocksDB default under the data dir, Redis and MariaDB when
// configured) and the threads that pump it; reads the world after each tick (a TickObserver of the
// runtime) and answers the storage parts of the HTTP API.
//
// What it writes, and from where:
//   - live positions of the world's players every storage.positions_every_ticks (M) ticks: the sim
//     thread copies (id, tile x, tile y) and queues one PositionBatch (the players that moved since
//     the last batch, and the ones gone); the store worker pipelines it to the backend (Redis: one
//     round trip). The tick never calls a store: it only takes the port's queue mutex.
//   - the session catalog: a record (id, region, start tick, log location) at start, the same
//     record with its end tick at stop (version 1, then 2).
//   - the map, every storage.map_every_ticks (0: only at stop) and at stop: the chunks that changed
//     (map_chunks.h), each versioned (the session's start << 32 | the tick, like player saves; a
//     store keeps the newer chunk, so a save retried or repeated applies once). Periodically the sim
//     thread copies only the chunks written since the last save (the tick's changed cells mark
//     them; at start, the chunks that differ from what the store holds) and the store worker
//     encodes, hashes and queues them, with the map's hash over every chunk's (the others are as
//     last saved): a SIGKILLed node's store keeps its map as of at most one period ago. At stop the
//     whole map is compared with what was saved (a full pass, off the clock).
//   - player saves (PlayerSaves, the node's port): a joining player's save is read from the player
//     port (answered from queued writes first, then the hot cache, then the cold store); the state
//     of every player that left, and every storage.players_every_ticks the players whose state
//     changed, are written to it. Version: (the session's start in Unix seconds << 32) | the tick,
//     and above the last version this process loaded or wrote for the player (a recovered world's
//     players' stored versions are read in start(): the wall clock may have stepped back). The tick alone would
//     not do: a new log starts again at tick 0, and after a crash the recovered players' leaves must
//     win over what the crashed run had saved (the log says what they had). A store keeps the
//     newest save, and a retried batch applies once.
// Across regions (MariaDB with holds, PlayerHolds in storage/stores.h; issue 16 item 5): a load is
// the claim of the player for this region. While another region holds the player (its leave save
// has not reached MariaDB yet, or it still plays there) the answer says so and the load is asked
// again every hold_retry_polls ticks, until the node's join_wait_ticks run out (counted: outcome
// held). A join whose save could not be loaded (held elsewhere, or the store failing) is then
// refused (may_join_unloaded() is false): joining with an older state would overwrite what the
// player did in the other region. Every save takes or keeps the hold, a leave save releases it in
// the same transaction; a player rejoining here while its leave save is still queued gets a save
// of the same state queued after it (reason rehold), so the release never leaves them unheld. The
// store worker renews the region's leases every lease / 3, and at start() releases the players the
// region held in an earlier run, except those of the recovered world (their leave saves do).
// Without holds (the embedded store, one region) nothing of this runs.
// Threads: two StoreWorkers in production, so a stalled MariaDB never holds the near queries:
//   "strata-store"      players, maps, sessions (the cold store, the hot cache), the holds' renewals
//                       and the periodic map save's encoding
//   "strata-positions"  positions, and the answers of the near queries
// With Options::worker_threads false nothing runs by itself: the caller pumps (tests, simulation).
//
// Outages: a port whose last backend call failed is degraded; its writes wait in its bounded queue
// (players and sessions spill to <data dir>/spill-* beyond it, in order) and are applied in order
// when the store answers again. /readyz stays 200 with "degraded" in its body (the tick runs,
// players can play: taking the node out of rotation would only move them), and the gauge
// strata_storage_degraded says 1.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/config.h"
#include "server/http.h"
#include "server/map_chunks.h"
#include "server/player_saves.h"
#include "server/runtime.h"
#include "sim/simulation.h"
#include "storage/store_set.h"
#include "storage/store_worker.h"

namespace strata::server {

// What the HTTP routes (server/routes.cpp) may ask of the storage, from the HTTP threads.
class StorageView {
 public:
  virtual ~StorageView() = default;
  // True while a store's last call failed (writes queue, reads may fall back).
  [[nodiscard]] virtual bool degraded() const = 0;
  // The storage families of /metrics (Prometheus text).
  [[nodiscard]] virtual std::string prometheus() const = 0;
  // GET /api/players/near?x=&y=&r=: `reply` is called once, at once for a bad or refused request,
  // else from the positions worker when the store answers.
  virtual void near(std::string_view query, HttpReply reply) = 0;
};

// Limits of the near route (the store's own are storage/limits.h).
namespace storage_limits {
// Players listed in one answer: beyond, the answer says "truncated" and gives the count.
inline constexpr size_t near_answer_players_max = 1000;
// Every this many position batches, every player's position is sent, moved or not (60 batches of
// 20 ticks: once a minute at 20 Hz).
inline constexpr size_t position_refresh_batches = 60;
// Near queries waiting for the store at once; more are answered 503 at once.
inline constexpr size_t near_queries_waiting_max = 64;
// How long stop() waits at most for the map to load at start.
inline constexpr std::chrono::milliseconds start_load_timeout{10'000};
// Players whose last save this process remembers (StorageService::Known: ~40 bytes each).
inline constexpr size_t known_players_max = 65536;
static_assert(known_players_max >= sim::limits::players_max);
// A load answered "held by another region" (or failed, with holds) is asked again after this many
// polls (ticks): 5 times a second at 20 Hz, so a handoff costs at most that beyond the save's own
// way to MariaDB, and a waiting join is one claim per 200 ms, not one per worker round.
inline constexpr uint32_t hold_retry_polls = 4;
static_assert(hold_retry_polls >= 1);
static_assert(near_answer_players_max <= storage::near_answer_max);
static_assert(near_queries_waiting_max <= storage::port_reads_queued_default);
}  // namespace storage_limits

// A parsed near query or the reason it is refused (400).
struct NearRequest {
  std::optional<storage::NearQuery> query;
  std::string error;
};
// Parses "x=..&y=..&r=..": each exactly once, decimal integers, |x|, |y| <= position_coord_abs_max,
// 0 <= r <= near_radius_max; anything else (unknown keys, repeats, signs on r, overflow) refused.
[[nodiscard]] NearRequest parse_near_query(std::string_view query);
// The JSON of an answer: {"x":..,"y":..,"r":..,"count":N,"truncated":b,"players":[{"player":id,
// "x":..,"y":..},...]} with at most near_answer_players_max players (sorted by player).
[[nodiscard]] std::string near_json(const storage::NearQuery& query, const std::vector<storage::Position>& players);

// The storage's own counters, listed once: X(member, series, help) (net/counters.h's format).
#define STRATA_STORAGE_SERVICE_COUNTERS(X)                                                                           \
  X(position_batches, "strata_storage_position_batches_total{outcome=queued}", "Position batches, by outcome")       \
  X(position_batches_refused, "strata_storage_position_batches_total{outcome=refused}",                              \
    "Position batches, by outcome")                                                                                  \
  X(positions_moved, "strata_storage_positions_total{change=moved}", "Live positions written, by change")            \
  X(positions_gone, "strata_storage_positions_total{change=gone}", "Live positions written, by change")              \
  X(near_answered, "strata_storage_near_queries_total{outcome=answered}", "Near queries, by outcome")                \
  X(near_bad_request, "strata_storage_near_queries_total{outcome=bad_request}", "Near queries, by outcome")          \
  X(near_busy, "strata_storage_near_queries_total{outcome=busy}", "Near queries, by outcome")                        \
  X(near_failed, "strata_storage_near_queries_total{outcome=failed}", "Near queries, by outcome")                    \
  X(near_truncated, "strata_storage_near_queries_total{outcome=truncated}", "Near queries, by outcome")              \
  X(map_saves, "strata_storage_map_saves_total{outcome=queued}", "Map saves, by outcome")                            \
  X(map_saves_refused, "strata_storage_map_saves_total{outcome=refused}", "Map saves, by outcome")                   \
  X(map_saves_periodic, "strata_storage_map_saves_total{outcome=periodic}", "Map saves, by outcome")                 \
  X(player_loads, "strata_storage_player_loads_total{outcome=requested}", "Player save loads, by outcome")           \
  X(player_loads_refused, "strata_storage_player_loads_total{outcome=refused}", "Player save loads, by outcome")     \
  X(player_loads_found, "strata_storage_player_loads_total{outcome=found}", "Player save loads, by outcome")         \
  X(player_loads_none, "strata_storage_player_loads_total{outcome=none}", "Player save loads, by outcome")           \
  X(player_loads_failed, "strata_storage_player_loads_total{outcome=failed}", "Player save loads, by outcome")       \
  X(player_loads_corrupt, "strata_storage_player_loads_total{outcome=corrupt}", "Player save loads, by outcome")     \
  X(player_loads_cancelled, "strata_storage_player_loads_total{outcome=cancelled}", "Player save loads, by outcome") \
  X(player_loads_held, "strata_storage_player_loads_total{outcome=held}", "Player save loads, by outcome")           \
  X(player_saves_left, "strata_storage_player_saves_total{reason=left}", "Player saves queued, by reason")           \
  X(player_saves_periodic, "strata_storage_player_saves_total{reason=periodic}", "Player saves queued, by reason")   \
  X(player_saves_rehold, "strata_storage_player_saves_total{reason=rehold}", "Player saves queued, by reason")       \
  X(lease_renewals, "strata_storage_holds_total{event=renewed}", "Holds of players across regions, by event")        \
  X(lease_failures, "strata_storage_holds_total{event=failed}", "Holds of players across regions, by event")         \
  X(holds_restarted, "strata_storage_holds_total{event=restarted}", "Holds of players across regions, by event")     \
  X(player_saves_refused, "strata_storage_player_saves_total{reason=refused}", "Player saves queued, by reason")     \
  X(session_records, "strata_storage_session_records_total{outcome=queued}", "Session records, by outcome")          \
  X(session_records_refused, "strata_storage_session_records_total{outcome=refused}", "Session records, by outcome")

struct StorageCounters {
#define STRATA_STORAGE_FIELD_(member, series, help) uint64_t member = 0;
  STRATA_STORAGE_SERVICE_COUNTERS(STRATA_STORAGE_FIELD_)
#undef STRATA_STORAGE_FIELD_
  bool operator==(const StorageCounters&) const = default;
};

class StorageService final : public StorageView, public TickObserver, public PlayerSaves {
 public:
  struct Options {
    storage::StoreSetConfig stores;
    uint32_t positions_every_ticks = 20;
    uint32_t players_every_ticks = 600;  // periodic saves of the players whose state changed
    uint32_t map_every_ticks = 0;        // periodic saves of the map's changed chunks (0: only at stop)
    uint64_t version_epoch_s = 0;        // the session's start (Unix s): the high half of save versions
    uint16_t region = 1;
    storage::MapId map{1};
    storage::SessionId session{1};
    std::string log_location;
    std::chrono::milliseconds shutdown_flush{5000};
    bool worker_threads = true;                 // false: the caller pumps (pump())
    std::chrono::milliseconds worker_idle{20};  // a worker's wait when a round applied nothing
  };
  // The options a server runs with: its configuration (the MariaDB password read from its file),
  // the session id drawn from the region and the wall clock. nullopt and `error` when the password
  // file cannot be read.
  [[nodiscard]] static std::optional<Options> options_from(const ServerConfig& config, uint64_t wall_us,
                                                           std::string& error);
  // Opens the stores (MariaDB is reached and migrated here; Redis lazily). nullptr and `error` when
  // the embedded store cannot open or MariaDB cannot be reached.
  [[nodiscard]] static std::unique_ptr<StorageService> open(const Options& options, std::string& error);
  // Over stores the caller built (StoreSet::over: strata-vopr's twins, pumped by the caller with
  // Options::worker_threads false).
  [[nodiscard]] static std::unique_ptr<StorageService> over(const Options& options,
                                                            std::unique_ptr<storage::StoreSet> stores);
  ~StorageService() override;
  StorageService(const StorageService&) = delete;
  StorageService& operator=(const StorageService&) = delete;

  // At start, before the first tick (may wait on the store, up to `timeout`): the session's start
  // record, and the baseline the map saves compare against (the stored map, or the generated
  // terrain when the store holds none or does not answer in time).
  void start(const sim::World& world, std::chrono::milliseconds timeout = storage_limits::start_load_timeout);
  // A world of `params` over the map the store holds under Options::map (waits up to `timeout`).
  // nullopt and `error` when the store holds no such map, does not answer, or the map is refused.
  [[nodiscard]] std::optional<sim::World> load_map_world(const sim::WorldParams& params,
                                                         std::chrono::milliseconds timeout, std::string& error);

  // TickObserver: after_tick (sim thread) queues the positions every M ticks (and the players, and
  // the map's changed chunks, every storage.players_every_ticks / map_every_ticks); at_stop queues the
  // last positions (everyone gone), the map and the session's end, then waits up to shutdown_flush
  // for the queues to drain.
  void after_tick(const RegionalNode& node) override { observe(node.simulation().world(), node.last_changed_cells()); }
  void at_stop(const RegionalNode& node) override { stop(node.simulation().world()); }
  // The same on a bare world (tests).
  // `changed`: the cells the tick wrote (sim::Effects::changed_cells), for the periodic map save.
  void observe(const sim::World& world, std::span<const sim::CellChange> changed = {});
  void stop(const sim::World& world);
  // Queues the map's changed chunks (at `world`'s tick). False when nothing changed or refused.
  bool save_map(const sim::World& world);

  // PlayerSaves (sim thread; see player_saves.h).
  [[nodiscard]] bool request(sim::PlayerId player) override;
  [[nodiscard]] Poll poll(sim::PlayerId player, std::optional<sim::PlayerSave>& save) override;
  void cancel(sim::PlayerId player) override;
  [[nodiscard]] std::optional<sim::PlayerSave> last_known(sim::PlayerId player) override;
  [[nodiscard]] bool may_join_unloaded(sim::PlayerId player) override;
  void left(uint64_t tick, std::span<const std::pair<sim::PlayerId, sim::PlayerSave>> saves) override;

  // StorageView (HTTP threads).
  [[nodiscard]] bool degraded() const override { return stores_->degraded(); }
  [[nodiscard]] std::string prometheus() const override;
  void near(std::string_view query, HttpReply reply) override;
  // Answers every waiting near query 503 (before the HTTP listeners stop).
  void close_queries();

  // Without worker threads: pumps every port once and answers the near queries. Returns the
  // writes applied.
  size_t pump();
  // Waits until every write queued so far is applied or `timeout` passes (pumping itself without
  // worker threads). True when drained.
  bool flush(std::chrono::milliseconds timeout);

  [[nodiscard]] storage::StoreSet& stores() { return *stores_; }
  [[nodiscard]] StorageCounters counters() const;
  [[nodiscard]] const Options& options() const { return options_; }

 private:
  struct NearWait {
    storage::Ticket ticket;
    storage::NearQuery query;
    HttpReply reply;
  };
  StorageService(const Options& options, std::unique_ptr<storage::StoreSet> stores);
  void write_positions(const sim::World& world, bool everyone_gone);
  void save_changed_players(const sim::World& world);
  // The sequence the port gave the save, 0 when refused.
  uint64_t write_player(sim::PlayerId player, const sim::PlayerSave& save, uint64_t tick, bool release);
  size_t answer_near_queries();                     // positions worker
  size_t pump_holds();                              // store worker (or pump()): the start's restart, the renewals
  size_t pump_map_save();                           // store worker (or pump()): encodes and queues a periodic map save
  void copy_dirty_chunks(const sim::World& world);  // sim thread: the periodic map save's copy
  uint64_t version_at(uint64_t tick) const { return (options_.version_epoch_s << 32) | (tick & 0xFFFFFFFFu); }
  void learn_versions(const sim::World& world, std::chrono::steady_clock::time_point deadline,
                      const std::function<void()>& pump);

  const Options options_;
  std::unique_ptr<storage::StoreSet> stores_;
  // Sim thread only: the positions of the last batch (sorted by player), the map's baseline.
  std::vector<storage::Position> last_positions_;
  size_t batches_since_refresh_ = 0;
  // The map's saves: the chunk hashes as last saved (the baseline), under map_mutex_ (the sim
  // thread's stop and the worker's periodic save both use it); the chunks written since the last
  // periodic copy (sim thread); the copy waiting for the worker (under map_mutex_).
  std::mutex map_mutex_;
  ChunkHashes map_baseline_;
  std::vector<uint8_t> dirty_chunks_;
  struct MapCopy {
    uint64_t tick = 0;
    int32_t chunks_x = 0;
    int32_t chunks_y = 0;
    std::vector<std::pair<size_t, sim::Chunk>> chunks;
  };
  std::optional<MapCopy> map_copy_;
  // Sim thread: loads waiting (player -> ticket), and what this process last loaded or wrote for
  // each player (its version, and the save: the fallback of a load that times out). Bounded: beyond
  // known_players_max entries, those of players not in the world are forgotten.
  struct Known {
    uint64_t version = 0;
    std::optional<sim::PlayerSave> save;
    bool in_world = false;
    uint64_t release_sequence = 0;  // the port's sequence of its last leave save (holds)
  };
  // A load: its ticket, or (holds, after a "held" or failed answer) the polls left before it is
  // asked again.
  struct Loading {
    std::optional<storage::Ticket> ticket;
    uint32_t polls_to_retry = 0;
  };
  std::unordered_map<uint32_t, Loading> loading_;
  std::unordered_map<uint32_t, Known> known_;
  std::vector<storage::Ticket> cancelled_;  // answers to take and drop
  bool started_ = false;
  bool stopped_ = false;
  uint64_t start_tick_ = 0;
  mutable std::mutex mutex_;  // counters_ and near_waiting_
  StorageCounters counters_;
  std::vector<NearWait> near_waiting_;
  // Holds (null without): the restart pending since start() (its keep list) and the last renewal,
  // under holds_mutex_ (start() runs on the main thread, pump_holds() on the store worker).
  storage::PlayerHolds* const holds_;
  std::mutex holds_mutex_;
  std::optional<std::vector<storage::PlayerKey>> holds_restart_;
  std::chrono::steady_clock::time_point last_renewal_{};
  std::chrono::milliseconds renew_every_{0};
  std::unique_ptr<storage::StoreWorker> store_worker_;
  std::unique_ptr<storage::StoreWorker> positions_worker_;
};

// Opens the node's start like open_rocks_start (server/node_start.h), except that a new world (no
// log in `dir` yet) takes the map the store holds when config.storage.load_map_from_store is set;
// a recovered log keeps its own map (the log is the truth; a warning says the option is ignored).
[[nodiscard]] std::optional<NodeStart> open_start_with_storage(const ServerConfig& config, const std::string& dir,
                                                               StorageService& storage, std::string& error);

}  // namespace strata::server
