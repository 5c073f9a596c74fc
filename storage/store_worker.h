// storage/store_worker.h: the production driver of AsyncPorts, one thread that pumps them.
// The owner (the server's wiring, never the node) creates it; simulation does not: it calls each
// port's pump() itself on its one thread. The worker pumps every port in turn; when a round applied
// nothing (idle, or a store is down) it waits idle_wait before the next round, or until wake() is
// called (the node may call it after queueing, so writes do not wait for the idle period).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::storage {

class StoreWorker {
 public:
  // `pumps` each pump one port and return how many writes they applied.
  StoreWorker(std::vector<std::function<size_t()>> pumps, std::chrono::milliseconds idle_wait)
      : pumps_(std::move(pumps)), idle_wait_(idle_wait), thread_([this] { run(); }) {}
  ~StoreWorker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  void wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    wake_.notify_all();
  }

 private:
  void run() {
    for (;;) {
      size_t applied = 0;
      for (const auto& pump : pumps_) applied += pump();
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      if (applied == 0) wake_.wait_for(lock, idle_wait_, [this] { return stopping_ || woken_; });
      woken_ = false;
      if (stopping_) return;
    }
  }

  const std::vector<std::function<size_t()>> pumps_;
  const std::chrono::milliseconds idle_wait_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;  // last: starts after every other member is ready
};

}  // namespace strata::storage
