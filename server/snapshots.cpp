// server/snapshots.cpp — see snapshots.h.
#include "server/snapshots.h"

#include <algorithm>
#include <chrono>

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
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(excess));
    dropped_.fetch_add(excess, std::memory_order_relaxed);
  }
}

void SnapshotOutbox::take(std::vector<BuiltSnapshot>& out) {
  out.clear();
  std::lock_guard lock(mutex_);
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

SnapshotBuilders::SnapshotBuilders(size_t threads, int nice, const AoiParams& params, SnapshotOutbox& outbox)
    : threads_(threads), params_(params), outbox_(outbox) {
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

void SnapshotBuilders::forget(uint64_t client) { forget_[client % builders_.size()].push_back(client); }

void SnapshotBuilders::publish(std::shared_ptr<const TickFrame> frame, std::vector<SnapshotJob> jobs) {
  STRATA_ASSERT(frame != nullptr, "a frame to build from");
  frames_ += 1;
  for (auto& s : split_) s.clear();
  for (const SnapshotJob& job : jobs) split_[job.client % builders_.size()].push_back(job);
  if (threads_ == 0) {
    build(*builders_[0], *frame, split_[0], forget_[0]);
    forget_[0].clear();
    return;
  }
  for (size_t i = 0; i < threads_; ++i) {
    Builder& b = *builders_[i];
    {
      std::lock_guard lock(b.mutex);
      if (b.pending != nullptr) b.skipped.fetch_add(1, std::memory_order_relaxed);
      b.pending = frame;
      b.pending_jobs.swap(split_[i]);
      b.pending_forget.insert(b.pending_forget.end(), forget_[i].begin(), forget_[i].end());
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
    }
    build(b, *frame, jobs, forget);
    forget.clear();
  }
}

void SnapshotBuilders::build(Builder& b, const TickFrame& frame, const std::vector<SnapshotJob>& jobs,
                             const std::vector<uint64_t>& forget) {
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t client : forget) b.clients.erase(client);
  std::vector<BuiltSnapshot> batch;
  batch.reserve(jobs.size());
  if (b.spares.size() < jobs.size()) outbox_.take_spares(b.spares, jobs.size() - b.spares.size());
  for (const SnapshotJob& job : jobs) {
    const ViewerState* viewer = frame.viewer(job.player);
    if (viewer == nullptr) continue;  // not in this frame's world (joined later, or left)
    ClientState& state = b.clients[job.client];
    if (state.epoch != job.epoch) state = ClientState{job.epoch, {}};
    state.interest.acknowledge(job.acked_tick);
    if (!snapshot_due(state.interest, frame.tick, params_)) {
      b.deferred.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    build_client_snapshot(frame, state.interest, *viewer, params_, b.snapshot);
    BuiltSnapshot built{job.client, frame.tick, {}};
    if (!b.spares.empty()) {
      built.bytes = std::move(b.spares.back());
      b.spares.pop_back();
    } else {
      built.bytes.reserve(SnapshotOutbox::spare_bytes_max);  // every recycled buffer fits any delta
    }
    view::encode_snapshot_message(b.snapshot, built.bytes);
    batch.push_back(std::move(built));
  }
  b.built.fetch_add(batch.size(), std::memory_order_relaxed);
  if (!batch.empty()) outbox_.push(batch);
  const auto us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
  uint64_t max = b.build_us_max.load(std::memory_order_relaxed);
  while (us > max && !b.build_us_max.compare_exchange_weak(max, us, std::memory_order_relaxed)) {
  }
}

SnapshotBuilderCounters SnapshotBuilders::counters() const {
  SnapshotBuilderCounters c;
  c.frames = frames_;
  for (const auto& b : builders_) {
    c.frames_skipped += b->skipped.load(std::memory_order_relaxed);
    c.snapshots_built += b->built.load(std::memory_order_relaxed);
    c.fulls_deferred += b->deferred.load(std::memory_order_relaxed);
    c.build_us_max = std::max(c.build_us_max, b->build_us_max.load(std::memory_order_relaxed));
  }
  return c;
}

}  // namespace strata::server
