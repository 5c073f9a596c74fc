// server/region_bus.cpp — see region_bus.h.
#include "server/region_bus.h"

#include "replay/replayer.h"

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

std::vector<std::pair<uint64_t, std::vector<sim::BlockWrite>>> recent_local_writes(replay::LogSource& log,
                                                                                   uint64_t ticks, std::string& error) {
  std::vector<std::pair<uint64_t, std::vector<sim::BlockWrite>>> out;
  const uint64_t last = log.last_tick();
  const uint64_t first = std::max(log.header().start_tick + 1, last > ticks ? last - ticks + 1 : 1);
  if (first > last) return out;
  replay::StateAt state = replay::state_at(log, first - 1);
  if (!state.status.ok()) {
    error = "cannot rebuild tick " + std::to_string(first - 1) + ": " + state.status.describe();
    return out;
  }
  std::unique_ptr<replay::TickReader> reader = log.read_ticks(first, last);
  schema::TickRecord record;
  for (uint64_t t = first; t <= last; ++t) {
    if (const replay::Status status = reader->next(record); !status.ok()) {
      error = "cannot read tick " + std::to_string(t) + ": " + status.describe();
      out.clear();
      return out;
    }
    const sim::Effects& effects = state.sim->step(record.input);
    if (state.sim->quick_hash() != record.quick_hash) {
      error = "tick " + std::to_string(t) + " does not replay to its recorded hash";
      out.clear();
      return out;
    }
    if (effects.block_writes.empty() && effects.rule_writes.empty()) continue;
    std::vector<sim::BlockWrite> writes = effects.block_writes;
    writes.insert(writes.end(), effects.rule_writes.begin(), effects.rule_writes.end());
    out.emplace_back(t, std::move(writes));
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

}  // namespace strata::server
