// server/status.h: what the HTTP threads may read about the node (server/routes.h), written by the
// runtime's sim thread once per tick and by its network thread every 100 ms, under `mutex`.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

#include "net/transport.h"
#include "server/edge_counters.h"
#include "server/node.h"

namespace strata::server {

class StorageView;  // server/storage_service.h

// Every counter list's values at one tick (the netchannel's as the network side last published
// them): what /metrics and /api/world/status write, each counter once, from the lists.
struct CounterSnapshot {
  NodeCounters node;
  DeferralCounters deferrals;
  VerdictCounters inputs{};
  net::HandshakeCounters net;
  net::DropCounters drops;
};
// The node's samples (its events, the scheduler's deferrals and verdicts) and the netchannel's (traffic, drops).
[[nodiscard]] inline net::CounterSamples node_samples(const CounterSnapshot& c) {
  net::CounterSamples out;
  append_samples(c.node, out);
  append_samples(c.deferrals, out);
  append_verdict_samples(c.inputs, out);
  return out;
}
[[nodiscard]] inline net::CounterSamples net_samples(const CounterSnapshot& c) {
  net::CounterSamples out;
  append_samples(c.net, out);
  append_samples(c.drops, out);
  return out;
}

// What the HTTP threads may read about the node, published by the tick thread once per tick.
struct Status {
  std::mutex mutex;
  // The counter lists, copied by the sim thread every tick; the TCP listener's counters, copied
  // by the network thread every 100 ms.
  CounterSnapshot counters;
  net::TransportStats tcp_stats;
  uint64_t durable_tick = 0;
  double tick_p50_ms = 0;  // over the last tick_window ticks
  double tick_p99_ms = 0;
  double tick_max_ms = 0;
  // The same ticks' CPU time on the sim thread: a wall time far above it was time the thread
  // waited for a core (a saturated box), not work.
  double tick_cpu_p50_ms = 0;
  double tick_cpu_p99_ms = 0;
  double tick_cpu_max_ms = 0;
  // Each phase's CPU and wall time over the same ticks (TickPhase): mean, p99, max.
  std::array<std::array<double, 3>, tick_phase_count> phase_cpu_ms{};
  std::array<std::array<double, 3>, tick_phase_count> phase_wall_ms{};
  bool ready = false;
  uint64_t tick = 0;
  uint64_t quick_hash = 0;
  uint64_t full_hash_tick = 0;
  size_t players = 0;
  size_t sessions = 0;
  SnapshotBuilderCounters builders;  // with `counters`, every tick
  // For GET /api/sessions, formatted on request (not on the sim thread): the sessions' link
  // statistics and where each player stands (id, cell x, cell y; sorted by id), every 10 ticks.
  RegionalNode::NetStats net_stats;
  std::vector<std::array<int64_t, 3>> player_cells;
  // The stores, for /readyz, /metrics and /api/players/near: set before the listeners start and
  // never changed after (read without the mutex); null: no storage wired.
  StorageView* storage = nullptr;
  // The region's bus side (GET /api/regions, strata_bus_*): set before the listeners start, read
  // through its own thread-safe status(); null for one region alone.
  const RegionLink* link = nullptr;
};

}  // namespace strata::server
