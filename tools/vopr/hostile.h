// tools/vopr/hostile.h — the hostile peers of a strata-vopr run, each started by a fault of the
// plan and stopped when its time is up: garbage datagrams from random addresses, a client's
// captured datagrams sent again (from its address and a stranger's), and two logged-in peers, one
// flooding valid messages and one sending what a well-behaved client never does (random bytes, a
// server's kinds, chat beyond its budget, inputs for impossible ticks, forged checksum reports).
// What they draw comes from their own seeded generator.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "net/client.h"
#include "net/token.h"
#include "tools/vopr/schedule.h"

namespace strata::vopr {

class HostilePeers {
 public:
  // Sends one datagram from `from` to the node (onto the up link).
  using Send = std::function<void(const net::Address& from, std::span<const uint8_t> data)>;
  // The datagrams client `i` sent lately (what the replay attack resends).
  using Captured = std::function<const std::vector<std::vector<uint8_t>>&(size_t client)>;

  HostilePeers(uint64_t seed, Send send, Captured captured);
  ~HostilePeers();
  HostilePeers(const HostilePeers&) = delete;
  HostilePeers& operator=(const HostilePeers&) = delete;
  // Starts the peer `fault` describes until tick `until`; `token` logs in flood and bad_messages.
  void start(const Fault& fault, uint64_t until, std::optional<net::ConnectToken> token, uint64_t now_us);
  // One turn (10 ms) of every peer whose time is not up; `node_tick` aims the flood's inputs.
  void turn(uint64_t tick, uint64_t node_tick, uint64_t turns_per_tick);
  // Peers whose time is up disconnect, and go some ticks later (their disconnect packets sent).
  void end(uint64_t tick, uint64_t now_us);
  void receive(const net::Address& to, const net::Address& from, std::span<const uint8_t> data, uint64_t now_us);
  void update(uint64_t now_us);  // the logged-in peers' netchannel turn
  [[nodiscard]] uint64_t datagrams() const { return datagrams_; }
  [[nodiscard]] uint64_t messages() const { return messages_; }

 private:
  class PeerSink;
  struct Peer {
    FaultKind kind = FaultKind::garbage;
    uint64_t until = 0;  // vopr tick
    int64_t amount = 0;
    int64_t target = -1;
    net::Address address;
    std::unique_ptr<net::Client> net;  // logged in: flood, bad_messages
    std::unique_ptr<PeerSink> sink;
  };
  void garbage(uint64_t count);
  void replay(const Peer& peer, uint64_t count);
  void flood(Peer& peer, uint64_t count, uint64_t node_tick);
  void bad_message(Peer& peer);

  net::SeededRandom rng_;
  Send send_;
  Captured captured_;
  std::vector<Peer> peers_;
  size_t started_ = 0;
  std::vector<uint8_t> scratch_;
  uint64_t datagrams_ = 0;
  uint64_t messages_ = 0;
};

}  // namespace strata::vopr
