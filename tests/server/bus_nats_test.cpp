// tests/server/bus_nats_test.cpp — NatsBus against a real nats-server -js (the CTest fixture
// `nats`, started by tools/service-nats.sh; its URL comes from $STRATA_SERVICES_DIR/nats.env), and
// the twin checked against it: the same scripted scenario through MemoryBus and through NatsBus
// gives the same acks and deliveries. Each test has its own stream and subject namespace, so the
// tests share one server. Waits have deadlines (a failure, never a timed assertion).
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "server/clock.h"
#include "server/memory_bus.h"
#include "server/nats_bus.h"
#include "tests/server/bus_nats_harness.h"
#include "tests/server/bus_proxy.h"
#include "tests/server/bus_scenario.h"

namespace strata::server {
namespace {

using namespace std::chrono_literals;

using test::bytes;
using test::nats_service;
using test::NatsService;
using test::now_us;
using test::open_bus;
using test::poll_until;
using test::test_config;
using test::wait_state;

constexpr sim::RegionId one{1};
constexpr sim::RegionId two{2};

TEST(NatsBus, OpenFailsWithAReasonWhenNoServerListens) {
  NatsBusConfig config;
  config.url = "nats://127.0.0.1:1";
  config.connect_timeout_ms = 500;
  std::string error;
  EXPECT_EQ(NatsBus::open(config, error), nullptr);
  EXPECT_NE(error.find("cannot connect"), std::string::npos) << error;
}

// A region starts without NATS and joins it when it comes (connect_in_background): open()
// succeeds while no server answers, publishes are held by the caller (buffer_full, as while
// disconnected) and subscriptions wait; once the server is there, maintain() makes the stream and
// both go through. The server "appears" as a proxy to the fixture's nats-server, started on the
// port the bus has been trying (nothing listened there before: connections were refused).
TEST(NatsBus, OpenedBeforeAnyServerItConnectsWhenOneComesAndMakesTheStream) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  uint16_t port = 0;
  {
    const test::TcpProxy probe(service->port);  // a free port, closed again
    port = probe.port();
  }
  NatsBusConfig config = test_config(service->url, "late");
  config.url = "nats://127.0.0.1:" + std::to_string(port);
  config.connect_in_background = true;
  config.connect_timeout_ms = 500;
  auto bus = open_bus(config);
  ASSERT_TRUE(bus);
  EXPECT_EQ(bus->state(), BusState::connecting);
  EXPECT_EQ(bus->publish({one, BusChannel::world}, {one, 1}, bytes("1"), now_us()), PublishVerdict::buffer_full);
  EXPECT_FALSE(bus->subscribe({one, std::nullopt}, 0, now_us()));
  EXPECT_FALSE(bus->last_stored({one, BusChannel::world}));
  bus->maintain(now_us());             // nothing to make yet
  std::this_thread::sleep_for(300ms);  // a few refused attempts (reconnect_wait_ms 50)
  EXPECT_EQ(bus->state(), BusState::connecting);
  const test::TcpProxy server(service->port, port);
  ASSERT_TRUE(wait_state({bus.get()}, BusState::connected));
  std::optional<SubscriptionId> sub;
  const uint64_t deadline = now_us() + 20'000'000;
  while (!sub && now_us() < deadline) {
    bus->maintain(now_us());  // the runtime's bus thread does this every second or so
    sub = bus->subscribe({one, std::nullopt}, 0, now_us());
    if (!sub) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(sub) << bus->last_error();
  EXPECT_EQ(bus->last_stored({one, BusChannel::world}), StoredMark{});
  constexpr uint64_t count = 10;
  for (uint64_t tick = 1; tick <= count; ++tick) {
    ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, tick}, bytes(std::to_string(tick)), now_us()),
              PublishVerdict::accepted);
  }
  BusPoll got;
  ASSERT_TRUE(poll_until({bus.get()}, got,
                         [&](const BusPoll& p) { return p.acks.size() == count && p.deliveries.size() == count; }));
  for (uint64_t i = 0; i < count; ++i) EXPECT_EQ(got.deliveries[i].stream_seq, i + 1);
  EXPECT_EQ(bus->stream_last_seq(), count);
  EXPECT_EQ(bus->counters().publish_refused_buffer_full, 1U);
}

