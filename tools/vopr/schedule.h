// tools/vopr/schedule.h — the faults one strata-vopr run injects, all drawn from its seed before the
// run starts (and printed, one line each), so a seed names the whole run: which client is cut off
// when, when the node crashes and how, what the hostile peers send, how the disk misbehaves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/link_sim.h"
#include "replay/rocks_log.h"

namespace strata::vopr {

// The groups --faults names (comma-separated; "all" or "none").
enum class FaultGroup : uint8_t { net, partition, churn, hostile, crash, clock, log, store, count };
inline constexpr size_t fault_group_count = static_cast<size_t>(FaultGroup::count);
[[nodiscard]] const char* name(FaultGroup group);
struct FaultSet {
  bool on[fault_group_count] = {};
  [[nodiscard]] bool has(FaultGroup g) const { return on[static_cast<size_t>(g)]; }
};
// Parses "all", "none" or a list such as "net,crash". False (and `error`) on an unknown name.
[[nodiscard]] bool parse_faults(const std::string& list, FaultSet& out, std::string& error);
[[nodiscard]] std::string describe(const FaultSet& set);

enum class FaultKind : uint8_t {
  link_storm,         // every link degrades (loss, latency, duplicates) for `duration` ticks
  partition,          // client `target` is cut off for `duration` ticks
  leave,              // client `target` disconnects, rejoins after `duration` ticks
  client_clock_jump,  // client `target`'s clock jumps forwards by `amount` ms (a suspended laptop)
  node_clock_jump,    // the node's wall clock steps by `amount` ms (either way: NTP)
  garbage,            // `amount` random datagrams a tick from random addresses, `duration` ticks
  replay,             // client `target`'s captured datagrams sent again (its address and another)
  flood,              // a logged-in peer sends `amount` valid messages a tick for `duration` ticks
  bad_messages,       // a logged-in peer sends undecodable, oversized and server-kind messages
  crash,              // the node dies (`amount`: 0 process, 1 machine; `phase`: where in the tick)
  log_slow,           // the background fsync lags `amount` appends for `duration` ticks
  log_stuck,          // the background fsync is held for `duration` ticks
  log_fail,           // the next append (amount 0) or fsync (1) fails: the node stops, is restarted
  bus_partition,      // --regions > 1: region `target`'s bus connection is cut for `duration` ticks
  store_outage,       // store `target` (StoreTarget) meets StoreOutage `amount` on every call for `duration` ticks
  store_restart,      // store `target` restarts: the cold store loses nothing, the hot one (Redis) everything
};

// The node's stores in strata-vopr (storage/memory_stores.h twins): the cold store (players, maps,
// sessions: MariaDB's part) and the hot one (the player cache and live positions: Redis's part).
enum class StoreTarget : uint8_t { cold, hot };
// What a store outage does to each call (storage::Fault, or down).
enum class StoreOutage : uint8_t { stall, error, lost_connection, down };
inline constexpr size_t store_outage_count = 4;
[[nodiscard]] const char* name(StoreOutage outage);
[[nodiscard]] const char* name(FaultKind kind);

struct Fault {
  uint64_t tick = 0;
  FaultKind kind = FaultKind::link_storm;
  int64_t target = -1;  // a client index; -1: the node or everyone
  uint64_t duration = 0;
  int64_t amount = 0;
  uint32_t phase = 0;  // crash: 0 before the tick, 1 after the tick (before its sends), 2 after the sends
};

struct RunShape {
  uint64_t ticks = 2400;
  size_t clients = 8;
  FaultSet faults;
  // The largest step of the node's wall clock, either way (an NTP step, a VM resumed). The node's
  // network side runs on monotonic time (server/runtime.cpp) and reads the wall clock only for
  // token expiry and the HLC, so steps of a minute keep every invariant (before that fix, a step
  // back locked clients out for its length: already_connected; see issue 14's note).
  uint64_t node_clock_jump_ms_max = 60'000;
  // Regions in the one process (run_cluster, simulator.h); 1 is the single node of issue 14, whose seeds
  // print what they always printed.
  size_t regions = 1;
};

// What the seed decided besides the faults.
struct Plan {
  uint64_t seed = 0;
  net::LinkConfig link;  // the links' normal weather
  replay::WalSync log_sync = replay::WalSync::none;
  std::vector<Fault> faults;  // ordered by tick
  uint64_t quiet_from = 0;    // no fault starts at or after this tick: the end converges
};

[[nodiscard]] Plan draw_plan(uint64_t seed, const RunShape& shape);

// --regions N > 1: each region's plan (its clients, hostile peers, crashes, disk) drawn from a seed
// of its own (region 0's is the run's seed), and the bus's weather: per-mille loss of publishes,
// acks and deliveries for every region's connection (the "net" group) and partitions of one
// region from the stream (the "partition" group). Region crashes are the regions' own crash
// faults. Only log policies that keep a published tick through a machine crash are drawn
// (background, every_tick): under none or every_n_ticks a region may publish a tick its crash then
// loses, and it diverges from the others for good (the policy's documented risk, made permanent).
struct BusPlan {
  uint32_t ack_loss_per_mille = 0;
  uint32_t publish_loss_per_mille = 0;
  uint32_t delivery_loss_per_mille = 0;
  uint64_t latency_us = 0;    // one way, each region to the stream
  std::vector<Fault> faults;  // bus_partition, ordered by tick
};
struct ClusterPlan {
  uint64_t seed = 0;
  std::vector<Plan> regions;
  BusPlan bus;
};
[[nodiscard]] uint64_t region_seed(uint64_t seed, size_t region);
[[nodiscard]] ClusterPlan draw_cluster_plan(uint64_t seed, const RunShape& shape);
[[nodiscard]] std::string describe(const Fault& fault);
[[nodiscard]] const char* name(replay::WalSync sync);

}  // namespace strata::vopr
