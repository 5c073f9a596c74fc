// tests/net/endpoint_property_test.cpp: the whole stack (token, handshake, AEAD, replay window,
// channels) under seeded bad links: reliable-ordered delivers every message exactly once and in
// order both ways, unreliable-sequenced never goes backwards; and the 64-bit nonce rebuilt from the
// 16-bit wire sequence keeps authenticating far past 65,535 packets.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/net/connection_harness.h"
#include "tests/net/endpoint_harness.h"

namespace strata::net {
namespace {

using test::message_bytes;
using test::message_index;
using test::World;

RC_GTEST_PROP(net_endpoint, reliable_exactly_once_in_order_through_the_whole_stack, ()) {
  LinkConfig link;
  link.loss = *rc::gen::inRange(0, 31) / 100.0;
  link.duplicate = *rc::gen::inRange(0, 31) / 100.0;
  link.latency_us = static_cast<uint64_t>(*rc::gen::inRange(0, 201)) * 1000;
  link.jitter_us = static_cast<uint64_t>(*rc::gen::inRange(0, 81)) * 1000;
  link.reorder = *rc::gen::inRange(0, 21) / 100.0;
  link.reorder_delay_us = 50'000;
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const auto sizes = *rc::gen::resize(80, rc::gen::container<std::vector<size_t>>(rc::gen::oneOf(
                                              rc::gen::inRange<size_t>(4, 200), rc::gen::inRange<size_t>(4, 5000))));
  const Key key = random_key();
  World world(World::default_config(key), link, seed);
  world.add_client();
  RC_ASSERT(world.client(0).connect(world.mint(key, ClientId{1}, 60), world.now_us()));
  size_t up_sent = 0, down_sent = 0, up_got = 0, down_got = 0;
  int64_t last_unreliable = -1;
  uint32_t unreliable_sent = 0;
  for (int step = 0; step < 60'000 && (up_got < sizes.size() || down_got < sizes.size()); ++step) {
    world.step(5000);
    Client& client = world.client(0);
    RC_ASSERT(client.state() != ClientState::failed);
    RC_ASSERT(client.state() != ClientState::disconnected);
    if (client.state() != ClientState::connected) continue;
    while (up_sent < sizes.size() &&
           client.send(Channel::reliable_ordered, message_bytes(static_cast<uint32_t>(up_sent), sizes[up_sent])) ==
               SendResult::ok) {
      ++up_sent;
    }
    while (down_sent < sizes.size() &&
           world.server().send(ClientId{1}, Channel::reliable_ordered,
                               message_bytes(static_cast<uint32_t>(down_sent), sizes[down_sent])) == SendResult::ok) {
      ++down_sent;
    }
    (void)world.server().send(ClientId{1}, Channel::unreliable_sequenced,
                              message_bytes(100'000 + unreliable_sent++, 16));
    Message m;
    while (world.server().pop_message(ClientId{1}, m)) {
      RC_ASSERT(up_got < sizes.size());
      RC_ASSERT(m.data == message_bytes(static_cast<uint32_t>(up_got), sizes[up_got]));
      ++up_got;
    }
    while (client.pop_message(m)) {
      if (m.channel == Channel::unreliable_sequenced) {
        const int64_t index = message_index(m.data);
        RC_ASSERT(index > last_unreliable);
        last_unreliable = index;
        continue;
      }
      RC_ASSERT(down_got < sizes.size());
      RC_ASSERT(m.data == message_bytes(static_cast<uint32_t>(down_got), sizes[down_got]));
      ++down_got;
    }
  }
  RC_ASSERT(up_got == sizes.size());
  RC_ASSERT(down_got == sizes.size());
  RC_ASSERT(world.server().total_drops()[DropReason::bad_mac] == 0u);
}

RC_GTEST_PROP(net_endpoint, any_client_pop_hands_every_message_to_its_client_in_order, ()) {
  // pop_any_message visits only clients with waiting messages: every client's reliable messages
  // still arrive exactly once, in order, named by the right client, while clients join late.
  LinkConfig link;
  link.loss = *rc::gen::inRange(0, 21) / 100.0;
  link.duplicate = *rc::gen::inRange(0, 21) / 100.0;
  link.latency_us = static_cast<uint64_t>(*rc::gen::inRange(0, 51)) * 1000;
  link.jitter_us = static_cast<uint64_t>(*rc::gen::inRange(0, 21)) * 1000;
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const auto clients = *rc::gen::inRange<size_t>(2, 9);
  const auto per_client = *rc::gen::inRange<uint32_t>(1, 120);
  const Key key = random_key();
  World world(World::default_config(key), link, seed);
  std::vector<uint32_t> sent(clients, 0), got(clients, 0);
  for (size_t i = 0; i < clients; ++i) world.add_client();
  for (int step = 0; step < 20'000; ++step) {
    // Client i connects at step 50 * i: slots fill while others already talk.
    if (step % 50 == 0 && static_cast<size_t>(step / 50) < clients) {
      const size_t i = static_cast<size_t>(step / 50);
      RC_ASSERT(world.client(i).connect(world.mint(key, ClientId{100 + i}, 60), world.now_us()));
    }
    world.step(2000);
    for (size_t i = 0; i < clients; ++i) {
      Client& client = world.client(i);
      if (client.state() != ClientState::connected) continue;
      // The message names its client (high byte) and its index.
      while (sent[i] < per_client &&
             client.send(Channel::reliable_ordered, message_bytes(static_cast<uint32_t>(i << 24) | sent[i], 12)) ==
                 SendResult::ok) {
        ++sent[i];
      }
    }
    Message m;
    ClientId from{};
    while (world.server().pop_any_message(from, m)) {
      const auto index = static_cast<size_t>(static_cast<uint64_t>(from) - 100);
      RC_ASSERT(index < clients);
      RC_ASSERT(m.data == message_bytes(static_cast<uint32_t>(index << 24) | got[index], 12));
      ++got[index];
    }
    if (got == std::vector<uint32_t>(clients, per_client)) break;
  }
  RC_ASSERT(got == std::vector<uint32_t>(clients, per_client));
}

TEST(net_endpoint, authenticated_sequences_wrap_far_beyond_65535) {
  // 150,000 packets each way through AEAD + replay window, with loss and duplicates.
  LinkConfig link;
  link.loss = 0.05;
  link.duplicate = 0.05;
  link.latency_us = 2000;
  link.jitter_us = 1000;
  const Key key = random_key();
  ServerConfig config = World::default_config(key);
  config.packets_per_second_per_client = 0;  // 1,000 packets a second: far over the default budget
  World world(config, link, 5);
  world.add_client();
  ASSERT_TRUE(world.client(0).connect(world.mint(key, ClientId{1}, 60, 600), world.now_us()));
  uint32_t sent = 0, received = 0;
  for (int step = 0; step < 150'000; ++step) {
    world.step(1000);
    Client& client = world.client(0);
    if (client.state() != ClientState::connected) continue;
    if (client.send(Channel::reliable_ordered, message_bytes(sent, 8)) == SendResult::ok) ++sent;
    (void)world.server().send(ClientId{1}, Channel::unreliable_sequenced, message_bytes(sent, 8));
    Message m;
    while (world.server().pop_message(ClientId{1}, m)) {
      ASSERT_EQ(m.data, message_bytes(received, 8));
      ++received;
    }
    while (client.pop_message(m)) {
    }
  }
  const ConnectionStats* stats = world.server().client_stats(ClientId{1});
  ASSERT_NE(stats, nullptr);
  EXPECT_GT(stats->packets_received, 130'000u);
  EXPECT_GT(world.client(0).stats()->packets_received, 130'000u);
  EXPECT_GT(received, 140'000u);
  EXPECT_EQ(world.server().total_drops()[DropReason::bad_mac], 0u);
  EXPECT_EQ(world.client(0).endpoint_drops()[DropReason::bad_mac], 0u);
  EXPECT_GT(world.server().total_drops()[DropReason::replay], 1000u);  // the link's duplicates
  EXPECT_EQ(world.client(0).state(), ClientState::connected);
}

}  // namespace
}  // namespace strata::net
