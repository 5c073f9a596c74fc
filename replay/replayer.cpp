// replay/replayer.cpp — see replayer.h.
#include "replay/replayer.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "replay/limits.h"
#include "replay/rocks_log.h"
#include "schema/codec.h"

namespace strata::replay {
namespace {

Status mismatch(ReplayResult& result, uint64_t tick, std::string which, uint64_t expected, uint64_t actual) {
  result.which = std::move(which);
  result.expected = expected;
  result.actual = actual;
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), ": recorded %016llx, replayed %016llx",
                static_cast<unsigned long long>(expected), static_cast<unsigned long long>(actual));
  return Status::error(Code::hash_mismatch, result.which + buffer, tick);
}

// Applies the fault hook, if any, to a freshly stepped simulation.
void apply_fault(const ReplayOptions& options, std::optional<sim::Simulation>& sim, bool resimulation) {
  if (!options.fault) return;
  sim::World world = sim->world();
  if (!options.fault(world, resimulation)) return;
  auto changed = sim::Simulation::from_world(std::move(world));
  if (changed) sim = std::move(changed);
}

// Sync-test: the last M+1 states and inputs, to roll back to and re-simulate.
struct History {
  std::deque<sim::World> worlds;  // worlds[i] is the state before inputs[i]
  std::deque<sim::TickInput> inputs;
};

Status resimulate(const History& history, const std::vector<uint64_t>& recorded_quick, const sim::Simulation& live,
                  const ReplayOptions& options, ReplayResult& result) {
  auto sim = sim::Simulation::from_world(history.worlds.front());
  if (!sim) return Status::error(Code::damaged, "sync-test: cannot restore a rolled-back world");
  for (size_t i = 0; i < history.inputs.size(); ++i) {
    sim->step(history.inputs[i]);
    apply_fault(options, sim, true);
    const uint64_t quick = sim->quick_hash();
    const uint64_t expected = recorded_quick[recorded_quick.size() - history.inputs.size() + i];
    if (quick != expected) {
      return mismatch(result, history.inputs[i].tick, "quick hash on sync-test re-simulation", expected, quick);
    }
  }
  if (sim->full_hash() != live.full_hash()) {
    return mismatch(result, live.tick(), "full hash on sync-test re-simulation", live.full_hash(), sim->full_hash());
  }
  return {};
}

// A snapshot after the start tick must hold the state its tick's record hashed.
Status check_snapshot_against_record(LogSource& log, uint64_t tick, const sim::Simulation& sim) {
  if (tick <= log.header().start_tick) return {};
  schema::TickRecord record;
  if (Status s = log.read_tick(tick, record); !s.ok()) return s;
  if (record.full_hash && *record.full_hash != sim.full_hash()) {
    return Status::error(Code::hash_mismatch, "snapshot differs from the full hash recorded for its tick", tick);
  }
  return {};
}

// Runs a TickReader on its own thread, up to limits::prefetch_ticks records ahead of the caller.
// Records are swapped in and out of a fixed ring, so their command vectors are reused, not
// reallocated. A read error is handed over in its place in the sequence (records before it first).
class PrefetchReader final : public TickReader {
 public:
  PrefetchReader(std::unique_ptr<TickReader> inner, uint64_t count)
      : inner_(std::move(inner)), count_(count), ring_(limits::prefetch_ticks) {
    thread_ = std::thread([this] { produce(); });
  }
  ~PrefetchReader() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    space_.notify_all();
    thread_.join();
  }
  PrefetchReader(const PrefetchReader&) = delete;
  PrefetchReader& operator=(const PrefetchReader&) = delete;

  Status next(schema::TickRecord& out) override {
    std::unique_lock lock(mutex_);
    if (taken_ >= count_) return Status::error(Code::invalid_argument, "read past the end of the range");
    if (taken_ == filled_ && !failed_) {
      consumer_waiting_ = true;
      ready_.wait(lock, [&] { return taken_ < filled_ || failed_; });
      consumer_waiting_ = false;
    }
    if (taken_ == filled_) return error_;  // failed_, and every record before the error was taken
    std::swap(out, ring_[taken_ % ring_.size()]);
    taken_ += 1;
    // The producer, once the ring was full, sleeps until half of it is free: one wake-up per half
    // ring rather than one per record (each a futex round trip, and worse on a busy machine).
    const bool wake = producer_waiting_ && filled_ - taken_ <= ring_.size() / 2;
    lock.unlock();
    if (wake) space_.notify_one();
    return {};
  }

 private:
  void produce() {
    schema::TickRecord record;
    for (uint64_t i = 0; i < count_; ++i) {
      Status status = inner_->next(record);
      std::unique_lock lock(mutex_);
      if (!stop_ && filled_ - taken_ == ring_.size()) {
        producer_waiting_ = true;
        space_.wait(lock, [&] { return stop_ || filled_ - taken_ <= ring_.size() / 2; });
        producer_waiting_ = false;
      }
      if (stop_) return;
      if (!status.ok()) {
        error_ = std::move(status);
        failed_ = true;
      } else {
        std::swap(ring_[filled_ % ring_.size()], record);
        filled_ += 1;
      }
      const bool wake = consumer_waiting_;
      const bool done = failed_;
      lock.unlock();
      if (wake) ready_.notify_one();
      if (done) return;
    }
  }

  std::unique_ptr<TickReader> inner_;
  const uint64_t count_;
  std::vector<schema::TickRecord> ring_;
  std::mutex mutex_;
  std::condition_variable ready_;  // a record (or the error) is there
  std::condition_variable space_;  // a slot is free, or stop
  uint64_t filled_ = 0;            // records put in the ring (guarded by mutex_)
  uint64_t taken_ = 0;             // records taken out
  bool failed_ = false;
  bool stop_ = false;
  bool producer_waiting_ = false;  // for space
  bool consumer_waiting_ = false;  // for a record
  Status error_;
  std::thread thread_;  // last: started once everything above is constructed
};

