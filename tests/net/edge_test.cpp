// tests/net/edge_test.cpp: the server endpoint against hostile or unlucky peers (issue 13), on
// simulated time: a transport that fails while the server is writing to it (the use-after-free of
// a stream closed from inside send_packets), per-address connection-request budgets, denied
// replies with their reason, a second login taking over, per-client packet and byte budgets.
#include <gtest/gtest.h>

#include <cstdio>

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

  bool connect(size_t client, const ConnectToken& token) {
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
  size_t writes_after_failure = 0;
  bool failed = false;
  void send_datagram(TransportKind kind, const Address& to, std::span<const uint8_t> data) override {
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
    ASSERT_EQ(server.send(ClientId{1}, Channel::unreliable_sequenced, std::vector<uint8_t>(1000, 1)), SendResult::ok);
    ASSERT_EQ(server.send(ClientId{2}, Channel::unreliable_sequenced, std::vector<uint8_t>(1000, 2)), SendResult::ok);
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
  size_t received = 0;
  while (f.world.client(1).pop_message(m)) ++received;
  EXPECT_GT(received, 0u);
  EXPECT_EQ(f.world.client(1).state(), ClientState::connected);
}

// A connection request carrying the public protocol id and a live expiry, but junk for a token:
// it passes every cheap check and costs the server a decryption attempt.
std::vector<uint8_t> junk_request(uint64_t now_us, uint8_t fill) {
  ConnectionRequest request;
  request.protocol_id = test::test_protocol_id;
  request.expire_unix_s = now_us / 1'000'000 + 60;
  request.nonce.fill(fill);
  request.private_data.fill(fill);
  std::vector<uint8_t> out(connection_request_size);
  write_connection_request(request, std::span<uint8_t, connection_request_size>(out.data(), out.size()));
  return out;
}

struct NullSink : DatagramSink {
  size_t count = 0;
  void send_datagram(TransportKind, const Address&, std::span<const uint8_t>) override { ++count; }
};

TEST(net_edge, junk_requests_from_one_address_do_not_block_other_hosts) {
  Fixture f;
  Server& server = f.world.server();
  NullSink sink;
  const Address attacker = make_ipv4(10, 9, 9, 9, 1000);
  // Far more junk than the global burst (1,000), from many ports of one IP, in one instant.
  for (int i = 0; i < 5000; ++i) {
    Address from = attacker;
    from.port = static_cast<uint16_t>(1000 + i);
    server.receive(TransportKind::datagram, from, junk_request(f.world.now_us(), static_cast<uint8_t>(i)),
                   f.world.now_us(), sink);
  }
  const DropCounters& drops = server.endpoint_drops();
  EXPECT_EQ(drops[DropReason::token_invalid], static_cast<uint64_t>(request_burst_per_address_default));
  EXPECT_EQ(drops[DropReason::address_rate_limit], 5000u - static_cast<uint64_t>(request_burst_per_address_default));
  EXPECT_EQ(drops[DropReason::rate_limit], 0u);  // the global budget is left for everyone else
  EXPECT_EQ(sink.count, 0u);                     // junk gets no answer
  // A real client on another address connects at once.
  f.world.add_client();
  EXPECT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{3})));
}

TEST(net_edge, request_budget_table_is_bounded_and_the_global_budget_stays_the_backstop) {
  ServerConfig config = World::default_config(random_key());
  config.request_address_table_size = 100;
  config.connection_request_burst = 300;
  config.connection_requests_per_second = 1;
  Fixture f(config);
  Server& server = f.world.server();
  NullSink sink;
  for (int i = 0; i < 1000; ++i) {
    const Address from = make_ipv4(172, 16, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 9);
    server.receive(TransportKind::datagram, from, junk_request(f.world.now_us(), 1), f.world.now_us(), sink);
  }
  EXPECT_EQ(server.request_addresses_tracked(), 100u);
  EXPECT_EQ(server.endpoint_drops()[DropReason::token_invalid], 300u);
  EXPECT_EQ(server.endpoint_drops()[DropReason::rate_limit], 700u);
  EXPECT_EQ(server.endpoint_drops()[DropReason::address_rate_limit], 0u);
}

