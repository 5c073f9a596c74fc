// server/clock.h — the Clock port: the only way the node, its runtime and its helpers learn the
// time. main() gives the node a SystemClock; strata-vopr and the tests give it a ManualClock that
// only moves when the simulation says so (and can jump, as a host's wall clock does under NTP).
//
// Two readings, never mixed: monotonic (periods, deadlines, durations: never goes back) and wall
// (Unix time: the HLC, tickets, what a human reads; may jump either way). A reading is a value; no
// code below the runtime sleeps or waits on a clock.
#pragma once

#include <cstdint>

namespace strata::server {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since an arbitrary start; never decreases.
  [[nodiscard]] virtual uint64_t monotonic_us() const = 0;
  // Microseconds since the Unix epoch; may jump forwards or backwards.
  [[nodiscard]] virtual uint64_t wall_us() const = 0;
  // Nanoseconds of CPU the calling thread has used (a manual clock: its monotonic time): what a
  // tick phase cost, whatever the thread waited for.
  [[nodiscard]] virtual uint64_t thread_cpu_ns() const = 0;
};

// The host's clocks (CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_THREAD_CPUTIME_ID).
class SystemClock final : public Clock {
 public:
  [[nodiscard]] uint64_t monotonic_us() const override;
  [[nodiscard]] uint64_t wall_us() const override;
  [[nodiscard]] uint64_t thread_cpu_ns() const override;
};

// Simulated time: moves only by advance() (both readings) and jump_wall() (the wall reading
// alone). Not thread-safe: a simulation drives it from its one thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t monotonic_start_us = 1'000'000, uint64_t wall_start_us = 1'700'000'000'000'000)
      : monotonic_us_(monotonic_start_us), wall_us_(wall_start_us) {}
  [[nodiscard]] uint64_t monotonic_us() const override { return monotonic_us_; }
  [[nodiscard]] uint64_t wall_us() const override { return wall_us_; }
  [[nodiscard]] uint64_t thread_cpu_ns() const override { return monotonic_us_ * 1000; }
  void advance(uint64_t us) {
    monotonic_us_ += us;
    wall_us_ += us;
  }
  // The wall clock steps by `delta_us` (negative: backwards, never below 0); monotonic time does not.
  void jump_wall(int64_t delta_us) {
    wall_us_ =
        delta_us < 0 && static_cast<uint64_t>(-delta_us) > wall_us_ ? 0 : wall_us_ + static_cast<uint64_t>(delta_us);
  }

 private:
  uint64_t monotonic_us_;
  uint64_t wall_us_;
};

}  // namespace strata::server