TEST(NatsBus, PublishesAreAckedAndConsumedInStreamOrder) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  auto bus = open_bus(test_config(service->url, "order"));
  ASSERT_TRUE(bus);
  EXPECT_EQ(bus->state(), BusState::connected);
  constexpr uint64_t count = 200;
  for (uint64_t tick = 1; tick <= count; ++tick) {
    ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, tick}, bytes(std::to_string(tick)), now_us()),
              PublishVerdict::accepted);
    if (bus->pending() == 256) {
      BusPoll drained;
      ASSERT_TRUE(poll_until({bus.get()}, drained, [&](const BusPoll&) { return bus->pending() < 256; }));
    }
  }
  const auto sub = bus->subscribe({one, std::nullopt}, 0, now_us());
  ASSERT_TRUE(sub);
  BusPoll got;
  ASSERT_TRUE(poll_until({bus.get()}, got,
                         [&](const BusPoll& p) { return p.acks.size() == count && p.deliveries.size() == count; }));
  for (uint64_t i = 0; i < count; ++i) {
    EXPECT_EQ(got.acks[i], (PublishAck{{one, i + 1}, AckKind::stored, i + 1, 1}));
    EXPECT_EQ(got.deliveries[i],
              (Delivery{*sub, i + 1, {one, BusChannel::world}, {one, i + 1}, bytes(std::to_string(i + 1))}));
  }
  EXPECT_EQ(bus->stream_last_seq(), count);
  EXPECT_EQ(bus->counters().deliveries, count);
}

// A region subscribes to its peers at start, usually before they publish anything (an empty stream,
// or an origin with no message yet): its consumer must deliver what comes later.
TEST(NatsBus, AConsumerMadeBeforeItsOriginPublishesGetsWhatComesLater) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  auto bus = open_bus(test_config(service->url, "early"));
  ASSERT_TRUE(bus);
  const auto sub = bus->subscribe({one, std::nullopt}, 0, now_us());
  ASSERT_TRUE(sub);
  constexpr uint64_t count = 20;
  for (uint64_t tick = 1; tick <= count; ++tick) {
    ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, tick}, bytes(std::to_string(tick)), now_us()),
              PublishVerdict::accepted);
  }
  BusPoll got;
  ASSERT_TRUE(poll_until({bus.get()}, got,
                         [&](const BusPoll& p) { return p.acks.size() == count && p.deliveries.size() == count; }))
      << got.acks.size() << " acks, " << got.deliveries.size() << " deliveries";
  for (uint64_t i = 0; i < count; ++i) EXPECT_EQ(got.deliveries[i].stream_seq, i + 1);
}

// A restarted region asks for its own last stored batch (its sequence and its id: the tick after
// which it publishes again from its log); the twin answers as the server does.
TEST(NatsBus, TheLastStoredMessageOfASubjectIsTheServersAndTheTwins) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  auto bus = open_bus(test_config(service->url, "last"));
  ASSERT_TRUE(bus);
  MemoryStream stream;
  MemoryBus twin(stream, MemoryBusConfig{});
  const BusMessageId three_part_two{one, 3, BusChannel::world, 2};
  const BusMessageId presence{one, 4, BusChannel::presence};
  for (Bus* b : std::vector<Bus*>{bus.get(), &twin}) {
    EXPECT_EQ(b->last_stored({one, BusChannel::world}), StoredMark{});
    for (uint64_t tick = 1; tick <= 2; ++tick) {
      ASSERT_EQ(b->publish({one, BusChannel::world}, {one, tick}, bytes("w"), now_us()), PublishVerdict::accepted);
    }
    ASSERT_EQ(b->publish({one, BusChannel::world}, three_part_two, bytes("w"), now_us()), PublishVerdict::accepted);
    ASSERT_EQ(b->publish({two, BusChannel::world}, {two, 1}, bytes("x"), now_us()), PublishVerdict::accepted);
    ASSERT_EQ(b->publish({one, BusChannel::presence}, presence, bytes("p"), now_us()), PublishVerdict::accepted);
    BusPoll got;
    ASSERT_TRUE(poll_until({b}, got, [](const BusPoll& p) { return p.acks.size() == 5; }));
    EXPECT_EQ(b->last_stored({one, BusChannel::world}), (StoredMark{3, three_part_two}));
    EXPECT_EQ(b->last_stored({two, BusChannel::world}), (StoredMark{4, BusMessageId{two, 1}}));
    EXPECT_EQ(b->last_stored({one, BusChannel::presence}), (StoredMark{5, presence}));
    EXPECT_EQ(b->last_stored({sim::RegionId{3}, BusChannel::world}), StoredMark{});
  }
}

