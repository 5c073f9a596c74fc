// tests/server/bus_memory_test.cpp — the in-memory JetStream twin alone: stream order, dedup window,
// lost acks and resends, consumers from a start sequence, reconnects and wire gaps, the publish
// refusals; and a property: any interleaving of publishes, duplicate ids, lost acks, lost sends,
// lost deliveries and disconnects leaves each id stored once, in order, every publish acked once,
// and every consumer seeing each message once in stream order.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <string>

#include "server/bus_limits.h"
#include "server/memory_bus.h"

namespace strata::server {
namespace {

constexpr sim::RegionId region_a{1};
constexpr sim::RegionId region_b{2};
constexpr BusSubject world_a{region_a, BusChannel::world};
constexpr BusSubject world_b{region_b, BusChannel::world};

std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }
BusMessageId id_a(uint64_t tick) { return {region_a, tick}; }
// (GCC 12 warns falsely about `"t" + std::to_string(n)`, so the label is built by append.)
std::string label(char prefix, uint64_t n) { return std::string(1, prefix).append(std::to_string(n)); }

struct Twin {
  explicit Twin(MemoryStreamConfig stream_config = {}, MemoryBusConfig config = {}, MemoryBusFaults faults = {})
      : stream(stream_config), bus(stream, config, faults) {}
  BusPoll poll(size_t deliveries_max = 1000) {
    BusPoll out;
    bus.poll(now_us, deliveries_max, out);
    return out;
  }
  PublishVerdict publish(BusMessageId id, const std::string& payload, BusSubject subject = world_a) {
    return bus.publish(subject, id, bytes(payload), now_us);
  }
  uint64_t now_us = 1'000'000;
  MemoryStream stream;
  MemoryBus bus;
};

TEST(MemoryBus, PublishesAreStoredInOrderAndAckedWithTheirSequence) {
  Twin twin;
  for (uint64_t tick = 1; tick <= 3; ++tick)
    EXPECT_EQ(twin.publish(id_a(tick), label('t', tick)), PublishVerdict::accepted);
  EXPECT_EQ(twin.bus.pending(), 3u);
  const BusPoll out = twin.poll();
  ASSERT_EQ(out.acks.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out.acks[i], (PublishAck{id_a(i + 1), AckKind::stored, i + 1, 1}));
  }
  EXPECT_EQ(twin.bus.pending(), 0u);
  EXPECT_EQ(twin.stream.at(2).payload, bytes("t2"));
}

TEST(MemoryBus, ADuplicateIdInsideTheWindowIsAckedAsTheStoredOneAndStoredAgainAfterIt) {
  Twin twin(MemoryStreamConfig{.dedup_window_us = 10'000'000});
  ASSERT_EQ(twin.publish(id_a(5), "first"), PublishVerdict::accepted);
  ASSERT_EQ(twin.publish(id_a(6), "other"), PublishVerdict::accepted);
  (void)twin.poll();
  twin.now_us += 9'999'999;
  ASSERT_EQ(twin.publish(id_a(5), "second"), PublishVerdict::accepted);
  EXPECT_EQ(twin.poll().acks, (std::vector<PublishAck>{{id_a(5), AckKind::duplicate, 1, 1}}));
  EXPECT_EQ(twin.stream.last_seq(), 2u);
  twin.now_us += 1;  // the window has passed since the first store
  ASSERT_EQ(twin.publish(id_a(5), "third"), PublishVerdict::accepted);
  EXPECT_EQ(twin.poll().acks, (std::vector<PublishAck>{{id_a(5), AckKind::stored, 3, 1}}));
  EXPECT_EQ(twin.stream.at(3).payload, bytes("third"));
}

