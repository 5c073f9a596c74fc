// tests/net/security_test.cpp: the handshake and packet authentication against an attacker on the
// path or off it: spoofed requests allocate nothing, replies are never larger than requests, bad
// tokens are refused with their counters, captured packets replayed are dropped, garbage is dropped
// and the connection stays healthy.
#include <gtest/gtest.h>

#include "net/handshake.h"
#include "tests/net/endpoint_harness.h"

namespace strata::net {
namespace {

using test::World;

struct Fixture {
  Key key = random_key();
  World world{World::default_config(key), LinkConfig{}, 1};

  bool connect(size_t client, const ConnectToken& token) {
    if (!world.client(client).connect(token, world.now_us())) return false;
    for (int i = 0; i < 100 && world.client(client).state() != ClientState::connected; ++i) world.step(1000);
    return world.client(client).state() == ClientState::connected;
  }
  // A raw datagram from `from` straight into the server; returns what the server sent back.
  struct Captured : DatagramSink {
    void send_datagram(TransportKind, const Address&, std::span<const uint8_t> data) override {
      sizes.push_back(data.size());
    }
    std::vector<size_t> sizes;
  };
  Captured inject(const Address& from, std::span<const uint8_t> datagram) {
    Captured c;
    world.server().receive(TransportKind::datagram, from, datagram, world.now_us(), c);
    return c;
  }
  static std::vector<uint8_t> request_from(const ConnectToken& token) {
    const auto pub = read_connect_token(token);
    ConnectionRequest request;
    request.protocol_id = pub->protocol_id;
    request.expire_unix_s = pub->expire_unix_s;
    request.nonce = pub->nonce;
    request.private_data = pub->private_data;
    std::vector<uint8_t> out(connection_request_size);
    write_connection_request(request, std::span<uint8_t, connection_request_size>(out.data(), connection_request_size));
    return out;
  }
};

TEST(net_security, connects_and_exchanges_messages) {
  Fixture f;
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{42})));
  ServerEvent event;
  ASSERT_TRUE(f.world.server().pop_event(event));
  EXPECT_EQ(event.kind, ServerEvent::Kind::connected);
  EXPECT_EQ(event.client, ClientId{42});
  EXPECT_EQ((*f.world.server().client_user_data(ClientId{42}))[0], 42);
  const std::vector<uint8_t> hello = {1, 2, 3};
  ASSERT_EQ(f.world.client(0).send(Channel::reliable_ordered, hello), SendResult::ok);
  ASSERT_EQ(f.world.server().send(ClientId{42}, Channel::unreliable_sequenced, hello), SendResult::ok);
  for (int i = 0; i < 5; ++i) f.world.step(1000);
  Message m;
  ASSERT_TRUE(f.world.server().pop_message(ClientId{42}, m));
  EXPECT_EQ(m.data, hello);
  ASSERT_TRUE(f.world.client(0).pop_message(m));
  EXPECT_EQ(m.channel, Channel::unreliable_sequenced);
  EXPECT_EQ(f.world.server().total_drops().total(), 0u);
}

TEST(net_security, spoofed_requests_from_many_addresses_allocate_nothing_and_never_amplify) {
  Fixture f;
  const auto request = Fixture::request_from(f.world.mint(f.key, ClientId{7}));
  size_t replies = 0;
  for (size_t i = 0; i < 5000; ++i) {
    const auto sent =
        f.inject(make_ipv4(192, 168, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 1234), request);
    for (size_t size : sent.sizes) {
      EXPECT_LE(size, request.size());
      ++replies;
    }
  }
  EXPECT_GT(replies, 0u);  // valid token: challenged (statelessly), within the rate budget
  EXPECT_EQ(f.world.server().connected_count(), 0u);
  EXPECT_EQ(f.world.server().used_token_count(), 0u);                        // no per-client memory before the response
  EXPECT_GT(f.world.server().endpoint_drops()[DropReason::rate_limit], 0u);  // burst 1000 then budget
  EXPECT_EQ(f.world.server().handshake_counters().challenges_sent, replies);
}

