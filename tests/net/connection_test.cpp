// tests/net/connection_test.cpp: the protocol state machine under seeded bad links: reliable-ordered
// delivers every message exactly once and in order, unreliable-sequenced never goes backwards,
// fragmentation round-trips, sequences wrap, keepalive/timeout/disconnect behave.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "tests/net/connection_harness.h"

namespace strata::net {
namespace {

using test::ConnectionPair;
using test::message_bytes;
using test::message_index;

LinkConfig gen_bad_link() {
  LinkConfig link;
  link.loss = *rc::gen::inRange(0, 41) / 100.0;
  link.duplicate = *rc::gen::inRange(0, 41) / 100.0;
  link.latency_us = static_cast<uint64_t>(*rc::gen::inRange(0, 301)) * 1000;
  link.jitter_us = static_cast<uint64_t>(*rc::gen::inRange(0, 101)) * 1000;
  link.reorder = *rc::gen::inRange(0, 21) / 100.0;
  link.reorder_delay_us = static_cast<uint64_t>(*rc::gen::inRange(0, 200)) * 1000;
  return link;
}

// Sends `sizes` on `channel` from a to b (retrying on queue_full), returns what b delivered.
std::vector<Message> run_transfer(ConnectionPair& pair, Channel channel, const std::vector<size_t>& sizes,
                                  uint64_t step_us, uint64_t limit_us, bool stop_when_all = true) {
  std::vector<Message> got;
  size_t next = 0;
  const uint64_t end_us = pair.now_us() + limit_us;
  while (pair.now_us() < end_us) {
    while (next < sizes.size()) {
      auto data = message_bytes(static_cast<uint32_t>(next), sizes[next]);
      if (pair.a().send(channel, data) != SendResult::ok) break;
      ++next;
    }
    pair.step(step_us);
    Message m;
    while (pair.b().pop_message(m)) got.push_back(std::move(m));
    if (stop_when_all && next == sizes.size() && got.size() == sizes.size()) break;
  }
  return got;
}

TEST(net_connection, clean_link_delivers_both_channels) {
  ConnectionPair pair(default_connection_config(), LinkConfig{}, 1);
  const std::vector<uint8_t> hello = {1, 2, 3};
  ASSERT_EQ(pair.a().send(Channel::reliable_ordered, hello), SendResult::ok);
  ASSERT_EQ(pair.a().send(Channel::unreliable_sequenced, hello), SendResult::ok);
  pair.step(1000);
  Message m;
  ASSERT_TRUE(pair.b().pop_message(m));
  EXPECT_EQ(m.channel, Channel::reliable_ordered);
  EXPECT_EQ(m.data, hello);
  ASSERT_TRUE(pair.b().pop_message(m));
  EXPECT_EQ(m.channel, Channel::unreliable_sequenced);
  EXPECT_FALSE(pair.b().pop_message(m));
  for (int i = 0; i < 10; ++i) pair.step(1000);
  EXPECT_EQ(pair.a().reliable_in_flight(), 0u);  // acked
  EXPECT_EQ(pair.a().stats().drops.total(), 0u);
}

TEST(net_connection, packs_many_small_messages_per_packet) {
  ConnectionPair pair(default_connection_config(), LinkConfig{}, 1);
  std::vector<uint8_t> data(64, 7);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(pair.a().send(Channel::reliable_ordered, data), SendResult::ok);
  pair.step(1000);
  // 64 + 5 bytes per entry, 1200-byte payload: 17 messages per packet.
  EXPECT_EQ(pair.a().stats().packets_sent, 6u);
  EXPECT_EQ(pair.b().stats().messages_delivered, 100u);
}

TEST(net_connection, refuses_oversize_and_full_window) {
  ConnectionPair pair(default_connection_config(), LinkConfig{}, 1);
  std::vector<uint8_t> big(message_size_max + 1);
  EXPECT_EQ(pair.a().send(Channel::reliable_ordered, big), SendResult::too_large);
  EXPECT_EQ(pair.a().send(Channel::unreliable_sequenced, big), SendResult::too_large);
  std::vector<uint8_t> one(1);
  for (size_t i = 0; i < reliable_window_default; ++i)
    ASSERT_EQ(pair.a().send(Channel::reliable_ordered, one), SendResult::ok);
  EXPECT_EQ(pair.a().send(Channel::reliable_ordered, one), SendResult::queue_full);
}

RC_GTEST_PROP(net_connection, reliable_ordered_exactly_once_in_order_under_any_link, ()) {
  const LinkConfig link = gen_bad_link();
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  ConnectionConfig config = default_connection_config();
  config.first_sequence = *rc::gen::arbitrary<uint16_t>();
  config.first_message_id = *rc::gen::arbitrary<uint16_t>();
  const auto sizes = *rc::gen::resize(200, rc::gen::container<std::vector<size_t>>(rc::gen::oneOf(
                                               rc::gen::inRange<size_t>(4, 200), rc::gen::inRange<size_t>(4, 5000))));
  ConnectionPair pair(config, link, seed);
  const auto got = run_transfer(pair, Channel::reliable_ordered, sizes, 5000, 600'000'000);
  RC_ASSERT(got.size() == sizes.size());
  for (size_t i = 0; i < got.size(); ++i) {
    RC_ASSERT(got[i].channel == Channel::reliable_ordered);
    RC_ASSERT(got[i].data == message_bytes(static_cast<uint32_t>(i), sizes[i]));
  }
  // Nothing more arrives later (no duplicate delivery after completion).
  for (int i = 0; i < 200; ++i) pair.step(5000);
  Message m;
  RC_ASSERT(!pair.b().pop_message(m));
  RC_ASSERT(pair.a().state() == ConnectionState::connected);
  RC_ASSERT(pair.b().state() == ConnectionState::connected);
}

RC_GTEST_PROP(net_connection, unreliable_sequenced_never_goes_backwards, ()) {
  const LinkConfig link = gen_bad_link();
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  ConnectionConfig config = default_connection_config();
  config.first_sequence = *rc::gen::arbitrary<uint16_t>();
  const auto sizes = *rc::gen::resize(80, rc::gen::container<std::vector<size_t>>(rc::gen::oneOf(
                                              rc::gen::inRange<size_t>(4, 300), rc::gen::inRange<size_t>(4, 4000))));
  ConnectionPair pair(config, link, seed);
  std::vector<Message> got;
  for (size_t i = 0; i < sizes.size(); ++i) {
    RC_ASSERT(pair.a().send(Channel::unreliable_sequenced, message_bytes(static_cast<uint32_t>(i), sizes[i])) ==
              SendResult::ok);
    pair.step(2000);
    Message m;
    while (pair.b().pop_message(m)) got.push_back(std::move(m));
  }
  for (int i = 0; i < 400; ++i) {
    pair.step(2000);
    Message m;
    while (pair.b().pop_message(m)) got.push_back(std::move(m));
  }
  int64_t last = -1;
  for (const Message& m : got) {
    const auto index = message_index(m.data);
    RC_ASSERT(static_cast<int64_t>(index) > last);
    RC_ASSERT(index < sizes.size());
    RC_ASSERT(m.data == message_bytes(index, sizes[index]));
    last = index;
  }
  if (link.loss == 0 && link.duplicate == 0 && link.jitter_us == 0 && link.reorder == 0) {
    RC_ASSERT(got.size() == sizes.size());
  }
}

RC_GTEST_PROP(net_connection, fragmentation_round_trips_any_size, ()) {
  const auto size = *rc::gen::oneOf(rc::gen::inRange<size_t>(0, 3 * fragment_size),
                                    rc::gen::inRange<size_t>(0, message_size_max + 1));
  const auto channel = *rc::gen::element(Channel::reliable_ordered, Channel::unreliable_sequenced);
  // Reliable fragments must survive a bad link too; unreliable ones may be lost, so a clean link.
  const LinkConfig link = channel == Channel::reliable_ordered ? gen_bad_link() : LinkConfig{};
  ConnectionPair pair(default_connection_config(), link, *rc::gen::arbitrary<uint64_t>());
  const auto got = run_transfer(pair, channel, {size}, 5000, 600'000'000);
  RC_ASSERT(got.size() == 1u);
  RC_ASSERT(got[0].data == message_bytes(0, size));
}

TEST(net_connection, fragmentation_boundary_sizes_both_channels) {
  const std::vector<size_t> sizes = {0,
                                     1,
                                     unfragmented_size_max - 1,
                                     unfragmented_size_max,
                                     unfragmented_size_max + 1,
                                     fragment_size * 2,
                                     fragment_size * 2 + 1,
                                     message_size_max - 1,
                                     message_size_max};
  for (Channel channel : {Channel::reliable_ordered, Channel::unreliable_sequenced}) {
    for (size_t size : sizes) {
      LinkConfig link;
      link.loss = channel == Channel::reliable_ordered ? 0.2 : 0.0;
      link.latency_us = 20'000;
      ConnectionPair pair(default_connection_config(), link, size);
      const auto got = run_transfer(pair, channel, {size}, 1000, 60'000'000);
      ASSERT_EQ(got.size(), 1u) << "size " << size;
      EXPECT_EQ(got[0].data, message_bytes(0, size)) << "size " << size;
    }
  }
}

TEST(net_connection, sequences_wrap_far_beyond_65535) {
  // 200,000 packets and 150,000 reliable messages each way: both 16-bit spaces wrap several times.
  LinkConfig link;
  link.loss = 0.05;
  link.duplicate = 0.05;
  link.latency_us = 3000;
  link.jitter_us = 2000;
  ConnectionConfig config = default_connection_config();
  config.first_sequence = 65530;
  config.first_message_id = 65500;
  ConnectionPair pair(config, link, 99);
  uint32_t sent = 0, received = 0;
  int64_t last_unreliable = -1;
  uint32_t unreliable_sent = 0;
  for (int step = 0; step < 200'000; ++step) {
    if (sent < 150'000 && pair.a().send(Channel::reliable_ordered, message_bytes(sent, 8)) == SendResult::ok) ++sent;
    ASSERT_EQ(pair.a().send(Channel::unreliable_sequenced, message_bytes(unreliable_sent, 8)), SendResult::ok);
    ++unreliable_sent;
    pair.step(1000);
    Message m;
    while (pair.b().pop_message(m)) {
      if (m.channel == Channel::reliable_ordered) {
        ASSERT_EQ(m.data, message_bytes(received, 8));
        ++received;
      } else {
        const int64_t index = message_index(m.data);
        ASSERT_GT(index, last_unreliable);
        last_unreliable = index;
      }
    }
  }
  for (int step = 0; step < 2000; ++step) {
    pair.step(1000);
    Message m;
    while (pair.b().pop_message(m)) {
      if (m.channel == Channel::reliable_ordered) {
        ASSERT_EQ(m.data, message_bytes(received, 8));
        ++received;
      }
    }
  }
  EXPECT_EQ(sent, 150'000u);
  EXPECT_EQ(received, 150'000u);
  EXPECT_GT(pair.a().stats().packets_sent, 200'000u);
  EXPECT_GT(last_unreliable, 150'000);
  EXPECT_EQ(pair.a().state(), ConnectionState::connected);
}

TEST(net_connection, keepalive_keeps_idle_connection_alive) {
  ConnectionPair pair(default_connection_config(), LinkConfig{}, 1);
  for (int i = 0; i < 3000; ++i) pair.step(10'000);  // 30 s idle
  EXPECT_EQ(pair.a().state(), ConnectionState::connected);
  EXPECT_EQ(pair.b().state(), ConnectionState::connected);
  // One per keepalive interval, not one per step.
  const uint64_t expected = 30'000'000 / default_connection_config().keepalive_interval_us;
  EXPECT_GT(pair.a().stats().packets_sent, expected * 8 / 10);
  EXPECT_LT(pair.a().stats().packets_sent, expected * 13 / 10);
  EXPECT_GT(pair.a().stats().rtt_ms, -1.0);
}

TEST(net_connection, times_out_when_peer_goes_silent) {
  LinkConfig dead;
  dead.loss = 1.0;
  ConnectionPair pair(default_connection_config(), dead, 1);
  for (int i = 0; i < 1200; ++i) pair.step(10'000);
  EXPECT_EQ(pair.a().state(), ConnectionState::disconnected);
  EXPECT_EQ(pair.a().disconnect_reason(), DisconnectReason::timeout);
}

TEST(net_connection, disconnect_carries_reason_to_peer) {
  LinkConfig link;
  link.loss = 0.5;  // three redundant copies: P(all lost) = 1/8; seed chosen deterministic
  ConnectionPair pair(default_connection_config(), link, 3);
  pair.a().disconnect(DisconnectReason::kicked, pair.now_us());
  for (int i = 0; i < 10; ++i) pair.step(1000);
  EXPECT_EQ(pair.a().state(), ConnectionState::disconnected);
  EXPECT_EQ(pair.a().disconnect_reason(), DisconnectReason::kicked);
  EXPECT_EQ(pair.b().state(), ConnectionState::disconnected);
  EXPECT_EQ(pair.b().disconnect_reason(), DisconnectReason::kicked);
  EXPECT_EQ(pair.a().send(Channel::reliable_ordered, std::vector<uint8_t>{1}), SendResult::not_connected);
}

TEST(net_connection, undrained_deliveries_are_bounded) {
  ConnectionPair pair(default_connection_config(), LinkConfig{}, 1);
  const std::vector<uint8_t> small(4);
  for (size_t i = 0; i < delivered_queue_max + 100; ++i) {
    ASSERT_EQ(pair.a().send(Channel::unreliable_sequenced, small), SendResult::ok);
    if (i % 1000 == 999) pair.step(1000);
  }
  for (int i = 0; i < 10; ++i) pair.step(1000);
  EXPECT_EQ(pair.b().stats().messages_delivered, delivered_queue_max);
  EXPECT_EQ(pair.b().stats().drops[DropReason::queue_full], 100u);
}

TEST(net_connection, malformed_payload_changes_nothing) {
  Connection c(default_connection_config(), ConnectionId{1}, 0);
  PacketHeader header;
  const std::vector<uint8_t> bad = {0x01, 0x00, 0x00, 0x10, 0x00, 1, 2};  // length beyond payload
  EXPECT_FALSE(c.receive_packet(header, bad, 10));
  EXPECT_EQ(c.stats().drops[DropReason::bad_header], 1u);
  EXPECT_EQ(c.stats().packets_received, 0u);
  EXPECT_EQ(c.state(), ConnectionState::connected);
}

// Found by fuzz_net_connection: a sequence exactly 32768 past the newest is "greater" to
// sequence_greater_than but negative to sequence_difference; it was taken as newer without
// clearing the history, and stale received bits would then have acked packets never received.
TEST(net_connection, a_sequence_half_the_space_away_is_refused) {
  Connection c(default_connection_config(), ConnectionId{1}, 0);
  PacketHeader header;
  const std::vector<uint8_t> empty;
  for (uint16_t s = 0; s < 40; ++s) {
    header.sequence = s;
    ASSERT_TRUE(c.receive_packet(header, empty, 10 + s));
  }
  header.sequence = static_cast<uint16_t>(39 + 0x8000);
  EXPECT_FALSE(c.receive_packet(header, empty, 100));
  EXPECT_EQ(c.stats().drops[DropReason::replay], 1u);
  header.sequence = 40;  // the stream goes on
  EXPECT_TRUE(c.receive_packet(header, empty, 101));
  EXPECT_EQ(c.stats().packets_received, 41u);
}

TEST(net_connection, bad_fragments_from_peer_are_a_protocol_error) {
  Connection c(default_connection_config(), ConnectionId{1}, 0);
  PacketHeader header;
  const std::vector<uint8_t> bad = {0x05, 0x01, 0x00, 0x05, 0x00, 0x03, 0x00, 0x01, 0x00, 0x78};  // index 5 of 3
  EXPECT_TRUE(c.receive_packet(header, bad, 10));
  EXPECT_EQ(c.stats().drops[DropReason::fragment_limits], 1u);
  EXPECT_EQ(c.state(), ConnectionState::disconnected);
  EXPECT_EQ(c.disconnect_reason(), DisconnectReason::protocol_error);
}

TEST(net_connection, stats_measure_rtt_and_loss) {
  LinkConfig link;
  link.latency_us = 50'000;
  link.loss = 0.2;
  ConnectionPair pair(default_connection_config(), link, 11);
  std::vector<uint8_t> data(100);
  for (int i = 0; i < 5000; ++i) {
    (void)pair.a().send(Channel::unreliable_sequenced, data);
    pair.step(2000);
    Message m;
    while (pair.b().pop_message(m)) {
    }
  }
  const auto& s = pair.a().stats();
  EXPECT_GT(s.rtt_ms, 80.0);
  EXPECT_LT(s.rtt_ms, 150.0);
  EXPECT_GT(s.packet_loss, 0.05);
  EXPECT_LT(s.packet_loss, 0.5);
  EXPECT_GT(s.sent_packets_per_second, 100.0);
  EXPECT_GT(s.sent_bytes_per_second, 10'000.0);
}

// Both ends stream unreliable messages at 20 Hz, 20 ms out of phase, over 10 ms each way: every
// ack rides on the other side's next message (no ack-only packets), and the RTT measured is the
// link's, not the link's plus the 20-30 ms the acks waited (the header's ack delay is subtracted).
TEST(net_connection, acks_of_unreliable_streams_ride_on_outgoing_packets) {
  LinkConfig link;
  link.latency_us = 10'000;
  ConnectionPair pair(default_connection_config(), link, 3);
  std::vector<uint8_t> data(60);
  int sent_each = 0;
  for (int ms = 0; ms < 10'000; ++ms) {
    if (ms % 50 == 0) (void)pair.a().send(Channel::unreliable_sequenced, data), ++sent_each;
    if (ms % 50 == 20) (void)pair.b().send(Channel::unreliable_sequenced, data);
    pair.step(1000);
    Message m;
    while (pair.a().pop_message(m)) {
    }
    while (pair.b().pop_message(m)) {
    }
  }
  for (Connection* c : {&pair.a(), &pair.b()}) {
    const auto& s = c->stats();
    EXPECT_LE(s.packets_sent, static_cast<uint64_t>(sent_each) + 2);  // no ack-only packets
    EXPECT_EQ(s.packets_lost, 0u);
    EXPECT_NEAR(s.rtt_ms, 20.0, 1.0);
  }
}

// A one-way unreliable stream: the receiver acks at most every ack_delay_max_us (not once per
// packet), and the sender still measures the RTT and counts no packet lost.
TEST(net_connection, a_one_way_unreliable_stream_is_acked_every_ack_delay) {
  LinkConfig link;
  link.latency_us = 5'000;
  const ConnectionConfig config = default_connection_config();
  ConnectionPair pair(config, link, 4);
  std::vector<uint8_t> data(60);
  const int seconds = 10;
  for (int ms = 0; ms < seconds * 1000; ++ms) {
    if (ms % 20 == 0) (void)pair.a().send(Channel::unreliable_sequenced, data);
    pair.step(1000);
    Message m;
    while (pair.b().pop_message(m)) {
    }
  }
  const double acks_per_second = static_cast<double>(pair.b().stats().packets_sent) / seconds;
  EXPECT_LE(acks_per_second, 1e6 / static_cast<double>(config.ack_delay_max_us) + 1);
  EXPECT_GE(acks_per_second, 1e6 / static_cast<double>(config.ack_delay_max_us) - 1);
  EXPECT_EQ(pair.a().stats().packets_lost, 0u);
  EXPECT_NEAR(pair.a().stats().rtt_ms, 10.0, 1.0);
}

// Reliable messages are acked at the receiver's next send, even while its own traffic is an
// unreliable stream: the sender never resends on a clean link and sees the link's RTT.
TEST(net_connection, reliable_messages_are_acked_at_once) {
  LinkConfig link;
  link.latency_us = 10'000;
  ConnectionPair pair(default_connection_config(), link, 5);
  std::vector<uint8_t> data(60);
  for (int ms = 0; ms < 5'000; ++ms) {
    if (ms % 50 == 0) (void)pair.a().send(Channel::reliable_ordered, data);
    if (ms % 50 == 20) (void)pair.b().send(Channel::unreliable_sequenced, data);
    pair.step(1000);
    Message m;
    while (pair.a().pop_message(m)) {
    }
    while (pair.b().pop_message(m)) {
    }
  }
  EXPECT_EQ(pair.a().stats().reliable_resends, 0u);
  EXPECT_NEAR(pair.a().stats().rtt_ms, 20.0, 1.0);
  EXPECT_GE(pair.b().stats().packets_sent, 180u);  // 100 of its own + an ack per reliable message
}

}  // namespace
}  // namespace strata::net
