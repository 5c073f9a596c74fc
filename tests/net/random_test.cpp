// tests/net/random_test.cpp — the Random port: a DeterministicRandom repeats from its seed (and
// only from it), and a server given one answers the same request with the same bytes (its challenge
// key and connection id are the Random's), which is what makes a simulated run repeat.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "net/client.h"
#include "net/random.h"
#include "net/server.h"
#include "net/token.h"

namespace strata::net {
namespace {

std::vector<uint8_t> draw(Random& random, size_t size) {
  std::vector<uint8_t> bytes(size);
  random.fill(bytes);
  return bytes;
}

TEST(Random, DeterministicRandomRepeatsFromItsSeedOnly) {
  DeterministicRandom a(7);
  DeterministicRandom b(7);
  DeterministicRandom c(8);
  const std::vector<uint8_t> first = draw(a, 40);
  EXPECT_EQ(first, draw(b, 40));
  EXPECT_NE(first, draw(c, 40));
  EXPECT_NE(draw(a, 40), first) << "each call draws new bytes";
  EXPECT_EQ(a.calls(), 2U);
  (void)draw(b, 40);
  EXPECT_EQ(a.key(), b.key());  // the same calls in the same order: the same key
}

TEST(Random, OsRandomFillsWithBytesThatDiffer) {
  OsRandom random;
  EXPECT_NE(draw(random, 32), draw(random, 32));
  EXPECT_NE(os_random().key(), os_random().key());
}

struct Capture : DatagramSink {
  void send_datagram(TransportKind, const Address&, std::span<const uint8_t> data) override {
    packets.emplace_back(data.begin(), data.end());
  }
  std::vector<std::vector<uint8_t>> packets;
};

// The challenge a server sends for one connection request, with its Random seeded by `seed`.
std::vector<uint8_t> challenge_for(uint64_t seed) {
  constexpr uint64_t now_us = 1'700'000'000'000'000ULL;
  ServerConfig config = default_server_config();
  config.protocol_id = 9;
  config.public_address = make_ipv4(127, 0, 0, 1, 40000);
  config.private_key.fill(5);
  DeterministicRandom token_random(1);
  ConnectTokenParams params;
  params.protocol_id = 9;
  params.client_id = ClientId{3};
  params.server_addresses = {config.public_address};
  const ConnectToken token = *mint_connect_token(params, config.private_key, now_us / 1'000'000, token_random);
  Client client(default_client_config());
  EXPECT_TRUE(client.connect(token, now_us));
  Capture to_server;
  Capture to_client;
  client.send_packets(now_us, to_server);
  EXPECT_FALSE(to_server.packets.empty());
  DeterministicRandom random(seed);
  Server server(config, random);
  server.receive(TransportKind::datagram, make_ipv4(127, 0, 0, 1, 50000), to_server.packets.front(), now_us, to_client);
  EXPECT_EQ(to_client.packets.size(), 1U);
  return to_client.packets.empty() ? std::vector<uint8_t>{} : to_client.packets.front();
}

TEST(Random, AServerWithTheSameSeedSendsTheSameChallenge) {
  const std::vector<uint8_t> first = challenge_for(11);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first, challenge_for(11));
  EXPECT_NE(first, challenge_for(12));
}

}  // namespace
}  // namespace strata::net
