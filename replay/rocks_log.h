// replay/rocks_log.h — the session log in RocksDB: the writer the server (and tests) append to,
// and the read-only LogSource over the same directory.
//
// Layout: column family "meta" holds key "header" (the LogHeader); "ticks" holds one TickRecord
// per tick; "snapshots" one snapshot per snapshot tick. Tick keys are 8-byte big-endian so RocksDB's
// byte order is tick order. Every value is u64 XXH3-64 (little-endian) of the payload, then the
// payload (schema/log_codec.h or schema::encode_snapshot). One WriteBatch per tick (record and,
// when due, its snapshot): RocksDB's WAL is checksummed and recovered to a point in time, so a log
// written by a killed process reopens as a clean prefix; the XXH3 catches what the WAL cannot
// (damage of the files at rest).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replay/log_source.h"
#include "replay/session_log.h"
#include "sim/simulation.h"

namespace strata::replay {

enum class WalSync : uint8_t {
  none,           // WAL written each tick (survives a process kill), fsynced when the OS decides
  every_tick,     // fsync each tick: survives power loss, costs a disk flush per tick
  every_n_ticks,  // fsync every sync_every_ticks ticks
  // A log thread fsyncs the WAL after each commit (group commit: one fsync covers every tick
  // written while the previous one ran): survives power loss like every_tick, without putting the
  // disk's flush latency on the appending (sim) thread. durable_tick() says how far the disk has
  // it; the caller holds back whatever it derives from a tick until then.
  background,
};

struct LogConfig {
  uint32_t full_hash_every = 100;  // N: full hash on tick 1, every N ticks and at every snapshot
  uint32_t snapshot_every = 1000;  // K: snapshot every K ticks (seek points)
  WalSync wal_sync = WalSync::none;
  uint32_t sync_every_ticks = 20;  // for WalSync::every_n_ticks
  // WalSync::background: an append waits while the disk lags this many ticks behind (a stuck disk
  // slows the ticks instead of growing what the caller holds back without bound).
  uint32_t sync_lag_ticks_max = 40;
  // Test seam: runs on the log thread before each fsync of WalSync::background (a test holds it
  // to see what a node does while the disk lags).
  std::function<void()> before_sync;
  // Periodic snapshots are encoded and written by a background thread from a copy of the world,
  // so append() costs a copy (~ms) instead of the encode and write (hundreds of ms for a 35 MB
  // world) at each snapshot tick. The tick record (with its full hash) is still committed by
  // append(); the snapshot and its index follow in one batch of their own. After a crash the last
  // snapshot may be missing: recovery starts from the one before. A forced snapshot (a clean stop)
  // is always written before append() returns, after any pending one.
  bool background_snapshots = false;
  // The full hash of a tick that is due one but is no snapshot tick is computed by a background
  // thread from the live world (a full hash reads the whole map: ~2 ms idle, 6-7 ms on a busy
  // 2-core box, 1% of the ticks at N = 100, which was the tick's p99). append() commits the tick's
  // record at once without it; the caller must call release_world() before it changes or destroys
  // that world (before its next step), and the record is rewritten with its full hash in the next
  // append's batch (or by flush() / the destructor). An append while a hash is unsettled
  // is refused and that hash dropped (the world may have moved under it); the same append may then
  // be retried. After a crash the last such record may
  // lack its full hash (a full hash is a check: replay verifies the hashes a record holds).
  bool background_full_hash = false;
};
[[nodiscard]] inline LogConfig default_config() { return LogConfig{}; }
// The header of a new log starting from `start` under `config` (every SessionLog's create): nullopt
// and `status` when the periods are out of range.
[[nodiscard]] std::optional<schema::LogHeader> new_log_header(const sim::World& start, const LogConfig& config,
                                                              Status& status);

// The SessionLog (session_log.h) of production. Its threads: a log thread fsyncs for
// WalSync::background, a snapshot thread encodes background snapshots and a hash thread computes
// background full hashes, each started by the first append that needs it; the destructor (a clean
// close) joins them after they wrote what they had.
class LogWriter final : public SessionLog {
 public:
  // A new log in `dir` (which must not exist yet) starting from `start`, whose snapshot it writes.
  [[nodiscard]] static std::unique_ptr<LogWriter> create(const std::string& dir, const sim::World& start,
                                                         const LogConfig& config, Status& status);
  // A new log with an explicit header and start snapshot bytes (import).
  [[nodiscard]] static std::unique_ptr<LogWriter> create_raw(const std::string& dir, const schema::LogHeader& header,
                                                             const std::vector<uint8_t>& start_snapshot,
                                                             const LogConfig& config, Status& status);
  // Reopens an existing log to append after its last tick (after a crash: after its clean prefix).
  [[nodiscard]] static std::unique_ptr<LogWriter> open(const std::string& dir, const LogConfig& config, Status& status);
  ~LogWriter() override;
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Records tick input.tick (== last_tick() + 1) after `after` stepped it: the input, the quick
  // hash, the full hash when due, and a snapshot when due — one group commit. force_snapshot
  // writes a snapshot (and the full hash) whatever the period: a server's last tick on a clean stop.
  [[nodiscard]] Status append(const sim::TickInput& input, const sim::Simulation& after, bool force_snapshot) override;
  using SessionLog::append;
  // Records a ready-made record (and snapshot bytes for its tick, if any) — import.
  [[nodiscard]] Status append_record(const schema::TickRecord& record, const std::vector<uint8_t>* snapshot);

  [[nodiscard]] uint64_t last_tick() const override;
  // The newest tick whose record is as durable as wal_sync promises: with `background`, the newest
  // one the log thread has fsynced; with the other policies, the last one appended (committed to
  // the WAL before append() returned). Safe from any thread: a node's network side reads it to hold
  // back what it would send about later ticks.
  [[nodiscard]] uint64_t durable_tick() const override;
  [[nodiscard]] const schema::LogHeader& header() const override;
  [[nodiscard]] bool full_hash_due(uint64_t tick) const;
  [[nodiscard]] bool snapshot_due(uint64_t tick) const;
  // Waits for a pending background snapshot; its write's status (ok when none failed). Settles
  // and writes a pending background full hash too.
  [[nodiscard]] Status flush() override;
  // Waits for the background full hash of the last append, if one is running: afterwards the world
  // that append was given may change. Cheap when none is (and a no-op without background_full_hash).
  void release_world() override;
  // Full hashes computed in the background (settled), for figures and tests.
  [[nodiscard]] uint64_t background_full_hashes() const;

 private:
  struct Impl;
  explicit LogWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Read-only view of a RocksDB log directory (safe while no writer has it open, e.g. after a crash).
[[nodiscard]] std::unique_ptr<LogSource> open_rocks_log(const std::string& dir, Status& status);

}  // namespace strata::replay
