// server/hlc.cpp — see hlc.h.
#include "server/hlc.h"

#include <algorithm>

namespace strata::server {

// The counter is 16 bits: past 65535 events in one millisecond the clock moves to the next
// millisecond (ahead of physical time by at most that, bounded by the event rate).
void Hlc::bump_counter() {
  if (counter_ == counter_max) {
    ms_ += 1;
    counter_ = 0;
  } else {
    counter_ += 1;
  }
}

uint64_t Hlc::now(uint64_t physical_ms) {
  physical_ms &= ms_mask;
  physical_high_ = std::max(physical_high_, physical_ms);
  if (physical_ms > ms_) {
    ms_ = physical_ms;
    counter_ = 0;
  } else {
    bump_counter();
  }
  return last();
}

bool Hlc::receive(uint64_t remote_time, uint64_t physical_ms) {
  physical_ms &= ms_mask;
  const uint64_t remote_ms = ms_of(remote_time);
  const uint64_t remote_counter = counter_of(remote_time);
  if (remote_ms > std::max(physical_ms, physical_high_) + max_offset_ms_) return false;
  physical_high_ = std::max(physical_high_, physical_ms);
  const uint64_t next_ms = std::max({ms_, remote_ms, physical_ms});
  if (next_ms == ms_ && next_ms == remote_ms) {
    counter_ = std::max(counter_, remote_counter);
    bump_counter();
  } else if (next_ms == ms_) {
    bump_counter();
  } else if (next_ms == remote_ms) {
    ms_ = remote_ms;
    counter_ = remote_counter;
    bump_counter();
  } else {
    ms_ = next_ms;
    counter_ = 0;
  }
  return true;
}

}  // namespace strata::server
