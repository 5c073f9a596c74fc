// server/map_snapshots.cpp — see map_snapshots.h.
#include "server/map_snapshots.h"

#include <spdlog/spdlog.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "server/threads.h"
#include "sim/assert.h"
#include "sim/hash.h"
#include "sim/state_codec.h"

namespace strata::server {
namespace {

namespace L = map_snapshot_limits;

constexpr char blob_magic[4] = {'S', 'T', 'M', 'S'};
constexpr char part_magic[4] = {'S', 'T', 'M', 'P'};
constexpr char manifest_magic[4] = {'S', 'T', 'M', 'M'};
constexpr size_t manifest_bytes = 4 + 2 + 8 + 4 + 8 + 8;
constexpr int zstd_level = 3;

void put_bytes(std::vector<uint8_t>& out, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}
template <class T>
void put(std::vector<uint8_t>& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i)));
}

// Reads little-endian fields from untrusted bytes; any read past the end fails the reader.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  template <class T>
  bool get(T& value) {
    if (bytes_.size() - at_ < sizeof(T)) return fail();
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t{bytes_[at_ + i]} << (8 * i);
    value = static_cast<T>(v);
    at_ += sizeof(T);
    return true;
  }
  bool magic(const char (&expected)[4]) {
    if (bytes_.size() - at_ < 4 || std::memcmp(bytes_.data() + at_, expected, 4) != 0) return fail();
    at_ += 4;
    return true;
  }
  bool take(size_t size, std::span<const uint8_t>& out) {
    if (bytes_.size() - at_ < size) return fail();
    out = bytes_.subspan(at_, size);
    at_ += size;
    return true;
  }
  [[nodiscard]] std::span<const uint8_t> rest() const { return bytes_.subspan(at_); }
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
  bool ok_ = true;
};

// A vector sorted by origin, each once, none of region 0 or sequence 0.
bool vector_valid(const std::vector<sim::BusMark>& applied) {
  for (size_t i = 0; i < applied.size(); ++i) {
    if (sim::raw(applied[i].origin) == 0 || applied[i].seq == 0) return false;
    if (i > 0 && sim::raw(applied[i - 1].origin) >= sim::raw(applied[i].origin)) return false;
  }
  return true;
}

struct Manifest {
  sim::RegionId origin{};
  uint64_t tick = 0;
  uint32_t parts = 0;
  uint64_t blob_hash = 0;
  uint64_t blob_bytes = 0;
};

void encode_manifest(const Manifest& m, std::vector<uint8_t>& out) {
  out.clear();
  put_bytes(out, manifest_magic, 4);
  put(out, sim::raw(m.origin));
  put(out, m.tick);
  put(out, m.parts);
  put(out, m.blob_hash);
  put(out, m.blob_bytes);
}

std::optional<Manifest> decode_manifest(std::span<const uint8_t> bytes) {
  if (bytes.size() != manifest_bytes) return std::nullopt;
  Reader r(bytes);
  Manifest m;
  uint16_t origin = 0;
  r.magic(manifest_magic);
  r.get(origin);
  r.get(m.tick);
  r.get(m.parts);
  r.get(m.blob_hash);
  r.get(m.blob_bytes);
  if (!r.ok() || !r.rest().empty() || m.parts == 0 || m.parts > L::parts_max || m.blob_bytes > L::blob_bytes_max ||
      m.blob_bytes > uint64_t{m.parts} * L::part_data_bytes_max) {
    return std::nullopt;
  }
  m.origin = sim::RegionId{origin};
  return m;
}

}  // namespace

