// replay/session_log.h — the SessionLog port: what a node writes its ticks to. main() chooses the
// implementation: the RocksDB writer (replay/rocks_log.h, LogWriter) in production, the in-memory
// log (replay/memory_log.h, MemorySessionLog) in strata-vopr and the tests, whose "disk" survives
// the writer and models what a crash keeps under each fsync policy.
//
// The caller opens (or recovers) the log and rebuilds the world from it before it makes the node:
// the node is handed a log already positioned after the world's tick and never opens storage
// itself (see server/node.h).
//
// Contract, the same for every implementation:
// - append() records tick input.tick == last_tick() + 1, after `after` stepped it.
// - The world given to append() is BORROWED by the log until release_world() returns: the log may
//   still be reading it (the RocksDB writer hashes it on a thread of its own). Do not change or
//   destroy that world before calling release_world(). An append while a world is still borrowed
//   is refused (invalid_argument) and may be retried after release_world().
// - durable_tick() is the newest tick the log holds as durably as its fsync policy promises;
//   nothing derived from a later tick may leave the node. It only grows and is <= last_tick().
//   It is the one member safe to call from another thread than the appending one.
// - After a failed append the node stops (the log is the source of truth).
#pragma once

#include <cstdint>

#include "replay/status.h"
#include "schema/log_codec.h"
#include "sim/simulation.h"

namespace strata::replay {

class SessionLog {
 public:
  virtual ~SessionLog() = default;

  // The input, its quick hash, its full hash when due and a snapshot when due (always when
  // force_snapshot: the last tick of a clean stop) — one atomic write of the tick.
  [[nodiscard]] virtual Status append(const sim::TickInput& input, const sim::Simulation& after,
                                      bool force_snapshot) = 0;
  [[nodiscard]] Status append(const sim::TickInput& input, const sim::Simulation& after) {
    return append(input, after, false);
  }
  // Ends the borrow of the world given to the last append (cheap when nothing reads it any more).
  virtual void release_world() = 0;
  // Waits for the background work of the appends so far (a snapshot being written, a full hash)
  // and writes what it produced; the first error it met. Releases the borrowed world.
  [[nodiscard]] virtual Status flush() = 0;

  [[nodiscard]] virtual uint64_t last_tick() const = 0;
  [[nodiscard]] virtual uint64_t durable_tick() const = 0;  // any thread
  [[nodiscard]] virtual const schema::LogHeader& header() const = 0;
};

}  // namespace strata::replay
