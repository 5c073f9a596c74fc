// storage/async_port.h: the asynchronous front of a store, the only part of storage the node calls.
//
// The node never blocks its tick on a store. It calls write() and read(), which only take a mutex
// for a queue operation (never across I/O) and return at once; a worker calls pump(), which hands
// the queued writes to the synchronous backend in batches and answers the reads; the node collects
// answers with take(ticket). Who runs pump() is the owner's choice, outside the node: a StoreWorker
// thread (storage/store_worker.h) in production, or the simulation's own loop on one thread.
//
// Threading: write/read/take/durable_sequence/counters may be called from any thread; pump() from one
// thread at a time (it is the only caller of the backend, so backends need no locking of their own).
//
// Guarantees:
//   - bounded: at most writes_queued_max writes and reads_queued_max reads wait; beyond that write()
//     and read() refuse at once (counted), they never grow a queue or wait.
//   - ordered, at least once: writes reach the backend in submission order, in batches of at most
//     batch_max; a failed batch stays at the head and is offered again by the next pump(). Backends
//     are idempotent by (key, version), so a batch retried after a lost acknowledgement applies once.
//   - acknowledged = applied: durable_sequence() is the highest sequence s such that every write with
//     a sequence <= s was applied by the backend (the sequence write() returned).
//   - read your writes: a read is answered first from the newest queued write of the same key (the
//     `pending` function), so a player leaving and rejoining during an outage gets what they left.
//   - spill (optional, attach_spill): when the memory queue is full, writes go to a Spill (the
//     embedded store, storage/spill.h) instead of being refused, and once anything is spilled every
//     later write follows it, so the order holds; pump() moves spilled writes back as room frees.
//     Spilled writes count as queued (not acknowledged) and are read back by reads like queued ones.
//   - journal (optional, attach_journal): every write in the memory queue is also in a Journal (a
//     Spill used as a redo log: the embedded RocksDB, WAL on), removed when the backend applied it,
//     so the writes a crash of the process finds queued are offered again by the next run, first.
//     Without it a player who left while the store was out and whose save was still queued when
//     the process died came back with an older save (strata-vopr --faults store, seeds 73, 78, 186).
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "sim/assert.h"
#include "storage/limits.h"
#include "storage/spill.h"
#include "storage/stores.h"

namespace strata::storage {

struct PortConfig {
  size_t writes_queued_max = port_writes_queued_default;  // writes waiting for the backend
  size_t reads_queued_max = port_reads_queued_default;    // reads waiting for an answer
  size_t batch_max = port_batch_default;                  // writes per backend call
};

enum class Ticket : uint64_t {};

enum class Submit : uint8_t { queued, full, refused };

struct SubmitResult {
  Submit status = Submit::queued;
  uint64_t sequence = 0;  // set when queued
  std::string reason;     // set when refused
};

struct PortCounters {
  uint64_t writes_queued = 0;
  uint64_t writes_refused_full = 0;
  uint64_t writes_refused_invalid = 0;
  uint64_t writes_applied = 0;
  uint64_t batches_applied = 0;
  uint64_t batches_failed = 0;
  uint64_t reads_queued = 0;
  uint64_t reads_refused_full = 0;
  uint64_t reads_refused_invalid = 0;
  uint64_t reads_answered_from_queue = 0;
  uint64_t reads_answered_from_store = 0;
  uint64_t reads_failed = 0;
  uint64_t writes_spilled = 0;
  uint64_t spill_lost = 0;  // spilled entries that could not be read back or decoded (a disk fault)
  uint64_t failures_by_status[store_status_count] = {};  // batch and read failures, by status
  size_t writes_waiting = 0;                             // gauges at the time of counters()
  size_t reads_waiting = 0;
  size_t writes_spilled_waiting = 0;
};

template <class Write, class Key, class Answer>
class AsyncPort {
 public:
  using ApplyFn = std::function<Outcome(std::span<const Write>)>;
  using ReadFn = std::function<Result<Answer>(const Key&)>;
  // The answer a queued write gives for `key` (newest first), or nullopt when none concerns it.
  using PendingFn = std::function<std::optional<Answer>(const std::deque<Write>&, const Key&)>;
  using ValidateWriteFn = std::function<Outcome(const Write&)>;
  using ValidateKeyFn = std::function<Outcome(const Key&)>;
  using EncodeFn = std::function<std::string(const Write&)>;
  using DecodeFn = std::function<std::optional<Write>(std::string_view)>;