void encode_map_snapshot(const MapSnapshotInfo& info, const sim::World& world, std::vector<uint8_t>& out) {
  STRATA_REQUIRE(info.tick == world.tick, "a snapshot's tick is its world's", info.tick, world.tick);
  STRATA_REQUIRE(info.origin == world.params.region, "a snapshot's origin is its world's region");
  STRATA_REQUIRE(info.note.size() <= L::note_bytes_max, "note too long", info.note.size());
  STRATA_REQUIRE(info.applied.size() <= sim::limits::regions_max && vector_valid(info.applied), "bad vector");
  std::vector<uint8_t> state;
  sim::encode_state(world, state);
  out.clear();
  put_bytes(out, blob_magic, 4);
  put(out, L::format_version);
  put(out, sim::raw(info.origin));
  put(out, info.tick);
  put(out, info.map_hash);
  put(out, static_cast<uint32_t>(info.applied.size()));
  for (const sim::BusMark& m : info.applied) {
    put(out, sim::raw(m.origin));
    put(out, m.seq);
  }
  put(out, static_cast<uint32_t>(info.note.size()));
  put_bytes(out, info.note.data(), info.note.size());
  const size_t bound = ZSTD_compressBound(state.size());
  put(out, uint64_t{bound});  // rewritten below with the compressed size
  const size_t size_at = out.size() - sizeof(uint64_t);
  const size_t frame_at = out.size();
  out.resize(frame_at + bound);
  const size_t frame = ZSTD_compress(out.data() + frame_at, bound, state.data(), state.size(), zstd_level);
  STRATA_ASSERT(!ZSTD_isError(frame), ZSTD_getErrorName(frame));
  out.resize(frame_at + frame);
  for (size_t i = 0; i < sizeof(uint64_t); ++i) out[size_at + i] = static_cast<uint8_t>(uint64_t{frame} >> (8 * i));
  STRATA_ASSERT(out.size() <= L::blob_bytes_max, "a snapshot beyond the parts' room", out.size());
}

MapSnapshotDecode decode_map_snapshot(std::span<const uint8_t> bytes) {
  MapSnapshotDecode out;
  if (bytes.size() > L::blob_bytes_max) {
    out.error = "larger than any snapshot";
    return out;
  }
  Reader r(bytes);
  MapSnapshotInfo info;
  uint32_t version = 0;
  uint16_t origin = 0;
  uint32_t count = 0;
  if (!r.magic(blob_magic)) {
    out.error = "not a map snapshot (magic)";
    return out;
  }
  if (!r.get(version) || version != L::format_version) {
    out.error = "map snapshot format version " + std::to_string(version) + " not implemented";
    return out;
  }
  r.get(origin);
  r.get(info.tick);
  r.get(info.map_hash);
  if (!r.get(count) || count > sim::limits::regions_max) {
    out.error = "vector truncated or too long";
    return out;
  }
  info.origin = sim::RegionId{origin};
  info.applied.reserve(count);
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    uint16_t region = 0;
    uint64_t seq = 0;
    r.get(region);
    r.get(seq);
    info.applied.push_back(sim::BusMark{sim::RegionId{region}, seq});
  }
  uint32_t note_size = 0;
  std::span<const uint8_t> note;
  uint64_t frame_size = 0;
  std::span<const uint8_t> frame;
  if (!r.get(note_size) || note_size > L::note_bytes_max || !r.take(note_size, note) || !r.get(frame_size) ||
      frame_size > L::blob_bytes_max || !r.take(static_cast<size_t>(frame_size), frame) || !r.rest().empty()) {
    out.error = "truncated, or lengths beyond the limits";
    return out;
  }
  if (!vector_valid(info.applied)) {
    out.error = "vector not sorted by origin, or a region or sequence 0";
    return out;
  }
  info.note.assign(note.begin(), note.end());
  const unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR || content > L::state_bytes_max) {
    out.error = "state frame without a content size, or larger than any world";
    return out;
  }
  std::vector<uint8_t> state(static_cast<size_t>(content));
  const size_t got = ZSTD_decompress(state.data(), state.size(), frame.data(), frame.size());
  if (ZSTD_isError(got) || got != state.size()) {
    out.error = "state frame refused by zstd";
    return out;
  }
  sim::StateDecodeResult decoded = sim::decode_state(state);
  if (!decoded.world) {
    out.error = "state refused: " + decoded.error;
    return out;
  }
  if (decoded.world->tick != info.tick || decoded.world->params.region != info.origin) {
    out.error = "the state's tick or region is not the snapshot's";
    return out;
  }
  if (sim::map_hash(*decoded.world) != info.map_hash) {
    out.error = "the map does not hash to the snapshot's map hash";
    return out;
  }
  out.snapshot = MapSnapshot{std::move(info), std::move(*decoded.world)};
  return out;
}

