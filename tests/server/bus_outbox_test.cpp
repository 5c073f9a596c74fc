// tests/server/bus_outbox_test.cpp — the outbox over the twin: world batches published in tick
// order and held until acked, published again after a failure; samples thinned under backpressure
// and never ahead of a waiting world batch; and a property: whatever the bus's faults, after the
// heal every world batch is in the stream exactly once and world_acked_through() reaches the last.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

#include "server/bus_outbox.h"
#include "server/memory_bus.h"

namespace strata::server {
namespace {

constexpr sim::RegionId region{3};

std::vector<uint8_t> payload_of(uint64_t tick) { return {static_cast<uint8_t>(tick), static_cast<uint8_t>(tick >> 8)}; }

struct Rig {
  explicit Rig(MemoryBusConfig bus_config = {}, BusOutboxConfig outbox_config = {.region = region},
               MemoryBusFaults faults = {})
      : bus(stream, bus_config, faults), outbox(outbox_config) {}
  // One node turn: publish what fits, poll, feed the acks back.
  void turn() {
    outbox.pump(bus, now_us);
    BusPoll out;
    bus.poll(now_us, 0, out);
    outbox.on_acks(out.acks);
    now_us += 1000;
  }
  std::vector<uint64_t> world_ticks_in_stream() const {
    std::vector<uint64_t> ticks;
    for (uint64_t seq = 1; seq <= stream.last_seq(); ++seq) {
      if (stream.at(seq).subject.channel == BusChannel::world) ticks.push_back(stream.at(seq).id.tick);
    }
    return ticks;
  }
  uint64_t now_us = 1'000'000;
  MemoryStream stream;
  MemoryBus bus;
  BusOutbox outbox;
};

TEST(BusOutbox, WorldBatchesGoOutInTickOrderAndAreHeldUntilAcked) {
  Rig rig;
  for (uint64_t tick = 1; tick <= 5; ++tick)
    ASSERT_EQ(rig.outbox.push_world(tick, payload_of(tick)), OutboxVerdict::queued);
  EXPECT_EQ(rig.outbox.world_acked_through(), 0u);
  rig.outbox.pump(rig.bus, rig.now_us);
  EXPECT_EQ(rig.outbox.world_held(), 5u);  // one published, not yet acked; the others wait for it
  EXPECT_EQ(rig.bus.pending(), 1u);
  for (int i = 0; i < 6; ++i) rig.turn();
  EXPECT_EQ(rig.outbox.world_held(), 0u);
  EXPECT_EQ(rig.outbox.world_acked_through(), 5u);
  EXPECT_EQ(rig.world_ticks_in_stream(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(rig.stream.at(3).payload, payload_of(3));
  EXPECT_EQ(rig.stream.at(3).id, (BusMessageId{region, 3, BusChannel::world}));
}

TEST(BusOutbox, AFailedWorldBatchIsPublishedAgainWithItsId) {
  Rig rig(MemoryBusConfig{.ack_wait_us = 1000, .publish_attempts = 1});
  rig.bus.lose_next_publishes(1);
  ASSERT_EQ(rig.outbox.push_world(1, payload_of(1)), OutboxVerdict::queued);
  ASSERT_EQ(rig.outbox.push_world(2, payload_of(2)), OutboxVerdict::queued);
  for (int i = 0; i < 5; ++i) rig.turn();
  EXPECT_EQ(rig.outbox.world_held(), 0u);
  EXPECT_EQ(rig.outbox.counters().world_republished, 1u);
  // 1 was lost, then resent before 2 went out: a region's batches are in the stream in tick order.
  EXPECT_EQ(rig.world_ticks_in_stream(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(rig.outbox.world_acked_through(), 2u);
}

TEST(BusOutbox, SamplesAreThinnedUnderBackpressureAndNeverDelayTheWorld) {
  Rig rig(MemoryBusConfig{.pending_max = 4}, BusOutboxConfig{.region = region, .sample_pending_max = 1});
  rig.bus.disconnect();  // nothing is acked: the bus fills up
  for (uint64_t tick = 1; tick <= 10; ++tick) {
    ASSERT_EQ(rig.outbox.push_world(tick, payload_of(tick)), OutboxVerdict::queued);
    rig.outbox.offer_sample(BusChannel::presence, tick, {1});
    rig.outbox.offer_sample(BusChannel::health, tick, {2});
    rig.turn();
  }
  EXPECT_EQ(rig.outbox.counters().samples_published, 0u);  // world batches were always waiting
  EXPECT_EQ(rig.outbox.counters().samples_thinned, 18u);   // 9 of each replaced by the next
  EXPECT_EQ(rig.outbox.world_held(), 10u);
  rig.bus.reconnect(rig.now_us);
  for (int i = 0; i < 20; ++i) rig.turn();
  EXPECT_EQ(rig.world_ticks_in_stream(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(rig.outbox.counters().samples_published, 2u);  // the latest of each, tick 10
  EXPECT_EQ(rig.stream.last_seq(), 12u);
  EXPECT_EQ(rig.stream.at(12).id.tick, 10u);
}

TEST(BusOutbox, AFullOutboxRefusesInsteadOfDropping) {
  Rig rig(MemoryBusConfig{}, BusOutboxConfig{.region = region, .world_batches_max = 2});
  ASSERT_EQ(rig.outbox.push_world(1, payload_of(1)), OutboxVerdict::queued);
  ASSERT_EQ(rig.outbox.push_world(2, payload_of(2)), OutboxVerdict::queued);
  EXPECT_EQ(rig.outbox.push_world(3, payload_of(3)), OutboxVerdict::full);
  EXPECT_EQ(rig.outbox.counters().world_refused_full, 1u);
  rig.turn();
  EXPECT_EQ(rig.outbox.push_world(3, payload_of(3)), OutboxVerdict::queued);
}

RC_GTEST_PROP(BusOutbox, WhateverTheFaultsEveryWorldBatchIsStoredOnce, ()) {
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const auto ticks = *rc::gen::inRange<uint64_t>(1, 200);
  const auto cuts = *rc::gen::container<std::vector<bool>>(static_cast<size_t>(ticks), rc::gen::arbitrary<bool>());
  Rig rig(MemoryBusConfig{.ack_wait_us = 3000, .publish_attempts = 3, .pending_max = 8, .latency_us = 500},
          BusOutboxConfig{.region = region, .world_batches_max = 1000, .sample_pending_max = 4},
          MemoryBusFaults{.seed = seed, .ack_loss_per_mille = 150, .publish_loss_per_mille = 150});
  for (uint64_t tick = 1; tick <= ticks; ++tick) {
    RC_ASSERT(rig.outbox.push_world(tick, payload_of(tick)) == OutboxVerdict::queued);
    rig.outbox.offer_sample(BusChannel::presence, tick, {9});
    if (cuts[tick - 1] && tick % 7 == 0) rig.bus.disconnect();
    if (tick % 11 == 0) rig.bus.reconnect(rig.now_us);
    rig.turn();
  }
  rig.bus.reconnect(rig.now_us);
  for (int i = 0; i < 10'000 && rig.outbox.world_held() > 0; ++i) rig.turn();
  RC_ASSERT(rig.outbox.world_held() == 0u);
  RC_ASSERT(rig.outbox.world_acked_through() == ticks);
  const std::vector<uint64_t> stored = rig.world_ticks_in_stream();
  RC_ASSERT(stored.size() == ticks);
  RC_ASSERT(std::set<uint64_t>(stored.begin(), stored.end()).size() == ticks);
}

}  // namespace
}  // namespace strata::server
