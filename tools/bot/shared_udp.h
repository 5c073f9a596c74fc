// tools/bot/shared_udp.h: one UDP socket for many bots on loopback, each with an address of its own.
//
// Linux treats the whole of 127.0.0.0/8 as local: a socket bound to the wildcard address receives
// datagrams sent to any 127.x.y.z on its port, and IP_PKTINFO tells it which one (on receive) and
// picks the source (on send). So thousands of bots share one socket, yet each is its own peer to
// the server (its own address, handshake, keys and session), and the bot process takes and sends
// their datagrams in recvmmsg/sendmmsg batches instead of two system calls per datagram per bot
// (which made the load generator, not the server, the bottleneck at 5,000 bots on two cores).
// The server's work per client is unchanged. Loopback only: a remote server cannot answer
// 127.x.y.z, so strata-bot uses a socket per bot for any other host.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/address.h"
#include "net/endpoint.h"

namespace strata::bot {

class SharedUdp {
 public:
  // Receives: (the bot's address it was sent to, IPv4 in host order; sender; bytes).
  using OnDatagram = std::function<void(uint32_t to_ip, const net::Address& from, std::span<const uint8_t>)>;

  // Binds the wildcard address on an ephemeral port; nullptr and `error` on failure.
  static std::unique_ptr<SharedUdp> open(std::string& error);
  ~SharedUdp();
  SharedUdp(const SharedUdp&) = delete;
  SharedUdp& operator=(const SharedUdp&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] uint16_t port() const { return port_; }
  // Every datagram available now (at most max_calls recvmmsg batches).
  size_t receive(const OnDatagram& on_datagram, size_t max_calls = 64);
  // Queues a datagram from `from_ip` (host order, in 127/8); sent by flush() (or when a batch fills).
  void queue(uint32_t from_ip, const net::Address& to, std::span<const uint8_t> data);
  size_t flush();

  struct Stats {
    uint64_t datagrams_received = 0;
    uint64_t datagrams_sent = 0;
    uint64_t receive_calls = 0;
    uint64_t send_calls = 0;
    uint64_t dropped = 0;  // unreadable (no destination, not IPv4, truncated) or not sent
  };
  [[nodiscard]] const Stats& stats() const { return stats_; }

 private:
  struct Impl;
  SharedUdp(int fd, uint16_t port);
  int fd_;
  uint16_t port_;
  std::unique_ptr<Impl> impl_;
  Stats stats_;
};

// A bot's sink: its datagrams leave the shared socket from its own address.
class SharedUdpSink final : public net::DatagramSink {
 public:
  SharedUdpSink(SharedUdp& shared, uint32_t ip) : shared_(shared), ip_(ip) {}
  void send_datagram(net::TransportKind, const net::Address& to, std::span<const uint8_t> data) override {
    shared_.queue(ip_, to, data);
  }
  [[nodiscard]] uint32_t ip() const { return ip_; }

 private:
  SharedUdp& shared_;
  uint32_t ip_;
};

}  // namespace strata::bot