// A reader of ticks first..last (first <= last), prefetching on a second thread when asked and
// worth a thread.
std::unique_ptr<TickReader> open_reader(LogSource& log, uint64_t first, uint64_t last, bool prefetch) {
  auto reader = log.read_ticks(first, last);
  const uint64_t count = last - first + 1;
  if (prefetch && count > limits::prefetch_ticks) return std::make_unique<PrefetchReader>(std::move(reader), count);
  return reader;
}

}  // namespace

namespace {

Code snapshot_error_code(schema::DecodeError error) {
  return error == schema::DecodeError::rules_version   ? Code::rules_version
         : error == schema::DecodeError::hash_mismatch ? Code::hash_mismatch
                                                       : Code::damaged;
}

// The full hash of the snapshot at `tick` from its state bytes, checked against the hash it
// records, its tick and the log's params, without decoding the world (schema::decode_snapshot_digest).
Status digest_snapshot(LogSource& log, uint64_t tick, uint64_t& state_hash) {
  std::vector<uint8_t> bytes;
  if (Status s = log.read_snapshot(tick, bytes); !s.ok()) return s;
  const auto digest = schema::decode_snapshot_digest(bytes);
  if (!digest.ok()) return Status::error(snapshot_error_code(digest.code), "snapshot: " + digest.error, tick);
  if (digest.value->header.tick != tick) return Status::error(Code::damaged, "snapshot of another tick", tick);
  if (!(digest.value->header.params == log.header().params)) {
    return Status::error(Code::damaged, "snapshot world parameters differ from the log's", tick);
  }
  state_hash = digest.value->state_hash;
  return {};
}

}  // namespace

StateAt load_snapshot(LogSource& log, uint64_t tick) {
  StateAt out;
  std::vector<uint8_t> bytes;
  if (out.status = log.read_snapshot(tick, bytes); !out.status.ok()) return out;
  auto decoded = schema::decode_snapshot(bytes);
  if (!decoded.ok()) {
    out.status = Status::error(snapshot_error_code(decoded.code), "snapshot: " + decoded.error, tick);
    return out;
  }
  std::string error;
  out.sim = sim::Simulation::from_world(std::move(*decoded.value), &error);
  if (!out.sim) out.status = Status::error(Code::damaged, "snapshot refused by the simulation: " + error, tick);
  return out;
}

