// server/snapshots.cpp — see snapshots.h.
#include "server/snapshots.h"

#include <algorithm>
#include <cstddef>

#include "schema/client/messages.h"
#include "server/threads.h"
#include "sim/assert.h"

namespace strata::server {

void SnapshotOutbox::push(std::vector<BuiltSnapshot>& batch) {
  std::lock_guard lock(mutex_);
  for (BuiltSnapshot& s : batch) items_.push_back(std::move(s));
  batch.clear();
  if (items_.size() > capacity_max) {
    const size_t excess = items_.size() - capacity_max;
    items_.erase(items_.begin(), items_.begin() + static_cast<ptrdiff_t>(excess));
    dropped_.fetch_add(excess, std::memory_order_relaxed);
  }
  STRATA_ASSERT(items_.size() <= capacity_max, items_.size());
}

void SnapshotOutbox::take(std::vector<BuiltSnapshot>& out) {
  out.clear();
  std::lock_guard lock(mutex_);
  STRATA_ASSERT(items_.size() <= capacity_max, items_.size());
  out.swap(items_);
}

void SnapshotOutbox::recycle(std::vector<BuiltSnapshot>& sent) {
  {
    std::lock_guard lock(spares_mutex_);
    for (BuiltSnapshot& s : sent) {
      if (spares_.size() >= spares_max) break;
      if (s.bytes.capacity() > spare_bytes_max) continue;
      s.bytes.clear();
      spares_.push_back(std::move(s.bytes));
    }
  }
  sent.clear();  // the rest are freed here
}

void SnapshotOutbox::take_spares(std::vector<std::vector<uint8_t>>& into, size_t want) {
  std::lock_guard lock(spares_mutex_);
  const size_t n = std::min(want, spares_.size());
  for (size_t i = 0; i < n; ++i) {
    into.push_back(std::move(spares_.back()));
    spares_.pop_back();
  }
}

SnapshotBuilders::SnapshotBuilders(size_t threads, int nice, const AoiParams& params, SnapshotOutbox& outbox,
                                   const Clock& clock)
    : threads_(threads), params_(params), outbox_(outbox), clock_(clock) {
  const size_t count = std::max<size_t>(1, threads);
  for (size_t i = 0; i < count; ++i) builders_.push_back(std::make_unique<Builder>());
  split_.resize(count);
  forget_.resize(count);
  for (size_t i = 0; i < threads_; ++i) {
    Builder& b = *builders_[i];
    b.thread = std::thread([this, &b, nice, i] {
      name_this_thread(("strata-build-" + std::to_string(i)).c_str());
      renice_this_thread(nice);
      run(b);
    });
  }
}

SnapshotBuilders::~SnapshotBuilders() {
  for (size_t i = 0; i < threads_; ++i) {
    Builder& b = *builders_[i];
    {
      std::lock_guard lock(b.mutex);
      b.stop = true;
    }
    b.wake.notify_one();
    b.thread.join();
  }
}

void SnapshotBuilders::post_acks(std::span<const std::pair<uint64_t, uint64_t>> acks) {
  const size_t n = builders_.size();
  for (size_t i = 0; i < n; ++i) {
    Builder& b = *builders_[i];
    uint64_t posted = 0;
    uint64_t dropped = 0;
    {
      std::lock_guard lock(b.ack_mutex);
      for (const auto& ack : acks) {
        if (ack.first % n != i) continue;
        if (b.posted_acks.size() >= posted_acks_max) {
          dropped += 1;
          continue;
        }
        b.posted_acks.push_back(ack);
        posted += 1;
      }
      if (posted > 0) b.acks_waiting.store(true, std::memory_order_release);
    }
    std::lock_guard lock(b.stats_mutex);
    b.stats.acks_posted += posted;
    b.stats.acks_dropped += dropped;
  }
}

void SnapshotBuilders::take_acks(Builder& b) {
  if (!b.acks_waiting.load(std::memory_order_acquire)) return;
  {
    std::lock_guard lock(b.ack_mutex);
    b.acks.swap(b.posted_acks);
    b.acks_waiting.store(false, std::memory_order_relaxed);
  }
  uint64_t advanced = 0;
  for (const auto& [client, tick] : b.acks) {
    const auto it = b.clients.find(client);
    if (it != b.clients.end() && it->second.interest.acknowledge_sent(tick)) advanced += 1;
  }
  b.acks.clear();
  b.pending_counts.acks_advanced += advanced;
}

void SnapshotBuilders::forget(uint64_t client) { forget_[client % builders_.size()].push_back(client); }

void SnapshotBuilders::publish(std::shared_ptr<const TickFrame> frame, std::vector<SnapshotJob> jobs) {
  STRATA_REQUIRE(frame != nullptr, "a frame to build from");
  frames_ += 1;
  for (auto& s : split_) s.clear();
  for (const SnapshotJob& job : jobs) split_[job.client % builders_.size()].push_back(job);
  if (threads_ == 0) {
    build(*builders_[0], *frame, split_[0], forget_[0], clock_.monotonic_us());
    forget_[0].clear();
    return;
  }
  const uint64_t now_us = clock_.monotonic_us();
  for (size_t i = 0; i < threads_; ++i) {
    Builder& b = *builders_[i];
    {
      std::lock_guard lock(b.mutex);
      if (b.pending != nullptr) {
        std::lock_guard stats_lock(b.stats_mutex);
        b.stats.frames_skipped += 1;
      }
      b.pending = frame;
      b.pending_since_us = now_us;
      b.pending_jobs.swap(split_[i]);
      b.pending_forget.insert(b.pending_forget.end(), forget_[i].begin(), forget_[i].end());
      b.newer.store(true, std::memory_order_release);
    }
    forget_[i].clear();
    b.wake.notify_one();
  }
}

void SnapshotBuilders::run(Builder& b) {
  std::vector<SnapshotJob> jobs;
  std::vector<uint64_t> forget;
  for (;;) {
    std::shared_ptr<const TickFrame> frame;
    uint64_t since_us = 0;
    {
      std::unique_lock lock(b.mutex);
      b.wake.wait(lock, [&] { return b.stop || b.pending != nullptr; });
      if (b.stop) return;
      frame = std::move(b.pending);
      b.pending = nullptr;
      jobs.swap(b.pending_jobs);
      b.pending_jobs.clear();
      forget.swap(b.pending_forget);
      b.pending_forget.clear();
      since_us = b.pending_since_us;
      b.newer.store(false, std::memory_order_relaxed);
    }
    build(b, *frame, jobs, forget, since_us);
    forget.clear();
  }
}

void SnapshotBuilders::build(Builder& b, const TickFrame& frame, const std::vector<SnapshotJob>& jobs_in,
                             const std::vector<uint64_t>& forget, uint64_t published_us) {
  const uint64_t start_us = clock_.monotonic_us();
  // Read: a builder's frames never go back (a client's views, and so its baselines, are older).
  STRATA_REQUIRE(frame.tick >= b.last_frame_tick, frame.tick, b.last_frame_tick);
  b.last_frame_tick = frame.tick;
  for (uint64_t client : forget) b.clients.erase(client);
  take_acks(b);
  // The rotation: clients in id order, starting after the one built last.
  b.jobs.assign(jobs_in.begin(), jobs_in.end());
  std::sort(b.jobs.begin(), b.jobs.end(),
            [](const SnapshotJob& x, const SnapshotJob& y) { return x.client < y.client; });
  const auto twice = std::adjacent_find(
      b.jobs.begin(), b.jobs.end(), [](const SnapshotJob& x, const SnapshotJob& y) { return x.client == y.client; });
  STRATA_REQUIRE(twice == b.jobs.end(), "one job per client and frame", twice->client, frame.tick);
  const size_t n = b.jobs.size();
  const size_t first =
      static_cast<size_t>(std::upper_bound(b.jobs.begin(), b.jobs.end(), b.resume_after,
                                           [](uint64_t client, const SnapshotJob& j) { return client < j.client; }) -
                          b.jobs.begin());
  if (b.spares.size() < n) outbox_.take_spares(b.spares, n - b.spares.size());
  std::vector<BuiltSnapshot>& batch = b.batch;
  SnapshotBuilderCounters& counts = b.pending_counts;
  const auto hand_over = [&] {
    if (!batch.empty()) {
      const uint64_t now_us = clock_.monotonic_us();
      counts.lag_us += (now_us > published_us ? now_us - published_us : 0) * batch.size();
      counts.snapshots_built += batch.size();
      outbox_.push(batch);
    }
    std::lock_guard lock(b.stats_mutex);  // after the push: a reader of the count finds them there
    b.stats += counts;
    counts = SnapshotBuilderCounters{};
  };
  for (size_t k = 0; k < n; ++k) {
    // Every few clients (a snapshot takes microseconds, a tick tens of milliseconds): a newer
    // frame makes this one stale, and the rest of the rotation gets the newer one; acks that
    // arrived meanwhile are applied.
    if (k % 16 == 0 && k > 0) {
      if (threads_ > 0 && b.newer.load(std::memory_order_acquire)) {
        counts.frames_cut += 1;
        break;
      }
      take_acks(b);
    }
    const SnapshotJob& job = b.jobs[(first + k) % n];
    b.resume_after = job.client;
    if (job_hook_) job_hook_(job.client);
    const ViewerState* viewer = frame.viewer(job.player);
    if (viewer == nullptr) continue;  // not in this frame's world (joined later, or left)
    ClientState& state = b.clients[job.client];
    if (state.epoch != job.epoch) state = ClientState{job.epoch, {}};
    state.interest.acknowledge(job.acked_tick);
    if (!snapshot_due(state.interest, frame.tick, params_)) {
      counts.fulls_deferred += 1;
      continue;
    }
    const SnapshotKind kind = build_client_snapshot(frame, state.interest, *viewer, params_, b.snapshot);
    BuiltSnapshot built{job.client, frame.tick, {}};
    if (!b.spares.empty()) {
      built.bytes = std::move(b.spares.back());
      b.spares.pop_back();
    } else {
      built.bytes.reserve(SnapshotOutbox::spare_bytes_max);  // every recycled buffer fits any delta
    }
    view::encode_snapshot_message(b.snapshot, built.bytes);
    const view::ClientSnapshot& s = b.snapshot;
    // Written: a snapshot of this frame, a delta exactly when it has a baseline, never from ahead.
    STRATA_ASSERT(s.tick == frame.tick, s.tick, frame.tick, job.client);
    STRATA_ASSERT((kind == SnapshotKind::delta) == (s.baseline_tick != 0), kind, s.baseline_tick, job.client);
    STRATA_ASSERT(s.baseline_tick <= s.tick, s.baseline_tick, s.tick, job.client);
    if (s.baseline_tick == 0) {
      counts.fulls_built += 1;
      counts.fulls_evicted += kind == SnapshotKind::full_evicted ? 1 : 0;
      counts.fulls_too_old += kind == SnapshotKind::full_too_old ? 1 : 0;
      counts.full_bytes += built.bytes.size();
    } else {
      counts.deltas_built += 1;
      counts.delta_bytes += built.bytes.size();
      counts.delta_age_ticks += s.tick - s.baseline_tick;
      counts.delta_entities += s.entities.size();
      for (const view::EntityDelta& e : s.entities) counts.delta_fresh_entities += e.fresh ? 1 : 0;
      counts.delta_chunks += s.chunks.size();
    }
    batch.push_back(std::move(built));
    if (batch.size() >= hand_over_batch) hand_over();
  }
  const uint64_t end_us = clock_.monotonic_us();
  counts.build_us_max = end_us > start_us ? end_us - start_us : 0;
  hand_over();
}

SnapshotBuilderCounters& SnapshotBuilderCounters::operator+=(const SnapshotBuilderCounters& o) {
  frames += o.frames;
  frames_skipped += o.frames_skipped;
  frames_cut += o.frames_cut;
  snapshots_built += o.snapshots_built;
  fulls_deferred += o.fulls_deferred;
  build_us_max = std::max(build_us_max, o.build_us_max);
  fulls_built += o.fulls_built;
  fulls_evicted += o.fulls_evicted;
  fulls_too_old += o.fulls_too_old;
  full_bytes += o.full_bytes;
  deltas_built += o.deltas_built;
  delta_bytes += o.delta_bytes;
  delta_age_ticks += o.delta_age_ticks;
  delta_entities += o.delta_entities;
  delta_fresh_entities += o.delta_fresh_entities;
  delta_chunks += o.delta_chunks;
  lag_us += o.lag_us;
  acks_posted += o.acks_posted;
  acks_advanced += o.acks_advanced;
  acks_dropped += o.acks_dropped;
  return *this;
}

SnapshotBuilderCounters SnapshotBuilders::counters() const {
  SnapshotBuilderCounters c;
  for (const auto& b : builders_) {
    std::lock_guard lock(b->stats_mutex);
    c += b->stats;
  }
  c.frames = frames_;
  return c;
}

}  // namespace strata::server
