// server/map_snapshots.h — a region's published map (issue 15 items 4 and 5): what a new region
// bootstraps from, and what a desync leaves behind.
//
// A map snapshot is the region's world at a tick (its map: every chunk's layers and LWW stamps; the
// rest of the world comes along, small), the applied-sequence vector that map holds (the world's
// bus marks plus the region's own last acknowledged world batch, as a health point has it) and the
// map hash. Bytes ("blob"): magic "STMS" | u32 version | u16 origin | u64 tick | u64 map_hash |
// u32 n | n x (u16 origin, u64 seq) | u32 note length | note | u64 state length | zstd frame of
// sim::encode_state(world). The decoder takes untrusted bytes (anyone who may write the bucket, or
// a file handed over): every length is checked against the limits below before anything is
// allocated for it, the zstd frame's content size before decompressing, the state by
// sim::decode_state (which validates the world), and the map hash is recomputed.
//
// Publishing: the blob is cut into parts below NATS's 1 MB payload, stored in a key-value bucket
// (MapStore: JetStream KV over nats.c in production, history 1, so one message is kept per key) as
// "r<R>.part<k>", then the manifest "r<R>.head" (tick, part count, blob hash). Parts go first: a
// reader that finds a manifest whose parts are not all of its tick (a newer snapshot is being
// written over it) tries again. Parts beyond a shorter snapshot's count are left and ignored.
//
// Threads: MapSnapshotPublisher::on_tick runs on the tick thread and does at most one world copy
// (copy-assign into a spare: a memcpy of the map) when a snapshot is due or a desync asked for one;
// a worker thread computes the hash, encodes, compresses and writes (the store's requests may
// wait; nothing on the tick thread does).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "schema/limits.h"
#include "server/region_link.h"
#include "sim/simulation.h"