const char* name(MapStoreStatus status) {
  switch (status) {
    case MapStoreStatus::ok: return "ok";
    case MapStoreStatus::not_found: return "not found";
    case MapStoreStatus::too_large: return "too large";
    case MapStoreStatus::unavailable: return "unavailable";
  }
  return "?";
}

MapStoreStatus MemoryMapStore::put(const std::string& key, std::span<const uint8_t> value) {
  const std::lock_guard lock(mutex_);
  if (!available_) return MapStoreStatus::unavailable;
  if (value.size() > L::value_bytes_max) return MapStoreStatus::too_large;
  values_[key].assign(value.begin(), value.end());
  return MapStoreStatus::ok;
}

MapStoreStatus MemoryMapStore::get(const std::string& key, std::vector<uint8_t>& out) {
  const std::lock_guard lock(mutex_);
  if (!available_) return MapStoreStatus::unavailable;
  const auto it = values_.find(key);
  if (it == values_.end()) return MapStoreStatus::not_found;
  out = it->second;
  return MapStoreStatus::ok;
}

std::string map_manifest_key(sim::RegionId region) { return "r" + std::to_string(sim::raw(region)) + ".head"; }

std::string map_part_key(sim::RegionId region, uint32_t part) {
  return "r" + std::to_string(sim::raw(region)) + ".part" + std::to_string(part);
}

std::string publish_map_snapshot(MapStore& store, sim::RegionId origin, uint64_t tick, std::span<const uint8_t> blob) {
  STRATA_REQUIRE(blob.size() <= L::blob_bytes_max, "blob beyond the parts' room", blob.size());
  Manifest manifest;
  manifest.origin = origin;
  manifest.tick = tick;
  manifest.parts =
      static_cast<uint32_t>(std::max<size_t>(1, (blob.size() + L::part_data_bytes_max - 1) / L::part_data_bytes_max));
  manifest.blob_hash = sim::walk_hash(blob);
  manifest.blob_bytes = blob.size();
  std::vector<uint8_t> value;
  for (uint32_t k = 0; k < manifest.parts; ++k) {
    const size_t begin = size_t{k} * L::part_data_bytes_max;
    const size_t size = std::min(L::part_data_bytes_max, blob.size() - begin);
    value.clear();
    put_bytes(value, part_magic, 4);
    put(value, sim::raw(origin));
    put(value, tick);
    put(value, k);
    put(value, manifest.parts);
    put(value, manifest.blob_hash);
    put_bytes(value, blob.data() + begin, size);
    if (const MapStoreStatus s = store.put(map_part_key(origin, k), value); s != MapStoreStatus::ok) {
      return "part " + std::to_string(k) + ": " + name(s);
    }
  }
  encode_manifest(manifest, value);
  if (const MapStoreStatus s = store.put(map_manifest_key(origin), value); s != MapStoreStatus::ok) {
    return std::string("manifest: ") + name(s);
  }
  return {};
}

namespace {

enum class ReadOutcome : uint8_t { ok, missing, changed, bad };

// One attempt: the manifest, then its parts. `changed` when a part is of another snapshot.
ReadOutcome read_once(MapStore& store, sim::RegionId region, std::vector<uint8_t>& blob, std::string& error) {
  std::vector<uint8_t> value;
  if (const MapStoreStatus s = store.get(map_manifest_key(region), value); s != MapStoreStatus::ok) {
    error = std::string("manifest of region ") + std::to_string(sim::raw(region)) + ": " + name(s);
    return ReadOutcome::missing;
  }
  const std::optional<Manifest> manifest = decode_manifest(value);
  if (!manifest || manifest->origin != region) {
    error = "manifest of region " + std::to_string(sim::raw(region)) + " malformed";
    return ReadOutcome::bad;
  }
  blob.clear();
  for (uint32_t k = 0; k < manifest->parts; ++k) {
    if (const MapStoreStatus s = store.get(map_part_key(region, k), value); s != MapStoreStatus::ok) {
      error = "part " + std::to_string(k) + ": " + name(s);
      return s == MapStoreStatus::not_found ? ReadOutcome::changed : ReadOutcome::missing;
    }
    Reader r(value);
    uint16_t origin = 0;
    uint64_t tick = 0;
    uint32_t index = 0;
    uint32_t parts = 0;
    uint64_t hash = 0;
    r.magic(part_magic);
    r.get(origin);
    r.get(tick);
    r.get(index);
    r.get(parts);
    r.get(hash);
    if (!r.ok() || r.rest().size() > L::part_data_bytes_max || origin != sim::raw(region) || index != k) {
      error = "part " + std::to_string(k) + " malformed";
      return ReadOutcome::bad;
    }
    if (tick != manifest->tick || parts != manifest->parts || hash != manifest->blob_hash) {
      error = "part " + std::to_string(k) + " is of another snapshot";
      return ReadOutcome::changed;
    }
    if (blob.size() + r.rest().size() > manifest->blob_bytes) {
      error = "parts longer than the manifest says";
      return ReadOutcome::bad;
    }
    blob.insert(blob.end(), r.rest().begin(), r.rest().end());
  }
  if (blob.size() != manifest->blob_bytes || sim::walk_hash(blob) != manifest->blob_hash) {
    error = "the parts do not hash to the manifest's";
    return ReadOutcome::changed;
  }
  return ReadOutcome::ok;
}

}  // namespace