  struct Functions {
    ApplyFn apply;
    ReadFn read;
    PendingFn pending;  // may be empty: reads then always go to the store
    ValidateWriteFn validate_write;
    ValidateKeyFn validate_key;
    EncodeFn encode;  // encode and decode: only for a port that may spill
    DecodeFn decode;
  };

  AsyncPort(PortConfig config, Functions functions) : config_(config), fn_(std::move(functions)) {
    STRATA_REQUIRE(config_.batch_max > 0, config_.batch_max);
    STRATA_REQUIRE(config_.batch_max <= config_.writes_queued_max, config_.batch_max, config_.writes_queued_max);
    STRATA_REQUIRE(config_.reads_queued_max <= port_answers_waiting_max, config_.reads_queued_max);
  }

  // Borrows `spill` (it must outlive the port); call before the first write. Entries an earlier run
  // left in it are offered first and take the sequences 1..n.
  void attach_spill(Spill& spill) {
    STRATA_REQUIRE(fn_.encode && fn_.decode);
    std::lock_guard lock(mutex_);
    STRATA_REQUIRE(spill_ == nullptr && writes_.empty() && last_sequence_ == 0, last_sequence_);
    spill_ = &spill;
    last_sequence_ = spill.size();
  }

  // Borrows `journal` (it must outlive the port); call after attach_spill (if any) and before the
  // first write. Entries an earlier run left in it are the oldest writes: they take the sequences
  // before the spill's, and are offered first. Undecodable entries are dropped (spill_lost).
  void attach_journal(Spill& journal) {
    STRATA_REQUIRE(fn_.encode && fn_.decode);
    std::lock_guard lock(mutex_);
    STRATA_REQUIRE(journal_ == nullptr && writes_.empty(), writes_.size());
    journal_ = &journal;
    // Rebuilt in order with only what decodes, so that it holds exactly the memory queue.
    std::vector<std::string> kept;
    while (journal.size() > 0) {
      std::optional<std::string> bytes = journal.front();
      journal.pop();
      std::optional<Write> write = bytes ? fn_.decode(*bytes) : std::nullopt;
      if (!write) {
        ++counters_.spill_lost;
        continue;
      }
      writes_.push_back(std::move(*write));
      kept.push_back(std::move(*bytes));
    }
    for (const std::string& bytes : kept) {
      if (!journal.push(bytes)) ++counters_.spill_lost;  // it was there a moment ago: a disk fault
    }
    last_sequence_ += writes_.size();
  }

  // Queues a write; never blocks on a store (a spill or journal entry is a local RocksDB put).
  [[nodiscard]] SubmitResult write(Write write) {
    Outcome valid = fn_.validate_write(write);
    std::lock_guard lock(mutex_);
    if (!valid.ok()) {
      ++counters_.writes_refused_invalid;
      return {Submit::refused, 0, std::move(valid.reason)};
    }
    const bool spilling = spill_ != nullptr && spill_->size() > 0;
    if (spilling || writes_.size() >= config_.writes_queued_max) {
      if (spill_ != nullptr && spill_->push(fn_.encode(write))) {
        ++counters_.writes_spilled;
        ++counters_.writes_queued;
        return {Submit::queued, ++last_sequence_, {}};
      }
      ++counters_.writes_refused_full;
      return {Submit::full, 0, "write queue full"};
    }
    if (journal_ != nullptr && !journal_->push(fn_.encode(write))) {
      ++counters_.writes_refused_full;
      return {Submit::full, 0, "journal full or not writable"};
    }
    writes_.push_back(std::move(write));
    ++counters_.writes_queued;
    return {Submit::queued, ++last_sequence_, {}};
  }

