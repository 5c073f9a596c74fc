// net/link_sim.cpp: the simulated link. Every random draw happens in a fixed order per send, so a
// seed fully determines the fate of each datagram.
#include "net/link_sim.h"

namespace strata::net {

LinkConfig default_link_config() { return LinkConfig{}; }

uint64_t SeededRandom::next_u64() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double SeededRandom::next_unit() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }

uint64_t SeededRandom::below(uint64_t bound) { return bound == 0 ? 0 : next_u64() % bound; }

LinkSim::LinkSim(const LinkConfig& config, uint64_t seed) : config_(config), random_(seed) {}

void LinkSim::send(uint64_t now_us, const Address& from, const Address& to, std::span<const uint8_t> data) {
  ++stats_.sent;
  const double loss_draw = random_.next_unit();
  const double duplicate_draw = random_.next_unit();
  if (loss_draw < config_.loss) {
    ++stats_.lost;
    return;
  }
  enqueue(now_us, from, to, data);
  if (duplicate_draw < config_.duplicate) {
    ++stats_.duplicated;
    enqueue(now_us, from, to, data);
  }
}

void LinkSim::enqueue(uint64_t now_us, const Address& from, const Address& to, std::span<const uint8_t> data) {
  const uint64_t jitter_draw = random_.below(2 * config_.jitter_us + 1);
  const double reorder_draw = random_.next_unit();
  if (queue_.size() >= config_.in_flight_max) {
    ++stats_.overflowed;
    return;
  }
  uint64_t delay = config_.latency_us + jitter_draw;
  delay = delay >= config_.jitter_us ? delay - config_.jitter_us : 0;
  if (reorder_draw < config_.reorder) {
    delay += config_.reorder_delay_us;
    ++stats_.reordered;
  }
  SimDatagram datagram;
  datagram.deliver_us = now_us + delay;
  datagram.order = order_++;
  datagram.from = from;
  datagram.to = to;
  datagram.data.assign(data.begin(), data.end());
  queue_.push(std::move(datagram));
}

bool LinkSim::receive(uint64_t now_us, SimDatagram& out) {
  if (queue_.empty() || queue_.top().deliver_us > now_us) return false;
  out = std::move(const_cast<SimDatagram&>(queue_.top()));
  queue_.pop();
  ++stats_.delivered;
  return true;
}

uint64_t LinkSim::next_delivery_us() const { return queue_.empty() ? UINT64_MAX : queue_.top().deliver_us; }

}  // namespace strata::net