TEST(MemoryBus, ALostAckIsResentAfterMaxWaitAndDedupAcksTheCopy) {
  Twin twin({}, MemoryBusConfig{.ack_wait_us = 1000});
  twin.bus.lose_next_acks(1);
  ASSERT_EQ(twin.publish(id_a(1), "x"), PublishVerdict::accepted);
  EXPECT_TRUE(twin.poll().acks.empty());
  EXPECT_EQ(twin.stream.last_seq(), 1u);  // stored, though its ack was lost
  twin.now_us += 999;
  EXPECT_TRUE(twin.poll().acks.empty());
  twin.now_us += 1;
  (void)twin.poll();  // MaxWait expired: resent
  EXPECT_EQ(twin.poll().acks, (std::vector<PublishAck>{{id_a(1), AckKind::duplicate, 1, 2}}));
  EXPECT_EQ(twin.stream.last_seq(), 1u);
  EXPECT_EQ(twin.bus.counters().resends, 1u);
}

TEST(MemoryBus, APublishIsReportedFailedAfterItsLastAttempt) {
  Twin twin({}, MemoryBusConfig{.ack_wait_us = 1000, .publish_attempts = 3});
  twin.bus.lose_next_publishes(3);
  ASSERT_EQ(twin.publish(id_a(1), "x"), PublishVerdict::accepted);
  std::vector<PublishAck> acks;
  for (int i = 0; i < 10; ++i) {
    twin.now_us += 1000;
    const BusPoll out = twin.poll();
    acks.insert(acks.end(), out.acks.begin(), out.acks.end());
  }
  EXPECT_EQ(acks, (std::vector<PublishAck>{{id_a(1), AckKind::failed, 0, 3}}));
  EXPECT_EQ(twin.stream.last_seq(), 0u);
  EXPECT_EQ(twin.bus.pending(), 0u);
}

TEST(MemoryBus, RefusalsAreCountedAndNothingIsSent) {
  Twin twin({}, MemoryBusConfig{.pending_max = 2, .reconnect_buffer_bytes = 4});
  EXPECT_EQ(twin.bus.publish(world_a, id_a(1), std::vector<uint8_t>(bus_limits::payload_bytes_max + 1), twin.now_us),
            PublishVerdict::too_large);
  ASSERT_EQ(twin.publish(id_a(1), "a"), PublishVerdict::accepted);
  EXPECT_EQ(twin.publish(id_a(1), "a"), PublishVerdict::id_pending);
  ASSERT_EQ(twin.publish(id_a(2), "b"), PublishVerdict::accepted);
  EXPECT_EQ(twin.publish(id_a(3), "c"), PublishVerdict::pending_full);
  (void)twin.poll();
  twin.bus.disconnect();
  EXPECT_EQ(twin.bus.state(), BusState::reconnecting);
  EXPECT_EQ(twin.publish(id_a(3), "cccc"), PublishVerdict::accepted);
  EXPECT_EQ(twin.publish(id_a(4), "d"), PublishVerdict::buffer_full);
  twin.bus.close();
  EXPECT_EQ(twin.publish(id_a(5), "e"), PublishVerdict::closed);
  const BusCounters counters = twin.bus.counters();
  EXPECT_EQ(counters.publish_refused_too_large, 1u);
  EXPECT_EQ(counters.publish_refused_id_pending, 1u);
  EXPECT_EQ(counters.publish_refused_pending_full, 1u);
  EXPECT_EQ(counters.publish_refused_buffer_full, 1u);
  EXPECT_EQ(counters.publish_refused_closed, 1u);
  EXPECT_EQ(twin.stream.last_seq(), 2u);
}

TEST(MemoryBus, AConsumerAfterSequenceSGetsExactlyItsOriginsMessagesAfterS) {
  Twin twin;
  MemoryBus other(twin.stream, {});
  for (uint64_t tick = 1; tick <= 5; ++tick) {
    ASSERT_EQ(twin.publish(id_a(tick), label('a', tick)), PublishVerdict::accepted);
    ASSERT_EQ(other.publish(world_b, {region_b, tick}, bytes("b"), twin.now_us), PublishVerdict::accepted);
  }
  // Stream: a1 b1 a2 b2 a3 b3 a4 b4 a5 b5 (sequences 1..10). After 5 (a3): a4 at 7, a5 at 9.
  const auto sub = other.subscribe({region_a, std::nullopt}, 5, twin.now_us);
  ASSERT_TRUE(sub.has_value());
  BusPoll out;
  other.poll(twin.now_us, 1000, out);
  ASSERT_EQ(out.deliveries.size(), 2u);
  EXPECT_EQ(out.deliveries[0], (Delivery{*sub, 7, world_a, id_a(4), bytes("a4")}));
  EXPECT_EQ(out.deliveries[1], (Delivery{*sub, 9, world_a, id_a(5), bytes("a5")}));
}

