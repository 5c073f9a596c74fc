// tests/net/edge_test.cc: the server endpoint against hostile or unlucky peers (issue 13), on
// simulated time: a transport that fails while the server is writing to it (the use-after-free of
// a stream closed from inside send_packets), per-address connection-request budgets, denied
// replies with their reason, a second login taking over, per-client packet and byte budgets.
#include <gtest/gtest.h>

#include "net/handshake.h"
#include "tests/net/endpoint_harness.h"

namespace strata::net {
namespace {

using test::World;

struct Fixture {
  Key key;
  World world;
  // The config's private_key mints the tokens.
  explicit Fixture(const ServerConfig& config) : key(config.private_key), world(config, LinkConfig{}, 1) {}
  Fixture() : Fixture(World::default_config(random_key())) {}

  bool connect(std::size_t client, const ConnectToken& token) {
    if (!world.client(client).connect(token, world.now_us())) return false;
    for (int i = 0; i < 100 && world.client(client).state() != ClientState::connected; ++i) world.step(1000);
    return world.client(client).state() == ClientState::connected;
  }
};

// A transport whose peer fails on the first packet written to it, reporting the failure at once
// (as a TCP stream whose send queue overflows did): the server must not touch the client it is
// writing to after its own transport_closed() ran.
struct FailingSink : DatagramSink {
  Server* server = nullptr;
  DatagramSink* others = nullptr;  // where packets to other peers go
  Address failing;
  std::size_t writes_after_failure = 0;
  bool failed = false;
  void send_datagram(TransportKind kind, const Address& to, std::span<const std::uint8_t> data) override {
    if (to != failing) {
      others->send_datagram(kind, to, data);
      return;
    }
    if (failed) {
      ++writes_after_failure;
      return;
    }
    failed = true;
    server->transport_closed(kind, to);
  }
};

TEST(net_edge, transport_closed_from_inside_send_packets_is_safe) {
  Fixture f;
  f.world.add_client();
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{1})));
  ASSERT_TRUE(f.connect(1, f.world.mint(f.key, ClientId{2})));
  Server& server = f.world.server();
  ServerEvent event;
  while (server.pop_event(event)) {
  }
  // Enough for many packets to each client in one send_packets call.
  for (int i = 0; i < 64; ++i) {
    ASSERT_EQ(server.send(ClientId{1}, Channel::unreliable_sequenced, std::vector<std::uint8_t>(1000, 1)),
              SendResult::ok);
    ASSERT_EQ(server.send(ClientId{2}, Channel::unreliable_sequenced, std::vector<std::uint8_t>(1000, 2)),
              SendResult::ok);
  }
  FailingSink sink;
  sink.server = &server;
  sink.others = &f.world.server_sink();
  sink.failing = test::client_address(0);
  server.send_packets(f.world.now_us(), sink);  // ASan: heap-use-after-free here before the fix
  server.update(f.world.now_us() + 1000);
  EXPECT_TRUE(sink.failed);
  EXPECT_EQ(server.connected_count(), 1u);
  EXPECT_EQ(server.client_stats(ClientId{1}), nullptr);
  ASSERT_NE(server.client_stats(ClientId{2}), nullptr);
  bool reported = false;
  while (server.pop_event(event)) {
    if (event.kind == ServerEvent::Kind::disconnected && event.client == ClientId{1})
      reported = event.reason == DisconnectReason::transport_error;
  }
  EXPECT_TRUE(reported);
  // The other client is unaffected: it still gets its messages.
  for (int i = 0; i < 20; ++i) f.world.step(1000);
  Message m;
  std::size_t received = 0;
  while (f.world.client(1).pop_message(m)) ++received;
  EXPECT_GT(received, 0u);
  EXPECT_EQ(f.world.client(1).state(), ClientState::connected);
}

}  // namespace
}  // namespace strata::net