namespace strata::server {

namespace map_snapshot_limits {
inline constexpr uint32_t format_version = 1;
// One part's value with its header, below NATS's default max payload (1,048,576) with room for the
// message's headers.
inline constexpr size_t part_data_bytes_max = 900'000;
inline constexpr size_t part_header_bytes = 4 + 2 + 8 + 4 + 4 + 8;
inline constexpr size_t value_bytes_max = part_data_bytes_max + part_header_bytes;
static_assert(value_bytes_max < 1'000'000);
// The largest world's state, encoded (schema::limits::state_bytes_max) and compressed (zstd's bound
// on an incompressible input) fits this many parts.
inline constexpr size_t state_bytes_max = schema::limits::state_bytes_max;
inline constexpr size_t blob_header_bytes_max = 64 * 1024;
inline constexpr uint32_t parts_max = 256;
static_assert(size_t{parts_max} * part_data_bytes_max >=
              state_bytes_max + state_bytes_max / 128 + 1024 + blob_header_bytes_max);
inline constexpr size_t blob_bytes_max = size_t{parts_max} * part_data_bytes_max;
inline constexpr size_t note_bytes_max = 4096;
}  // namespace map_snapshot_limits

// What a snapshot says besides the world.
struct MapSnapshotInfo {
  sim::RegionId origin{};
  uint64_t tick = 0;
  uint64_t map_hash = 0;
  std::vector<sim::BusMark> applied;  // by origin; the origin's own last acked world batch included
  std::string note;                   // free text (a desync bundle says what it was written for)
  bool operator==(const MapSnapshotInfo&) const = default;
};

struct MapSnapshot {
  MapSnapshotInfo info;
  sim::World world;
};

// `info.map_hash` must be sim::map_hash(world) and info.tick world.tick (STRATA_REQUIRE).
void encode_map_snapshot(const MapSnapshotInfo& info, const sim::World& world, std::vector<uint8_t>& out);

struct MapSnapshotDecode {
  std::optional<MapSnapshot> snapshot;
  std::string error;  // when snapshot is empty
};
[[nodiscard]] MapSnapshotDecode decode_map_snapshot(std::span<const uint8_t> bytes);

// The store port: the latest value per key. Requests may wait (not for the tick thread).
enum class MapStoreStatus : uint8_t { ok, not_found, too_large, unavailable };
[[nodiscard]] const char* name(MapStoreStatus status);

class MapStore {
 public:
  virtual ~MapStore() = default;
  // Replaces the key's value (values above map_snapshot_limits::value_bytes_max: too_large).
  [[nodiscard]] virtual MapStoreStatus put(const std::string& key, std::span<const uint8_t> value) = 0;
  // The key's latest value into `out`.
  [[nodiscard]] virtual MapStoreStatus get(const std::string& key, std::vector<uint8_t>& out) = 0;
};

// The in-memory twin of the bucket (tests, strata-vopr): the same limit, the same answers.
class MemoryMapStore final : public MapStore {
 public:
  [[nodiscard]] MapStoreStatus put(const std::string& key, std::span<const uint8_t> value) override;
  [[nodiscard]] MapStoreStatus get(const std::string& key, std::vector<uint8_t>& out) override;
  void set_available(bool available) { available_ = available; }

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<uint8_t>> values_;
  bool available_ = true;
};

[[nodiscard]] std::string map_manifest_key(sim::RegionId region);
[[nodiscard]] std::string map_part_key(sim::RegionId region, uint32_t part);

// Stores a blob as parts then manifest. Empty on success, else what failed.
[[nodiscard]] std::string publish_map_snapshot(MapStore& store, sim::RegionId origin, uint64_t tick,
                                               std::span<const uint8_t> blob);
// The latest complete snapshot `region` published (tries again, up to `attempts`, when the parts
// change under it). nullopt and `error` when there is none or it does not decode.
[[nodiscard]] std::optional<MapSnapshot> read_map_snapshot(MapStore& store, sim::RegionId region, std::string& error,
                                                           uint32_t attempts = 5);
// Of the regions given, the snapshot whose vector is the most advanced (the highest sum of
// sequences); nullopt when none has one.
[[nodiscard]] std::optional<MapSnapshot> read_latest_map_snapshot(MapStore& store,
                                                                  std::span<const sim::RegionId> regions,
                                                                  std::string& error);

// The WorldSeed a region `params.region` of `params` starts from: the snapshot's map and vector
// (without the region's own entry: it consumes no stream of its own), at the snapshot's tick (at
// least 1). nullopt and `error` when the snapshot's world is not of this deployment (size, seed,
// region map or rules differ).
[[nodiscard]] std::optional<sim::WorldSeed> bootstrap_seed(MapSnapshot snapshot, const sim::WorldParams& params,
                                                           std::string& error);

// Desync bundle files: `<dir>/<tick>-region<R>-vs-<P>.map`.
[[nodiscard]] std::string desync_map_path(const std::string& dir, sim::RegionId region, const Desync& desync,
                                          uint64_t tick);

// What two maps differ in (strata-desync maps): the first differing chunk, cell and layer with
// both values and stamps, and the number of differing (cell, layer) pairs.
struct MapDifference {
  bool same_size = true;
  uint64_t differing = 0;  // (cell, layer) pairs whose value or stamp differ
  bool found = false;
  sim::CellPos cell{};
  size_t chunk = 0;
  sim::Layer layer = sim::Layer::floor;
  sim::CellValue a_value{};
  sim::CellValue b_value{};
  sim::LwwStamp a_stamp{};
  sim::LwwStamp b_stamp{};
};
[[nodiscard]] MapDifference compare_maps(const sim::TileMap& a, const sim::TileMap& b);

struct MapSnapshotPublisherConfig {
  sim::RegionId region{1};
  uint64_t every_ticks = 0;  // 0: none but on request
  std::string desync_dir;    // where desync maps go (empty: not written)
  bool background = true;    // false: the work is done inline in on_tick (deterministic tests)
};

#define STRATA_MAP_SNAPSHOT_COUNTERS(X)                           \
  X(published, "map snapshots published")                         \
  X(publish_failures, "map snapshots the store refused")          \
  X(desync_maps_written, "desync maps written")                   \
  X(desync_map_failures, "desync maps that could not be written") \
  X(skipped_busy, "snapshots due while the previous one was still being made")

struct MapSnapshotCounters {
#define STRATA_MAP_SNAPSHOT_FIELD(name, help) uint64_t name = 0;
  STRATA_MAP_SNAPSHOT_COUNTERS(STRATA_MAP_SNAPSHOT_FIELD)
#undef STRATA_MAP_SNAPSHOT_FIELD
};

class MapSnapshotPublisher {
 public:
  // `store` may be null (desync maps only); `own_acked_seq` (tick thread) says the sequence of the
  // region's last world batch the stream acknowledged (RegionLink::status().own_acked_seq): read
  // after tick T it is of a batch of a tick <= T, so the vector never claims a batch the map lacks
  // (an older one only makes a new region apply a few batches again, which LWW makes harmless).
  MapSnapshotPublisher(MapSnapshotPublisherConfig config, MapStore* store, std::function<uint64_t()> own_acked_seq);
  ~MapSnapshotPublisher();
  MapSnapshotPublisher(const MapSnapshotPublisher&) = delete;
  MapSnapshotPublisher& operator=(const MapSnapshotPublisher&) = delete;

  // Tick thread, after tick sim.tick() was logged.
  void on_tick(const sim::Simulation& sim);
  // Any thread (the bus side's desync callback): at the next tick, the map is written to the
  // desync folder and published.
  void request_desync(const Desync& desync);
  // Waits until the worker is idle (tests, shutdown).
  void wait_idle();

  [[nodiscard]] MapSnapshotCounters counters() const;
  [[nodiscard]] uint64_t last_published_tick() const { return last_published_tick_.load(); }
  [[nodiscard]] std::vector<std::string> desync_files() const;

 private:
  struct Job {
    std::unique_ptr<sim::World> world;
    std::vector<sim::BusMark> applied;
    bool publish = false;
    std::optional<Desync> desync;
  };
  void run();
  void work(Job& job);

  MapSnapshotPublisherConfig config_;
  MapStore* store_;
  std::function<uint64_t()> own_acked_seq_;
  uint64_t next_due_tick_ = 0;  // tick thread

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Job> job_;  // handed to the worker
  bool working_ = false;
  std::unique_ptr<sim::World> spare_;  // the copy's buffer when no job holds it
  std::optional<Desync> desync_request_;
  MapSnapshotCounters counters_;
  std::vector<std::string> desync_files_;
  bool stop_ = false;
  std::atomic<uint64_t> last_published_tick_{0};
  std::thread thread_;
};

}  // namespace strata::server