TEST(MemoryBus, DeliveriesBeyondThePollBudgetWaitForTheNextPoll) {
  Twin twin({}, MemoryBusConfig{.consumer_window = 3});
  for (uint64_t tick = 1; tick <= 10; ++tick) ASSERT_EQ(twin.publish(id_a(tick), "x"), PublishVerdict::accepted);
  const auto sub = twin.bus.subscribe({region_a, BusChannel::world}, 0, twin.now_us);
  ASSERT_TRUE(sub.has_value());
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 10 && seqs.size() < 10; ++i) {
    for (const Delivery& d : twin.poll(2).deliveries) seqs.push_back(d.stream_seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST(MemoryBus, AfterAReconnectNothingIsLostOrDuplicated) {
  Twin twin({}, MemoryBusConfig{.latency_us = 100});
  MemoryBus reader(twin.stream, MemoryBusConfig{.latency_us = 100});
  const auto sub = reader.subscribe({region_a, std::nullopt}, 0, twin.now_us);
  std::vector<uint64_t> ticks;
  auto drain = [&] {
    BusPoll out;
    reader.poll(twin.now_us, 1000, out);
    for (const Delivery& d : out.deliveries) ticks.push_back(d.id.tick);
  };
  ASSERT_EQ(twin.publish(id_a(1), "1"), PublishVerdict::accepted);
  ASSERT_EQ(twin.publish(id_a(2), "2"), PublishVerdict::accepted);
  drain();  // 1 and 2 pushed, on the wire for 100 us
  reader.disconnect();
  twin.bus.disconnect();  // the writer too: 3 and 4 wait in its reconnect buffer
  ASSERT_EQ(twin.publish(id_a(3), "3"), PublishVerdict::accepted);
  ASSERT_EQ(twin.publish(id_a(4), "4"), PublishVerdict::accepted);
  twin.now_us += 1000;
  drain();
  EXPECT_TRUE(ticks.empty());
  twin.bus.reconnect(twin.now_us);
  reader.reconnect(twin.now_us);
  for (int i = 0; i < 4; ++i) {
    twin.now_us += 100;
    drain();
    (void)twin.poll();
  }
  EXPECT_EQ(ticks, (std::vector<uint64_t>{1, 2, 3, 4}));
  // The acks of 1 and 2 were on the wire at the disconnect: both are resent after MaxWait, and
  // dedup acks the copies as the messages stored first.
  EXPECT_EQ(twin.bus.pending(), 2u);
  twin.now_us += MemoryBusConfig{}.ack_wait_us;
  (void)twin.poll();
  twin.now_us += 100;
  EXPECT_EQ(twin.poll().acks,
            (std::vector<PublishAck>{{id_a(1), AckKind::duplicate, 1, 2}, {id_a(2), AckKind::duplicate, 2, 2}}));
  EXPECT_EQ(twin.stream.last_seq(), 4u);
  EXPECT_EQ(reader.counters().consumer_resets, 1u);
  ASSERT_TRUE(sub.has_value());
}

// ---- the property ----

enum class Step : uint8_t { publish, republish_acked, lose_ack, lose_send, disconnect, reconnect, advance, poll };

RC_GTEST_PROP(MemoryBus, AnyInterleavingStoresEachIdOnceAndEveryConsumerSeesItOnceInOrder, ()) {
  const auto steps = *rc::gen::container<std::vector<Step>>(
      rc::gen::element(Step::publish, Step::publish, Step::republish_acked, Step::lose_ack, Step::lose_send,
                       Step::disconnect, Step::reconnect, Step::advance, Step::poll, Step::poll));
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  // A send lost before the server is stored only when resent, after the sends that followed it;
  // with lost acks alone the stream keeps the publish order.
  const bool sends_lost = *rc::gen::arbitrary<bool>();
  const MemoryBusConfig config{
      .ack_wait_us = 1000, .publish_attempts = 64, .pending_max = 64, .latency_us = 50, .consumer_window = 4};
  MemoryStream stream(MemoryStreamConfig{.dedup_window_us = 1'000'000'000});  // the run fits in the window
  MemoryBus writer(stream, config,
                   {.seed = seed, .ack_loss_per_mille = 100, .publish_loss_per_mille = sends_lost ? 100U : 0U});
  MemoryBus reader(stream, config, {.seed = ~seed, .delivery_loss_per_mille = 100});
  const auto sub = reader.subscribe({region_a, std::nullopt}, 0, 0);
  RC_ASSERT(sub.has_value());

  uint64_t now_us = 0;
  uint64_t next_tick = 1;
  std::map<BusMessageId, PublishAck> acked;  // the last ack of each id
  std::map<BusMessageId, size_t> accepted;   // publishes accepted per id
  std::map<BusMessageId, size_t> answered;   // acks received per id
  std::vector<BusMessageId> delivered;
  auto poll_both = [&] {
    BusPoll out;
    writer.poll(now_us, 1000, out);
    reader.poll(now_us, 3, out);
    for (const PublishAck& ack : out.acks) {
      ++answered[ack.id];
      acked[ack.id] = ack;
    }
    for (const Delivery& delivery : out.deliveries) {
      RC_ASSERT(stream.at(delivery.stream_seq).id == delivery.id);
      delivered.push_back(delivery.id);
    }
  };
  for (const Step step : steps) {
    switch (step) {
      case Step::publish:
        if (writer.publish(world_a, id_a(next_tick), bytes(std::to_string(next_tick)), now_us) ==
            PublishVerdict::accepted) {
          ++accepted[id_a(next_tick)];
          ++next_tick;
        }
        break;
      case Step::republish_acked:
        if (!acked.empty() &&
            writer.publish(world_a, acked.begin()->first, bytes("again"), now_us) == PublishVerdict::accepted) {
          ++accepted[acked.begin()->first];
        }
        break;
      case Step::lose_ack: writer.lose_next_acks(1); break;
      case Step::lose_send:
        if (sends_lost) writer.lose_next_publishes(1);
        break;
      case Step::disconnect:
        writer.disconnect();
        reader.disconnect();
        break;
      case Step::reconnect:
        writer.reconnect(now_us);
        reader.reconnect(now_us);
        break;
      case Step::advance: now_us += 400; break;
      case Step::poll: poll_both(); break;
    }
  }
  // Heal and drain: every publish gets its one ack, every stored message reaches the reader.
  writer.reconnect(now_us);
  reader.reconnect(now_us);
  for (int i = 0; i < 2000 && (writer.pending() > 0 || delivered.size() < stream.last_seq()); ++i) {
    now_us += 500;
    poll_both();
  }
  RC_ASSERT(writer.pending() == 0u);
  RC_ASSERT(answered == accepted);
  std::set<BusMessageId> stored_ids;
  for (uint64_t seq = 1; seq <= stream.last_seq(); ++seq) {
    RC_ASSERT(stored_ids.insert(stream.at(seq).id).second);                                      // each id stored once
    if (seq > 1 && !sends_lost) RC_ASSERT(stream.at(seq - 1).id.tick < stream.at(seq).id.tick);  // publish order
  }
  for (const auto& [id, ack] : acked) {
    if (ack.kind == AckKind::failed) continue;
    RC_ASSERT(stream.at(ack.stream_seq).id == id);
  }
  std::vector<BusMessageId> expected;
  for (uint64_t seq = 1; seq <= stream.last_seq(); ++seq) expected.push_back(stream.at(seq).id);
  RC_ASSERT(delivered == expected);
}

}  // namespace
}  // namespace strata::server