ReplayResult replay(LogSource& log, const ReplayOptions& options) {
  ReplayResult result;
  const schema::LogHeader& header = log.header();
  const uint64_t start = snapshot_at_or_before(log, options.from_tick);
  const uint64_t end = std::min(options.to_tick, log.last_tick());
  result.start_tick = start;
  result.last_tick = start;
  if (options.mode == ReplayMode::sync_test &&
      (options.rollback_ticks == 0 || options.rollback_ticks > limits::rollback_ticks_max)) {
    result.status = Status::error(Code::invalid_argument, "rollback ticks out of range");
    return result;
  }
  std::optional<sim::Simulation> sim;
  if (start == 0 && header.start_tick == 0) {
    // Tick 0: world generation is part of what a build must reproduce, and the generated world
    // must equal the start snapshot. Their full hashes are compared (as a restored snapshot's is
    // with its record): the snapshot's from its state bytes, so it is checked but never decoded
    // into a second 9 MB world, while the generation runs on a second thread.
    uint64_t generated_hash = 0;
    std::thread generator([&] {
      sim.emplace(header.params);
      generated_hash = sim->full_hash();
    });
    uint64_t snapshot_hash = 0;
    result.status = digest_snapshot(log, start, snapshot_hash);
    generator.join();
    if (!result.status.ok()) return result;
    if (generated_hash != snapshot_hash) {
      result.status = mismatch(result, 0, "full hash of the generated world", snapshot_hash, generated_hash);
      return result;
    }
  } else {
    StateAt state = load_snapshot(log, start);
    if (!state.status.ok()) {
      result.status = state.status;
      return result;
    }
    sim = std::move(state.sim);
    if (result.status = check_snapshot_against_record(log, start, *sim); !result.status.ok()) {
      result.which = "full hash of the snapshot";
      return result;
    }
  }
  History history;
  std::vector<uint64_t> recorded_quick;
  schema::TickRecord record;
  std::unique_ptr<TickReader> reader;
  if (end > start) reader = open_reader(log, start + 1, end, options.prefetch);
  for (uint64_t t = start + 1; t <= end; ++t) {
    if (result.status = reader->next(record); !result.status.ok()) return result;
    if (options.mode == ReplayMode::sync_test) {
      history.worlds.push_back(sim->world());
      history.inputs.push_back(record.input);
      recorded_quick.push_back(record.quick_hash);
      if (history.inputs.size() > options.rollback_ticks) {
        history.worlds.pop_front();
        history.inputs.pop_front();
      }
    }
    sim->step(record.input);
    apply_fault(options, sim, false);
    const uint64_t quick = sim->quick_hash();
    if (quick != record.quick_hash) {
      result.status = mismatch(result, t, "quick hash", record.quick_hash, quick);
      return result;
    }
    if (record.full_hash && sim->full_hash() != *record.full_hash) {
      result.status = mismatch(result, t, "full hash", *record.full_hash, sim->full_hash());
      return result;
    }
    if (options.mode == ReplayMode::sync_test) {
      if (result.status = resimulate(history, recorded_quick, *sim, options, result); !result.status.ok())
        return result;
      if (recorded_quick.size() > size_t{2} * limits::rollback_ticks_max) {
        recorded_quick.erase(recorded_quick.begin(), recorded_quick.end() - limits::rollback_ticks_max);
      }
    } else if (options.mode == ReplayMode::save_load) {
      auto decoded = schema::decode_snapshot(schema::encode_snapshot(sim->world()));
      if (!decoded.ok()) {
        result.status = Status::error(Code::hash_mismatch, "save/load: saved world does not load: " + decoded.error, t);
        result.which = "save/load";
        return result;
      }
      auto restored = sim::Simulation::from_world(std::move(*decoded.value));
      if (!restored) {
        result.status = Status::error(Code::hash_mismatch, "save/load: saved world refused by the simulation", t);
        return result;
      }
      sim = std::move(restored);
    }
    result.last_tick = t;
    result.ticks_replayed += 1;
    if (options.on_tick) options.on_tick(t, quick, record.full_hash);
  }
  return result;
}

namespace {

// Serialises access to a LogSource shared by verify_parallel's workers.
class LockedLog final : public LogSource {
 public:
  explicit LockedLog(LogSource& log) : log_(log) {}
  const schema::LogHeader& header() const override { return log_.header(); }
  uint64_t last_tick() const override { return log_.last_tick(); }
  std::vector<uint64_t> snapshot_ticks() const override { return log_.snapshot_ticks(); }
  Status read_tick(uint64_t tick, schema::TickRecord& out) override {
    std::lock_guard lock(mutex_);
    return log_.read_tick(tick, out);
  }
  // Readers are independent of each other and of the source's own reads: no lock.
  std::unique_ptr<TickReader> read_ticks(uint64_t first, uint64_t last) override {
    std::lock_guard lock(mutex_);  // creating one may touch the source's state
    return log_.read_ticks(first, last);
  }
  Status read_snapshot(uint64_t tick, std::vector<uint8_t>& out) override {
    std::lock_guard lock(mutex_);
    return log_.read_snapshot(tick, out);
  }
  uint64_t size_bytes() const override { return log_.size_bytes(); }
  std::string kind() const override { return log_.kind(); }

 private:
  LogSource& log_;
  std::mutex mutex_;
};

}  // namespace

