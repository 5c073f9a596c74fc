// net/sdk/observer.h — an observer of a region: it receives the world once and then every tick's
// input stream over the reliable channel, re-simulates the whole region in lockstep with sim::step
// and compares its quick hash with the server's on every tick. A mismatch is a determinism bug
// (or a bug in the stream): counted, never hidden. Sans I/O, like GameClient.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/client.h"
#include "schema/client/messages.h"
#include "schema/limits.h"
#include "sim/simulation.h"

namespace strata::sdk {

// Puts the observer's world back together from its parts (untrusted: fuzz/sdk_observer_reassembly).
// Parts must come in order (index 0, 1, ..., count - 1) with the count of the first one; the whole
// is bounded by world_bytes_max. A part that breaks these is refused with a reason and the world
// under way is dropped (the next part 0 starts again): a server's bug, never a reason to grow.
class WorldAssembler {
 public:
  // The largest world accepted: what its parts can carry, and no more than a packed snapshot can be.
  static constexpr size_t world_bytes_max =
      std::min(view::observer_parts_max * view::observer_part_bytes_max, schema::limits::snapshot_packed_bytes_max);
  enum class Result : uint8_t { incomplete, complete, refused };
  [[nodiscard]] Result add(const view::ObserverPart& part, std::string& error);
  // The world, once add() said complete (then the assembler is empty again).
  [[nodiscard]] std::vector<uint8_t> take();
  [[nodiscard]] uint32_t parts_received() const { return next_; }

 private:
  void reset();
  std::vector<uint8_t> bytes_;
  uint32_t next_ = 0;   // index of the next part
  uint32_t count_ = 0;  // parts of the world under way (from its first part)
  bool complete_ = false;
};

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
  WorldAssembler world_;
  std::unique_ptr<sim::Simulation> sim_;
  ObserverStats stats_;
  std::string last_error_;
};

}  // namespace strata::sdk
