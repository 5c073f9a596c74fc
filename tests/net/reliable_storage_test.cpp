// tests/net/reliable_storage_test.cpp: the growable storage of the reliable channel and the packet
// history. The chunked ring against a model (claims and releases in any order within its span);
// a connection delivers exactly once and in order while its rings and sent history grow under
// bursts and shrink back when idle, over any bad link; a full window refuses with queue_full,
// allocates no more than the window, and recovers.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "net/reliable_ring.h"
#include "tests/net/connection_harness.h"

namespace strata::net {
namespace {

using test::ConnectionPair;
using test::message_bytes;

constexpr size_t chunks_for(size_t slots) { return (slots + reliable_chunk_slots - 1) / reliable_chunk_slots; }

RC_GTEST_PROP(net_reliable_ring, matches_a_model_under_any_claims_and_releases, ()) {
  const size_t capacity = size_t{1} << *rc::gen::inRange(8, 15);  // 256 .. 16384 slots
  const auto start = *rc::gen::arbitrary<uint16_t>();
  ReliableRing ring(capacity);
  std::map<uint16_t, uint32_t> model;     // id -> payload tag
  uint16_t oldest = start, next = start;  // ids in [oldest, next) may be claimed
  const auto ops = *rc::gen::inRange(0, 3000);
  for (int op = 0; op < ops; ++op) {
    const int kind = *rc::gen::inRange(0, 4);
    const size_t span = static_cast<uint16_t>(next - oldest);
    if (kind <= 1 && span < capacity) {
      const auto burst = std::min<size_t>(capacity - span, *rc::gen::inRange<size_t>(1, 300));
      for (size_t i = 0; i < burst; ++i, ++next) {
        RC_ASSERT(ring.find(next) == nullptr);
        ReliableSlot& slot = ring.claim(next);
        slot.data.assign(1, static_cast<uint8_t>(next));
        model[next] = next;
      }
    } else if (kind == 2 && !model.empty()) {
      // Release any held id (acks arrive out of order).
      auto it = model.begin();
      std::advance(it, *rc::gen::inRange<size_t>(0, model.size()));
      ReliableSlot* slot = ring.find(it->first);
      RC_ASSERT(slot != nullptr);
      RC_ASSERT(slot->id == it->first);
      slot->data.clear();
      ring.release(*slot);
      model.erase(it);
    } else {
      // Release the oldest run (in-order acks / deliveries) and slide the span.
      while (oldest != next && !model.contains(oldest)) ++oldest;
      const auto count = *rc::gen::inRange(0, 200);
      for (int i = 0; i < count && oldest != next; ++i, ++oldest) {
        if (!model.contains(oldest)) continue;
        ReliableSlot* slot = ring.find(oldest);
        RC_ASSERT(slot != nullptr);
        ring.release(*slot);
        model.erase(oldest);
      }
    }
    while (oldest != next && !model.contains(oldest)) ++oldest;
    RC_ASSERT(ring.used() == model.size());
    // Chunks follow what is held: at most the chunks touched by the held span.
    const size_t span_now = static_cast<uint16_t>(next - oldest);
    RC_ASSERT(ring.chunks_allocated() <= std::min(chunks_for(span_now) + 1, capacity / reliable_chunk_slots));
  }
  for (const auto& [id, tag] : model) {
    const ReliableSlot* slot = ring.find(id);
    RC_ASSERT(slot != nullptr);
    RC_ASSERT(slot->data.size() == 1u);
    RC_ASSERT(slot->data[0] == static_cast<uint8_t>(tag));
  }
  for (const auto& [id, tag] : model) ring.release(*ring.find(id));
  RC_ASSERT(ring.chunks_allocated() == 0u);
  ring.trim();
  RC_ASSERT(ring.trimmed());
  RC_ASSERT(ring.chunks_allocated() == 0u);
}

LinkConfig gen_bad_link() {
  LinkConfig link;
  link.loss = *rc::gen::inRange(0, 31) / 100.0;
  link.duplicate = *rc::gen::inRange(0, 31) / 100.0;
  link.latency_us = static_cast<uint64_t>(*rc::gen::inRange(0, 151)) * 1000;
  link.jitter_us = static_cast<uint64_t>(*rc::gen::inRange(0, 51)) * 1000;
  link.reorder = *rc::gen::inRange(0, 21) / 100.0;
  link.reorder_delay_us = static_cast<uint64_t>(*rc::gen::inRange(0, 100)) * 1000;
  return link;
}

// Bursts that fill the window (growing the rings and the sent history) separated by idle periods
// long enough to trim them: every message arrives once and in order across every growth and shrink.
RC_GTEST_PROP(net_reliable_storage, exactly_once_in_order_across_growth_and_shrink, ()) {
  const LinkConfig link = gen_bad_link();
  ConnectionConfig config = default_connection_config();
  config.reliable_window = size_t{1} << *rc::gen::inRange(8, 14);  // 256 .. 8192
  config.first_sequence = *rc::gen::arbitrary<uint16_t>();
  config.first_message_id = *rc::gen::arbitrary<uint16_t>();
  ConnectionPair pair(config, link, *rc::gen::arbitrary<uint64_t>());
  const auto rounds = *rc::gen::inRange(1, 4);
  uint32_t sent = 0, received = 0;
  size_t max_chunks = 0, max_history = 0;
  Message m;
  for (int round = 0; round < rounds; ++round) {
    const auto burst = *rc::gen::inRange<uint32_t>(1, 3 * static_cast<uint32_t>(config.reliable_window));
    const auto size = *rc::gen::inRange<size_t>(4, 80);
    const uint32_t goal = sent + burst;
    for (int steps = 0; steps < 200'000 && received < goal; ++steps) {
      while (sent < goal && pair.a().send(Channel::reliable_ordered, message_bytes(sent, size)) == SendResult::ok) {
        ++sent;
      }
      pair.step(2000);
      while (pair.b().pop_message(m)) {
        RC_ASSERT(m.channel == Channel::reliable_ordered);
        RC_ASSERT(m.data == message_bytes(received, size));
        ++received;
      }
      max_chunks = std::max(max_chunks, pair.a().reliable_chunks_allocated());
      max_history = std::max(max_history, pair.a().sent_history_capacity());
      RC_ASSERT(pair.a().reliable_in_flight() <= config.reliable_window);
    }
    RC_ASSERT(received == goal);
    // Idle (keepalives only): the rings are given back and the history halves back to its minimum.
    for (int i = 0; i < 2000; ++i) pair.step(5000);
    RC_ASSERT(!pair.b().pop_message(m));
    RC_ASSERT(pair.a().reliable_in_flight() == 0u);
    RC_ASSERT(pair.a().reliable_chunks_allocated() == 0u);
    RC_ASSERT(pair.b().reliable_chunks_allocated() == 0u);
    RC_ASSERT(pair.a().sent_history_capacity() == sent_history_min);
    RC_ASSERT(pair.a().state() == ConnectionState::connected);
    RC_ASSERT(pair.b().state() == ConnectionState::connected);
  }
  // Send ring (span) and receive ring on one side: never beyond the rings' size.
  RC_ASSERT(max_chunks <= 2 * reliable_span_factor * config.reliable_window / reliable_chunk_slots);
  RC_ASSERT(max_history <= sent_history_max);
}

// A peer that acks nothing: the window fills, further sends are refused with queue_full, the
// storage stays within the window, and once the link heals everything is delivered in order.
RC_GTEST_PROP(net_reliable_storage, full_window_refuses_stays_bounded_and_recovers, ()) {
  ConnectionConfig config = default_connection_config();
  config.reliable_window = size_t{1} << *rc::gen::inRange(8, 14);
  config.first_message_id = *rc::gen::arbitrary<uint16_t>();
  LinkConfig dead;
  dead.loss = 1.0;
  ConnectionPair pair(config, dead, *rc::gen::arbitrary<uint64_t>());
  const std::vector<uint8_t> one(8, 1);
  uint32_t sent = 0;
  while (pair.a().send(Channel::reliable_ordered, message_bytes(sent, 8)) == SendResult::ok) ++sent;
  RC_ASSERT(sent == config.reliable_window);
  RC_ASSERT(pair.a().send(Channel::reliable_ordered, one) == SendResult::queue_full);
  for (int i = 0; i < 100; ++i) pair.step(10'000);  // resends into the void
  RC_ASSERT(pair.a().send(Channel::reliable_ordered, one) == SendResult::queue_full);
  RC_ASSERT(pair.a().reliable_chunks_allocated() <= config.reliable_window / reliable_chunk_slots + 1);  // + a boundary
  RC_ASSERT(pair.a().state() == ConnectionState::connected);
  pair.a_to_b().set_config(LinkConfig{});
  pair.b_to_a().set_config(LinkConfig{});
  uint32_t received = 0;
  Message m;
  for (int i = 0; i < 2000 && received < sent; ++i) {
    pair.step(10'000);
    while (pair.b().pop_message(m)) {
      RC_ASSERT(m.data == message_bytes(received, 8));
      ++received;
    }
  }
  RC_ASSERT(received == sent);
  for (int i = 0; i < 100 && pair.a().reliable_in_flight() > 0; ++i) pair.step(10'000);  // the last acks
  RC_ASSERT(pair.a().reliable_in_flight() == 0u);
  RC_ASSERT(pair.a().send(Channel::reliable_ordered, one) == SendResult::ok);
}

TEST(net_reliable_storage, idle_connection_holds_no_ring_and_a_minimal_history) {
  ConnectionPair pair(default_connection_config(), LinkConfig{}, 3);
  for (int i = 0; i < 100; ++i) pair.step(10'000);
  EXPECT_EQ(pair.a().reliable_chunks_allocated(), 0u);
  EXPECT_EQ(pair.a().sent_history_capacity(), sent_history_min);
  // A trickle (one reliable message per 50 ms) holds at most two chunks per ring (at a boundary).
  const std::vector<uint8_t> data(32, 9);
  for (int i = 0; i < 400; ++i) {
    if (i % 5 == 0) {
      ASSERT_EQ(pair.a().send(Channel::reliable_ordered, data), SendResult::ok);
    }
    pair.step(10'000);
    Message m;
    while (pair.b().pop_message(m)) {
    }
    EXPECT_LE(pair.a().reliable_chunks_allocated(), 2u);
    EXPECT_LE(pair.b().reliable_chunks_allocated(), 2u);
    EXPECT_EQ(pair.a().sent_history_capacity(), sent_history_min);
  }
  EXPECT_LT(pair.a().memory_bytes(), 16u * 1024u);
}

// The ring's invariants stay on in release builds and name the ids involved.
TEST(net_reliable_ring_DeathTest, a_double_claim_or_a_foreign_slot_stops_with_the_ids) {
  ReliableRing ring(256);
  ring.claim(5);
  EXPECT_DEATH(ring.claim(5), "STRATA_REQUIRE failed .*!slot.valid; id = 5, slot.id = 5, capacity_ = 256");
  EXPECT_DEATH(ring.claim(5 + 256), "STRATA_REQUIRE failed .*!slot.valid; id = 261, slot.id = 5");
  ReliableSlot stray;
  stray.valid = true;
  stray.id = 5;
  EXPECT_DEATH(ring.release(stray),
               "STRATA_REQUIRE failed .*&slot == &chunk->slots\\[slot.id % reliable_chunk_slots\\]; slot.id = 5");
}

}  // namespace
}  // namespace strata::net