TEST(net_edge, refused_handshakes_get_a_denied_packet_with_the_reason) {
  ServerConfig config = World::default_config(random_key());
  config.max_clients = 1;
  Fixture f(config);
  f.world.add_client();
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{1})));
  EXPECT_FALSE(f.connect(1, f.world.mint(f.key, ClientId{2})));
  EXPECT_EQ(f.world.client(1).state(), ClientState::failed);
  EXPECT_EQ(f.world.client(1).failure(), ClientFailure::denied);
  EXPECT_EQ(f.world.client(1).disconnect_reason(), DisconnectReason::server_full);
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::server_full], 1u);
}

TEST(net_edge, one_token_used_from_two_addresses_connects_one_and_denies_the_other) {
  Fixture f;
  f.world.add_client();
  f.world.add_client();
  const ConnectToken token = f.world.mint(f.key, ClientId{8});
  ASSERT_TRUE(f.world.client(0).connect(token, f.world.now_us()));
  ASSERT_TRUE(f.world.client(1).connect(token, f.world.now_us()));
  for (int i = 0; i < 100; ++i) f.world.step(1000);
  const bool first = f.world.client(0).state() == ClientState::connected;
  Client& loser = f.world.client(first ? 1 : 0);
  EXPECT_EQ(f.world.client(first ? 0 : 1).state(), ClientState::connected);
  EXPECT_EQ(loser.state(), ClientState::failed);
  EXPECT_EQ(loser.failure(), ClientFailure::denied);
  EXPECT_EQ(loser.disconnect_reason(), DisconnectReason::token_reused);
}

TEST(net_edge, resent_responses_of_a_connected_client_are_not_denied) {
  LinkConfig slow;
  slow.latency_us = 150'000;  // the client resends its response (every 100 ms) before the server's answer arrives
  const Key key = random_key();
  World world(World::default_config(key), slow, 3);
  world.add_client();
  ASSERT_TRUE(world.client(0).connect(world.mint(key, ClientId{4}), world.now_us()));
  for (int i = 0; i < 1000 && world.client(0).state() != ClientState::connected; ++i) world.step(1000);
  ASSERT_EQ(world.client(0).state(), ClientState::connected);
  for (int i = 0; i < 500; ++i) world.step(1000);
  EXPECT_GT(world.server().endpoint_drops()[DropReason::already_connected], 0u);
  EXPECT_EQ(world.server().handshake_counters().denied_sent, 0u);
  EXPECT_EQ(world.client(0).state(), ClientState::connected);
}

TEST(net_edge, a_newer_login_of_a_connected_client_replaces_the_older_connection) {
  Fixture f;
  f.world.add_client();
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{7})));
  Server& server = f.world.server();
  ServerEvent event;
  while (server.pop_event(event)) {
  }
  // The same account logs in again (a fresh single-use token) from elsewhere.
  ASSERT_TRUE(f.connect(1, f.world.mint(f.key, ClientId{7})));
  for (int i = 0; i < 20; ++i) f.world.step(1000);
  EXPECT_EQ(server.connected_count(), 1u);
  EXPECT_EQ(f.world.client(0).state(), ClientState::disconnected);
  EXPECT_EQ(f.world.client(0).disconnect_reason(), DisconnectReason::replaced);  // told at once
  EXPECT_EQ(f.world.client(1).state(), ClientState::connected);
  std::vector<ServerEvent> events;
  while (server.pop_event(event)) events.push_back(event);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, ServerEvent::Kind::disconnected);
  EXPECT_EQ(events[0].reason, DisconnectReason::replaced);
  EXPECT_EQ(events[0].address, test::client_address(0));
  EXPECT_EQ(events[1].kind, ServerEvent::Kind::connected);
  EXPECT_EQ(events[1].client, ClientId{7});
  EXPECT_EQ(events[1].address, test::client_address(1));
  // The newer connection carries messages.
  const std::vector<uint8_t> hello = {1, 2, 3};
  ASSERT_EQ(f.world.client(1).send(Channel::reliable_ordered, hello), SendResult::ok);
  for (int i = 0; i < 5; ++i) f.world.step(1000);
  Message m;
  ASSERT_TRUE(server.pop_message(ClientId{7}, m));
  EXPECT_EQ(m.data, hello);
}

