// tests/server/bus_scenario.h — one scripted scenario that any Bus runs: publishes of two regions,
// duplicate message ids, a consumer from a start sequence, a cut and a heal with publishes while
// cut, an ack that comes too late (after MaxWait: the bus resends, dedup acks the copy), and a
// publish that runs out of attempts while cut (reported failed, yet stored once on the heal).
// Both harnesses give the writer publish_attempts = scenario_publish_attempts. The twin and the real nats-server must
// give the same acks (id, kind, sequence, attempts) and the same deliveries (sequence, subject, id, payload): the
// twin's model is checked, not assumed. A Harness says how to cut, heal and let time pass for its kind of bus.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "server/bus.h"

namespace strata::server::test {

struct ScenarioResult {
  std::vector<PublishAck> acks;
  std::vector<Delivery> deliveries;
  friend bool operator==(const ScenarioResult&, const ScenarioResult&) = default;
};

class ScenarioHarness {
 public:
  virtual ~ScenarioHarness() = default;
  virtual Bus& writer() = 0;
  virtual Bus& reader() = 0;
  virtual void cut() = 0;   // both buses lose the server; returns once both know it
  virtual void heal() = 0;  // the server is back; returns once both are connected again
  // The writer's next ack does not arrive before its MaxWait expires: the twin loses it, the real
  // bus has it held back. release_acks() lets held acks go (a late ack finds nothing to match).
  virtual void hold_acks() = 0;
  virtual void release_acks() = 0;
  // Lets more than the writer's MaxWait pass, polling both buses.
  virtual void pass_max_wait(ScenarioResult& result) = 0;
  [[nodiscard]] virtual uint64_t now_us() = 0;
  // Lets time pass a little (a twin advances its clock, a real bus sleeps); false once the harness
  // has waited too long for the scenario to make progress.
  [[nodiscard]] virtual bool pause() = 0;
};

inline constexpr uint32_t scenario_publish_attempts = 2;

inline std::vector<uint8_t> scenario_bytes(const std::string& text) { return {text.begin(), text.end()}; }
// (Built by append: GCC 12 warns falsely about `"text" + std::to_string(n)`.)
inline std::string scenario_label(const char* prefix, uint64_t n) {
  return std::string(prefix).append(std::to_string(n));
}

// Polls both buses until `acks_total` acks and `deliveries_total` deliveries are in `result`.
inline bool scenario_wait(ScenarioHarness& harness, ScenarioResult& result, size_t acks_total,
                          size_t deliveries_total) {
  while (true) {
    BusPoll out;
    harness.writer().poll(harness.now_us(), 1000, out);
    harness.reader().poll(harness.now_us(), 1000, out);
    result.acks.insert(result.acks.end(), out.acks.begin(), out.acks.end());
    result.deliveries.insert(result.deliveries.end(), out.deliveries.begin(), out.deliveries.end());
    if (result.acks.size() >= acks_total && result.deliveries.size() >= deliveries_total) return true;
    if (!harness.pause()) return false;
  }
}

inline ScenarioResult run_bus_scenario(ScenarioHarness& harness) {
  ScenarioResult result;
  const sim::RegionId one{1};
  const sim::RegionId two{2};
  auto publish = [&](sim::RegionId region, BusChannel channel, uint64_t tick, const std::string& payload) {
    const PublishVerdict verdict =
        harness.writer().publish({region, channel}, {region, tick, channel}, scenario_bytes(payload), harness.now_us());
    EXPECT_EQ(verdict, PublishVerdict::accepted) << "tick " << tick;
  };
  // 1. Six publishes, two regions interleaved, each waited for so the stream order is the script's.
  size_t acks = 0;
  for (uint64_t tick = 1; tick <= 3; ++tick) {
    publish(one, BusChannel::world, tick, scenario_label("one-world-", tick));
    EXPECT_TRUE(scenario_wait(harness, result, ++acks, 0));
    publish(two, tick == 2 ? BusChannel::presence : BusChannel::world, tick, scenario_label("two-", tick));
    EXPECT_TRUE(scenario_wait(harness, result, ++acks, 0));
  }
  // 2. The same ids again (a resend after a crash): duplicates of what is stored, nothing new.
  publish(one, BusChannel::world, 2, "one-world-2-again");
  EXPECT_TRUE(scenario_wait(harness, result, ++acks, 0));
  publish(two, BusChannel::world, 3, "two-3-again");
  EXPECT_TRUE(scenario_wait(harness, result, ++acks, 0));
  // 3. A consumer of region one after sequence 2 (region one's tick 1 is at 1, tick 2 at 3).
  const auto subscription = harness.reader().subscribe({one, std::nullopt}, 2, harness.now_us());
  EXPECT_TRUE(subscription.has_value());
  EXPECT_TRUE(scenario_wait(harness, result, acks, 2));
  // 4. Cut: publishes wait in the writer's reconnect buffer (one repeats an id already stored),
  //    and the reader gets nothing; after the heal every one arrives, once.
  harness.cut();
  publish(one, BusChannel::world, 4, "one-world-4");
  publish(one, BusChannel::health, 5, "one-health-5");
  publish(one, BusChannel::world, 1, "one-world-1-again");
  harness.heal();
  acks += 3;
  EXPECT_TRUE(scenario_wait(harness, result, acks, 4));
  // 5. And after the heal, a publish goes straight through.
  publish(one, BusChannel::world, 6, "one-world-6");
  EXPECT_TRUE(scenario_wait(harness, result, ++acks, 5));
  // 6. An ack that does not come in time: stored once, resent once, acked as its own duplicate.
  harness.hold_acks();
  publish(one, BusChannel::world, 7, "one-world-7");
  harness.pass_max_wait(result);
  harness.release_acks();
  EXPECT_TRUE(scenario_wait(harness, result, ++acks, 6));
  // 7. Cut for longer than every attempt's MaxWait: reported failed. Both sends waited in the
  //    reconnect buffer and go out on the heal: stored once (the copy is a duplicate, both acks
  //    find nothing pending), delivered once, and the same id published again is its duplicate.
  harness.cut();
  publish(one, BusChannel::world, 8, "one-world-8");
  for (uint32_t i = 0; i < scenario_publish_attempts; ++i) harness.pass_max_wait(result);
  EXPECT_TRUE(scenario_wait(harness, result, ++acks, 6));
  harness.heal();
  EXPECT_TRUE(scenario_wait(harness, result, acks, 7));
  publish(one, BusChannel::world, 8, "one-world-8-again");
  EXPECT_TRUE(scenario_wait(harness, result, ++acks, 7));
  return result;
}

// What the scenario must give, written out: the stream is 1:1 2:1 1:2 2:2 1:3 2:3 (1..6), then
// 1:4 1:5 (7, 8) after the heal, 1:6 (9), 1:7 (10), whose ack comes from its resend, and 1:8 (11),
// reported failed but stored on the heal.
inline ScenarioResult expected_bus_scenario() {
  const sim::RegionId one{1};
  const sim::RegionId two{2};
  ScenarioResult expected;
  auto ack = [&](sim::RegionId region, uint64_t tick, AckKind kind, uint64_t seq,
                 BusChannel channel = BusChannel::world) {
    expected.acks.push_back(PublishAck{{region, tick, channel}, kind, seq, 1});
  };
  ack(one, 1, AckKind::stored, 1);
  ack(two, 1, AckKind::stored, 2);
  ack(one, 2, AckKind::stored, 3);
  ack(two, 2, AckKind::stored, 4, BusChannel::presence);
  ack(one, 3, AckKind::stored, 5);
  ack(two, 3, AckKind::stored, 6);
  ack(one, 2, AckKind::duplicate, 3);
  ack(two, 3, AckKind::duplicate, 6);
  ack(one, 4, AckKind::stored, 7);
  ack(one, 5, AckKind::stored, 8, BusChannel::health);
  ack(one, 1, AckKind::duplicate, 1);
  ack(one, 6, AckKind::stored, 9);
  expected.acks.push_back(PublishAck{{one, 7}, AckKind::duplicate, 10, 2});
  expected.acks.push_back(PublishAck{{one, 8}, AckKind::failed, 0, scenario_publish_attempts});
  ack(one, 8, AckKind::duplicate, 11);
  auto delivery = [&](uint64_t seq, BusChannel channel, uint64_t tick, const std::string& payload) {
    expected.deliveries.push_back(
        Delivery{SubscriptionId{1}, seq, {one, channel}, {one, tick, channel}, scenario_bytes(payload)});
  };
  delivery(3, BusChannel::world, 2, "one-world-2");
  delivery(5, BusChannel::world, 3, "one-world-3");
  delivery(7, BusChannel::world, 4, "one-world-4");
  delivery(8, BusChannel::health, 5, "one-health-5");
  delivery(9, BusChannel::world, 6, "one-world-6");
  delivery(10, BusChannel::world, 7, "one-world-7");
  delivery(11, BusChannel::world, 8, "one-world-8");
  return expected;
}

}  // namespace strata::server::test