TEST(NatsBus, ADuplicateIdInsideTheWindowIsNotStoredAgainButIsAfterIt) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  NatsBusConfig config = test_config(service->url, "dedup");
  config.dedup_window_ms = 1000;
  auto bus = open_bus(config);
  ASSERT_TRUE(bus);
  BusPoll got;
  ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, 7}, bytes("first"), now_us()), PublishVerdict::accepted);
  ASSERT_TRUE(poll_until({bus.get()}, got, [](const BusPoll& p) { return p.acks.size() == 1; }));
  ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, 7}, bytes("second"), now_us()), PublishVerdict::accepted);
  ASSERT_TRUE(poll_until({bus.get()}, got, [](const BusPoll& p) { return p.acks.size() == 2; }));
  EXPECT_EQ(got.acks[0], (PublishAck{{one, 7}, AckKind::stored, 1, 1}));
  EXPECT_EQ(got.acks[1], (PublishAck{{one, 7}, AckKind::duplicate, 1, 1}));
  EXPECT_EQ(bus->stream_last_seq(), 1u);
  std::this_thread::sleep_for(2500ms);  // past the window (the server forgets ids on a timer)
  ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, 7}, bytes("third"), now_us()), PublishVerdict::accepted);
  ASSERT_TRUE(poll_until({bus.get()}, got, [](const BusPoll& p) { return p.acks.size() == 3; }));
  EXPECT_EQ(got.acks[2], (PublishAck{{one, 7}, AckKind::stored, 2, 1}));
}

TEST(NatsBus, AConsumerAfterSequenceSGetsItsOriginFromSPlusOne) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  auto bus = open_bus(test_config(service->url, "start"));
  ASSERT_TRUE(bus);
  BusPoll got;
  for (uint64_t tick = 1; tick <= 10; ++tick) {
    ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, tick}, bytes("a"), now_us()), PublishVerdict::accepted);
    ASSERT_EQ(bus->publish({two, BusChannel::world}, {two, tick}, bytes("b"), now_us()), PublishVerdict::accepted);
    ASSERT_TRUE(poll_until({bus.get()}, got, [&](const BusPoll& p) { return p.acks.size() == 2 * tick; }));
  }
  // Stream: 1:t at 2t-1, 2:t at 2t. After 9 (1:5): 1:6 at 11, ..., 1:10 at 19.
  const auto sub = bus->subscribe({one, BusChannel::world}, 9, now_us());
  ASSERT_TRUE(sub);
  ASSERT_TRUE(poll_until({bus.get()}, got, [](const BusPoll& p) { return p.deliveries.size() >= 5; }));
  std::this_thread::sleep_for(200ms);  // anything more would be a bug: give it the chance to show
  BusPoll more;
  bus->poll(now_us(), 1000, more);
  EXPECT_TRUE(more.deliveries.empty());
  ASSERT_EQ(got.deliveries.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(got.deliveries[i].stream_seq, 11 + 2 * i);
    EXPECT_EQ(got.deliveries[i].id, (BusMessageId{one, 6 + i}));
  }
}

// A consumer that is not polled stops reading: JetStream's flow control pauses the push, nats.c's
// queue holds what came before the pause, and once polled every message arrives, in order, none
// dropped. (How much the queue holds is a figure for the report, not asserted.)
TEST(NatsBus, AnUnpolledConsumerDropsNothing) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  NatsBusConfig config = test_config(service->url, "unpolled");
  config.pending_max = 1024;
  auto bus = open_bus(config);
  ASSERT_TRUE(bus);
  constexpr uint64_t count = 20'000;
  const std::vector<uint8_t> payload(1024, 0x5A);
  BusPoll acks;
  const uint64_t start_us = now_us();
  for (uint64_t tick = 1; tick <= count; ++tick) {
    if (bus->pending() == config.pending_max) {
      ASSERT_TRUE(poll_until({bus.get()}, acks, [&](const BusPoll&) { return bus->pending() < config.pending_max; }));
    }
    ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, tick}, payload, now_us()), PublishVerdict::accepted);
  }
  ASSERT_TRUE(poll_until({bus.get()}, acks, [&](const BusPoll& p) { return p.acks.size() == count; }));
  std::printf("figure: %llu async publishes of 1 KiB acked in %llu ms (pending_max %zu, file storage)\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>((now_us() - start_us) / 1000),
              config.pending_max);
  const auto sub = bus->subscribe({one, BusChannel::world}, 0, now_us());
  ASSERT_TRUE(sub);
  std::this_thread::sleep_for(1500ms);  // not polled
  const NatsBus::Buffered held = bus->buffered_deliveries();
  std::printf("figure: an unpolled consumer of %llu x 1 KiB held %llu messages, %llu bytes in nats.c's queue\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(held.messages),
              static_cast<unsigned long long>(held.bytes));
  uint64_t next = 1;
  BusPoll got;
  ASSERT_TRUE(poll_until({bus.get()}, got, [&](BusPoll& p) {
    for (const Delivery& d : p.deliveries) {
      EXPECT_EQ(d.id.tick, next);
      ++next;
    }
    p.deliveries.clear();
    return next == count + 1;
  }));
  EXPECT_EQ(bus->counters().deliveries, count);
  EXPECT_EQ(bus->counters().deliveries_duplicate, 0u);
}