  // Queues a read; nullopt when the read queue (or the answers not yet taken) is full or the key
  // is invalid (counted). The answer is taken with take(ticket) after a pump().
  [[nodiscard]] std::optional<Ticket> read(Key key) {
    const bool valid = fn_.validate_key(key).ok();
    std::lock_guard lock(mutex_);
    if (!valid) {
      ++counters_.reads_refused_invalid;
      return std::nullopt;
    }
    if (reads_.size() >= config_.reads_queued_max || reads_.size() + answers_.size() >= port_answers_waiting_max) {
      ++counters_.reads_refused_full;
      return std::nullopt;
    }
    const auto ticket = static_cast<Ticket>(++last_ticket_);
    reads_.push_back({ticket, std::move(key)});
    ++counters_.reads_queued;
    return ticket;
  }

  // The answer of a read, once (nullopt while it waits).
  [[nodiscard]] std::optional<Result<Answer>> take(Ticket ticket) {
    std::lock_guard lock(mutex_);
    auto found = answers_.find(static_cast<uint64_t>(ticket));
    if (found == answers_.end()) return std::nullopt;
    Result<Answer> answer = std::move(found->second);
    answers_.erase(found);
    return answer;
  }

  // Worker side: offers at most `batches_max` batches of writes to the backend (stopping at the first
  // failure), then answers every queued read. Returns the number of writes applied.
  size_t pump(size_t batches_max = 1) {
    size_t applied = 0;
    for (size_t round = 0; round < batches_max; ++round) {
      const size_t count = apply_one_batch();
      if (count == 0) break;
      applied += count;
    }
    answer_reads();
    return applied;
  }

  [[nodiscard]] uint64_t durable_sequence() const {
    std::lock_guard lock(mutex_);
    return last_sequence_ - writes_.size() - spilled();
  }
  [[nodiscard]] uint64_t last_sequence() const {
    std::lock_guard lock(mutex_);
    return last_sequence_;
  }
  [[nodiscard]] bool idle() const {
    std::lock_guard lock(mutex_);
    return writes_.empty() && spilled() == 0 && reads_.empty();
  }
  // True while the last backend call failed (the store is down, stalled or refusing).
  [[nodiscard]] bool degraded() const {
    std::lock_guard lock(mutex_);
    return !last_error_.ok();
  }
  [[nodiscard]] Outcome last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }
  [[nodiscard]] PortCounters counters() const {
    std::lock_guard lock(mutex_);
    PortCounters out = counters_;
    out.writes_waiting = writes_.size();
    out.reads_waiting = reads_.size();
    out.writes_spilled_waiting = spilled();
    return out;
  }

 private:
  struct PendingRead {
    Ticket ticket;
    Key key;
  };

  void note_failure(const Outcome& outcome) {
    ++counters_.failures_by_status[static_cast<size_t>(outcome.status)];
    last_error_ = outcome;
  }

  [[nodiscard]] size_t spilled() const { return spill_ == nullptr ? 0 : spill_->size(); }

  // Moves spilled writes (the oldest first) into the memory queue while it has room (and into the
  // journal first: a crash between the two offers the write twice, which applies once).
  void refill_locked() {
    while (spill_ != nullptr && spill_->size() > 0 && writes_.size() < config_.writes_queued_max) {
      std::optional<std::string> bytes = spill_->front();
      std::optional<Write> write = bytes ? fn_.decode(*bytes) : std::nullopt;
      if (write && journal_ != nullptr && !journal_->push(*bytes)) return;  // stays spilled
      spill_->pop();
      if (!write) {
        ++counters_.spill_lost;
        continue;
      }
      writes_.push_back(std::move(*write));
    }
  }

  // The queued writes and, while anything is spilled, the spilled ones after them.
  std::deque<Write> queued_and_spilled_locked() const {
    std::deque<Write> all = writes_;
    spill_->for_each([&](std::string_view bytes) {
      if (std::optional<Write> write = fn_.decode(bytes)) all.push_back(std::move(*write));
    });
    return all;
  }

