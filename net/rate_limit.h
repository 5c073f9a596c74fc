// net/rate_limit.h: token buckets for the server endpoint: one (TokenBucket), and one per peer IP
// in a bounded table (AddressBudgets) so that one host's junk cannot use up what other hosts may
// spend. The table holds at most `capacity` addresses; when full, the oldest-inserted address is
// forgotten (it starts again with a full bucket: the global budget stays the backstop).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "net/address.h"

namespace strata::net {

struct TokenBucket {
  double tokens = 0;
  uint64_t refilled_us = 0;

  // Refills at `rate` a second up to `burst`, then takes `cost` if there is that much.
  [[nodiscard]] bool take(double cost, double rate, double burst, uint64_t now_us) {
    const double elapsed_s = static_cast<double>(now_us - std::min(now_us, refilled_us)) / 1e6;
    tokens = std::min(burst, tokens + elapsed_s * rate);
    refilled_us = std::max(refilled_us, now_us);
    if (tokens < cost) return false;
    tokens -= cost;
    return true;
  }
};

class AddressBudgets {
 public:
  AddressBudgets(size_t capacity, double rate, double burst) : capacity_(capacity), rate_(rate), burst_(burst) {}

  // One unit from the bucket of `from`'s IP (the port is ignored); false when it is empty.
  [[nodiscard]] bool take(const Address& from, uint64_t now_us) {
    if (capacity_ == 0 || rate_ <= 0) return true;  // off
    Address ip = from;
    ip.port = 0;
    auto it = buckets_.find(ip);
    if (it == buckets_.end()) {
      if (buckets_.size() >= capacity_) {
        buckets_.erase(order_.front());
        order_.pop_front();
        ++evictions_;
      }
      it = buckets_.emplace(ip, TokenBucket{burst_, now_us}).first;
      order_.push_back(ip);
    }
    return it->second.take(1.0, rate_, burst_, now_us);
  }

  [[nodiscard]] size_t size() const { return buckets_.size(); }
  [[nodiscard]] uint64_t evictions() const { return evictions_; }

 private:
  size_t capacity_;
  double rate_;
  double burst_;
  std::unordered_map<Address, TokenBucket, AddressHash> buckets_;
  std::deque<Address> order_;  // insertion order: the front is evicted first
  uint64_t evictions_ = 0;
};

}  // namespace strata::net