TEST(net_security, replies_are_never_larger_than_requests) {
  // Every packet the server sends before a connection exists (challenges, denied) is measured
  // against the request that caused it; two clients compete for one slot so both kinds occur.
  Fixture f;
  ServerConfig small = World::default_config(f.key);
  small.max_clients = 1;
  LinkConfig lossy;
  lossy.loss = 0.3;  // resent requests and responses: more challenges
  World world(small, lossy, 3);
  world.add_client();
  world.add_client();
  ASSERT_TRUE(world.client(0).connect(world.mint(f.key, ClientId{1}), world.now_us()));
  ASSERT_TRUE(world.client(1).connect(world.mint(f.key, ClientId{2}), world.now_us()));
  for (int i = 0; i < 3000 && world.client(1).state() != ClientState::failed; ++i) world.step(1000);
  EXPECT_GT(world.server().handshake_counters().challenges_sent, 1u);
  EXPECT_GE(world.server().handshake_counters().denied_sent, 1u);
  EXPECT_EQ(world.server_sink().handshake_count,
            world.server().handshake_counters().challenges_sent + world.server().handshake_counters().denied_sent);
  EXPECT_LE(world.server_sink().max_handshake_size, connection_request_size);
  EXPECT_EQ(world.client(1).failure(), ClientFailure::denied);
  EXPECT_GE(world.server().endpoint_drops()[DropReason::server_full], 1u);
}

TEST(net_security, expired_token_is_refused_with_counter) {
  Fixture f;
  const auto token = f.world.mint(f.key, ClientId{1}, 10, 5);
  const auto request = Fixture::request_from(token);
  f.world.now_us() += 6'000'000;
  EXPECT_TRUE(f.inject(test::client_address(0), request).sizes.empty());
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::token_expired], 1u);
  f.world.add_client();
  EXPECT_FALSE(f.world.client(0).connect(token, f.world.now_us()));
  EXPECT_EQ(f.world.client(0).failure(), ClientFailure::token_expired);
}

TEST(net_security, reused_token_is_refused_with_counter) {
  Fixture f;
  f.world.add_client();
  f.world.add_client();
  const auto token = f.world.mint(f.key, ClientId{1});
  ASSERT_TRUE(f.connect(0, token));
  // Another address presenting the same token (a thief, or the same player twice).
  EXPECT_TRUE(f.inject(test::client_address(1), Fixture::request_from(token)).sizes.empty());
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::token_reused], 1u);
  // And after the first connection ends, the token still cannot be used again.
  f.world.client(0).disconnect(DisconnectReason::requested, f.world.now_us());
  for (int i = 0; i < 10; ++i) f.world.step(1000);
  EXPECT_EQ(f.world.server().connected_count(), 0u);
  EXPECT_FALSE(f.connect(1, token));
  EXPECT_GE(f.world.server().endpoint_drops()[DropReason::token_reused], 2u);
}

TEST(net_security, tampered_token_is_refused_with_counter) {
  Fixture f;
  auto request = Fixture::request_from(f.world.mint(f.key, ClientId{1}));
  request[100] ^= 1;  // inside the sealed private part
  EXPECT_TRUE(f.inject(test::client_address(0), request).sizes.empty());
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::token_invalid], 1u);
  auto request2 = Fixture::request_from(f.world.mint(f.key, ClientId{1}));
  request2[20] ^= 0x02;  // the expiry is bound as additional data: extending it breaks the MAC
  EXPECT_TRUE(f.inject(test::client_address(0), request2).sizes.empty());
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::token_invalid], 2u);
  // A token minted with another private key.
  const auto forged = Fixture::request_from(f.world.mint(random_key(), ClientId{1}));
  EXPECT_TRUE(f.inject(test::client_address(0), forged).sizes.empty());
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::token_invalid], 3u);
}

TEST(net_security, wrong_server_and_wrong_protocol_tokens_are_refused) {
  Fixture f;
  ConnectTokenParams params;
  params.protocol_id = test::test_protocol_id;
  params.client_id = ClientId{1};
  params.server_addresses = {make_ipv4(10, 9, 9, 9, 40000)};
  const auto other_server = *mint_connect_token(params, f.key, f.world.now_us() / 1'000'000, os_random());
  EXPECT_TRUE(f.inject(test::client_address(0), Fixture::request_from(other_server)).sizes.empty());
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::token_wrong_server], 1u);
  params.server_addresses = {test::server_address()};
  params.protocol_id = 999;
  const auto other_protocol = *mint_connect_token(params, f.key, f.world.now_us() / 1'000'000, os_random());
  EXPECT_TRUE(f.inject(test::client_address(0), Fixture::request_from(other_protocol)).sizes.empty());
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::wrong_protocol], 1u);
}

