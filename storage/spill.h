// storage/spill.h: where an AsyncPort puts the writes its memory queue has no room for, so a long
// outage of Redis or MariaDB refuses nothing until the spill is full too (issue 16: "writes queue,
// bounded; spilled to the embedded store when full").
//
// A Spill is a FIFO of encoded writes. Once anything is spilled, every later write goes to the spill
// too (order is kept), and pump() moves spilled writes back into the memory queue as it drains.
// RocksSpill keeps them in the embedded RocksDB (its own directory, WAL on, no fsync: a local put of
// a few microseconds on the node's thread, never a network call); what it holds survives a crash of
// the process and is offered first after a restart. MemorySpill is the twin for simulation.
// Not thread-safe on its own: the port calls it under its mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace strata::storage {

class Spill {
 public:
  virtual ~Spill() = default;
  // False when the spill is full or cannot write (the port then refuses the write as full).
  [[nodiscard]] virtual bool push(std::string_view bytes) = 0;
  [[nodiscard]] virtual std::optional<std::string> front() = 0;
  virtual void pop() = 0;
  [[nodiscard]] virtual size_t size() const = 0;
  // Calls `visit` on every entry, oldest first (reads answered from spilled writes).
  virtual void for_each(const std::function<void(std::string_view)>& visit) = 0;
};

class MemorySpill final : public Spill {
 public:
  explicit MemorySpill(size_t entries_max) : entries_max_(entries_max) {}
  [[nodiscard]] bool push(std::string_view bytes) override {
    if (entries_.size() >= entries_max_) return false;
    entries_.emplace_back(bytes);
    return true;
  }
  [[nodiscard]] std::optional<std::string> front() override {
    if (entries_.empty()) return std::nullopt;
    return entries_.front();
  }
  void pop() override {
    if (!entries_.empty()) entries_.pop_front();
  }
  [[nodiscard]] size_t size() const override { return entries_.size(); }
  void for_each(const std::function<void(std::string_view)>& visit) override {
    for (const std::string& entry : entries_) visit(entry);
  }

 private:
  size_t entries_max_;
  std::deque<std::string> entries_;
};

class RocksSpill final : public Spill {
 public:
  // Opens (creating) the spill in `dir`; entries left by an earlier run are kept, in order.
  [[nodiscard]] static std::unique_ptr<RocksSpill> open(const std::string& dir, size_t entries_max, std::string& error);
  ~RocksSpill() override;
  [[nodiscard]] bool push(std::string_view bytes) override;
  [[nodiscard]] std::optional<std::string> front() override;
  void pop() override;
  [[nodiscard]] size_t size() const override;
  void for_each(const std::function<void(std::string_view)>& visit) override;

 private:
  struct Impl;
  explicit RocksSpill(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::storage
