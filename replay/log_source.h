// replay/log_source.h — read access to one session log, wherever it lives (a RocksDB directory or
// an export file). The replayer, the CLIs and the desync finder only see this interface.
//
// A log is: a header; tick records for ticks start_tick+1 .. last_tick, contiguous; snapshots at
// start_tick and at some later ticks. Readers never trust the bytes: every read verifies the
// record's checksum and decodes it through schema/, and returns a Status saying what and where.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "replay/status.h"
#include "schema/log_codec.h"

namespace strata::replay {

// Reads the tick records of one range in order. Independent of the other readers of the same
// LogSource: each may be used on its own thread (the LogSource's own read_* calls may not run
// concurrently with each other, but may with readers).
class TickReader {
 public:
  virtual ~TickReader() = default;
  // The next record of the range; an error (tick set) when it is missing or damaged, and
  // invalid_argument past the end of the range.
  [[nodiscard]] virtual Status next(schema::TickRecord& out) = 0;
};

class LogSource {
 public:
  virtual ~LogSource() = default;
  [[nodiscard]] virtual const schema::LogHeader& header() const = 0;
  // Last recorded tick (header().start_tick when there is no record).
  [[nodiscard]] virtual uint64_t last_tick() const = 0;
  // Ticks holding a snapshot, ascending (always includes the start tick).
  [[nodiscard]] virtual std::vector<uint64_t> snapshot_ticks() const = 0;
  [[nodiscard]] virtual Status read_tick(uint64_t tick, schema::TickRecord& out) = 0;
  // A sequential reader of ticks first..last (within start_tick+1 .. last_tick()): cheaper than
  // read_tick per tick (no per-tick seek) and safe to use on another thread.
  [[nodiscard]] virtual std::unique_ptr<TickReader> read_ticks(uint64_t first, uint64_t last) = 0;
  // The snapshot's bytes (schema::encode_snapshot), checksum verified, not yet decoded.
  [[nodiscard]] virtual Status read_snapshot(uint64_t tick, std::vector<uint8_t>& out) = 0;
  // Bytes on disk.
  [[nodiscard]] virtual uint64_t size_bytes() const = 0;
  [[nodiscard]] virtual std::string kind() const = 0;  // "rocksdb" or "export file"
};

// Opens a log at `path`: a directory is a RocksDB log (opened read-only), a file an export file
// (read and checked completely). Returns nullptr and sets `status` when it cannot.
[[nodiscard]] std::unique_ptr<LogSource> open_log(const std::string& path, Status& status);

// The nearest snapshot tick at or before `tick` (the start tick at least).
[[nodiscard]] uint64_t snapshot_at_or_before(const LogSource& log, uint64_t tick);

}  // namespace strata::replay