// Captures what one client sends so a test can replay or alter it.
struct Recorder : DatagramSink {
  void send_datagram(TransportKind, const Address&, std::span<const uint8_t> data) override {
    packets.emplace_back(data.begin(), data.end());
  }
  std::vector<std::vector<uint8_t>> packets;
};

TEST(net_security, captured_data_packet_replayed_is_dropped) {
  Fixture f;
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{5})));
  ASSERT_EQ(f.world.client(0).send(Channel::reliable_ordered, std::vector<uint8_t>{9}), SendResult::ok);
  Recorder recorder;
  f.world.client(0).send_packets(f.world.now_us(), recorder);
  ASSERT_EQ(recorder.packets.size(), 1u);
  const auto& packet = recorder.packets[0];
  f.inject(test::client_address(0), packet);
  Message m;
  ASSERT_TRUE(f.world.server().pop_message(ClientId{5}, m));
  for (int i = 0; i < 3; ++i) f.inject(test::client_address(0), packet);
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::replay], 3u);
  EXPECT_FALSE(f.world.server().pop_message(ClientId{5}, m));
  // Tampered: one bit of ciphertext, or of the authenticated header.
  auto tampered = packet;
  tampered[packet_header_size] ^= 0x80;
  tampered[5] ^= 0x01;  // also a new sequence, so the replay window does not catch it first
  f.inject(test::client_address(0), tampered);
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::bad_mac], 1u);
  // Replayed from another address: no connection there.
  f.inject(test::client_address(9), packet);
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::unknown_connection], 1u);
  // The connection is healthy.
  ASSERT_EQ(f.world.client(0).send(Channel::reliable_ordered, std::vector<uint8_t>{10}), SendResult::ok);
  for (int i = 0; i < 5; ++i) f.world.step(1000);
  ASSERT_TRUE(f.world.server().pop_message(ClientId{5}, m));
  EXPECT_EQ(m.data, std::vector<uint8_t>{10});
}

TEST(net_security, captured_response_from_another_address_is_refused) {
  Fixture f;
  f.world.add_client();
  const auto token = f.world.mint(f.key, ClientId{3});
  ASSERT_TRUE(f.world.client(0).connect(token, f.world.now_us()));
  // Run the handshake by hand to capture the response.
  Recorder to_server;
  f.world.client(0).send_packets(f.world.now_us(), to_server);
  Recorder to_client;
  f.world.server().receive(TransportKind::datagram, test::client_address(0), to_server.packets[0], f.world.now_us(),
                           to_client);
  ASSERT_EQ(to_client.packets.size(), 1u);
  f.world.client(0).receive(test::server_address(), to_client.packets[0], f.world.now_us());
  Recorder response;
  f.world.client(0).send_packets(f.world.now_us(), response);
  ASSERT_EQ(response.packets.size(), 1u);
  f.inject(test::client_address(7), response.packets[0]);  // the challenge token is bound to the address
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::bad_mac], 1u);
  EXPECT_EQ(f.world.server().connected_count(), 0u);
  f.inject(test::client_address(0), response.packets[0]);
  EXPECT_EQ(f.world.server().connected_count(), 1u);
  f.inject(test::client_address(0), response.packets[0]);  // resent response: no second connection
  EXPECT_EQ(f.world.server().connected_count(), 1u);
}

TEST(net_security, expired_challenge_is_refused) {
  Fixture f;
  f.world.add_client();
  ASSERT_TRUE(f.world.client(0).connect(f.world.mint(f.key, ClientId{3}, 10, 600), f.world.now_us()));
  Recorder to_server;
  f.world.client(0).send_packets(f.world.now_us(), to_server);
  Recorder to_client;
  f.world.server().receive(TransportKind::datagram, test::client_address(0), to_server.packets[0], f.world.now_us(),
                           to_client);
  f.world.client(0).receive(test::server_address(), to_client.packets[0], f.world.now_us());
  Recorder response;
  f.world.client(0).send_packets(f.world.now_us(), response);
  f.world.now_us() += f.world.server().config().challenge_lifetime_us;
  f.inject(test::client_address(0), response.packets[0]);
  EXPECT_EQ(f.world.server().endpoint_drops()[DropReason::token_expired], 1u);
  EXPECT_EQ(f.world.server().connected_count(), 0u);
}

