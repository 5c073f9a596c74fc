// server/storage_service.cpp: see storage_service.h.
#include "server/storage_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "replay/rocks_log.h"
#include "server/node_start.h"
#include "sim/assert.h"
#include "sim/hash.h"
#include "sim/simulation.h"

namespace strata::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Every member of storage::PortCounters, listed once: X(member, family, label, type, help). The
// Prometheus families take a port label besides: family{port="players",<label>}.
#define STRATA_STORAGE_PORT_SERIES(X)                                                                                 \
  X(writes_queued, "strata_storage_writes_total", "outcome=\"queued\"", "counter",                                    \
    "Writes handed to a store port, by outcome")                                                                      \
  X(writes_applied, "strata_storage_writes_total", "outcome=\"applied\"", "counter",                                  \
    "Writes handed to a store port, by outcome")                                                                      \
  X(writes_refused_full, "strata_storage_writes_total", "outcome=\"refused_full\"", "counter",                        \
    "Writes handed to a store port, by outcome")                                                                      \
  X(writes_refused_invalid, "strata_storage_writes_total", "outcome=\"refused_invalid\"", "counter",                  \
    "Writes handed to a store port, by outcome")                                                                      \
  X(writes_spilled, "strata_storage_spilled_total", "", "counter",                                                    \
    "Writes that went to the embedded spill (the memory queue was full)")                                             \
  X(spill_lost, "strata_storage_spill_lost_total", "", "counter", "Spilled writes that could not be read back")       \
  X(batches_applied, "strata_storage_batches_total", "outcome=\"applied\"", "counter",                                \
    "Batches offered to a store, by outcome")                                                                         \
  X(batches_failed, "strata_storage_batches_total", "outcome=\"failed\"", "counter",                                  \
    "Batches offered to a store, by outcome")                                                                         \
  X(reads_queued, "strata_storage_reads_total", "outcome=\"queued\"", "counter", "Reads of a store port, by outcome") \
  X(reads_refused_full, "strata_storage_reads_total", "outcome=\"refused_full\"", "counter",                          \
    "Reads of a store port, by outcome")                                                                              \
  X(reads_refused_invalid, "strata_storage_reads_total", "outcome=\"refused_invalid\"", "counter",                    \
    "Reads of a store port, by outcome")                                                                              \
  X(reads_answered_from_queue, "strata_storage_reads_total", "outcome=\"from_queue\"", "counter",                     \
    "Reads of a store port, by outcome")                                                                              \
  X(reads_answered_from_store, "strata_storage_reads_total", "outcome=\"from_store\"", "counter",                     \
    "Reads of a store port, by outcome")                                                                              \
  X(reads_failed, "strata_storage_reads_total", "outcome=\"failed\"", "counter", "Reads of a store port, by outcome") \
  X(writes_waiting, "strata_storage_queue_depth", "queue=\"writes\"", "gauge",                                        \
    "Entries waiting in a store port's queues, by queue")                                                             \
  X(writes_spilled_waiting, "strata_storage_queue_depth", "queue=\"spilled\"", "gauge",                               \
    "Entries waiting in a store port's queues, by queue")                                                             \
  X(reads_waiting, "strata_storage_queue_depth", "queue=\"reads\"", "gauge",                                          \
    "Entries waiting in a store port's queues, by queue")

// One series of the Prometheus text.
struct Series {
  std::string_view family;
  std::string_view type;
  std::string_view help;
  std::string labels;
  double value = 0;
};

// HELP and TYPE once per family, the families in the order they first appear.
std::string render(const std::vector<Series>& series) {
  std::vector<std::string_view> families;
  for (const Series& s : series) {
    if (std::find(families.begin(), families.end(), s.family) == families.end()) families.push_back(s.family);
  }
  std::string out;
  char value[48];
  for (const std::string_view family : families) {
    bool first = true;
    for (const Series& s : series) {
      if (s.family != family) continue;
      if (first) {
        out.append("# HELP ").append(family).append(" ").append(s.help).append("\n");
        out.append("# TYPE ").append(family).append(" ").append(s.type).append("\n");
        first = false;
      }
      out.append(family);
      if (!s.labels.empty()) out.append("{").append(s.labels).append("}");
      std::snprintf(value, sizeof value, " %.17g\n", s.value);
      out.append(value);
    }
  }
  return out;
}

void add_port_series(std::vector<Series>& out, std::string_view port, const storage::PortCounters& c) {
  const std::string port_label = "port=\"" + std::string(port) + "\"";
  auto labels = [&](std::string_view extra) {
    return extra.empty() ? port_label : port_label + "," + std::string(extra);
  };
#define STRATA_PORT_SERIES_(member, family, label, type, help) \
  out.push_back(Series{family, type, help, labels(label), static_cast<double>(c.member)});
  STRATA_STORAGE_PORT_SERIES(STRATA_PORT_SERIES_)
#undef STRATA_PORT_SERIES_
  for (size_t i = 1; i < storage::store_status_count; ++i) {
    const auto status = static_cast<storage::StoreStatus>(i);
    out.push_back(Series{
        "strata_storage_failures_total", "counter", "Failed store calls (batches and reads), by status",
        port_label + ",status=\"" + storage::status_name(status) + "\"", static_cast<double>(c.failures_by_status[i])});
  }
}

