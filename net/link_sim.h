// net/link_sim.h: a seeded, deterministic simulated link (latency, jitter, loss, duplicates,
// reordering) used by tests and by the strata-netsim relay. Caller passes `now`; same seed and same
// inputs give the same deliveries on every platform (own PRNG, no <random> distributions).
#pragma once

#include <cstdint>
#include <queue>
#include <span>
#include <vector>

#include "net/address.h"

namespace strata::net {

struct LinkConfig {
  // One-way base delay added to every datagram.
  uint64_t latency_us = 0;
  // Uniform extra delay in [-jitter, +jitter] (never below zero total delay); reorders naturally.
  uint64_t jitter_us = 0;
  // Probability a datagram is dropped.
  double loss = 0;
  // Probability a datagram is delivered twice (the copy gets its own delay).
  double duplicate = 0;
  // Probability a datagram is held back an extra reorder_delay_us (explicit reordering).
  double reorder = 0;
  uint64_t reorder_delay_us = 0;
  // Datagrams held at once; beyond it new ones are dropped (and counted).
  size_t in_flight_max = 65536;
};

[[nodiscard]] LinkConfig default_link_config();

struct LinkStats {
  uint64_t sent = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t overflowed = 0;
  uint64_t delivered = 0;
};

struct SimDatagram {
  uint64_t deliver_us = 0;
  uint64_t order = 0;  // tie-break: equal delivery times keep send order
  Address from;
  Address to;
  std::vector<uint8_t> data;
};

// Small splitmix64 generator: deterministic everywhere.
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  uint64_t next_u64();
  double next_unit();              // [0, 1)
  uint64_t below(uint64_t bound);  // [0, bound), bound > 0

 private:
  uint64_t state_;
};

class LinkSim {
 public:
  LinkSim(const LinkConfig& config, uint64_t seed);

  void send(uint64_t now_us, const Address& from, const Address& to, std::span<const uint8_t> data);
  // Pops the next datagram due at `now_us`; false when none is due.
  bool receive(uint64_t now_us, SimDatagram& out);
  // Delivery time of the next datagram (UINT64_MAX when empty).
  [[nodiscard]] uint64_t next_delivery_us() const;
  [[nodiscard]] const LinkStats& stats() const { return stats_; }
  [[nodiscard]] size_t in_flight() const { return queue_.size(); }
  void set_config(const LinkConfig& config) { config_ = config; }

 private:
  struct Later {
    bool operator()(const SimDatagram& a, const SimDatagram& b) const {
      return a.deliver_us != b.deliver_us ? a.deliver_us > b.deliver_us : a.order > b.order;
    }
  };
  void enqueue(uint64_t now_us, const Address& from, const Address& to, std::span<const uint8_t> data);

  LinkConfig config_;
  SeededRandom random_;
  std::priority_queue<SimDatagram, std::vector<SimDatagram>, Later> queue_;
  uint64_t order_ = 0;
  LinkStats stats_;
};

}  // namespace strata::net