std::optional<MapSnapshot> read_map_snapshot(MapStore& store, sim::RegionId region, std::string& error,
                                             uint32_t attempts) {
  std::vector<uint8_t> blob;
  for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
    const ReadOutcome outcome = read_once(store, region, blob, error);
    if (outcome == ReadOutcome::changed) {
      // A publisher is writing over it: wait a little for it to finish (not after the last attempt).
      if (attempt + 1 < attempts) std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
      continue;
    }
    if (outcome != ReadOutcome::ok) return std::nullopt;
    MapSnapshotDecode decoded = decode_map_snapshot(blob);
    if (!decoded.snapshot) {
      error = "snapshot of region " + std::to_string(sim::raw(region)) + ": " + decoded.error;
      return std::nullopt;
    }
    if (decoded.snapshot->info.origin != region) {
      error = "snapshot under region " + std::to_string(sim::raw(region)) + " is of another region";
      return std::nullopt;
    }
    return std::move(decoded.snapshot);
  }
  return std::nullopt;
}

std::optional<MapSnapshot> read_latest_map_snapshot(MapStore& store, std::span<const sim::RegionId> regions,
                                                    std::string& error) {
  std::optional<MapSnapshot> best;
  uint64_t best_sum = 0;
  std::string errors;
  for (const sim::RegionId region : regions) {
    std::string why;
    std::optional<MapSnapshot> snapshot = read_map_snapshot(store, region, why);
    if (!snapshot) {
      errors += (errors.empty() ? "" : "; ") + why;
      continue;
    }
    uint64_t sum = 0;
    for (const sim::BusMark& m : snapshot->info.applied) sum += m.seq;
    if (!best || sum > best_sum) {
      best = std::move(snapshot);
      best_sum = sum;
    }
  }
  if (!best) error = errors.empty() ? "no region to read" : errors;
  return best;
}

std::optional<sim::WorldSeed> bootstrap_seed(MapSnapshot snapshot, const sim::WorldParams& params, std::string& error) {
  const sim::WorldParams& theirs = snapshot.world.params;
  if (theirs.chunks_x != params.chunks_x || theirs.chunks_y != params.chunks_y || theirs.seed != params.seed ||
      theirs.rules != params.rules || !(theirs.region_map == params.region_map) ||
      theirs.random_ticks_per_chunk != params.random_ticks_per_chunk || theirs.npc_count != params.npc_count) {
    error = "region " + std::to_string(sim::raw(snapshot.info.origin)) +
            "'s world is not of this configuration (size, seed, rules, region map, random ticks or NPCs differ)";
    return std::nullopt;
  }
  sim::WorldSeed seed;
  seed.tick = std::max<uint64_t>(1, snapshot.info.tick);
  seed.map = std::move(snapshot.world.map);
  for (const sim::BusMark& m : snapshot.info.applied) {
    if (m.origin != params.region) seed.bus_applied.push_back(m);
  }
  if (const char* problem = sim::validate(params, seed)) {
    error = std::string("snapshot refused: ") + problem;
    return std::nullopt;
  }
  return seed;
}