// Whoever may publish on the stream can write anything there: a message id of another region,
// none, a malformed one, a subject with no such channel. Each is refused and counted, never
// delivered; what follows them is.
TEST(NatsBus, ForgedAndMalformedMessagesAreRefusedAndCounted) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  const NatsBusConfig config = test_config(service->url, "hostile");
  auto bus = open_bus(config);
  ASSERT_TRUE(bus);
  natsConnection* raw = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&raw, service->url.c_str()), NATS_OK);
  auto publish_raw = [&](const std::string& subject, const char* id) {
    natsMsg* message = nullptr;
    const std::string full = std::string(config.subject_namespace).append(".").append(subject);
    ASSERT_EQ(natsMsg_Create(&message, full.c_str(), nullptr, "x", 1), NATS_OK);
    if (id != nullptr) {
      EXPECT_EQ(natsMsgHeader_Set(message, "Nats-Msg-Id", id), NATS_OK);
    }
    EXPECT_EQ(natsConnection_PublishMsg(raw, message), NATS_OK);
    natsMsg_Destroy(message);
  };
  publish_raw("events.1.world", "2:1");    // region 2 speaking on region 1's subject
  publish_raw("events.1.world", nullptr);  // no id
  publish_raw("events.1.world", "1:01");   // a second spelling of 1:1
  // No such channel. (Its id is not 1:1: dedup is per stream, not per subject, so a message stored
  // with id 1:1 on any subject would make region 1's own 1:1 a duplicate. Only publish permissions
  // on events.<region>.> keep one region from pre-empting another's ids.)
  publish_raw("events.1.bogus", "1:99");
  ASSERT_EQ(natsConnection_Flush(raw), NATS_OK);
  natsConnection_Destroy(raw);
  ASSERT_EQ(bus->publish({one, BusChannel::world}, {one, 1}, bytes("good"), now_us()), PublishVerdict::accepted);
  const auto sub = bus->subscribe({one, std::nullopt}, 0, now_us());
  ASSERT_TRUE(sub);
  BusPoll got;
  ASSERT_TRUE(poll_until({bus.get()}, got, [](const BusPoll& p) { return !p.deliveries.empty() && !p.acks.empty(); }));
  EXPECT_EQ(got.acks, (std::vector<PublishAck>{{{one, 1}, AckKind::stored, 5, 1}}));
  ASSERT_EQ(got.deliveries.size(), 1u);
  EXPECT_EQ(got.deliveries[0], (Delivery{*sub, 5, {one, BusChannel::world}, {one, 1}, bytes("good")}));
  const BusCounters counters = bus->counters();
  EXPECT_EQ(counters.deliveries_refused_forged, 1u);
  EXPECT_EQ(counters.deliveries_refused_message_id, 2u);
  EXPECT_EQ(counters.deliveries_refused_subject, 1u);
  EXPECT_EQ(counters.deliveries, 1u);
}

TEST(NatsBus, AStreamThatDiffersIsUpdatedAtOpen) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  NatsBusConfig config = test_config(service->url, "check");
  config.dedup_window_ms = 1000;
  ASSERT_TRUE(open_bus(config));
  config.dedup_window_ms = 3000;
  auto bus = open_bus(config);  // checked, found different, updated
  ASSERT_TRUE(bus);
  ASSERT_TRUE(open_bus(config));  // checked, the same
}

