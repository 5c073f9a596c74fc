// replay/memory_log.cpp — see memory_log.h for the crash model.
#include "replay/memory_log.h"

#include "replay/limits.h"
#include "replay/replayer.h"
#include "schema/codec.h"
#include "sim/assert.h"
#include "sim/limits.h"

namespace strata::replay {

namespace {

Status decode_record(const std::vector<uint8_t>& bytes, uint64_t tick, schema::LogStreamDecoder& decoder,
                     schema::TickRecord& out) {
  const schema::DecodeStatus decoded = decoder.tick_record(bytes, out);
  if (!decoded.ok()) return Status::error(Code::damaged, "tick record: " + decoded.error, tick);
  if (out.input.tick != tick) return Status::error(Code::damaged, "record holds the input of another tick", tick);
  return {};
}

class MemoryTickReader final : public TickReader {
 public:
  MemoryTickReader(const MemoryDisk& disk, const std::vector<std::vector<uint8_t>>& records, uint64_t start,
                   uint64_t first, uint64_t last)
      : disk_(disk), records_(records), start_(start), next_(first), last_(last) {}
  Status next(schema::TickRecord& out) override {
    if (next_ > last_) return Status::error(Code::invalid_argument, "read past the end of the range", next_);
    const uint64_t tick = next_;
    if (tick <= start_ || tick > disk_.last_written())
      return Status::error(Code::invalid_argument, "no such tick", tick);
    if (Status s = decode_record(records_[tick - start_ - 1], tick, decoder_, out); !s.ok()) return s;
    next_ += 1;
    return {};
  }

 private:
  const MemoryDisk& disk_;
  const std::vector<std::vector<uint8_t>>& records_;
  uint64_t start_;
  uint64_t next_;
  uint64_t last_;
  schema::LogStreamDecoder decoder_;
};

}  // namespace

// The replayer's view of a memory disk (reads it in place).
class MemorySource final : public LogSource {
 public:
  explicit MemorySource(const MemoryDisk& disk) : disk_(disk) {}
  const schema::LogHeader& header() const override { return disk_.header_; }
  uint64_t last_tick() const override { return disk_.last_written(); }
  std::vector<uint64_t> snapshot_ticks() const override {
    std::vector<uint64_t> ticks;
    for (const auto& [tick, bytes] : disk_.snapshots_) ticks.push_back(tick);
    return ticks;
  }
  Status read_tick(uint64_t tick, schema::TickRecord& out) override {
    if (tick <= disk_.header_.start_tick || tick > last_tick())
      return Status::error(Code::invalid_argument, "no such tick", tick);
    return decode_record(disk_.records_[tick - disk_.header_.start_tick - 1], tick, decoder_, out);
  }
  std::unique_ptr<TickReader> read_ticks(uint64_t first, uint64_t last) override {
    return std::make_unique<MemoryTickReader>(disk_, disk_.records_, disk_.header_.start_tick, first, last);
  }
  Status read_snapshot(uint64_t tick, std::vector<uint8_t>& out) override {
    auto it = disk_.snapshots_.find(tick);
    if (it == disk_.snapshots_.end()) return Status::error(Code::invalid_argument, "no snapshot at this tick", tick);
    out = it->second;
    return {};
  }
  uint64_t size_bytes() const override {
    uint64_t total = 0;
    for (const auto& r : disk_.records_) total += r.size();
    for (const auto& [tick, bytes] : disk_.snapshots_) total += bytes.size();
    return total;
  }
  std::string kind() const override { return "memory"; }

