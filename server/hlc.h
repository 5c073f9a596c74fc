// server/hlc.h — hybrid logical clock (Kulkarni et al., 2014) giving every local block write its
// LWW stamp. A time is 48 bits of milliseconds and a 16-bit counter, packed as (ms << 16) | counter,
// so stamps compare as integers; ties between regions are broken by region id in sim::LwwStamp.
// The physical time is passed in (no clock reads here), so the node stays testable on simulated time.
//
// Invariants: now()/receive() never return a time <= a time they returned before; a remote time
// further ahead of our physical clock than max_offset_ms is refused (it would drag every later
// local write into the future and let one bad clock win every conflict). "Our physical clock" is
// the newest physical time this clock has read (or restored): a wall clock stepped back (NTP, a VM
// resumed) leaves every HLC that had read the old time ahead of it, ours and the other regions'
// alike, and their writes are no further in the future than ours. Refusing them made regions
// diverge for good after a step back of more than max_offset_ms (strata-vopr --regions 3, seed 1).
#pragma once

#include <algorithm>
#include <cstdint>

namespace strata::server {

class Hlc {
 public:
  static constexpr uint64_t ms_bits = 48;
  static constexpr uint64_t ms_mask = (uint64_t{1} << ms_bits) - 1;
  static constexpr uint64_t counter_max = 0xFFFF;

  explicit Hlc(uint64_t max_offset_ms) : max_offset_ms_(max_offset_ms) {}

  [[nodiscard]] static constexpr uint64_t pack(uint64_t ms, uint64_t counter) {
    return ((ms & ms_mask) << 16U) | counter;
  }
  [[nodiscard]] static constexpr uint64_t ms_of(uint64_t time) { return time >> 16U; }
  [[nodiscard]] static constexpr uint64_t counter_of(uint64_t time) { return time & counter_max; }

  // A local event (send or write) at physical time physical_ms.
  uint64_t now(uint64_t physical_ms);
  // Whether receive() would take this remote time now (nothing changes).
  [[nodiscard]] bool within_offset(uint64_t remote_time, uint64_t physical_ms) const {
    return ms_of(remote_time) <= std::max(physical_ms & ms_mask, physical_high_) + max_offset_ms_;
  }
  // Merges a remote time. Returns false (and leaves the clock unchanged) when the remote time is
  // more than max_offset_ms ahead of physical_ms.
  [[nodiscard]] bool receive(uint64_t remote_time, uint64_t physical_ms);

  [[nodiscard]] uint64_t last() const { return pack(ms_, counter_); }
  // Restores the clock after a restart from the largest time the log recorded.
  void restore(uint64_t time) {
    ms_ = ms_of(time);
    counter_ = counter_of(time);
    physical_high_ = std::max(physical_high_, ms_);
  }

 private:
  void bump_counter();
  uint64_t max_offset_ms_;
  uint64_t ms_ = 0;
  uint64_t counter_ = 0;
  uint64_t physical_high_ = 0;  // the newest physical time read (what remote times are judged by)
};

}  // namespace strata::server
