// server/node_start.cpp — see node_start.h.
#include "server/node_start.h"

#include <filesystem>

#include "replay/replayer.h"

namespace strata::server {

namespace {

// A new world from the configuration (the region's id set), or nullptr and `error`.
std::unique_ptr<sim::Simulation> new_world(const ServerConfig& config, std::string& error) {
  sim::WorldParams params = config.world;
  params.region = sim::RegionId{config.region};
  if (const char* problem = sim::validate(params)) {
    error = std::string("world parameters: ") + problem;
    return nullptr;
  }
  return std::make_unique<sim::Simulation>(params);
}

// What the configuration changed of the world a log holds, "" when nothing. A region's world
// parameters (seed, map size, rules' rates, its id and the region map) are fixed for the life of
// its log: the log replays from them, and a region map changed under a running deployment would
// have two regions running one chunk's rules (or none), which nothing could merge afterwards.
std::string changed_params(const sim::WorldParams& logged, const ServerConfig& config) {
  sim::WorldParams configured = config.world;
  configured.region = sim::RegionId{config.region};
  std::string out;
  auto differs = [&out](bool changed, const char* what) {
    if (!changed) return;
    if (!out.empty()) out += ", ";
    out += what;
  };
  differs(logged.seed != configured.seed, "world.seed");
  differs(logged.chunks_x != configured.chunks_x || logged.chunks_y != configured.chunks_y, "the map size");
  differs(logged.random_ticks_per_chunk != configured.random_ticks_per_chunk, "world.random_ticks_per_chunk");
  differs(logged.npc_count != configured.npc_count, "world.npcs");
  differs(logged.region != configured.region, "region");
  differs(logged.region_map != configured.region_map, "world.region_map");
  return out;
}

}  // namespace

replay::LogConfig node_log_config(const ServerConfig& config) {
  replay::LogConfig log;
  log.full_hash_every = config.full_hash_every_ticks;
  log.snapshot_every = config.snapshot_every_ticks;
  log.wal_sync = config.log_sync;
  log.background_snapshots = true;  // the sim thread must not encode a world-sized snapshot
  log.background_full_hash =
      true;  // nor read the whole map for a full hash (the node releases the world before each step)
  return log;
}

std::optional<NodeStart> open_rocks_start(const ServerConfig& config, const std::string& dir, std::string& error,
                                          std::function<void()> before_sync) {
  replay::LogConfig log_config = node_log_config(config);
  log_config.before_sync = std::move(before_sync);
  NodeStart start;
  if (std::filesystem::exists(dir)) {
    // The writer opens first (RocksDB repairs a torn WAL tail to the last intact record), then the
    // world is rebuilt at the last tick, checking every recorded hash on the way.
    replay::Recovered recovered = replay::recover(dir, log_config);
    if (!recovered.writer || !recovered.sim) {
      error = "cannot recover the log in " + dir + ": " + recovered.status.describe();
      return std::nullopt;
    }
    if (const std::string changed = changed_params(recovered.sim->world().params, config); !changed.empty()) {
      error = "the log in " + dir + " holds a world with another " + changed +
              " than the configuration: a region's world parameters are fixed for its log's life (put the "
              "configuration back, or start from a new data dir)";
      return std::nullopt;
    }
    start.sim = std::make_unique<sim::Simulation>(std::move(*recovered.sim));
    start.log = std::move(recovered.writer);
    return start;
  }
  start.sim = new_world(config, error);
  if (!start.sim) return std::nullopt;
  replay::Status status;
  start.log = replay::LogWriter::create(dir, start.sim->world(), log_config, status);
  if (!start.log) {
    error = "cannot open the session log in " + dir + ": " + status.describe();
    return std::nullopt;
  }
  return start;
}

std::optional<MemoryNodeStart> open_memory_start(const ServerConfig& config, replay::MemoryDisk& disk,
                                                 std::string& error) {
  const replay::LogConfig log_config = node_log_config(config);
  MemoryNodeStart out;
  if (disk.has_log()) {
    replay::RecoveredMemory recovered = replay::recover(disk, log_config);
    if (!recovered.log || !recovered.sim) {
      error = "cannot recover the memory log: " + recovered.status.describe();
      return std::nullopt;
    }
    if (const std::string changed = changed_params(recovered.sim->world().params, config); !changed.empty()) {
      error = "the memory log holds a world with another " + changed + " than the configuration";
      return std::nullopt;
    }
    out.memory = recovered.log.get();
    out.start.sim = std::make_unique<sim::Simulation>(std::move(*recovered.sim));
    out.start.log = std::move(recovered.log);
    return out;
  }
  out.start.sim = new_world(config, error);
  if (!out.start.sim) return std::nullopt;
  replay::Status status;
  auto log = replay::MemorySessionLog::create(disk, out.start.sim->world(), log_config, status);
  if (!log) {
    error = "cannot create the memory log: " + status.describe();
    return std::nullopt;
  }
  out.memory = log.get();
  out.start.log = std::move(log);
  return out;
}

}  // namespace strata::server
