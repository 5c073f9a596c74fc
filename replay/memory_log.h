// replay/memory_log.h — the in-memory SessionLog (session_log.h) for strata-vopr and the tests: the
// same records as the RocksDB writer (rocks_log.h), the same durable_tick() under each fsync
// policy, and a "disk" (MemoryDisk) that outlives the writer, so a test can crash a node and
// recover it from what the crash kept. No threads, no clocks, no randomness: when a background
// fsync completes, when an append fails, when a crash happens is what the caller says.
//
// How a crash is modelled. Every append "writes" its tick at once (record and, when due, snapshot:
// one atomic write, as RocksDB's WriteBatch). A tick is "synced" when an fsync covered it:
//   every_tick      each append syncs its tick;
//   every_n_ticks   the append that completes sync_every_ticks ticks syncs all written so far;
//   background      a sync completes when the caller's schedule says (set_sync_lag(), hold_sync(),
//                   complete_sync()); durable_tick() is the newest synced tick;
//   none            never, except where the OS is told to write back: MemoryDisk::os_flush() (the
//                   caller's explicit points; nothing after the last one survives a machine crash).
// The log's creation (header and start snapshot) and a clean close (the writer destroyed while its
// disk did not crash) sync everything, as the RocksDB writer does. MemoryDisk::crash(kind):
//   process   the process dies, the OS lives: everything written survives (RocksDB's WAL is in the
//             page cache), so recovery returns to the last appended tick;
//   machine   power loss: only synced ticks survive; recovery returns to the last synced tick.
// Under `none` and `every_n_ticks`, durable_tick() is the last appended tick, as for RocksDB: those
// policies promise survival of a process crash, and a machine crash may lose ticks <= durable_tick()
// (the policy's risk, which a test can show). Under every_tick and background, a machine crash never
// loses a tick <= durable_tick().
//
// Differences from the RocksDB writer that a caller cannot observe through the port: full hashes
// and snapshots are computed inside append() (no background work; release_world() only ends the
// borrow), so a record never lacks its full hash after a crash and a snapshot is never missing.
// Borrow rule: stricter than RocksDB's, every append borrows the world until release_world(), so a
// caller that forgets it is refused on the very next append rather than only on full-hash ticks.
//
// Usage (a node over memory, crashed and recovered):
//   replay::MemoryDisk disk;
//   auto log = replay::MemorySessionLog::create(disk, sim.world(), config, status);   // new log
//   ... node appends ...;  disk.crash(replay::CrashKind::machine);  node.reset();
//   replay::RecoveredMemory r = replay::recover(disk, config);  // r.log, r.sim at the last synced tick
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "replay/log_source.h"
#include "replay/rocks_log.h"
#include "replay/session_log.h"

namespace strata::replay {

enum class CrashKind : uint8_t {
  process,  // the process is killed; what it wrote to the OS survives
  machine,  // the machine loses power; only what was fsynced survives
};

// The storage of one in-memory log. Outlives its writers; one writer at a time. Not thread-safe
// (a simulation drives it from one thread); a LogSource from source() reads it in place.
class MemoryDisk {
 public:
  MemoryDisk() = default;
  MemoryDisk(const MemoryDisk&) = delete;
  MemoryDisk& operator=(const MemoryDisk&) = delete;

  [[nodiscard]] bool has_log() const { return created_; }
  // Keeps what a crash of `kind` keeps and detaches the writer (its later appends fail with io, its
  // destructor writes nothing): call it before destroying the node that crashed.
  void crash(CrashKind kind);
  // The OS writes back everything written so far (a machine crash then keeps it): for `none`.
  void os_flush() { synced_ = last_written(); }

  // Newest tick written (the start tick when none), and newest synced.
  [[nodiscard]] uint64_t last_written() const { return header_.start_tick + records_.size(); }
  [[nodiscard]] uint64_t last_synced() const { return synced_; }
  [[nodiscard]] uint64_t crashes() const { return generation_; }

  // A read-only view for the replayer (replay(), state_at(), recover()): valid while the disk lives.
  [[nodiscard]] std::unique_ptr<LogSource> source() const;
  // The encoded TickRecord of `tick` as written (schema::encode_tick_record), for comparisons.
  [[nodiscard]] const std::vector<uint8_t>* record_bytes(uint64_t tick) const;