 private:
  const MemoryDisk& disk_;
  schema::LogStreamDecoder decoder_;
};

void MemoryDisk::crash(CrashKind kind) {
  generation_ += 1;
  if (kind == CrashKind::process || !created_) return;
  STRATA_ASSERT(synced_ >= header_.start_tick && synced_ <= last_written(), synced_, last_written());
  records_.resize(synced_ - header_.start_tick);
  snapshots_.erase(snapshots_.upper_bound(synced_), snapshots_.end());
}

std::unique_ptr<LogSource> MemoryDisk::source() const {
  if (!created_) return nullptr;
  return std::make_unique<MemorySource>(*this);
}

const std::vector<uint8_t>* MemoryDisk::record_bytes(uint64_t tick) const {
  if (!created_ || tick <= header_.start_tick || tick > last_written()) return nullptr;
  return &records_[tick - header_.start_tick - 1];
}

MemorySessionLog::MemorySessionLog(MemoryDisk& disk, const LogConfig& config)
    : disk_(disk), generation_(disk.generation_), config_(config) {}

MemorySessionLog::~MemorySessionLog() {
  if (!detached()) synced(last_tick_);  // a clean close: the RocksDB writer syncs what it wrote
}

std::unique_ptr<MemorySessionLog> MemorySessionLog::create(MemoryDisk& disk, const sim::World& start,
                                                           const LogConfig& config, Status& status) {
  const std::optional<schema::LogHeader> made = new_log_header(start, config, status);
  if (!made) return nullptr;
  if (disk.created_) {
    status = Status::error(Code::invalid_argument, "the memory disk already holds a log");
    return nullptr;
  }
  const schema::LogHeader& header = *made;
  // The header and the start snapshot are written and synced at once (RocksDB: one synced batch).
  disk.created_ = true;
  disk.header_ = header;
  disk.records_.clear();
  disk.snapshots_.clear();
  disk.snapshots_[start.tick] = schema::encode_snapshot(start);
  disk.synced_ = start.tick;
  auto log = std::unique_ptr<MemorySessionLog>(new MemorySessionLog(disk, config));
  log->header_ = header;
  log->last_tick_ = start.tick;
  log->durable_.store(start.tick);
  status = {};
  return log;
}

std::unique_ptr<MemorySessionLog> MemorySessionLog::open(MemoryDisk& disk, const LogConfig& config, Status& status) {
  if (!disk.created_) {
    status = Status::error(Code::not_found, "the memory disk holds no log");
    return nullptr;
  }
  auto log = std::unique_ptr<MemorySessionLog>(new MemorySessionLog(disk, config));
  log->header_ = disk.header_;
  log->config_.full_hash_every = disk.header_.full_hash_every;  // the log's periods win
  log->config_.snapshot_every = disk.header_.snapshot_every;
  log->last_tick_ = disk.last_written();
  disk.synced_ = log->last_tick_;  // what a reopened log holds is what survived
  log->durable_.store(log->last_tick_);
  status = {};
  return log;
}

bool MemorySessionLog::full_hash_due(uint64_t tick) const {
  return tick == 1 || tick % header_.full_hash_every == 0 || snapshot_due(tick);
}
bool MemorySessionLog::snapshot_due(uint64_t tick) const { return tick % header_.snapshot_every == 0; }

void MemorySessionLog::synced(uint64_t tick) {
  STRATA_ASSERT(tick <= last_tick_ && tick <= disk_.last_written(), tick, last_tick_, disk_.last_written());
  if (tick > disk_.synced_) disk_.synced_ = tick;
}

Status MemorySessionLog::append(const sim::TickInput& input, const sim::Simulation& after, bool force_snapshot) {
  if (detached()) return Status::error(Code::io, "the disk crashed under this writer", input.tick);
  if (input.tick != last_tick_ + 1 || after.tick() != input.tick) {
    return Status::error(Code::invalid_argument, "append out of order: log at " + std::to_string(last_tick_),
                         input.tick);
  }
  if (input.commands.size() > sim::limits::commands_per_tick_max) {
    return Status::error(Code::invalid_argument,
                         "tick input of " + std::to_string(input.commands.size()) + " commands, the log decodes " +
                             std::to_string(sim::limits::commands_per_tick_max),
                         input.tick);
  }
  if (borrowed_) {
    borrowed_ = false;  // as the RocksDB writer: refused once, then the same append may be retried
    return Status::error(Code::invalid_argument,
                         "append while the world of tick " + std::to_string(last_tick_) +
                             " was still borrowed (release_world() before the world changes)",
                         input.tick);
  }
  if (fail_tick_ == input.tick) {
    fail_tick_.reset();
    return fail_status_;
  }
  if (!sync_status_.ok()) return sync_status_;
  const bool snapshot = force_snapshot || snapshot_due(input.tick);
  std::optional<uint64_t> full;
  if (snapshot || full_hash_due(input.tick)) full = after.full_hash();
  schema::encode_tick_record(input, after.quick_hash(), full, scratch_);
  disk_.records_.push_back(scratch_);
  if (snapshot) disk_.snapshots_[input.tick] = schema::encode_snapshot(after.world());
  last_tick_ = input.tick;
  borrowed_ = true;
  STRATA_ASSERT(disk_.last_written() == last_tick_, disk_.last_written(), last_tick_);
  switch (config_.wal_sync) {
    case WalSync::every_tick: synced(input.tick); break;
    case WalSync::every_n_ticks:
      ticks_since_sync_ += 1;
      if (ticks_since_sync_ >= config_.sync_every_ticks) {
        ticks_since_sync_ = 0;
        synced(input.tick);
      }
      break;
    case WalSync::none: break;
    case WalSync::background: {
      const uint64_t target = input.tick > sync_lag_ ? input.tick - sync_lag_ : 0;
      if (!sync_held_ && target > durable_tick()) background_sync(target);
      if (sync_status_.ok() && durable_tick() + config_.sync_lag_ticks_max < input.tick) {
        stalls_ += 1;  // the RocksDB writer's append would wait here for the disk
        background_sync(input.tick);
      }
      if (!sync_status_.ok() && durable_tick() + config_.sync_lag_ticks_max < input.tick) return sync_status_;
      STRATA_ASSERT(durable_tick() <= last_tick_, durable_tick(), last_tick_);
      return {};
    }
  }
  STRATA_ASSERT(input.tick > durable_tick(), input.tick, durable_tick());
  durable_.store(input.tick, std::memory_order_release);  // committed: as durable as the policy promises
  return {};
}

void MemorySessionLog::background_sync(uint64_t tick) {
  if (!sync_status_.ok() || tick <= durable_tick()) return;
  if (sync_fails_) {
    sync_fails_ = false;
    sync_status_ = Status::error(Code::io, "fsync of the log failed (injected)", tick);
    return;
  }
  synced(tick);
  durable_.store(tick, std::memory_order_release);
}

void MemorySessionLog::complete_sync() {
  if (detached() || config_.wal_sync != WalSync::background) return;
  background_sync(last_tick_);
}

void MemorySessionLog::fail_append(uint64_t tick, Status status) {
  STRATA_REQUIRE(!status.ok(), tick);
  fail_tick_ = tick;
  fail_status_ = std::move(status);
}

Status MemorySessionLog::flush() {
  borrowed_ = false;
  if (detached()) return Status::error(Code::io, "the disk crashed under this writer");
  return {};
}

RecoveredMemory recover(MemoryDisk& disk, const LogConfig& config) {
  RecoveredMemory out;
  out.log = MemorySessionLog::open(disk, config, out.status);
  if (!out.log) return out;
  auto source = disk.source();
  StateAt state = state_at(*source, out.log->last_tick());
  if (!state.status.ok()) {
    out.status = state.status;
    out.log.reset();
    return out;
  }
  out.sim = std::move(state.sim);
  return out;
}

}  // namespace strata::replay
