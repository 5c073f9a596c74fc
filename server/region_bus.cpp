// server/region_bus.cpp — see region_bus.h.
#include "server/region_bus.h"

#include "replay/replayer.h"
#include "server/nats_map_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace strata::server {

RegionLinkConfig region_link_config(const ServerConfig& config) {
  RegionLinkConfig out;
  out.region = sim::RegionId{config.region};
  for (const uint16_t region : config.bus.regions) out.regions.push_back(sim::RegionId{region});
  out.map_cells_x = config.world.chunks_x * sim::limits::chunk_size;
  out.map_cells_y = config.world.chunks_y * sim::limits::chunk_size;
  out.tick_rate_hz = config.tick_rate_hz;
  out.health_every_ms = config.bus.health_every_ms;
  out.presence_every_ticks = config.bus.presence_every_ticks;
  out.world_batches_max = config.bus.world_batches_max;
  out.encode.compress_above_bytes = config.bus.compress_above_bytes;
  return out;
}

NatsBusConfig nats_bus_config(const ServerConfig& config) {
  NatsBusConfig out;
  out.url = config.bus.url;
  out.stream_name = config.bus.stream;
  out.subject_namespace = config.bus.subject_namespace;
  out.dedup_window_ms = config.bus.dedup_window_ms;
  out.replicas = config.bus.replicas;
  out.pending_max = config.bus.pending_max;
  out.publish_max_wait_ms = config.bus.publish_max_wait_ms;
  out.connect_in_background = true;  // a region starts and plays without NATS, and joins it when it comes
  return out;
}

std::optional<RegionBus> open_region_bus(const ServerConfig& config, std::string& error) {
  if (config.bus.url.empty()) return std::nullopt;
  RegionBus out;
  out.bus = NatsBus::open(nats_bus_config(config), error);
  if (!out.bus) {
    error = "bus: cannot open the stream " + config.bus.stream + " at " + config.bus.url + ": " + error;
    return std::nullopt;
  }
  out.link = std::make_unique<RegionLink>(region_link_config(config));
  return out;
}

bool LogOwnWrites::position(uint64_t& from, uint64_t to, uint64_t& first_held, std::string& error) {
  if (next_ == from && reader_ && to <= reader_last_) return true;
  replay::Status status;
  log_ = open_(status);
  reader_.reset();
  sim_.reset();
  next_ = 0;
  if (!log_) {
    error = "cannot open the log: " + status.describe();
    return false;
  }
  const uint64_t first = log_->header().start_tick + 1;
  const uint64_t last = log_->last_tick();
  if (from < first) {  // ticks the log does not hold (any more): gone, and said so
    first_held = first;
    from = first;
  }
  if (to > last) {
    error = "the log holds ticks up to " + std::to_string(last) + ", not " + std::to_string(to);
    return false;
  }
  if (from > to) return true;
  replay::StateAt state = replay::state_at(*log_, from - 1);
  if (!state.status.ok()) {
    error = "cannot rebuild tick " + std::to_string(from - 1) + ": " + state.status.describe();
    return false;
  }
  sim_ = std::move(state.sim);
  reader_ = log_->read_ticks(from, last);
  next_ = from;
  reader_last_ = last;
  return true;
}

OwnWritesRead LogOwnWrites::read(uint64_t from, uint64_t to, size_t ticks_max) {
  OwnWritesRead out;
  out.next = from;
  if (from > to || ticks_max == 0) return out;
  if (!position(from, to, out.first_held, out.error)) return out;
  out.next = from;
  if (from > to) return out;
  schema::TickRecord record;
  for (size_t scanned = 0; next_ <= to && scanned < ticks_max; ++scanned) {
    if (const replay::Status status = reader_->next(record); !status.ok()) {
      out.error = "cannot read tick " + std::to_string(next_) + ": " + status.describe();
      next_ = 0;  // the next read opens the log again
      return out;
    }
    const sim::Effects& effects = sim_->step(record.input);
    if (sim_->quick_hash() != record.quick_hash) {
      out.error = "tick " + std::to_string(next_) + " does not replay to its recorded hash";
      next_ = 0;
      return out;
    }
    if (!effects.block_writes.empty() || !effects.rule_writes.empty()) {
      std::vector<sim::BlockWrite> writes = effects.block_writes;
      writes.insert(writes.end(), effects.rule_writes.begin(), effects.rule_writes.end());
      out.ticks.emplace_back(next_, std::move(writes));
    }
    next_ += 1;
    out.next = next_;
  }
  return out;
}

