// server/snapshots.h — per-client snapshot building off the sim thread (DESIGN.md, step 8).
// After each tick the sim thread publishes the tick's frame (aoi.h: immutable, shared) with one job
// per client due a snapshot; builder threads build and encode each client's delta and leave the
// bytes in an outbox that the network side drains into the netchannel.
//
// Invariants:
//  - A client's interest state (its sent views and acked tick) belongs to exactly one builder
//    (client id modulo the builder count), so no two threads ever touch it.
//  - The sim thread never waits. A builder works through its clients in a rotation that carries
//    over from frame to frame; when a newer frame is published while it is building, it stops
//    (the frame is "cut") and goes on with the next client of the rotation on the newer frame.
//    Under overload every client still gets snapshots at the same (lower) rate, each built from
//    the newest frame: no client waits behind a whole stale frame. A client passed over is like a
//    lost snapshot, which the delta protocol already survives.
//  - Built snapshots reach the outbox in small batches, so the network side sends the first
//    clients' while the builder is still on the others.
//  - A new session of the same client id (a reconnect) has a new epoch and starts from nothing.
//  - With zero builder threads, publish() builds inline: the deterministic mode tests use.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/aoi.h"
#include "server/clock.h"
#include "server/limits.h"

namespace strata::server {

struct SnapshotJob {
  uint64_t client = 0;
  uint64_t epoch = 0;  // the session's number: a reconnect of the same client id starts over
  uint32_t player = 0;
  uint64_t acked_tick = 0;  // the newest snapshot tick the client acknowledged
};

struct BuiltSnapshot {
  uint64_t client = 0;
  uint64_t tick = 0;
  std::vector<uint8_t> bytes;  // the encoded snapshot message
};

// Encoded snapshots waiting for the network side. Bounded: when the network side does not drain
// it, the oldest are dropped (and counted): an old snapshot is worth nothing once a newer exists.
class SnapshotOutbox {
 public:
  static constexpr size_t capacity_max = limits::snapshot_outbox_max;
  void push(std::vector<BuiltSnapshot>& batch);
  // Moves everything waiting into `out` (cleared first).
  void take(std::vector<BuiltSnapshot>& out);
  [[nodiscard]] uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // Buffer reuse: the network side hands back the snapshots it sent (their byte buffers keep
  // their capacity, up to spares_max) and builders encode into them, so the hot path allocates
  // nothing and no buffer is freed on another thread than the one that allocated it (glibc's
  // slow path: a fifth of the builder's time at 5000 clients).
  static constexpr size_t spares_max = limits::snapshot_spares_max;
  static constexpr size_t spare_bytes_max = limits::snapshot_spare_bytes_max;  // larger ones (fulls) are freed
  void recycle(std::vector<BuiltSnapshot>& sent);                              // takes the byte buffers, clears `sent`
  // Moves up to `want` spare buffers (empty, with capacity) to the back of `into`.
  void take_spares(std::vector<std::vector<uint8_t>>& into, size_t want);

 private:
  std::mutex mutex_;
  std::vector<BuiltSnapshot> items_;
  std::mutex spares_mutex_;
  std::vector<std::vector<uint8_t>> spares_;
  std::atomic<uint64_t> dropped_{0};
};

struct SnapshotBuilderCounters {
  uint64_t frames = 0;          // frames published
  uint64_t frames_skipped = 0;  // per builder: a newer frame came before it started this one
  uint64_t frames_cut = 0;      // per builder: a newer frame came before it finished this one
  uint64_t snapshots_built = 0;
  uint64_t fulls_deferred = 0;  // a full snapshot held back: the previous one is not acknowledged yet
  uint64_t build_us_max = 0;    // the longest one builder spent on one frame (the Clock's monotonic time)
  // What was built (sums: divide by the counts for means; the load report does, over a window).
  uint64_t fulls_built = 0;
  uint64_t fulls_evicted = 0;  // of which: the acknowledged view was no longer held (a late ack)
  uint64_t fulls_too_old = 0;  // of which: older than the change history (the rest: first contact)
  uint64_t full_bytes = 0;
  uint64_t deltas_built = 0;
  uint64_t delta_bytes = 0;
  uint64_t delta_age_ticks = 0;       // sum over deltas of tick - baseline tick (how stale the ack was)
  uint64_t delta_entities = 0;        // entity records in deltas (fresh, changed) ...
  uint64_t delta_fresh_entities = 0;  // ... of which fresh (new in view)
  uint64_t delta_chunks = 0;          // chunks sent whole in deltas (newly in view)
  uint64_t lag_us = 0;                // sum over snapshots of frame publish -> handed to the outbox
  uint64_t acks_posted = 0;           // acks from the network side (post_acks) ...
  uint64_t acks_advanced = 0;         // ... that moved a client's acknowledged tick on before its job did
  uint64_t acks_dropped = 0;          // ... dropped: a builder had posted_acks_max waiting