// A reader and a writer behind a proxy, cut for longer than two consumer heartbeats while another
// writer keeps publishing directly: after the heal, every message arrives once, in order, and
// every publish made during the cut is acked.
TEST(NatsBus, NothingIsLostOrDuplicatedAcrossAReconnect) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  test::TcpProxy proxy(service->port);
  NatsBusConfig direct_config = test_config(service->url, "reconnect");
  NatsBusConfig proxied_config = direct_config;
  proxied_config.url = "nats://127.0.0.1:" + std::to_string(proxy.port());
  auto direct = open_bus(direct_config);
  auto proxied = open_bus(proxied_config);
  ASSERT_TRUE(direct && proxied);
  const auto sub = proxied->subscribe({one, std::nullopt}, 0, now_us());
  ASSERT_TRUE(sub);
  BusPoll got;
  uint64_t tick = 0;
  auto publish_direct = [&](uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      ++tick;
      ASSERT_EQ(direct->publish({one, BusChannel::world}, {one, tick}, bytes(std::to_string(tick)), now_us()),
                PublishVerdict::accepted);
    }
  };
  publish_direct(50);
  ASSERT_TRUE(
      poll_until({direct.get(), proxied.get()}, got, [](const BusPoll& p) { return p.deliveries.size() >= 20; }));
  proxy.cut();
  ASSERT_TRUE(wait_state({proxied.get()}, BusState::reconnecting));
  publish_direct(50);
  // The cut writer publishes too: region two's messages wait in its reconnect buffer.
  for (uint64_t t = 1; t <= 5; ++t) {
    ASSERT_EQ(proxied->publish({two, BusChannel::world}, {two, t}, bytes("b"), now_us()), PublishVerdict::accepted);
  }
  const uint64_t cut_until = now_us() + 1'500'000;  // three heartbeats of 500 ms
  while (now_us() < cut_until) {
    BusPoll out;
    proxied->maintain(now_us());
    direct->poll(now_us(), 1000, out);
    proxied->poll(now_us(), 1000, out);
    got.acks.insert(got.acks.end(), out.acks.begin(), out.acks.end());
    got.deliveries.insert(got.deliveries.end(), out.deliveries.begin(), out.deliveries.end());
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(proxied->state(), BusState::reconnecting);
  proxy.heal();
  publish_direct(50);
  ASSERT_TRUE(poll_until({direct.get(), proxied.get()}, got,
                         [&](const BusPoll& p) { return p.deliveries.size() >= 150 && p.acks.size() == 155; }))
      << "deliveries " << got.deliveries.size() << " acks " << got.acks.size();
  std::this_thread::sleep_for(300ms);
  BusPoll more;
  proxied->poll(now_us(), 1000, more);
  EXPECT_TRUE(more.deliveries.empty());
  ASSERT_EQ(got.deliveries.size(), 150u);
  for (uint64_t i = 0; i < 150; ++i) EXPECT_EQ(got.deliveries[i].id, (BusMessageId{one, i + 1})) << i;
  for (size_t i = 1; i < got.deliveries.size(); ++i) {
    EXPECT_LT(got.deliveries[i - 1].stream_seq, got.deliveries[i].stream_seq);
  }
  size_t region_two_stored = 0;
  for (const PublishAck& ack : got.acks) region_two_stored += ack.id.origin == two && ack.kind == AckKind::stored;
  EXPECT_EQ(region_two_stored, 5u);
  EXPECT_GE(proxied->counters().disconnects, 1u);
  EXPECT_GE(proxied->counters().reconnects, 1u);
}

// ---- the twin checked against the real server ----

class TwinHarness final : public test::ScenarioHarness {
 public:
  TwinHarness()
      : writer_(stream_, MemoryBusConfig{.publish_attempts = test::scenario_publish_attempts}), reader_(stream_, {}) {}
  Bus& writer() override { return writer_; }
  Bus& reader() override { return reader_; }
  void cut() override {
    writer_.disconnect();
    reader_.disconnect();
  }
  void heal() override {
    writer_.reconnect(now_);
    reader_.reconnect(now_);
  }
  void hold_acks() override { writer_.lose_next_acks(1); }
  void release_acks() override {}
  void pass_max_wait(test::ScenarioResult& result) override {
    now_ += MemoryBusConfig{}.ack_wait_us;
    (void)test::scenario_wait(*this, result, 0, 0);
  }
  uint64_t now_us() override { return now_; }
  bool pause() override {
    now_ += 1000;
    return ++pauses_ < 100'000;
  }

