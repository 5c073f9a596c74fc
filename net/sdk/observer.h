// net/sdk/observer.h — an observer of a region: it receives the world once and then every tick's
// input stream over the reliable channel, re-simulates the whole region in lockstep with sim::step
// and compares its quick hash with the server's on every tick. A mismatch is a determinism bug
// (or a bug in the stream): counted, never hidden. Sans I/O, like GameClient.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/client.h"
#include "sim/simulation.h"

namespace strata::sdk {

struct ObserverStats {
  uint64_t ticks_verified = 0;
  uint64_t hash_mismatches = 0;
  uint64_t first_mismatch_tick = 0;
  uint64_t gaps = 0;              // a tick arrived out of sequence
  uint64_t refused_messages = 0;  // undecodable stream messages
  uint64_t start_tick = 0;        // the tick of the world it started from
};

class Observer {
 public:
  explicit Observer(const net::ClientConfig& config = net::default_client_config()) : net_(config) {}
  bool connect(std::span<const uint8_t> token, uint64_t now_us) { return net_.connect(token, now_us); }
  void receive(const net::Address& from, std::span<const uint8_t> datagram, uint64_t now_us) {
    net_.receive(from, datagram, now_us);
  }
  void update(uint64_t now_us);
  void send_packets(uint64_t now_us, net::DatagramSink& sink) { net_.send_packets(now_us, sink); }
  void disconnect(uint64_t now_us) { net_.disconnect(net::DisconnectReason::requested, now_us); }

  [[nodiscard]] net::ClientState state() const { return net_.state(); }
  [[nodiscard]] const ObserverStats& stats() const { return stats_; }
  [[nodiscard]] const sim::Simulation* simulation() const { return sim_.get(); }
  [[nodiscard]] const std::string& last_error() const { return last_error_; }

 private:
  net::Client net_;
  std::vector<uint8_t> world_bytes_;
  uint32_t parts_received_ = 0;
  std::unique_ptr<sim::Simulation> sim_;
  ObserverStats stats_;
  std::string last_error_;
};

}  // namespace strata::sdk
