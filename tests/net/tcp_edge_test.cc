// tests/net/tcp_edge_test.cc: the TCP transport on real loopback sockets against peers that
// misbehave (issue 13): a client that stops reading while the server writes to it (its stream is
// closed from inside the server's send path: nothing may be freed under the server's feet).
// Bounded by a wall-clock guard; nothing asserts timing.
#include <gtest/gtest.h>

#include <utility>  // before Asio (Boost 1.74 + GCC 12 + C++20)

#include <boost/asio.hpp>
#include <chrono>

#include "net/client.h"
#include "net/server.h"
#include "net/transport.h"

namespace strata::net {
namespace {

constexpr std::uint64_t protocol_id = 0x1234;

struct Deadline {
  std::chrono::steady_clock::time_point end;
  explicit Deadline(int seconds = 20) : end(std::chrono::steady_clock::now() + std::chrono::seconds(seconds)) {}
  [[nodiscard]] bool passed() const { return std::chrono::steady_clock::now() > end; }
};

ConnectToken mint(const Key& key, const Address& server, ClientId id) {
  ConnectTokenParams params;
  params.protocol_id = protocol_id;
  params.client_id = id;
  params.server_addresses = {server};
  return *mint_connect_token(params, key, system_now_us() / 1'000'000);
}

// A server endpoint behind a TcpServer on 127.0.0.1 (the token names the listener's address).
struct TcpServerWorld {
  boost::asio::io_context io;
  Key key = random_key();
  std::unique_ptr<Server> server;
  std::unique_ptr<TcpServer> listener;
  Address address;
  std::uint64_t now = 0;

  void open() {
    std::string error;
    listener = TcpServer::open(
        io, make_ipv4(127, 0, 0, 1, 0),
        [this](const Address& from, std::span<const std::uint8_t> frame) {
          server->receive(TransportKind::stream, from, frame, now, *listener);
        },
        [this](const Address& peer) { server->transport_closed(TransportKind::stream, peer); }, error);
    ASSERT_TRUE(listener) << error;
    address = listener->local_address();
    ServerConfig config = default_server_config();
    config.protocol_id = protocol_id;
    config.public_address = address;
    config.private_key = key;
    server = std::make_unique<Server>(config);
  }
  void turn() {
    now = system_now_us();
    io.poll();
    server->update(now);
    server->send_packets(now, *listener);
    io.poll();
  }
};

// A netchannel client over its own TcpClient and io_context (so the test can stop reading it).
struct StreamPeer {
  boost::asio::io_context io;
  Client client;
  TcpClient stream;
  StreamPeer()
      : client([] {
          ClientConfig c = default_client_config();
          c.transport = TransportKind::stream;
          return c;
        }()),
        stream(
            io,
            [this](const Address& from, std::span<const std::uint8_t> frame) {
              client.receive(from, frame, system_now_us());
            },
            [] {}) {}
  void turn() {
    const std::uint64_t now = system_now_us();
    io.poll();
    client.update(now);
    client.send_packets(now, stream);
    io.poll();
  }
};

TEST(net_tcp_edge, client_that_stops_reading_is_dropped_without_use_after_free) {
  TcpServerWorld w;
  ASSERT_NO_FATAL_FAILURE(w.open());
  StreamPeer peer;
  peer.stream.connect(w.address);
  ASSERT_TRUE(peer.client.connect_stream(mint(w.key, w.address, ClientId{5}), w.address, system_now_us()));
  Deadline deadline;
  while (!deadline.passed() && (peer.client.state() != ClientState::connected || w.server->connected_count() == 0)) {
    w.turn();
    peer.turn();
  }
  ASSERT_EQ(w.server->connected_count(), 1u);
  ServerEvent event;
  while (w.server->pop_event(event)) {
  }
  // The peer stops reading (its io_context no longer runs): the kernel buffers fill, then the
  // stream's send queue passes its bound inside send_packets.
  const std::vector<std::uint8_t> chunk(1000, 0x5a);
  bool dropped = false;
  while (!deadline.passed() && !dropped) {
    for (int i = 0; i < 256; ++i) (void)w.server->send(ClientId{5}, Channel::unreliable_sequenced, chunk);
    w.turn();
    while (w.server->pop_event(event)) {
      if (event.kind == ServerEvent::Kind::disconnected) {
        dropped = true;
        EXPECT_EQ(event.reason, DisconnectReason::transport_error);
      }
    }
  }
  EXPECT_TRUE(dropped);
  EXPECT_EQ(w.server->connected_count(), 0u);
  EXPECT_GE(w.listener->stats().send_dropped, 1u);
  for (int i = 0; i < 10; ++i) w.turn();
  EXPECT_EQ(w.listener->stream_count(), 0u);
}

}  // namespace
}  // namespace strata::net