// The counter lists' series: family{label=value} from "family{label=value}".
void add_service_series(std::vector<Series>& out, const StorageCounters& c) {
  auto add = [&](std::string_view series, std::string_view help, uint64_t value) {
    const size_t brace = series.find('{');
    std::string labels;
    if (brace != std::string_view::npos) {
      const std::string_view inner = series.substr(brace + 1, series.size() - brace - 2);
      const size_t eq = inner.find('=');
      labels = std::string(inner.substr(0, eq)) + "=\"" + std::string(inner.substr(eq + 1)) + "\"";
    }
    out.push_back(Series{series.substr(0, brace), "counter", help, std::move(labels), static_cast<double>(value)});
  };
#define STRATA_SERVICE_SERIES_(member, series, help) add(series, help, c.member);
  STRATA_STORAGE_SERVICE_COUNTERS(STRATA_SERVICE_SERIES_)
#undef STRATA_SERVICE_SERIES_
}

// A decimal integer in [min, max], the whole of `text`.
std::optional<int64_t> parse_integer(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

// Waits for a read of `port` (pumping it with `pump` when there is no worker).
template <class Port, class Key>
auto wait_read(Port& port, Key key, std::chrono::milliseconds timeout, const std::function<void()>& pump)
    -> decltype(port.take(storage::Ticket{})) {
  const std::optional<storage::Ticket> ticket = port.read(std::move(key));
  if (!ticket) return std::nullopt;
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    if (pump) pump();
    if (auto answer = port.take(*ticket)) return answer;
    if (SteadyClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace

NearRequest parse_near_query(std::string_view query) {
  std::optional<int64_t> values[3];
  constexpr std::string_view names[3] = {"x", "y", "r"};
  const int64_t coord = storage::position_coord_abs_max;
  const int64_t mins[3] = {-coord, -coord, 0};
  const int64_t maxs[3] = {coord, coord, storage::near_radius_max};
  size_t at = 0;
  while (at <= query.size() && !query.empty()) {
    const size_t amp = std::min(query.find('&', at), query.size());
    const std::string_view pair = query.substr(at, amp - at);
    at = amp + 1;
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const size_t which = static_cast<size_t>(std::find(std::begin(names), std::end(names), key) - std::begin(names));
    if (which == 3 || eq == std::string_view::npos) {
      return {std::nullopt, "expected x=, y= and r= (integers), got a parameter '" +
                                std::string(pair.substr(0, std::min<size_t>(pair.size(), 32))) + "'"};
    }
    if (values[which]) return {std::nullopt, "parameter " + std::string(key) + " given twice"};
    values[which] = parse_integer(pair.substr(eq + 1), mins[which], maxs[which]);
    if (!values[which]) {
      return {std::nullopt, std::string(key) + " must be an integer in [" + std::to_string(mins[which]) + ", " +
                                std::to_string(maxs[which]) + "]"};
    }
  }
  for (size_t i = 0; i < 3; ++i) {
    if (!values[i]) return {std::nullopt, "missing parameter " + std::string(names[i]) + " (x=, y= and r= are needed)"};
  }
  return {storage::NearQuery{static_cast<int32_t>(*values[0]), static_cast<int32_t>(*values[1]),
                             static_cast<uint32_t>(*values[2])},
          {}};
}

std::string near_json(const storage::NearQuery& query, const std::vector<storage::Position>& players) {
  const size_t listed = std::min(players.size(), storage_limits::near_answer_players_max);
  char head[160];
  std::snprintf(head, sizeof head, "{\"x\":%d,\"y\":%d,\"r\":%u,\"count\":%zu,\"truncated\":%s,\"players\":[", query.x,
                query.y, query.r, players.size(), listed < players.size() ? "true" : "false");
  std::string out = head;
  out.reserve(out.size() + listed * 48);
  char item[96];
  for (size_t i = 0; i < listed; ++i) {
    const storage::Position& p = players[i];
    std::snprintf(item, sizeof item, "%s{\"player\":%u,\"x\":%d,\"y\":%d}", i == 0 ? "" : ",",
                  static_cast<unsigned>(p.player), p.x, p.y);
    out += item;
  }
  return out + "]}\n";
}

std::optional<StorageService::Options> StorageService::options_from(const ServerConfig& config, uint64_t wall_us,
                                                                    std::string& error) {
  const StorageSettings& s = config.storage;
  Options out;
  out.stores.data_dir = config.data_dir;
  out.stores.sync = s.sync;
  out.stores.port.writes_queued_max = s.writes_queued_max;
  out.stores.port.batch_max = std::min<size_t>(storage::port_batch_default, s.writes_queued_max);
  if (!s.redis_host.empty()) {
    storage::RedisOptions redis;
    redis.host = s.redis_host;
    redis.port = s.redis_port;
    redis.prefix = s.redis_prefix.empty() ? "strata:" + std::to_string(config.region) + ":" : s.redis_prefix;
    redis.timeout = std::chrono::milliseconds(s.redis_timeout_ms);
    redis.cache_ttl = std::chrono::seconds(s.redis_cache_ttl_s);
    redis.index = s.redis_index == "grid" ? storage::PositionIndex::grid : storage::PositionIndex::geo;
    out.stores.redis = redis;
  }
  if (!s.mariadb_host.empty()) {
    storage::MariaDbOptions db;
    db.host = s.mariadb_host;
    db.port = s.mariadb_port;
    db.user = s.mariadb_user;
    db.password = s.mariadb_password;
    if (!s.mariadb_password_file.empty()) {
      std::ifstream in(s.mariadb_password_file);
      if (!in || !std::getline(in, db.password)) {
        error = "storage.mariadb.password_file: cannot read " + s.mariadb_password_file;
        return std::nullopt;
      }
    }
    db.database = s.mariadb_database;
    db.create_database = s.mariadb_create_database;
    db.connect_timeout_s = s.mariadb_connect_timeout_s;
    db.io_timeout_s = s.mariadb_io_timeout_s;
    db.region = config.region;  // the global store: players are held by region (PlayerHolds)
    db.lease = std::chrono::seconds(s.mariadb_lease_s);
    out.stores.mariadb = db;
  }
  out.positions_every_ticks = s.positions_every_ticks;
  out.players_every_ticks = s.players_every_ticks;
  out.map_every_ticks = s.map_every_ticks;
  out.version_epoch_s = wall_us / 1'000'000;
  out.region = config.region;
  out.map = storage::MapId{s.map_id};
  // Unique per run: the region in the top 16 bits, the wall clock's milliseconds below.
  out.session = storage::SessionId{(uint64_t{config.region} << 48) | ((wall_us / 1000) & ((uint64_t{1} << 48) - 1))};
  out.log_location = std::filesystem::absolute(config.data_dir + "/session-log").string();
  out.shutdown_flush = std::chrono::milliseconds(s.shutdown_flush_ms);
  return out;
}

std::unique_ptr<StorageService> StorageService::open(const Options& options, std::string& error) {
  STRATA_REQUIRE(options.positions_every_ticks > 0 && options.players_every_ticks > 0);
  auto stores = storage::StoreSet::open(options.stores, error);
  if (!stores) return nullptr;
  return std::unique_ptr<StorageService>(new StorageService(options, std::move(stores)));
}

std::unique_ptr<StorageService> StorageService::over(const Options& options,
                                                     std::unique_ptr<storage::StoreSet> stores) {
  STRATA_REQUIRE(options.positions_every_ticks > 0 && options.players_every_ticks > 0 && stores != nullptr);
  return std::unique_ptr<StorageService>(new StorageService(options, std::move(stores)));
}

StorageService::StorageService(const Options& options, std::unique_ptr<storage::StoreSet> stores)
    : options_(options), stores_(std::move(stores)), holds_(stores_->holds()) {
  if (holds_ != nullptr) {
    renew_every_ = std::max(std::chrono::milliseconds(1), options_.stores.mariadb->lease / 3);
    last_renewal_ = SteadyClock::now();
  }
  if (!options_.worker_threads) return;
  std::vector<std::function<size_t()>> pumps = stores_->pumps();
  // pumps(): players, maps, positions, sessions (store_set.cpp).
  std::function<size_t()> positions = pumps[2];
  pumps.erase(pumps.begin() + 2);
  // The map's periodic save is encoded before the ports are pumped (it is applied in the same
  // round); the holds first: a region's restart runs before any claim of its new session.
  pumps.insert(pumps.begin(), [this] { return pump_map_save(); });
  if (holds_ != nullptr) pumps.insert(pumps.begin(), [this] { return pump_holds(); });
  store_worker_ = std::make_unique<storage::StoreWorker>(std::move(pumps), options_.worker_idle);
  positions_worker_ = std::make_unique<storage::StoreWorker>(
      std::vector<std::function<size_t()>>{positions, [this] { return answer_near_queries(); }}, options_.worker_idle);
}

StorageService::~StorageService() {
  close_queries();
  // The workers stop before the stores they pump are closed.
  positions_worker_.reset();
  store_worker_.reset();
}

size_t StorageService::pump() {
  size_t applied = holds_ != nullptr ? pump_holds() : 0;
  applied += pump_map_save();
  for (const auto& one : stores_->pumps()) applied += one();
  answer_near_queries();
  return applied;
}

bool StorageService::flush(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  storage::StoreSet& s = *stores_;
  auto drained = [&s] { return s.players().idle() && s.maps().idle() && s.positions().idle() && s.sessions().idle(); };
  for (;;) {
    if (!options_.worker_threads) pump();
    if (drained()) return true;
    if (SteadyClock::now() >= deadline) return false;
    if (store_worker_) store_worker_->wake();
    if (positions_worker_) positions_worker_->wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void StorageService::start(const sim::World& world, std::chrono::milliseconds timeout) {
  STRATA_REQUIRE(!started_, "start() once");
  started_ = true;
  start_tick_ = world.tick;
  // A recovered world's players are in the store from the run that crashed; they leave in the first
  // tick, and the first batch says they are gone.
  for (const sim::Player& p : world.players)
    last_positions_.push_back({storage::PlayerKey{sim::raw(p.id)}, p.pos.x.tile(), p.pos.y.tile()});
  const std::function<void()> pump_fn = options_.worker_threads ? std::function<void()>() : [this] { pump(); };
  if (store_worker_) store_worker_->wake();
  const auto deadline = SteadyClock::now() + timeout;
  auto stored = wait_read(stores_->maps(), options_.map, timeout, pump_fn);
  ChunkHashes baseline;
  if (stored && stored->ok() && stored->value) {
    baseline = stored_chunk_hashes(world.params, *stored->value);
  } else {
    if (!stored || !stored->ok())
      spdlog::warn("storage: the map store did not answer ({}): the map save will compare with the generated terrain",
                   stored ? stored->outcome.reason : "timeout");
    baseline = generated_chunk_hashes(world.params);
  }
  // The periodic saves copy only the chunks written after this: those that already differ from
  // the store (a recovered log ahead of it) are due in the first one.
  const std::vector<sim::Chunk>& chunks = world.map.chunks();
  dirty_chunks_.assign(chunks.size(), 0);
  for (size_t i = 0; i < chunks.size() && i < baseline.size(); ++i)
    dirty_chunks_[i] = sim::chunk_hash(chunks[i]) != baseline[i] ? 1 : 0;
  {
    std::lock_guard lock(map_mutex_);
    map_baseline_ = std::move(baseline);
  }
  if (holds_ != nullptr) {
    // The players this region held in an earlier run are released by the store worker, before
    // any claim; those of the recovered world keep their hold until their leave saves (tick 1).
    std::vector<storage::PlayerKey> keep;
    for (const sim::Player& p : world.players) keep.push_back(storage::PlayerKey{sim::raw(p.id)});
    std::lock_guard lock(holds_mutex_);
    holds_restart_ = std::move(keep);
  }
  if (store_worker_) store_worker_->wake();
  learn_versions(world, deadline, pump_fn);
  storage::SessionRecord record;
  record.session = options_.session;
  record.version = 1;
  record.region = std::to_string(options_.region);
  record.start_tick = start_tick_;
  record.log_location = options_.log_location;
  const storage::SubmitResult submitted = stores_->sessions().write(std::move(record));
  std::lock_guard lock(mutex_);
  ++(submitted.status == storage::Submit::queued ? counters_.session_records : counters_.session_records_refused);
}

// A recovered world's players leave in its first tick, and those leaves must win over what the
// crashed run saved (the log is the truth). A version's high half is the session's wall-clock
// start, which a clock stepped back (NTP, a VM resumed) puts below the crashed run's, so their
// leaves were ignored and they came back with an older save (strata-vopr seeds 3, 6, 18, 19, 21,
// 36: a step back, then a crash). Their stored versions are read first; a player whose read fails
// or does not answer by `deadline` keeps the clock's version (warned).
void StorageService::learn_versions(const sim::World& world, SteadyClock::time_point deadline,
                                    const std::function<void()>& pump) {
  std::vector<std::pair<uint32_t, storage::Ticket>> waiting;
  size_t unknown = 0;
  for (const sim::Player& p : world.players) {
    const uint32_t id = sim::raw(p.id);
    const std::optional<storage::Ticket> ticket = stores_->players().read(storage::PlayerKey{id});
    if (ticket) {
      waiting.emplace_back(id, *ticket);
    } else {
      ++unknown;
    }
  }
  while (!waiting.empty()) {
    if (pump) pump();
    std::erase_if(waiting, [&](const std::pair<uint32_t, storage::Ticket>& w) {
      auto answer = stores_->players().take(w.second);
      if (!answer) return false;
      if (!answer->ok()) {
        ++unknown;
      } else if (answer->value) {
        Known& known = known_[w.first];
        known.version = std::max(known.version, answer->value->version);
        known.in_world = true;
      }
      return true;
    });
    if (waiting.empty() || SteadyClock::now() >= deadline) break;
    if (store_worker_) store_worker_->wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (const auto& w : waiting) cancelled_.push_back(w.second);  // taken and dropped when they come
  unknown += waiting.size();
  if (unknown > 0)
    spdlog::warn(
        "storage: the stored versions of {} recovered players are unknown (the store did not answer): their "
        "saves at leaving are versioned by the clock alone",
        unknown);
}

std::optional<sim::World> StorageService::load_map_world(const sim::WorldParams& params,
                                                         std::chrono::milliseconds timeout, std::string& error) {
  const std::function<void()> pump_fn = options_.worker_threads ? std::function<void()>() : [this] { pump(); };
  if (store_worker_) store_worker_->wake();
  auto stored = wait_read(stores_->maps(), options_.map, timeout, pump_fn);
  if (!stored) {
    error = "the map store did not answer within " + std::to_string(timeout.count()) + " ms";
    return std::nullopt;
  }
  if (!stored->ok()) {
    error = "the map store failed: " + stored->outcome.reason;
    return std::nullopt;
  }
  if (!stored->value) {
    error = "the store holds no map " + std::to_string(static_cast<uint32_t>(options_.map));
    return std::nullopt;
  }
  return world_with_stored_map(params, *stored->value, error);
}

void StorageService::observe(const sim::World& world, std::span<const sim::CellChange> changed) {
  std::erase_if(cancelled_, [this](storage::Ticket ticket) { return stores_->players().take(ticket).has_value(); });
  if (options_.map_every_ticks > 0) {
    if (dirty_chunks_.size() != world.map.chunks().size()) dirty_chunks_.assign(world.map.chunks().size(), 1);
    const auto chunks_x = static_cast<size_t>(world.map.chunks_x());
    for (const sim::CellChange& change : changed) {
      if (!world.map.in_bounds(change.cell)) continue;
      const auto cx = static_cast<size_t>(change.cell.x / sim::limits::chunk_size);
      const auto cy = static_cast<size_t>(change.cell.y / sim::limits::chunk_size);
      dirty_chunks_[cy * chunks_x + cx] = 1;
    }
    if (world.tick % options_.map_every_ticks == 0) copy_dirty_chunks(world);
  }
  if (world.tick % options_.positions_every_ticks == 0) write_positions(world, false);
  if (world.tick % options_.players_every_ticks == 0) save_changed_players(world);
}

void StorageService::copy_dirty_chunks(const sim::World& world) {
  const std::vector<sim::Chunk>& chunks = world.map.chunks();
  MapCopy copy{world.tick, world.map.chunks_x(), world.map.chunks_y(), {}};
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (dirty_chunks_[i] == 0) continue;
    copy.chunks.emplace_back(i, chunks[i]);
    dirty_chunks_[i] = 0;
  }
  if (copy.chunks.empty()) return;
  {
    std::lock_guard lock(map_mutex_);
    if (map_baseline_.size() != chunks.size()) map_baseline_ = generated_chunk_hashes(world.params);  // no start()
    if (map_copy_) {
      // The worker has not taken the last copy yet: this one's chunks are newer where both have one.
      for (auto& [index, chunk] : map_copy_->chunks) {
        const bool replaced = std::any_of(copy.chunks.begin(), copy.chunks.end(),
                                          [index = index](const auto& newer) { return newer.first == index; });
        if (!replaced) copy.chunks.emplace_back(index, std::move(chunk));
      }
    }
    map_copy_ = std::move(copy);
  }
  if (store_worker_) store_worker_->wake();
}

size_t StorageService::pump_map_save() {
  std::lock_guard lock(map_mutex_);
  if (!map_copy_) return 0;
  MapCopy copy = std::move(*map_copy_);
  map_copy_.reset();
  const uint64_t version = version_at(std::max<uint64_t>(copy.tick, 1));
  ChunkHashes baseline = map_baseline_;
  storage::MapRecord record{options_.map, version, 0, {}};
  for (auto& [index, chunk] : copy.chunks) {
    std::string bytes = encode_chunk(chunk);
    const uint64_t hash = sim::walk_hash(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (hash == baseline[index]) continue;  // written back to what was saved
    baseline[index] = hash;
    const auto cx = static_cast<int32_t>(index % static_cast<size_t>(copy.chunks_x));
    const auto cy = static_cast<int32_t>(index / static_cast<size_t>(copy.chunks_x));
    record.chunks.push_back({cx, cy, version, std::move(bytes)});
  }
  if (record.chunks.empty()) return 0;
  std::sort(record.chunks.begin(), record.chunks.end(),
            [](const storage::ChunkRecord& a, const storage::ChunkRecord& b) {
              return std::pair(a.cx, a.cy) < std::pair(b.cx, b.cy);
            });
  record.hash = sim::map_hash_of(copy.chunks_x, copy.chunks_y, baseline);
  const size_t count = record.chunks.size();
  const storage::SubmitResult submitted = stores_->maps().write(std::move(record));
  const bool queued = submitted.status == storage::Submit::queued;
  // A refused save leaves the baseline: the stop's full comparison saves those chunks then.
  if (queued) map_baseline_ = std::move(baseline);
  {
    std::lock_guard counters_lock(mutex_);
    ++(queued ? counters_.map_saves : counters_.map_saves_refused);
    if (queued) ++counters_.map_saves_periodic;
  }
  if (!queued) spdlog::warn("storage: the periodic map save at tick {} was refused: {}", copy.tick, submitted.reason);
  spdlog::debug("storage: periodic map save at tick {}: {} changed chunks queued", copy.tick, count);
  return 0;  // queued, not applied: the maps pump applies it in the same round
}

bool StorageService::request(sim::PlayerId player) {
  const uint32_t id = sim::raw(player);
  if (holds_ != nullptr) {
    // Rejoining while its leave save is still queued here: the read is answered from the queue
    // (no claim), so a save of the same state queued after the leave save keeps the hold.
    auto known = known_.find(id);
    if (known != known_.end() && known->second.save &&
        known->second.release_sequence > stores_->players().durable_sequence()) {
      const sim::PlayerSave save = *known->second.save;
      if (write_player(player, save, 0, false) != 0) {
        std::lock_guard lock(mutex_);
        ++counters_.player_saves_rehold;
      }
    }
  }
  const std::optional<storage::Ticket> ticket = stores_->players().read(storage::PlayerKey{id});
  {
    std::lock_guard lock(mutex_);
    ++(ticket ? counters_.player_loads : counters_.player_loads_refused);
  }
  if (!ticket) return false;
  loading_[id] = Loading{*ticket, 0};
  if (store_worker_) store_worker_->wake();
  return true;
}

StorageService::Poll StorageService::poll(sim::PlayerId player, std::optional<sim::PlayerSave>& save) {
  const uint32_t id = sim::raw(player);
  auto found = loading_.find(id);
  if (found == loading_.end()) return Poll::answered;  // never requested (or cancelled): fresh
  Loading& loading = found->second;
  if (!loading.ticket) {
    // Holds: waiting to ask again (another region held the player, or the store failed).
    if (--loading.polls_to_retry > 0) return Poll::waiting;
    loading.ticket = stores_->players().read(storage::PlayerKey{id});
    if (!loading.ticket) loading.polls_to_retry = storage_limits::hold_retry_polls;  // queue full: later
    if (loading.ticket && store_worker_) store_worker_->wake();
    return Poll::waiting;
  }
  std::optional<storage::Result<std::optional<storage::PlayerRecord>>> answer =
      stores_->players().take(*loading.ticket);
  if (!answer) return Poll::waiting;
  const bool held = answer->ok() && answer->value && answer->value->held_by != 0;
  if (holds_ != nullptr && (held || !answer->ok())) {
    // Never a fallback with holds: another region may have saved since (may_join_unloaded()).
    loading.ticket.reset();
    loading.polls_to_retry = storage_limits::hold_retry_polls;
    std::lock_guard lock(mutex_);
    ++(held ? counters_.player_loads_held : counters_.player_loads_failed);
    return Poll::waiting;
  }
  loading_.erase(found);
  Known& known = known_[id];
  known.in_world = true;
  save.reset();
  std::lock_guard lock(mutex_);
  if (!answer->ok()) {
    // The store failed (not "no such player"): what this process knows, else a fresh start.
    ++counters_.player_loads_failed;
    save = known.save;
    return Poll::answered;
  }
  if (!answer->value) {
    ++counters_.player_loads_none;
    return Poll::answered;
  }
  known.version = std::max(known.version, answer->value->version);
  save = decode_player_save(answer->value->state);
  if (!save) {
    ++counters_.player_loads_corrupt;
    return Poll::answered;
  }
  ++counters_.player_loads_found;
  known.save = save;
  return Poll::answered;
}

void StorageService::cancel(sim::PlayerId player) {
  auto found = loading_.find(sim::raw(player));
  if (found == loading_.end()) return;
  // The port keeps an answer until it is taken (and refuses reads beyond answers_waiting_max):
  // the answer of a cancelled load is taken and dropped when it comes (observe()).
  if (found->second.ticket) cancelled_.push_back(*found->second.ticket);
  loading_.erase(found);
  std::lock_guard lock(mutex_);
  ++counters_.player_loads_cancelled;
}

std::optional<sim::PlayerSave> StorageService::last_known(sim::PlayerId player) {
  auto found = known_.find(sim::raw(player));
  if (found == known_.end()) return std::nullopt;
  found->second.in_world = true;
  return found->second.save;
}

bool StorageService::may_join_unloaded(sim::PlayerId player) {
  if (holds_ == nullptr) return true;
  spdlog::warn("storage: player {} not loaded in time (held by another region, or the store failing): join refused",
               sim::raw(player));
  return false;
}

size_t StorageService::pump_holds() {
  std::optional<std::vector<storage::PlayerKey>> restart;
  bool renew = false;
  {
    std::lock_guard lock(holds_mutex_);
    restart = holds_restart_;
    const auto now = SteadyClock::now();
    if (now - last_renewal_ >= renew_every_) {
      renew = true;
      last_renewal_ = now;
    }
  }
  if (restart) {
    const storage::Outcome outcome = holds_->restart(*restart);
    std::lock_guard lock(mutex_);
    if (outcome.ok()) {
      ++counters_.holds_restarted;
      std::lock_guard holds_lock(holds_mutex_);
      if (holds_restart_ == restart) holds_restart_.reset();
    } else {
      ++counters_.lease_failures;
    }
  }
  if (renew) {
    const storage::Outcome outcome = holds_->renew();
    std::lock_guard lock(mutex_);
    ++(outcome.ok() ? counters_.lease_renewals : counters_.lease_failures);
    if (!outcome.ok()) spdlog::warn("storage: renewing the region's holds of players failed: {}", outcome.reason);
  }
  return 0;  // no port writes: the worker's idle wait is the ports' to decide
}

uint64_t StorageService::write_player(sim::PlayerId player, const sim::PlayerSave& save, uint64_t tick, bool release) {
  const uint32_t id = sim::raw(player);
  if (known_.size() >= storage_limits::known_players_max && known_.find(id) == known_.end()) {
    std::erase_if(known_, [](const auto& entry) { return !entry.second.in_world; });
  }
  Known& known = known_[id];
  const uint64_t version = std::max(known.version + 1, (options_.version_epoch_s << 32) | (tick & 0xFFFFFFFFu));
  storage::PlayerRecord record{storage::PlayerKey{id}, version, encode_player_save(save), release, 0};
  const storage::SubmitResult submitted = stores_->players().write(std::move(record));
  if (submitted.status != storage::Submit::queued) {
    std::lock_guard lock(mutex_);
    ++counters_.player_saves_refused;
    spdlog::error("storage: the save of player {} was refused ({}): it is kept in memory only", id,
                  submitted.reason.empty() ? "queue full" : submitted.reason);
    known.save = save;  // at least the fallback of its next join in this process
    return 0;
  }
  known.version = version;
  known.save = save;
  if (release) known.release_sequence = submitted.sequence;
  return submitted.sequence;
}

void StorageService::left(uint64_t tick, std::span<const std::pair<sim::PlayerId, sim::PlayerSave>> saves) {
  size_t queued = 0;
  for (const auto& [player, save] : saves) {
    queued += write_player(player, save, tick, true) != 0 ? 1 : 0;
    known_[sim::raw(player)].in_world = false;
  }
  if (queued > 0) {
    {
      std::lock_guard lock(mutex_);
      counters_.player_saves_left += queued;
    }
    if (store_worker_) store_worker_->wake();
  }
}

void StorageService::save_changed_players(const sim::World& world) {
  size_t queued = 0;
  for (const sim::Player& p : world.players) {
    const sim::PlayerSave save = sim::save_of(p);
    auto found = known_.find(sim::raw(p.id));
    if (found != known_.end() && found->second.save == save) continue;  // unchanged since its last save
    queued += write_player(p.id, save, world.tick, false) != 0 ? 1 : 0;
    known_[sim::raw(p.id)].in_world = true;
  }
  if (queued == 0) return;
  {
    std::lock_guard lock(mutex_);
    counters_.player_saves_periodic += queued;
  }
  if (store_worker_) store_worker_->wake();
}

void StorageService::write_positions(const sim::World& world, bool everyone_gone) {
  // Both lists are sorted by player: one merge gives the moved and the gone.
  std::vector<storage::Position> now;
  if (!everyone_gone) {
    now.reserve(world.players.size());
    for (const sim::Player& p : world.players)
      now.push_back({storage::PlayerKey{sim::raw(p.id)}, p.pos.x.tile(), p.pos.y.tile()});
  }
  storage::PositionBatch batch;
  // Every position_refresh_batches batches everyone is sent, moved or not: a store that lost its
  // data (a Redis restart without persistence) holds every player again within that period.
  const bool refresh = !everyone_gone && ++batches_since_refresh_ >= storage_limits::position_refresh_batches;
  if (refresh) batches_since_refresh_ = 0;
  size_t i = 0, j = 0;
  while (i < now.size() || j < last_positions_.size()) {
    if (j == last_positions_.size() || (i < now.size() && now[i].player < last_positions_[j].player)) {
      batch.moved.push_back(now[i++]);
    } else if (i == now.size() || last_positions_[j].player < now[i].player) {
      batch.gone.push_back(last_positions_[j++].player);
    } else {
      if (refresh || !(now[i] == last_positions_[j])) batch.moved.push_back(now[i]);
      ++i;
      ++j;
    }
  }
  if (batch.moved.empty() && batch.gone.empty()) return;
  const size_t moved = batch.moved.size(), gone = batch.gone.size();
  const storage::SubmitResult submitted = stores_->positions().write(std::move(batch));
  const bool queued = submitted.status == storage::Submit::queued;
  // A refused batch leaves last_positions_ as it was: the next batch carries the difference again.
  if (queued) last_positions_ = std::move(now);
  {
    std::lock_guard lock(mutex_);
    if (queued) {
      ++counters_.position_batches;
      counters_.positions_moved += moved;
      counters_.positions_gone += gone;
    } else {
      ++counters_.position_batches_refused;
    }
  }
  if (queued && positions_worker_) positions_worker_->wake();
}

bool StorageService::save_map(const sim::World& world) {
  std::lock_guard map_lock(map_mutex_);
  map_copy_.reset();  // older than this world: what it holds is in the full comparison below
  if (map_baseline_.size() != world.map.chunks().size()) map_baseline_ = generated_chunk_hashes(world.params);
  ChunkHashes baseline = map_baseline_;
  std::optional<storage::MapRecord> record =
      map_save(options_.map, world, version_at(std::max<uint64_t>(world.tick, 1)), baseline);
  if (!record) return false;
  const size_t chunks = record->chunks.size();
  const uint64_t hash = record->hash;
  const storage::SubmitResult submitted = stores_->maps().write(std::move(*record));
  const bool queued = submitted.status == storage::Submit::queued;
  if (queued) map_baseline_ = std::move(baseline);
  {
    std::lock_guard lock(mutex_);
    ++(queued ? counters_.map_saves : counters_.map_saves_refused);
  }
  if (queued) {
    spdlog::info("storage: map {} saved at tick {}: {} changed chunks queued, map hash {:016x}",
                 static_cast<uint32_t>(options_.map), world.tick, chunks, hash);
  } else {
    spdlog::error("storage: the map save at tick {} was refused: {}", world.tick, submitted.reason);
  }
  if (queued && store_worker_) store_worker_->wake();
  return queued;
}

void StorageService::stop(const sim::World& world) {
  if (stopped_) return;
  stopped_ = true;
  write_positions(world, true);
  save_map(world);
  storage::SessionRecord record;
  record.session = options_.session;
  record.version = 2;
  record.region = std::to_string(options_.region);
  record.start_tick = start_tick_;
  record.end_tick = std::max<uint64_t>(world.tick, 1);
  record.log_location = options_.log_location;
  const storage::SubmitResult submitted = stores_->sessions().write(std::move(record));
  {
    std::lock_guard lock(mutex_);
    ++(submitted.status == storage::Submit::queued ? counters_.session_records : counters_.session_records_refused);
  }
  if (flush(options_.shutdown_flush)) return;
  storage::StoreSet& s = *stores_;
  spdlog::error(
      "storage: writes still queued after {} ms (the stores are degraded): players {}, maps {}, positions {}, "
      "sessions {} (spilled players and sessions are kept on disk and sent at the next start)",
      options_.shutdown_flush.count(), s.players().last_sequence() - s.players().durable_sequence(),
      s.maps().last_sequence() - s.maps().durable_sequence(),
      s.positions().last_sequence() - s.positions().durable_sequence(),
      s.sessions().last_sequence() - s.sessions().durable_sequence());
}

void StorageService::near(std::string_view query, HttpReply reply) {
  NearRequest request = parse_near_query(query);
  if (!request.query) {
    {
      std::lock_guard lock(mutex_);
      ++counters_.near_bad_request;
    }
    reply(HttpResponse{400, "text/plain; charset=utf-8", request.error + "\n", {}});
    return;
  }
  bool waiting = false;
  {
    std::lock_guard lock(mutex_);
    std::optional<storage::Ticket> ticket;
    if (near_waiting_.size() < storage_limits::near_queries_waiting_max)
      ticket = stores_->positions().read(*request.query);
    if (ticket) {
      near_waiting_.push_back({*ticket, *request.query, std::move(reply)});
      waiting = true;
    } else {
      ++counters_.near_busy;
    }
  }
  if (!waiting) {
    reply(HttpResponse{503, "text/plain; charset=utf-8", "busy: too many near queries waiting for the store\n", {}});
    return;
  }
  if (positions_worker_) positions_worker_->wake();
}

size_t StorageService::answer_near_queries() {
  std::vector<std::pair<HttpReply, HttpResponse>> answers;
  {
    std::lock_guard lock(mutex_);
    for (auto it = near_waiting_.begin(); it != near_waiting_.end();) {
      std::optional<storage::Result<std::vector<storage::Position>>> answer = stores_->positions().take(it->ticket);
      if (!answer) {
        ++it;
        continue;
      }
      if (answer->ok()) {
        ++counters_.near_answered;
        if (answer->value.size() > storage_limits::near_answer_players_max) ++counters_.near_truncated;
        answers.emplace_back(std::move(it->reply),
                             HttpResponse{200, "application/json", near_json(it->query, answer->value), {}});
      } else {
        ++counters_.near_failed;
        answers.emplace_back(std::move(it->reply), HttpResponse{503,
                                                                "text/plain; charset=utf-8",
                                                                std::string("positions store unavailable: ") +
                                                                    storage::status_name(answer->outcome.status) +
                                                                    ": " + answer->outcome.reason + "\n",
                                                                {}});
      }
      it = near_waiting_.erase(it);
    }
  }
  for (auto& [reply, response] : answers) reply(std::move(response));
  return 0;  // no writes of its own: the worker's idle wait is the positions port's to decide
}

void StorageService::close_queries() {
  std::vector<NearWait> waiting;
  {
    std::lock_guard lock(mutex_);
    waiting.swap(near_waiting_);
    counters_.near_failed += waiting.size();
  }
  for (NearWait& wait : waiting) wait.reply(HttpResponse{503, "text/plain; charset=utf-8", "stopping\n", {}});
}

StorageCounters StorageService::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

std::string StorageService::prometheus() const {
  std::vector<Series> series;
  series.push_back(Series{"strata_storage_degraded", "gauge",
                          "1 while a store's last call failed (writes queue and are sent when it answers)", "",
                          degraded() ? 1.0 : 0.0});
  storage::StoreSet& s = *stores_;
  add_port_series(series, "players", s.players().counters());
  add_port_series(series, "maps", s.maps().counters());
  add_port_series(series, "positions", s.positions().counters());
  add_port_series(series, "sessions", s.sessions().counters());
  const storage::CacheCounters cache = s.cache_counters();
  const std::string_view cache_help = "Hot cache of player state (Redis), by event";
  series.push_back(
      Series{"strata_storage_cache_total", "counter", cache_help, "event=\"hit\"", static_cast<double>(cache.hits)});
  series.push_back(
      Series{"strata_storage_cache_total", "counter", cache_help, "event=\"miss\"", static_cast<double>(cache.misses)});
  series.push_back(Series{"strata_storage_cache_total", "counter", cache_help, "event=\"failure\"",
                          static_cast<double>(cache.cache_failures)});
  series.push_back(
      Series{"strata_storage_cache_total", "counter", cache_help, "event=\"fill\"", static_cast<double>(cache.fills)});
  series.push_back(Series{"strata_storage_cache_total", "counter", cache_help, "event=\"stale_skip\"",
                          static_cast<double>(cache.stale_skips)});
  series.push_back(Series{"strata_storage_cache_total", "counter", cache_help, "event=\"cold_first\"",
                          static_cast<double>(cache.cold_first)});
  add_service_series(series, counters());
  return render(series);
}

std::optional<NodeStart> open_start_with_storage(const ServerConfig& config, const std::string& dir,
                                                 StorageService& storage, std::string& error) {
  if (!config.storage.load_map_from_store) return open_rocks_start(config, dir, error);
  if (std::filesystem::exists(dir)) {
    spdlog::warn("world.load_map_from_store ignored: the session log in {} is recovered with its own map", dir);
    return open_rocks_start(config, dir, error);
  }
  sim::WorldParams params = config.world;
  params.region = sim::RegionId{config.region};
  std::optional<sim::World> world = storage.load_map_world(params, storage_limits::start_load_timeout, error);
  if (!world) {
    error = "world.load_map_from_store: " + error;
    return std::nullopt;
  }
  std::string problem;
  std::optional<sim::Simulation> sim = sim::Simulation::from_world(std::move(*world), &problem);
  if (!sim) {
    error = "world.load_map_from_store: " + problem;
    return std::nullopt;
  }
  NodeStart start;
  start.sim = std::make_unique<sim::Simulation>(std::move(*sim));
  replay::Status status;
  start.log = replay::LogWriter::create(dir, start.sim->world(), node_log_config(config), status);
  if (!start.log) {
    error = "cannot open the session log in " + dir + ": " + status.describe();
    return std::nullopt;
  }
  spdlog::info("world.load_map_from_store: map {} loaded, map hash {:016x}", config.storage.map_id,
               sim::map_hash(start.sim->world()));
  return start;
}

}  // namespace strata::server