  size_t apply_one_batch() {
    std::vector<Write> batch;
    {
      std::lock_guard lock(mutex_);
      refill_locked();
      const size_t count = std::min(writes_.size(), config_.batch_max);
      batch.assign(writes_.begin(), writes_.begin() + static_cast<ptrdiff_t>(count));
    }
    if (batch.empty()) return 0;
    const Outcome outcome = fn_.apply(std::span<const Write>(batch));
    std::lock_guard lock(mutex_);
    if (!outcome.ok()) {
      ++counters_.batches_failed;
      note_failure(outcome);
      return 0;
    }
    // Only pump() pops, so the batch is still the head of the queue.
    STRATA_ASSERT(writes_.size() >= batch.size(), writes_.size(), batch.size());
    writes_.erase(writes_.begin(), writes_.begin() + static_cast<ptrdiff_t>(batch.size()));
    if (journal_ != nullptr) {
      for (size_t i = 0; i < batch.size(); ++i) journal_->pop();
    }
    counters_.writes_applied += batch.size();
    ++counters_.batches_applied;
    refill_locked();
    last_error_ = Outcome::success();
    return batch.size();
  }

  void answer_reads() {
    for (;;) {
      PendingRead request;
      std::optional<Answer> from_queue;
      {
        std::lock_guard lock(mutex_);
        if (reads_.empty()) return;
        request = std::move(reads_.front());
        reads_.pop_front();
        if (fn_.pending && spilled() > 0) {
          from_queue = fn_.pending(queued_and_spilled_locked(), request.key);
        } else if (fn_.pending) {
          from_queue = fn_.pending(writes_, request.key);
        }
        if (from_queue) {
          ++counters_.reads_answered_from_queue;
          answers_[static_cast<uint64_t>(request.ticket)] = Result<Answer>{Outcome::success(), std::move(*from_queue)};
          continue;
        }
      }
      Result<Answer> answer = fn_.read(request.key);
      std::lock_guard lock(mutex_);
      if (answer.ok()) {
        ++counters_.reads_answered_from_store;
      } else {
        ++counters_.reads_failed;
        note_failure(answer.outcome);
      }
      answers_[static_cast<uint64_t>(request.ticket)] = std::move(answer);
    }
  }

  const PortConfig config_;
  const Functions fn_;
  mutable std::mutex mutex_;
  std::deque<Write> writes_;
  std::deque<PendingRead> reads_;
  std::unordered_map<uint64_t, Result<Answer>> answers_;
  Spill* spill_ = nullptr;    // borrowed
  Spill* journal_ = nullptr;  // borrowed: exactly the memory queue, encoded
  uint64_t last_sequence_ = 0;
  uint64_t last_ticket_ = 0;
  Outcome last_error_;
  PortCounters counters_;
};

// The four ports the node holds.
using PlayerPort = AsyncPort<PlayerRecord, PlayerKey, std::optional<PlayerRecord>>;
using MapPort = AsyncPort<MapRecord, MapId, std::optional<MapRecord>>;
using PositionPort = AsyncPort<PositionBatch, NearQuery, std::vector<Position>>;
using SessionPort = AsyncPort<SessionRecord, SessionId, std::optional<SessionRecord>>;

// Ports over backends (storage/ports.cpp). The backend must outlive the port.
[[nodiscard]] std::unique_ptr<PlayerPort> make_player_port(PlayerBackend& backend, PortConfig config = {});
[[nodiscard]] std::unique_ptr<MapPort> make_map_port(MapBackend& backend, PortConfig config = {});
[[nodiscard]] std::unique_ptr<PositionPort> make_position_port(PositionBackend& backend, PortConfig config = {});
[[nodiscard]] std::unique_ptr<SessionPort> make_session_port(SessionBackend& backend, PortConfig config = {});

}  // namespace strata::storage
