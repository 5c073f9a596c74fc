// replay/replayer.h — re-applies a log's inputs and checks every recorded hash, stopping at the
// first mismatch with the tick and which hash. Modes:
//   verify     start from the nearest snapshot at or before `from_tick` (or tick 0: the world is
//              regenerated from the header's params and must equal the start snapshot), step,
//              compare the quick hash every tick and the full hash where recorded;
//   sync_test  additionally, every tick, roll back M ticks and re-simulate them, comparing hashes:
//              catches nondeterminism inside one build (uninitialised reads, address-dependent order);
//   save_load  every tick, snapshot, restore and continue from the restored world: catches state that
//              is stepped but not saved (the derived indexes must be rebuilt from saved state alone).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "replay/log_source.h"
#include "sim/simulation.h"

namespace strata::replay {

enum class ReplayMode : uint8_t { verify, sync_test, save_load };

struct ReplayOptions {
  uint64_t from_tick = 0;                                   // start at the nearest snapshot at or before this tick
  uint64_t to_tick = std::numeric_limits<uint64_t>::max();  // last tick to replay (clamped to the log)
  ReplayMode mode = ReplayMode::verify;
  uint32_t rollback_ticks = 4;  // M, for sync_test (1..limits::rollback_ticks_max)
  // Read and decode the next ticks on a second thread while this one steps (a bounded queue of
  // limits::prefetch_ticks records). verify_parallel's workers never prefetch: they use the cores.
  bool prefetch = true;
  // Called after each verified tick (optional): the hash stream, progress bars.
  std::function<void(uint64_t tick, uint64_t quick_hash, std::optional<uint64_t> full_hash)> on_tick;
  // Test hook modelling nondeterminism: called with a copy of the world after each step; when it
  // returns true the replay continues from the changed world. `resimulation` is true when the step
  // is a sync-test re-simulation.
  std::function<bool(sim::World& world, bool resimulation)> fault;
};

struct ReplayResult {
  Status status;            // ok, hash_mismatch (status.tick set), damaged...
  uint64_t start_tick = 0;  // the snapshot replay started from
  uint64_t last_tick = 0;   // last tick replayed and verified
  uint64_t ticks_replayed = 0;
  std::string which;  // on mismatch: "quick hash", "full hash", "sync-test re-simulation", ...
  uint64_t expected = 0;
  uint64_t actual = 0;
};

[[nodiscard]] ReplayResult replay(LogSource& log, const ReplayOptions& options);

// verify mode over `jobs` threads: the log is cut at `jobs` - 1 of its snapshots (those nearest to
// equal shares of the ticks: every further cut would cost one more snapshot restore) and the
// segments are replayed concurrently, each from its snapshot (checked against the full hash its
// tick recorded, which the previous segment's replay also reached), so the whole chain is verified
// as by replay(). Each worker reads its ticks through its own TickReader. The first failing segment
// (in tick order) is reported. on_tick is called under a lock, out of order. Other modes, or
// jobs <= 1, fall back to replay().
[[nodiscard]] ReplayResult verify_parallel(LogSource& log, const ReplayOptions& options, uint32_t jobs);

// The simulation at `tick` (from the nearest snapshot at or before it; with `verify`, checking the
// recorded hashes on the way). status is set when it cannot be rebuilt.
struct StateAt {
  Status status;
  std::optional<sim::Simulation> sim;
};
[[nodiscard]] StateAt state_at(LogSource& log, uint64_t tick, bool verify = true);

// Decodes the snapshot at `tick` into a simulation.
[[nodiscard]] StateAt load_snapshot(LogSource& log, uint64_t tick);

// Crash recovery (DESIGN.md): reopen a log for appending after its clean prefix and rebuild the
// world at its last tick (nearest snapshot + the log tail, every recorded hash checked), so the
// caller can keep ticking. On failure `status` says why and both members are empty.
struct Recovered {
  Status status;
  std::unique_ptr<class LogWriter> writer;
  std::optional<sim::Simulation> sim;
};
[[nodiscard]] Recovered recover(const std::string& dir, const struct LogConfig& config);

}  // namespace strata::replay
