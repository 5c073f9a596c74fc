// server/region_bus.h — main()'s wiring of the region event bus from the configuration: the bus
// over NATS JetStream (server/nats_bus.h) and the region's link to it (server/region_link.h), and
// what a desync leaves behind. Nothing here runs per tick.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "replay/log_source.h"
#include "server/config.h"
#include "server/map_snapshots.h"
#include "server/nats_bus.h"
#include "server/region_link.h"

namespace strata::server {

[[nodiscard]] RegionLinkConfig region_link_config(const ServerConfig& config);
[[nodiscard]] NatsBusConfig nats_bus_config(const ServerConfig& config);

// A region's own writes read back from its session log (each tick's player writes and owned-chunk
// rule writes, re-simulated from the nearest snapshot before them, every hash checked): what the
// link publishes from the log (RegionLink::use_log). `open` opens the log read-only (the node keeps
// appending to it); it is opened again when a read needs ticks the open copy does not hold. Reads
// that follow each other continue where the last one stopped, without re-simulating.
class LogOwnWrites final : public OwnWritesSource {
 public:
  using Open = std::function<std::unique_ptr<replay::LogSource>(replay::Status& status)>;
  explicit LogOwnWrites(Open open) : open_(std::move(open)) {}
  [[nodiscard]] OwnWritesRead read(uint64_t from, uint64_t to, size_t ticks_max) override;

 private:
  // The cursor at `from` (moved to the log's first tick when before it) in a log holding `to`.
  [[nodiscard]] bool position(uint64_t& from, uint64_t to, uint64_t& first_held, std::string& error);

  Open open_;
  std::unique_ptr<replay::LogSource> log_;
  std::optional<sim::Simulation> sim_;  // the world after tick next_ - 1
  std::unique_ptr<replay::TickReader> reader_;
  uint64_t next_ = 0;         // the tick reader_ gives next (0: no cursor)
  uint64_t reader_last_ = 0;  // the last tick reader_ gives
};

struct RegionBus {
  std::unique_ptr<NatsBus> bus;
  std::unique_ptr<RegionLink> link;
  std::unique_ptr<LogOwnWrites> own_writes;  // the link's log (main() opens it once the node is open)
};
// Nothing when bus.url is empty (one region alone). Otherwise the bus, connected and its stream
// created or checked, and the link; `error` says why not (the caller stops: a region configured to
// replicate must not run alone silently).
[[nodiscard]] std::optional<RegionBus> open_region_bus(const ServerConfig& config, std::string& error);

// A desync's evidence: `<data_dir>/desync/<tick>-region<R>-vs-<P>.txt` names both regions, the
// applied vector and both hashes, and `<...>.snapshot` holds this region's world when our vector
// still is the one compared (then the peer's bundle holds its world: `strata-desync` diffs the
// two). Returns the paths written (empty on failure, logged).
std::string write_desync_report(const std::string& data_dir, sim::RegionId region, const Desync& desync);

// The map snapshots' bucket on the bus's NATS (bus.map_bucket), or nullptr and `error`.
[[nodiscard]] std::unique_ptr<MapStore> open_map_store(const ServerConfig& config, std::string& error);
// The seed of a new region from the snapshot bus.bootstrap_from names ("<region>", or "any": the
// most advanced of the other regions'), checked against this configuration; nullopt and `error`.
[[nodiscard]] std::optional<sim::WorldSeed> bootstrap_from_snapshot(const ServerConfig& config, MapStore& store,
                                                                    std::string& error);
// The publisher of this region's map snapshots: every bus.map_snapshot_every_s (0: never but on a
// desync) to `store` (may be null), desync maps to <data_dir>/desync/; its vector's own entry is
// the link's last acknowledged world batch.
[[nodiscard]] std::unique_ptr<MapSnapshotPublisher> make_map_snapshot_publisher(const ServerConfig& config,
                                                                                MapStore* store, RegionLink& link);

}  // namespace strata::server