 private:
  friend class MemorySessionLog;
  friend class MemorySource;
  bool created_ = false;
  schema::LogHeader header_;
  std::vector<std::vector<uint8_t>> records_;  // tick start_tick + 1 + i
  std::map<uint64_t, std::vector<uint8_t>> snapshots_;
  uint64_t synced_ = 0;      // ticks <= synced_ survive a machine crash
  uint64_t generation_ = 0;  // crashes so far: a writer of an older generation is detached
};

class MemorySessionLog final : public SessionLog {
 public:
  // A new log on `disk` (which must hold none) starting from `start`, whose snapshot it writes.
  [[nodiscard]] static std::unique_ptr<MemorySessionLog> create(MemoryDisk& disk, const sim::World& start,
                                                                const LogConfig& config, Status& status);
  // Reopens the log on `disk` to append after its last tick (everything on it is then synced, as
  // a reopened RocksDB log holds what it recovered). not_found when the disk holds no log.
  [[nodiscard]] static std::unique_ptr<MemorySessionLog> open(MemoryDisk& disk, const LogConfig& config,
                                                              Status& status);
  // A clean close: syncs what was written (unless the disk crashed meanwhile).
  ~MemorySessionLog() override;
  MemorySessionLog(const MemorySessionLog&) = delete;
  MemorySessionLog& operator=(const MemorySessionLog&) = delete;

  [[nodiscard]] Status append(const sim::TickInput& input, const sim::Simulation& after, bool force_snapshot) override;
  using SessionLog::append;
  void release_world() override { borrowed_ = false; }
  [[nodiscard]] Status flush() override;
  [[nodiscard]] uint64_t last_tick() const override { return last_tick_; }
  [[nodiscard]] uint64_t durable_tick() const override { return durable_.load(std::memory_order_acquire); }
  [[nodiscard]] const schema::LogHeader& header() const override { return header_; }

  // Fault injection and the background fsync's schedule (WalSync::background), driven by the caller.
  // The sync of tick T completes when the append of T + lag has been written (0: within T's own
  // append, the default: a disk as fast as the ticks).
  void set_sync_lag(uint64_t lag_appends) { sync_lag_ = lag_appends; }
  // While held, no background sync completes (a stuck disk) — unless the lag reaches
  // LogConfig::sync_lag_ticks_max, where the RocksDB writer's append would wait for the disk: the
  // sync then completes inside the append and stalls() counts it (simulated time stood still).
  void hold_sync(bool held) { sync_held_ = held; }
  // Completes the background sync of everything written so far (whatever the lag or hold).
  void complete_sync();
  // The append of `tick` fails with `status` (nothing written): a failing store.
  void fail_append(uint64_t tick, Status status);
  // The next background sync fails: every append from then on fails with io (as RocksDB's writer
  // after a failed fsync); durable_tick() stays where it was.
  void fail_next_sync() { sync_fails_ = true; }
  [[nodiscard]] uint64_t stalls() const { return stalls_; }

 private:
  MemorySessionLog(MemoryDisk& disk, const LogConfig& config);
  [[nodiscard]] bool detached() const { return generation_ != disk_.generation_; }
  [[nodiscard]] bool full_hash_due(uint64_t tick) const;
  [[nodiscard]] bool snapshot_due(uint64_t tick) const;
  void synced(uint64_t tick);           // an fsync covered everything up to `tick`
  void background_sync(uint64_t tick);  // after the append of `tick` (WalSync::background)

  MemoryDisk& disk_;
  uint64_t generation_;
  LogConfig config_;
  schema::LogHeader header_;
  uint64_t last_tick_ = 0;
  std::atomic<uint64_t> durable_{0};
  uint64_t ticks_since_sync_ = 0;
  bool borrowed_ = false;
  uint64_t sync_lag_ = 0;
  bool sync_held_ = false;
  bool sync_fails_ = false;
  Status sync_status_;
  std::optional<uint64_t> fail_tick_;
  Status fail_status_;
  uint64_t stalls_ = 0;
  std::vector<uint8_t> scratch_;
};

// Crash recovery over a memory disk, as recover(dir, config) over RocksDB (replayer.h): reopens the
// log after what the crash kept and rebuilds the world at its last tick (nearest snapshot + the
// tail, every recorded hash checked). On failure `status` says why and both members are empty.
struct RecoveredMemory {
  Status status;
  std::unique_ptr<MemorySessionLog> log;
  std::optional<sim::Simulation> sim;
};
[[nodiscard]] RecoveredMemory recover(MemoryDisk& disk, const LogConfig& config);

}  // namespace strata::replay