std::string write_desync_report(const std::string& data_dir, sim::RegionId region, const Desync& desync) {
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(data_dir) / "desync";
  std::filesystem::create_directories(dir, ec);
  const std::string stem = std::to_string(desync.our_tick) + "-region" + std::to_string(sim::raw(region)) + "-vs-" +
                           std::to_string(sim::raw(desync.peer));
  const std::filesystem::path path = dir / (stem + ".txt");
  std::ofstream out(path);
  out << "region " << sim::raw(region) << " tick " << desync.our_tick << " map_hash " << std::hex << desync.our_hash
      << std::dec << "\npeer " << sim::raw(desync.peer) << " tick " << desync.peer_tick << " map_hash " << std::hex
      << desync.peer_hash << std::dec << "\napplied";
  for (const schema::BusAppliedSeq& entry : desync.applied) out << ' ' << sim::raw(entry.origin) << ':' << entry.seq;
  out << '\n';
  if (!out) {
    spdlog::error("desync: cannot write {}", path.string());
    return {};
  }
  return path.string();
}

std::unique_ptr<MapStore> open_map_store(const ServerConfig& config, std::string& error) {
  NatsMapStoreConfig store;
  store.url = config.bus.url;
  store.bucket = config.bus.map_bucket;
  store.replicas = config.bus.replicas;
  return NatsMapStore::open(store, error);
}

std::optional<sim::WorldSeed> bootstrap_from_snapshot(const ServerConfig& config, MapStore& store, std::string& error) {
  const sim::RegionId self{config.region};
  std::vector<sim::RegionId> from;
  if (config.bus.bootstrap_from == "any") {
    for (const uint16_t r : config.bus.regions) {
      if (r != config.region) from.push_back(sim::RegionId{r});
    }
  } else {
    uint64_t region = 0;
    const std::string& text = config.bus.bootstrap_from;
    const bool digits = !text.empty() && text.size() <= 5 &&
                        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) region = std::stoull(text);
    if (!digits || region == 0 || region > 65535 || region == config.region) {
      error = std::string("bus.bootstrap_from: '").append(text).append("' is neither 'any' nor another region's id");
      return std::nullopt;
    }
    from.push_back(sim::RegionId{static_cast<uint16_t>(region)});
  }
  std::optional<MapSnapshot> snapshot = read_latest_map_snapshot(store, from, error);
  if (!snapshot) return std::nullopt;
  const MapSnapshotInfo info = snapshot->info;
  sim::WorldParams params = config.world;
  params.region = self;
  std::optional<sim::WorldSeed> seed = bootstrap_seed(std::move(*snapshot), params, error);
  if (!seed) return std::nullopt;
  std::string vector;
  for (const sim::BusMark& m : seed->bus_applied) {
    if (!vector.empty()) vector.push_back(' ');
    vector.append(std::to_string(sim::raw(m.origin))).append(":").append(std::to_string(m.seq));
  }
  spdlog::info(
      "bootstrap: region {} starts from region {}'s map of its tick {} (map hash {:016x}), at tick {}, "
      "consuming after {}",
      config.region, sim::raw(info.origin), info.tick, info.map_hash, seed->tick, vector);
  return seed;
}

std::unique_ptr<MapSnapshotPublisher> make_map_snapshot_publisher(const ServerConfig& config, MapStore* store,
                                                                  RegionLink& link) {
  MapSnapshotPublisherConfig publisher;
  publisher.region = sim::RegionId{config.region};
  publisher.every_ticks = uint64_t{config.bus.map_snapshot_every_s} * config.tick_rate_hz;
  publisher.desync_dir = (std::filesystem::path(config.data_dir) / "desync").string();
  return std::make_unique<MapSnapshotPublisher>(publisher, store, [&link] { return link.status().own_acked_seq; });
}

}  // namespace strata::server