 private:
  MemoryStream stream_;
  MemoryBus writer_;
  MemoryBus reader_;
  uint64_t now_ = 1'000'000;
  size_t pauses_ = 0;
};

class NatsHarness final : public test::ScenarioHarness {
 public:
  explicit NatsHarness(const NatsService& service) : proxy_(service.port) {
    NatsBusConfig config = test_config(service.url, "scenario");
    config.url = "nats://127.0.0.1:" + std::to_string(proxy_.port());
    config.publish_max_wait_ms = max_wait_ms;
    config.publish_attempts = test::scenario_publish_attempts;
    writer_ = open_bus(config);
    reader_ = open_bus(config);
  }
  [[nodiscard]] bool ready() const { return writer_ && reader_; }
  Bus& writer() override { return *writer_; }
  Bus& reader() override { return *reader_; }
  void cut() override {
    proxy_.cut();
    EXPECT_TRUE(wait_state({writer_.get(), reader_.get()}, BusState::reconnecting));
  }
  void heal() override {
    proxy_.heal();
    EXPECT_TRUE(wait_state({writer_.get(), reader_.get()}, BusState::connected));
  }
  void hold_acks() override { proxy_.hold_server_bytes(true); }
  void release_acks() override { proxy_.hold_server_bytes(false); }
  void pass_max_wait(test::ScenarioResult& result) override {
    // Past MaxWait, polling: nats.c times the send out, the bus resends it (its ack held too).
    const uint64_t until = now_us() + (max_wait_ms + 500) * 1000;
    while (now_us() < until) {
      BusPoll out;  // (no maintain() here: its requests would wait on the held bytes)
      writer_->poll(now_us(), 1000, out);
      reader_->poll(now_us(), 1000, out);
      result.acks.insert(result.acks.end(), out.acks.begin(), out.acks.end());
      result.deliveries.insert(result.deliveries.end(), out.deliveries.begin(), out.deliveries.end());
      std::this_thread::sleep_for(2ms);
    }
  }
  uint64_t now_us() override { return test::now_us(); }
  bool pause() override {
    reader_->maintain(now_us());
    std::this_thread::sleep_for(2ms);
    if (deadline_ == 0) deadline_ = now_us() + 60'000'000;
    return now_us() < deadline_;
  }

 private:
  // Long enough that the cut and heal above never time a send out (the twin's has no such race),
  // short enough to wait past in the lost-ack step.
  static constexpr uint64_t max_wait_ms = 1500;
  test::TcpProxy proxy_;
  std::unique_ptr<NatsBus> writer_;
  std::unique_ptr<NatsBus> reader_;
  uint64_t deadline_ = 0;
};

TEST(BusTwin, TheTwinAndNatsServerDeliverTheSameScenario) {
  const auto service = nats_service();
  ASSERT_TRUE(service);
  TwinHarness twin;
  const test::ScenarioResult twin_result = test::run_bus_scenario(twin);
  NatsHarness real(*service);
  ASSERT_TRUE(real.ready());
  const test::ScenarioResult real_result = test::run_bus_scenario(real);
  EXPECT_EQ(twin_result, test::expected_bus_scenario());
  EXPECT_EQ(real_result, twin_result);
  for (size_t i = 0; i < std::min(real_result.acks.size(), twin_result.acks.size()); ++i) {
    const PublishAck& r = real_result.acks[i];
    const PublishAck& t = twin_result.acks[i];
    EXPECT_EQ(r, t) << "ack " << i << ": real " << message_id_text(r.id) << " kind " << static_cast<int>(r.kind)
                    << " seq " << r.stream_seq << " attempts " << r.attempts << ", twin " << message_id_text(t.id)
                    << " kind " << static_cast<int>(t.kind) << " seq " << t.stream_seq << " attempts " << t.attempts;
  }
  for (size_t i = 0; i < std::min(real_result.deliveries.size(), twin_result.deliveries.size()); ++i) {
    const Delivery& r = real_result.deliveries[i];
    const Delivery& t = twin_result.deliveries[i];
    EXPECT_EQ(r, t) << "delivery " << i << ": real seq " << r.stream_seq << " id " << message_id_text(r.id)
                    << ", twin seq " << t.stream_seq << " id " << message_id_text(t.id);
  }
  EXPECT_EQ(real_result.acks.size(), 15u);
  EXPECT_EQ(real_result.deliveries.size(), 7u);
}

}  // namespace
}  // namespace strata::server