std::string desync_map_path(const std::string& dir, sim::RegionId region, const Desync& desync, uint64_t tick) {
  return (std::filesystem::path(dir) / (std::to_string(tick) + "-region" + std::to_string(sim::raw(region)) + "-vs-" +
                                        std::to_string(sim::raw(desync.peer)) + ".map"))
      .string();
}

MapDifference compare_maps(const sim::TileMap& a, const sim::TileMap& b) {
  MapDifference out;
  if (a.chunks_x() != b.chunks_x() || a.chunks_y() != b.chunks_y()) {
    out.same_size = false;
    return out;
  }
  for (size_t c = 0; c < a.chunks().size(); ++c) {
    const sim::Chunk& ca = a.chunks()[c];
    const sim::Chunk& cb = b.chunks()[c];
    for (size_t i = 0; i < sim::Chunk::cells; ++i) {
      for (size_t l = 0; l < static_cast<size_t>(sim::Layer::count); ++l) {
        auto value = [&](const sim::Chunk& ch) {
          switch (static_cast<sim::Layer>(l)) {
            case sim::Layer::floor: return sim::CellValue{ch.floor[i], 0};
            case sim::Layer::active: return sim::CellValue{ch.active[i], ch.active_state[i]};
            default: return sim::CellValue{ch.ceiling[i], 0};
          }
        };
        const sim::CellValue va = value(ca);
        const sim::CellValue vb = value(cb);
        const sim::LwwStamp sa{ca.stamp_hlc[l][i], sim::RegionId{ca.stamp_region[l][i]}};
        const sim::LwwStamp sb{cb.stamp_hlc[l][i], sim::RegionId{cb.stamp_region[l][i]}};
        if (va.kind == vb.kind && va.state == vb.state && sa == sb) continue;
        out.differing += 1;
        if (out.found) continue;
        out.found = true;
        out.chunk = c;
        const int32_t cx = static_cast<int32_t>(c % static_cast<size_t>(a.chunks_x()));
        const int32_t cy = static_cast<int32_t>(c / static_cast<size_t>(a.chunks_x()));
        out.cell = sim::CellPos{cx * sim::limits::chunk_size + static_cast<int32_t>(i % sim::limits::chunk_size),
                                cy * sim::limits::chunk_size + static_cast<int32_t>(i / sim::limits::chunk_size)};
        out.layer = static_cast<sim::Layer>(l);
        out.a_value = va;
        out.b_value = vb;
        out.a_stamp = sa;
        out.b_stamp = sb;
      }
    }
  }
  return out;
}

// ---- the publisher ----

MapSnapshotPublisher::MapSnapshotPublisher(MapSnapshotPublisherConfig config, MapStore* store,
                                           std::function<uint64_t()> own_acked_seq)
    : config_(std::move(config)), store_(store), own_acked_seq_(std::move(own_acked_seq)) {}

MapSnapshotPublisher::~MapSnapshotPublisher() {
  if (!thread_.joinable()) return;
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void MapSnapshotPublisher::request_desync(const Desync& desync) {
  const std::lock_guard lock(mutex_);
  if (!desync_request_) desync_request_ = desync;  // one at a time: a later one finds the next map
}

void MapSnapshotPublisher::on_tick(const sim::Simulation& sim) {
  const uint64_t tick = sim.tick();
  if (next_due_tick_ == 0 && config_.every_ticks > 0) next_due_tick_ = tick + config_.every_ticks;
  const bool due = config_.every_ticks > 0 && tick >= next_due_tick_;
  std::optional<Desync> desync;
  std::unique_ptr<sim::World> copy;
  {
    const std::lock_guard lock(mutex_);
    if (!due && !desync_request_) return;
    if (working_ || job_) {
      if (due) counters_.skipped_busy += 1;
      if (due) next_due_tick_ = tick + config_.every_ticks;
      return;
    }
    desync = std::move(desync_request_);
    desync_request_.reset();
    copy = std::move(spare_);
  }
  if (due) next_due_tick_ = tick + config_.every_ticks;
  // The one copy the tick thread makes: copy-assign reuses the spare's capacity (a memcpy of the map).
  if (copy) {
    *copy = sim.world();
  } else {
    copy = std::make_unique<sim::World>(sim.world());
  }
  Job job;
  job.world = std::move(copy);
  job.applied = job.world->bus_applied;
  const uint64_t own = own_acked_seq_ ? own_acked_seq_() : 0;
  if (own > 0) {
    const sim::BusMark mark{config_.region, own};
    job.applied.insert(std::lower_bound(job.applied.begin(), job.applied.end(), mark,
                                        [](const sim::BusMark& x, const sim::BusMark& y) {
                                          return sim::raw(x.origin) < sim::raw(y.origin);
                                        }),
                       mark);
  }
  job.publish = store_ != nullptr;
  job.desync = std::move(desync);
  if (!config_.background) {
    work(job);
    const std::lock_guard lock(mutex_);
    spare_ = std::move(job.world);
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    job_ = std::move(job);
  }
  wake_.notify_all();
}

void MapSnapshotPublisher::run() {
  name_this_thread("strata-mapsnap");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || job_.has_value(); });
    if (stop_) return;
    Job job = std::move(*job_);
    job_.reset();
    working_ = true;
    lock.unlock();
    work(job);
    lock.lock();
    working_ = false;
    spare_ = std::move(job.world);
    wake_.notify_all();
  }
}

