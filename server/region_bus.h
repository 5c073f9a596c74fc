// server/region_bus.h — main()'s wiring of the region event bus from the configuration: the bus
// over NATS JetStream (server/nats_bus.h) and the region's link to it (server/region_link.h), and
// what a desync leaves behind. Nothing here runs per tick.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "replay/log_source.h"
#include "server/config.h"
#include "server/nats_bus.h"
#include "server/region_link.h"

namespace strata::server {

[[nodiscard]] RegionLinkConfig region_link_config(const ServerConfig& config);
[[nodiscard]] NatsBusConfig nats_bus_config(const ServerConfig& config);

struct RegionBus {
  std::unique_ptr<NatsBus> bus;
  std::unique_ptr<RegionLink> link;
};
// Nothing when bus.url is empty (one region alone). Otherwise the bus, connected and its stream
// created or checked, and the link; `error` says why not (the caller stops: a region configured to
// replicate must not run alone silently).
[[nodiscard]] std::optional<RegionBus> open_region_bus(const ServerConfig& config, std::string& error);

// The local writes of the last `ticks` ticks of a log (each tick's player writes and owned-chunk
// rule writes, re-simulated from the nearest snapshot before them, hashes checked): what a region
// publishes again after a restart, under the ticks' original message ids (RegionLink::republish),
// so a batch its crash kept from the stream gets there, and one already stored is acknowledged as
// a duplicate. Empty (and `error`) when the log cannot be read.
[[nodiscard]] std::vector<std::pair<uint64_t, std::vector<sim::BlockWrite>>> recent_local_writes(replay::LogSource& log,
                                                                                                 uint64_t ticks,
                                                                                                 std::string& error);

// A desync's evidence: `<data_dir>/desync/<tick>-region<R>-vs-<P>.txt` names both regions, the
// applied vector and both hashes, and `<...>.snapshot` holds this region's world when our vector
// still is the one compared (then the peer's bundle holds its world: `strata-desync` diffs the
// two). Returns the paths written (empty on failure, logged).
std::string write_desync_report(const std::string& data_dir, sim::RegionId region, const Desync& desync);

}  // namespace strata::server
