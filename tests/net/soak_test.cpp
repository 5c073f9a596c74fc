// tests/net/soak_test.cpp: bounded soak on simulated time: 64 clients against one server through a
// link with 25 % loss, 25 % duplicates and 250 ms +- 100 ms latency, exchanging random-size
// messages both ways on both channels. Nothing lost or out of order on the reliable channel, never
// backwards on the unreliable one, no crash. (A longer soak: strata-netsoak in tools/netsim.)
#include <gtest/gtest.h>

#include "tests/net/connection_harness.h"
#include "tests/net/endpoint_harness.h"

namespace strata::net {
namespace {

using test::message_bytes;
using test::message_index;
using test::World;

constexpr size_t client_count = 64;
constexpr uint32_t reliable_per_client = 400;

struct Flow {
  std::vector<size_t> sizes;
  uint32_t sent = 0;
  uint32_t received = 0;
  int64_t last_unreliable = -1;
  uint32_t unreliable_sent = 0;
  uint32_t unreliable_received = 0;
};

void check(Flow& flow, const Message& m, uint32_t base) {
  if (m.channel == Channel::reliable_ordered) {
    ASSERT_LT(flow.received, flow.sizes.size());
    ASSERT_EQ(m.data, message_bytes(base + flow.received, flow.sizes[flow.received]));
    ++flow.received;
  } else {
    const int64_t index = static_cast<int64_t>(message_index(m.data)) - (base + 50'000);
    ASSERT_GT(index, flow.last_unreliable);
    flow.last_unreliable = index;
    ++flow.unreliable_received;
  }
}

TEST(net_soak, sixty_four_clients_through_a_bad_link) {
  LinkConfig link;
  link.loss = 0.25;
  link.duplicate = 0.25;
  link.latency_us = 250'000;
  link.jitter_us = 100'000;
  const Key key = random_key();
  World world(World::default_config(key), link, 2024);
  SeededRandom random(77);
  std::vector<Flow> up(client_count), down(client_count);
  for (size_t i = 0; i < client_count; ++i) {
    world.add_client();
    for (uint32_t k = 0; k < reliable_per_client; ++k) {
      up[i].sizes.push_back(4 + random.below(random.below(8) == 0 ? 6000 : 300));
      down[i].sizes.push_back(4 + random.below(random.below(8) == 0 ? 6000 : 300));
    }
    ASSERT_TRUE(world.client(i).connect(world.mint(key, ClientId{1000 + i}, 30), world.now_us()));
  }
  const auto base = [](size_t i) { return static_cast<uint32_t>(i * 100'000); };
  bool done = false;
  for (int step = 0; step < 12'000 && !done; ++step) {  // at most 120 s of simulated time
    world.step(10'000);
    done = true;
    for (size_t i = 0; i < client_count; ++i) {
      Client& client = world.client(i);
      const ClientId id{1000 + i};
      if (client.state() != ClientState::connected) {
        ASSERT_NE(client.state(), ClientState::failed) << "client " << i;
        ASSERT_NE(client.state(), ClientState::disconnected) << "client " << i;
        done = false;
        continue;
      }
      // Reliable: as fast as the window allows. Unreliable: one small and sometimes a big one.
      while (up[i].sent < reliable_per_client &&
             client.send(Channel::reliable_ordered, message_bytes(base(i) + up[i].sent, up[i].sizes[up[i].sent])) ==
                 SendResult::ok) {
        ++up[i].sent;
      }
      while (down[i].sent < reliable_per_client &&
             world.server().send(id, Channel::reliable_ordered,
                                 message_bytes(base(i) + down[i].sent, down[i].sizes[down[i].sent])) ==
                 SendResult::ok) {
        ++down[i].sent;
      }
      if (step % 5 == 0 && up[i].unreliable_sent < 400) {
        const size_t size = random.below(10) == 0 ? 3000 : 40;
        (void)client.send(Channel::unreliable_sequenced,
                          message_bytes(base(i) + 50'000 + up[i].unreliable_sent++, size));
        (void)world.server().send(id, Channel::unreliable_sequenced,
                                  message_bytes(base(i) + 50'000 + down[i].unreliable_sent++, size));
      }
      Message m;
      while (client.pop_message(m)) ASSERT_NO_FATAL_FAILURE(check(down[i], m, base(i)));
      while (world.server().pop_message(id, m)) ASSERT_NO_FATAL_FAILURE(check(up[i], m, base(i)));
      if (up[i].received < reliable_per_client || down[i].received < reliable_per_client) done = false;
    }
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(world.server().connected_count(), client_count);
  uint64_t unreliable = 0;
  for (size_t i = 0; i < client_count; ++i) {
    EXPECT_EQ(up[i].received, reliable_per_client);
    EXPECT_EQ(down[i].received, reliable_per_client);
    unreliable += up[i].unreliable_received + down[i].unreliable_received;
  }
  EXPECT_GT(unreliable, 0u);
  // The link really was bad, and the bad copies were caught.
  EXPECT_GT(world.up().stats().lost, 1000u);
  EXPECT_GT(world.up().stats().duplicated, 1000u);
  EXPECT_GT(world.server().total_drops()[DropReason::replay], 1000u);
  const ConnectionStats* stats = world.server().client_stats(ClientId{1000});
  ASSERT_NE(stats, nullptr);
  EXPECT_GT(stats->rtt_ms, 300.0);
  EXPECT_GT(stats->packet_loss, 0.05);
}

}  // namespace
}  // namespace strata::net