void MapSnapshotPublisher::wait_idle() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [&] { return !working_ && !job_.has_value(); });
}

void MapSnapshotPublisher::work(Job& job) {
  const sim::World& world = *job.world;
  MapSnapshotInfo info;
  info.origin = config_.region;
  info.tick = world.tick;
  info.map_hash = sim::map_hash(world);
  info.applied = job.applied;
  if (job.desync) {
    const Desync& d = *job.desync;
    std::string vector;
    for (const schema::BusAppliedSeq& e : d.applied) {
      vector += (vector.empty() ? "" : " ") + std::to_string(sim::raw(e.origin)) + ":" + std::to_string(e.seq);
    }
    auto hex = [](uint64_t v) {
      char text[17];
      std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(v));
      return std::string(text);
    };
    info.note = "desync: region " + std::to_string(sim::raw(config_.region)) + " (tick " + std::to_string(d.our_tick) +
                ", map hash " + hex(d.our_hash) + ") and region " + std::to_string(sim::raw(d.peer)) + " (tick " +
                std::to_string(d.peer_tick) + ", map hash " + hex(d.peer_hash) + ") at the vector " + vector +
                ". This map was taken at tick " + std::to_string(world.tick) +
                ", after the desync was found: its own vector (above) may have moved on from the compared one, "
                "and then the maps differ by the events applied since as well.";
    if (info.note.size() > L::note_bytes_max) info.note.resize(L::note_bytes_max);
  }
  std::vector<uint8_t> blob;
  encode_map_snapshot(info, world, blob);
  if (job.desync && !config_.desync_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config_.desync_dir, ec);
    const std::string path = desync_map_path(config_.desync_dir, config_.region, *job.desync, world.tick);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(blob.data()), static_cast<std::streamsize>(blob.size()));
    out.close();
    const std::lock_guard lock(mutex_);
    if (out) {
      counters_.desync_maps_written += 1;
      desync_files_.push_back(path);
      spdlog::error("desync: region {} wrote its map at tick {} to {} (compare with the peer's: strata-desync maps)",
                    sim::raw(config_.region), world.tick, path);
    } else {
      counters_.desync_map_failures += 1;
      spdlog::error("desync: cannot write {}", path);
    }
  }
  if (job.publish) {
    const std::string error = publish_map_snapshot(*store_, config_.region, world.tick, blob);
    const std::lock_guard lock(mutex_);
    if (error.empty()) {
      counters_.published += 1;
      last_published_tick_.store(world.tick);
      spdlog::info("map snapshot: region {} published tick {} ({} bytes, map hash {:016x})", sim::raw(config_.region),
                   world.tick, blob.size(), info.map_hash);
    } else {
      counters_.publish_failures += 1;
      spdlog::warn("map snapshot: region {} could not publish tick {}: {}", sim::raw(config_.region), world.tick,
                   error);
    }
  }
}

MapSnapshotCounters MapSnapshotPublisher::counters() const {
  const std::lock_guard lock(mutex_);
  return counters_;
}

std::vector<std::string> MapSnapshotPublisher::desync_files() const {
  const std::lock_guard lock(mutex_);
  return desync_files_;
}

}  // namespace strata::server