TEST(net_edge, a_client_at_game_rates_never_meets_the_default_budgets) {
  Fixture f;
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{5})));
  Server& server = f.world.server();
  Message m;
  // 20 s of a 20 Hz client: an input each tick, a chat line a second; a snapshot down each tick.
  for (int step = 0; step < 20'000; ++step) {
    if (step % 50 == 0) {
      ASSERT_EQ(f.world.client(0).send(Channel::reliable_ordered, std::vector<uint8_t>(40, 1)), SendResult::ok);
      ASSERT_EQ(server.send(ClientId{5}, Channel::unreliable_sequenced, std::vector<uint8_t>(900, 2)), SendResult::ok);
    }
    if (step % 1000 == 0) {
      ASSERT_EQ(f.world.client(0).send(Channel::reliable_ordered, std::vector<uint8_t>(200, 3)), SendResult::ok);
    }
    f.world.step(1000);
    while (server.pop_message(ClientId{5}, m)) {
    }
    while (f.world.client(0).pop_message(m)) {
    }
  }
  const DropCounters drops = server.total_drops();
  EXPECT_EQ(drops[DropReason::packet_rate_limit], 0u);
  EXPECT_EQ(drops[DropReason::byte_rate_limit], 0u);
  EXPECT_EQ(f.world.client(0).state(), ClientState::connected);
}

