// tools/vopr/simulator.h — one strata-vopr run: the real regional node (netchannel, scheduler,
// simulation, memory session log) driven by the real runtime's one-thread step(), SDK game clients
// with prediction and verification, an observer and hostile peers, all on one thread over seeded
// simulated links and a ManualClock. The Plan (drawn
// from the seed) says which faults happen when; the invariants are checked as the run goes, and a
// run stops at the first violation, naming the invariant and the tick.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/vopr/schedule.h"

namespace strata::vopr {

struct Invariant {
  std::string name;
  uint64_t checks = 0;      // how many times it was checked
  std::string what;         // what a check is
  uint64_t violations = 0;  // 0, or 1: the run stops at the first
};

struct RunResult {
  bool ok = true;
  std::string violation;   // "invariant=<name> tick=<t> <detail>"
  uint64_t ticks_run = 0;  // node ticks attempted (simulated time / tick period)
  uint64_t simulated_us = 0;
  double node_real_s = 0;  // real time inside the node's calls (receive, tick, flush): stderr only
  std::vector<Invariant> invariants;
  std::vector<std::string> stats;  // other figures of the run ("name=value"), deterministic
  std::string drops;               // the netchannel's drops by reason ("node_drops reason=count ...")
};

// Bounds the invariants are checked with.
inline constexpr uint64_t convergence_ticks_max = 300;  // 15 s at 20 Hz: a healed client has a fresh, verified view
inline constexpr uint64_t tick_us = 50'000;             // 20 Hz
inline constexpr uint64_t step_us = 10'000;             // the clients' and network's turn

// Runs the plan; writes nothing (the caller prints the plan first, then the result).
[[nodiscard]] RunResult run(const Plan& plan, const RunShape& shape);

// --regions N > 1: N regional nodes in this process and thread on one ManualClock, each a whole
// run of the above (its memory disk, clients, faults and invariants) with a RegionLink over its
// own MemoryBus connection to one shared MemoryStream (the JetStream twin), the map in N vertical
// stripes of chunks (sim::RegionMap) and no random ticks. The bus plan's faults happen on the way
// (lost publishes, acks and deliveries; a region cut from the stream for a while; the regions'
// own crashes, after which the region's link is recreated, republishes its recovered ticks and
// resumes from its world's applied sequences). After every heal of a partition, and at the end, a
// quiet phase: the clients stop building and the regions tick until every link is drained (nothing
// held, every peer's batches applied, every peer's health at our vector and agreeing).
// Invariants: no desync was ever reported, each quiet phase drained within a bound, then all map
// hashes are one; at the end each region's log replays offline with the run's hashes.
struct ClusterResult {
  bool ok = true;
  std::string violation;  // "invariant=<name> tick=<t> <detail>", or "region<R> <its violation>"
  uint64_t ticks_run = 0;
  uint64_t simulated_us = 0;
  double node_real_s = 0;
  std::vector<Invariant> invariants;  // the cluster's
  std::vector<std::string> stats;     // the bus's figures ("name=value"), deterministic
  std::vector<RunResult> regions;
};
[[nodiscard]] ClusterResult run_cluster(const ClusterPlan& plan, const RunShape& shape);

}  // namespace strata::vopr