  // Adds `other`'s counts (build_us_max: the larger).
  SnapshotBuilderCounters& operator+=(const SnapshotBuilderCounters& other);
};

class SnapshotBuilders {
 public:
  // threads == 0: build inline in publish(). `outbox` must outlive this object.
  // `nice`: added to each builder thread's nice value (Linux: per thread), so that the tick thread
  // wins the CPU when it is short. `clock` times the builds (lag and build time, figures only: never
  // what is built); with threads > 0 the builder threads read it, so it must be thread-safe (a
  // SystemClock; a ManualClock only with threads == 0). `outbox` and `clock` must outlive this object.
  SnapshotBuilders(size_t threads, int nice, const AoiParams& params, SnapshotOutbox& outbox, const Clock& clock);
  ~SnapshotBuilders();  // finishes no pending frame: stops and joins the threads
  SnapshotBuilders(const SnapshotBuilders&) = delete;
  SnapshotBuilders& operator=(const SnapshotBuilders&) = delete;

  // Sim thread, after each tick. `jobs` lists the clients due a snapshot of this frame.
  void publish(std::shared_ptr<const TickFrame> frame, std::vector<SnapshotJob> jobs);
  // Drops the interest state of clients that are gone (sim thread; applied by their builder).
  void forget(uint64_t client);
  // Network side (any thread): snapshot acks (client, tick) as they arrive. A builder applies them
  // as it goes, so a delta is against the newest view the client has, not the one the last tick's
  // job carried (on a busy server that job is a tick and half a rotation older). A tick later than
  // the newest view built for the client is ignored; the jobs' acked ticks count as well.
  void post_acks(std::span<const std::pair<uint64_t, uint64_t>> acks);
  static constexpr size_t posted_acks_max = limits::snapshot_posted_acks_max;  // per builder; more dropped
  [[nodiscard]] SnapshotBuilderCounters counters() const;
  [[nodiscard]] size_t threads() const { return threads_; }
  // Tests: called on the builder's thread after each job it takes (built, deferred or passed
  // over), with the job's client. Set before the first publish().
  void set_job_hook(std::function<void(uint64_t client)> hook) { job_hook_ = std::move(hook); }

 private:
  struct ClientState {
    uint64_t epoch = 0;
    ClientInterest interest;
  };
  struct Builder {
    std::mutex mutex;
    std::condition_variable wake;
    std::shared_ptr<const TickFrame> pending;  // newest frame not started yet
    std::vector<SnapshotJob> pending_jobs;
    std::vector<uint64_t> pending_forget;
    uint64_t pending_since_us = 0;  // the clock's monotonic time
    bool stop = false;
    std::atomic<bool> newer{false};  // a frame is pending: the one being built is cut short
    std::mutex ack_mutex;
    std::vector<std::pair<uint64_t, uint64_t>> posted_acks;  // (client, tick), under ack_mutex
    std::vector<std::pair<uint64_t, uint64_t>> acks;         // the builder's: taken from posted_acks
    std::atomic<bool> acks_waiting{false};
    uint64_t resume_after = 0;     // the rotation: the client built last (its successor goes first)
    uint64_t last_frame_tick = 0;  // of the frame built last: frames never go back
    std::unordered_map<uint64_t, ClientState> clients;  // only this builder's thread touches it
    view::ClientSnapshot snapshot;                      // scratch: its buffers are reused
    std::vector<SnapshotJob> jobs;                      // scratch: this frame's jobs in rotation order
    std::vector<BuiltSnapshot> batch;                   // scratch: built, not handed over yet
    std::vector<std::vector<uint8_t>> spares;           // sent snapshots' buffers, to encode into
    // The counts: `pending_counts` is the builder thread's, added to `stats` (under stats_mutex) as
    // each batch is handed over; post_acks and publish add theirs to `stats` directly.
    SnapshotBuilderCounters pending_counts;
    std::mutex stats_mutex;
    SnapshotBuilderCounters stats;
    std::thread thread;
  };
  static constexpr size_t hand_over_batch = 64;  // snapshots handed to the outbox at a time
  void run(Builder& builder);
  void take_acks(Builder& builder);  // applies the posted acks to the builder's clients
  void build(Builder& builder, const TickFrame& frame, const std::vector<SnapshotJob>& jobs,
             const std::vector<uint64_t>& forget, uint64_t published_us);

  size_t threads_;
  AoiParams params_;
  SnapshotOutbox& outbox_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Builder>> builders_;  // one inline builder when threads_ == 0
  std::vector<std::vector<SnapshotJob>> split_;     // publish() scratch, per builder
  std::vector<std::vector<uint64_t>> forget_;       // per builder, handed over with the next frame
  uint64_t frames_ = 0;
  std::function<void(uint64_t)> job_hook_;
};

}  // namespace strata::server