namespace {

// start, then for each share j/jobs of start..end the snapshot tick nearest to it (ascending, each
// used once), then end. Fewer points when the log has fewer snapshots.
std::vector<uint64_t> cut_points(const std::vector<uint64_t>& snapshots, uint64_t start, uint64_t end, uint32_t jobs) {
  std::vector<uint64_t> bounds{start};
  if (end <= start) return bounds;
  for (uint32_t j = 1; j < jobs; ++j) {
    const uint64_t target = start + (end - start) * j / jobs;
    std::optional<uint64_t> best;
    for (uint64_t t : snapshots) {
      if (t <= bounds.back() || t >= end) continue;
      const uint64_t distance = t > target ? t - target : target - t;
      if (!best || distance < (*best > target ? *best - target : target - *best)) best = t;
    }
    if (best) bounds.push_back(*best);
  }
  bounds.push_back(end);
  return bounds;
}

}  // namespace

ReplayResult verify_parallel(LogSource& log, const ReplayOptions& options, uint32_t jobs) {
  if (jobs <= 1 || options.mode != ReplayMode::verify || options.fault) return replay(log, options);
  const uint64_t start = snapshot_at_or_before(log, options.from_tick);
  const uint64_t end = std::min(options.to_tick, log.last_tick());
  std::vector<uint64_t> bounds = cut_points(log.snapshot_ticks(), start, end, jobs);
  if (bounds.size() < 3) return replay(log, options);
  const size_t segments = bounds.size() - 1;
  LockedLog locked(log);
  std::mutex callback_mutex;
  std::vector<ReplayResult> results(segments);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < segments; i = next++) {
      ReplayOptions segment = options;
      segment.from_tick = bounds[i];
      segment.to_tick = bounds[i + 1];
      segment.prefetch = false;
      if (options.on_tick) {
        segment.on_tick = [&](uint64_t tick, uint64_t quick, std::optional<uint64_t> full) {
          std::lock_guard lock(callback_mutex);
          options.on_tick(tick, quick, full);
        };
      }
      results[i] = replay(locked, segment);
    }
  };
  std::vector<std::thread> workers;
  for (uint32_t j = 1; j < jobs && j < segments; ++j) workers.emplace_back(work);
  work();
  for (std::thread& worker : workers) worker.join();
  ReplayResult total;
  total.start_tick = start;
  total.last_tick = start;
  for (const ReplayResult& r : results) {
    if (!r.status.ok()) {
      ReplayResult failed = r;
      failed.start_tick = start;
      failed.ticks_replayed += total.ticks_replayed;
      return failed;
    }
    total.ticks_replayed += r.ticks_replayed;
    total.last_tick = r.last_tick;
  }
  return total;
}

StateAt state_at(LogSource& log, uint64_t tick, bool verify) {
  if (tick < log.header().start_tick || tick > log.last_tick()) {
    StateAt out;
    out.status = Status::error(Code::invalid_argument,
                               "tick outside the log (" + std::to_string(log.header().start_tick) + ".." +
                                   std::to_string(log.last_tick()) + ")",
                               tick);
    return out;
  }
  const uint64_t start = snapshot_at_or_before(log, tick);
  StateAt out = load_snapshot(log, start);
  if (!out.status.ok()) return out;
  if (verify) {
    if (out.status = check_snapshot_against_record(log, start, *out.sim); !out.status.ok()) return out;
  }
  schema::TickRecord record;
  std::unique_ptr<TickReader> reader;
  if (tick > start) reader = open_reader(log, start + 1, tick, true);
  for (uint64_t t = start + 1; t <= tick; ++t) {
    if (out.status = reader->next(record); !out.status.ok()) return out;
    out.sim->step(record.input);
    if (!verify) continue;
    if (out.sim->quick_hash() != record.quick_hash || (record.full_hash && out.sim->full_hash() != *record.full_hash)) {
      out.status = Status::error(Code::hash_mismatch, "rebuilding the state: recorded hash differs", t);
      return out;
    }
  }
  return out;
}

}  // namespace strata::replay

namespace strata::replay {

Recovered recover(const std::string& dir, const LogConfig& config) {
  Recovered out;
  out.writer = LogWriter::open(dir, config, out.status);
  if (!out.writer) return out;
  // The writer holds the database; read through a second, read-only handle to the same files.
  auto log = open_rocks_log(dir, out.status);
  if (!log) {
    out.writer.reset();
    return out;
  }
  StateAt state = state_at(*log, out.writer->last_tick());
  if (!state.status.ok()) {
    out.status = state.status;
    out.writer.reset();
    return out;
  }
  out.sim = std::move(state.sim);
  return out;
}

}  // namespace strata::replay
