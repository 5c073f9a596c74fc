// server/clock.cpp — the host's clocks behind the Clock port.
#include "server/clock.h"

#include <ctime>

namespace strata::server {
namespace {

uint64_t read_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

uint64_t SystemClock::monotonic_us() const { return read_ns(CLOCK_MONOTONIC) / 1000; }
uint64_t SystemClock::wall_us() const { return read_ns(CLOCK_REALTIME) / 1000; }
uint64_t SystemClock::thread_cpu_ns() const { return read_ns(CLOCK_THREAD_CPUTIME_ID); }

}  // namespace strata::server
