// server/node_start.h — what main() (or a simulation) does before it makes a node: open the session
// log in its store, or recover it, and rebuild the world at its last tick (NodeStart, node.h).
// Two stores: a RocksDB directory (production) and a memory disk (strata-vopr and the tests, where
// a crash is staged: replay/memory_log.h). A store that holds a log is recovered (the world rebuilt
// from its nearest snapshot and tail, every recorded hash checked); an empty one gets a new log of
// a new world made from the configuration.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "replay/memory_log.h"
#include "replay/rocks_log.h"
#include "server/config.h"
#include "server/node.h"

namespace strata::server {

// The log settings a node's log uses (periods and fsync policy from the configuration; the
// RocksDB writer's snapshots and full hashes off the tick thread).
[[nodiscard]] replay::LogConfig node_log_config(const ServerConfig& config);

// The log in `dir` (created if missing, recovered if present). `before_sync` is a test seam
// (replay::LogConfig::before_sync). nullopt and `error` when it cannot be created or recovered.
// `seed`: what a new world starts from when `dir` holds no log (a region bootstrapped from a
// published map snapshot, server/map_snapshots.h); ignored when there is a log to recover.
[[nodiscard]] std::optional<NodeStart> open_rocks_start(const ServerConfig& config, const std::string& dir,
                                                        std::string& error, std::function<void()> before_sync = {},
                                                        std::optional<sim::WorldSeed> seed = std::nullopt);

// The log on `disk` (created when it holds none, recovered when it does). `memory` is the same log
// as start.log, for its fault injection and sync schedule (owned by the node once it is made).
struct MemoryNodeStart {
  NodeStart start;
  replay::MemorySessionLog* memory = nullptr;
};
[[nodiscard]] std::optional<MemoryNodeStart> open_memory_start(const ServerConfig& config, replay::MemoryDisk& disk,
                                                               std::string& error,
                                                               std::optional<sim::WorldSeed> seed = std::nullopt);

}  // namespace strata::server
