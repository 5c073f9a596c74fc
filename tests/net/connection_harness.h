// tests/net/connection_harness.h: two bare Connections (no crypto) joined by two seeded LinkSims,
// stepped on simulated time. Datagram = 15-byte header + payload (the MAC is added by endpoints).
#pragma once

#include <cstdint>
#include <vector>

#include "net/connection.h"
#include "net/link_sim.h"
#include "net/packet.h"

namespace strata::net::test {

class ConnectionPair {
 public:
  ConnectionPair(const ConnectionConfig& config, const LinkConfig& link, uint64_t seed, uint64_t now_us = 1'000'000)
      : now_us_(now_us),
        a_(config, ConnectionId{1}, now_us),
        b_(config, ConnectionId{1}, now_us),
        a_to_b_(link, seed),
        b_to_a_(link, seed ^ 0x5555aaaa5555aaaaull) {}

  Connection& a() { return a_; }
  Connection& b() { return b_; }
  LinkSim& a_to_b() { return a_to_b_; }
  LinkSim& b_to_a() { return b_to_a_; }
  [[nodiscard]] uint64_t now_us() const { return now_us_; }

  // Advances time by step_us, then flushes both sides and delivers what the links release.
  void step(uint64_t step_us) {
    now_us_ += step_us;
    flush(a_, a_to_b_);
    flush(b_, b_to_a_);
    deliver(a_to_b_, b_);
    deliver(b_to_a_, a_);
    a_.update(now_us_);
    b_.update(now_us_);
  }

 private:
  void flush(Connection& from, LinkSim& link) {
    PacketHeader header;
    for (int guard = 0; guard < 10'000 && from.write_packet(now_us_, header, payload_); ++guard) {
      datagram_.resize(packet_header_size + payload_.size());
      write_packet_header(header, std::span<uint8_t, packet_header_size>(datagram_.data(), packet_header_size));
      std::copy(payload_.begin(), payload_.end(), datagram_.begin() + packet_header_size);
      link.send(now_us_, Address{}, Address{}, datagram_);
    }
  }
  void deliver(LinkSim& link, Connection& to) {
    SimDatagram d;
    while (link.receive(now_us_, d)) {
      auto header = read_packet_header(d.data);
      if (!header) continue;
      to.receive_packet(*header, std::span<const uint8_t>(d.data).subspan(packet_header_size), now_us_);
    }
  }

  uint64_t now_us_;
  Connection a_;
  Connection b_;
  LinkSim a_to_b_;
  LinkSim b_to_a_;
  std::vector<uint8_t> payload_;
  std::vector<uint8_t> datagram_;
};

// Deterministic content of message `index` of `size` bytes: checks catch swaps and corruption.
inline std::vector<uint8_t> message_bytes(uint32_t index, size_t size) {
  std::vector<uint8_t> data(size);
  uint32_t x = index * 2654435761u + 12345u;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    data[i] = static_cast<uint8_t>(x >> 16);
  }
  for (size_t i = 0; i < size && i < 4; ++i) data[i] = static_cast<uint8_t>(index >> (8 * i));
  return data;
}

inline uint32_t message_index(const std::vector<uint8_t>& data) {
  uint32_t index = 0;
  for (size_t i = 0; i < data.size() && i < 4; ++i) index |= static_cast<uint32_t>(data[i]) << (8 * i);
  return index;
}

}  // namespace strata::net::test