TEST(net_edge, a_flooding_client_is_held_to_its_packet_and_byte_budgets) {
  Fixture f;
  f.world.add_client();
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{5})));
  ASSERT_TRUE(f.connect(1, f.world.mint(f.key, ClientId{6})));
  Server& server = f.world.server();
  Message m;
  // Client 5: 2 s of small packets at 1,000 a second. Client 6: 2 s of 100 kB at 10 a second.
  for (int step = 0; step < 2000; ++step) {
    (void)f.world.client(0).send(Channel::unreliable_sequenced, std::vector<uint8_t>(10, 1));
    if (step % 100 == 0) (void)f.world.client(1).send(Channel::unreliable_sequenced, std::vector<uint8_t>(100'000, 2));
    f.world.step(1000);
    while (server.pop_message(ClientId{5}, m)) {
    }
    while (server.pop_message(ClientId{6}, m)) {
    }
  }
  const DropCounters drops = server.total_drops();
  // 2,000 packets against 600 + 2 s x 150.
  EXPECT_GT(drops[DropReason::packet_rate_limit], 1000u);
  // 2 MB against 256 kB + 2 s x 64 kB.
  EXPECT_GT(drops[DropReason::byte_rate_limit], 500u);
  EXPECT_EQ(server.connected_count(), 2u);  // budgets drop packets, not connections
}

// A reliable entry for the receive-bound test, in its own packet.
void receive_reliable(Connection& c, uint16_t sequence, uint16_t id, size_t size, uint64_t now) {
  const std::vector<uint8_t> data(size, static_cast<uint8_t>(id));
  Entry entry;
  entry.tag = EntryTag::reliable_message;
  entry.id = id;
  entry.data = data;
  std::vector<uint8_t> payload(packet_payload_max);
  const size_t n = write_entry(entry, payload);
  ASSERT_GT(n, 0u);
  PacketHeader header;
  header.connection_id = ConnectionId{1};
  header.sequence = sequence;
  header.ack = 0xffff;
  c.receive_packet(header, std::span<const uint8_t>(payload.data(), n), now);
}

TEST(net_edge, skipping_one_reliable_id_cannot_pin_more_than_the_byte_bound) {
  const uint64_t now = 1'000'000;
  Connection c(default_connection_config(), ConnectionId{1}, now);
  const size_t window_slots = reliable_span_factor * reliable_window_default;
  // Id 0 never comes; every other id of the window arrives, full size.
  size_t peak = 0;
  for (size_t id = 1; id < window_slots; ++id) {
    ASSERT_NO_FATAL_FAILURE(
        receive_reliable(c, static_cast<uint16_t>(id), static_cast<uint16_t>(id), unfragmented_size_max, now));
    peak = std::max(peak, c.memory_bytes());
  }
  EXPECT_LE(c.reliable_receive_bytes(), reliable_receive_bytes_default);
  EXPECT_GT(c.stats().drops[DropReason::receive_buffer_full], window_slots / 2);
  const size_t ring_overhead = 2 * window_slots * sizeof(ReliableSlot);
  EXPECT_LE(peak, reliable_receive_bytes_default + ring_overhead + 64 * 1024);
  std::printf("reliable receive: held %zu bytes, connection memory at peak %zu bytes (was up to %zu)\n",
              c.reliable_receive_bytes(), peak, window_slots * unfragmented_size_max);
  // The missing id arrives: it and everything held behind it are delivered, in order.
  ASSERT_NO_FATAL_FAILURE(receive_reliable(c, static_cast<uint16_t>(window_slots), 0, 10, now));
  Message m;
  uint16_t expected = 0;
  while (c.pop_message(m)) {
    ASSERT_FALSE(m.data.empty());
    ASSERT_EQ(m.data[0], static_cast<uint8_t>(expected));
    ++expected;
  }
  EXPECT_GT(expected, 1u);
  EXPECT_EQ(c.reliable_receive_bytes(), 0u);
  EXPECT_EQ(c.state(), ConnectionState::connected);
  // Tiny messages instead: the slots bound them (their chunks are the cost, not their bytes).
  Connection tiny(default_connection_config(), ConnectionId{1}, now);
  size_t tiny_peak = 0;
  for (size_t id = 1; id < window_slots; ++id) {
    ASSERT_NO_FATAL_FAILURE(receive_reliable(tiny, static_cast<uint16_t>(id), static_cast<uint16_t>(id), 1, now));
    tiny_peak = std::max(tiny_peak, tiny.memory_bytes());
  }
  EXPECT_LE(tiny_peak, reliable_receive_bytes_default);
  std::printf("reliable receive, 1-byte messages: held %zu bytes, connection memory at peak %zu bytes\n",
              tiny.reliable_receive_bytes(), tiny_peak);
}

TEST(net_edge, over_a_stream_the_receive_bound_ends_the_connection_instead_of_leaving_a_gap) {
  const uint64_t now = 1'000'000;
  ConnectionConfig config = default_connection_config();
  config.stream_transport = true;  // nothing is ever resent: a dropped message would never come back
  Connection c(config, ConnectionId{1}, now);
  uint16_t id = 1;
  while (c.state() == ConnectionState::connected && id < 4000) {
    ASSERT_NO_FATAL_FAILURE(receive_reliable(c, id, id, unfragmented_size_max, now));
    ++id;
  }
  EXPECT_EQ(c.state(), ConnectionState::disconnected);
  EXPECT_EQ(c.disconnect_reason(), DisconnectReason::protocol_error);
  EXPECT_EQ(c.stats().drops[DropReason::receive_buffer_full], 1u);
  EXPECT_LE(c.reliable_receive_bytes(), reliable_receive_bytes_default);
}

}  // namespace
}  // namespace strata::net