TEST(net_security, garbage_datagrams_are_dropped_and_connection_stays_healthy) {
  Fixture f;
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{8})));
  SeededRandom random(1234);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> junk(random.below(1500));
    for (auto& b : junk) b = static_cast<uint8_t>(random.next_u64());
    if (!junk.empty() && random.below(2)) junk[0] = static_cast<uint8_t>(random.below(5));  // plausible types
    const Address from = random.below(2) ? test::client_address(0) : test::client_address(1 + random.below(100));
    f.inject(from, junk);
  }
  const auto drops = f.world.server().endpoint_drops();
  EXPECT_GT(drops.total(), 19000u);
  EXPECT_GT(drops[DropReason::too_large], 0u);
  EXPECT_GT(drops[DropReason::bad_header], 0u);
  EXPECT_GT(drops[DropReason::unknown_connection], 0u);
  EXPECT_GT(drops[DropReason::bad_mac], 0u);
  EXPECT_EQ(f.world.server().connected_count(), 1u);
  ASSERT_EQ(f.world.client(0).send(Channel::reliable_ordered, std::vector<uint8_t>{1}), SendResult::ok);
  for (int i = 0; i < 5; ++i) f.world.step(1000);
  Message m;
  EXPECT_TRUE(f.world.server().pop_message(ClientId{8}, m));
}

TEST(net_security, per_client_packet_rate_limit_drops_the_excess) {
  const Key key = random_key();
  ServerConfig config = World::default_config(key);
  config.packets_per_second_per_client = 100;
  config.packet_burst_per_client = 20;
  World world(config, LinkConfig{}, 1);
  world.add_client();
  ASSERT_TRUE(world.client(0).connect(world.mint(key, ClientId{4}), world.now_us()));
  for (int i = 0; i < 20 && world.client(0).state() != ClientState::connected; ++i) world.step(1000);
  ASSERT_EQ(world.client(0).state(), ClientState::connected);
  // 1,000 packets in one millisecond: the burst passes, the rest is dropped and counted.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(world.client(0).send(Channel::unreliable_sequenced, std::vector<uint8_t>(1100)), SendResult::ok);
  }
  world.step(1000);
  world.step(1000);
  EXPECT_GT(world.server().endpoint_drops()[DropReason::packet_rate_limit], 900u);
  EXPECT_EQ(world.server().connected_count(), 1u);
}

TEST(net_security, disconnect_and_timeout_end_connections_with_reason) {
  Fixture f;
  f.world.add_client();
  f.world.add_client();
  ASSERT_TRUE(f.connect(0, f.world.mint(f.key, ClientId{1})));
  ASSERT_TRUE(f.connect(1, f.world.mint(f.key, ClientId{2}, 2)));
  f.world.server().disconnect(ClientId{1}, DisconnectReason::kicked, f.world.now_us());
  for (int i = 0; i < 5; ++i) f.world.step(1000);
  EXPECT_EQ(f.world.client(0).state(), ClientState::disconnected);
  EXPECT_EQ(f.world.client(0).disconnect_reason(), DisconnectReason::kicked);
  // Client 2 goes silent: the server times it out after the token's 2 s.
  LinkConfig dead;
  dead.loss = 1.0;
  f.world.up().set_config(dead);
  for (int i = 0; i < 500; ++i) f.world.step(10'000);
  EXPECT_EQ(f.world.server().connected_count(), 0u);
  ServerEvent e;
  bool timed_out = false;
  while (f.world.server().pop_event(e)) {
    if (e.kind == ServerEvent::Kind::disconnected && e.client == ClientId{2})
      timed_out = e.reason == DisconnectReason::timeout;
  }
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(f.world.client(1).state(), ClientState::disconnected);
  EXPECT_EQ(f.world.client(1).disconnect_reason(), DisconnectReason::timeout);
}

}  // namespace
}  // namespace strata::net
