// tests/net/packet_test.cpp: wire test vectors of the data packet header and entries, and 16-bit
// sequence arithmetic (the vectors are the ones written at the top of net/packet.cpp).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "net/packet.h"

namespace strata::net {
namespace {

TEST(net_packet, header_test_vector) {
  PacketHeader header{ConnectionId{0x11223344}, 0x0102, 0xfffe, 0x80000001, 0x0a0b};
  uint8_t out[packet_header_size];
  write_packet_header(header, out);
  const std::vector<uint8_t> expected = {0x04, 0x44, 0x33, 0x22, 0x11, 0x02, 0x01, 0xfe,
                                         0xff, 0x01, 0x00, 0x00, 0x80, 0x0b, 0x0a};
  EXPECT_EQ(std::vector<uint8_t>(out, out + packet_header_size), expected);
  auto back = read_packet_header(expected);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, header);
}

TEST(net_packet, header_rejects_short_and_wrong_type) {
  std::vector<uint8_t> bytes = {0x04, 0x44, 0x33, 0x22, 0x11, 0x02, 0x01, 0xfe, 0xff, 0x01, 0x00, 0x00, 0x80, 0x00};
  EXPECT_FALSE(read_packet_header(bytes));
  bytes.push_back(0x00);
  EXPECT_TRUE(read_packet_header(bytes));
  bytes[0] = 0x03;
  EXPECT_FALSE(read_packet_header(bytes));
  EXPECT_FALSE(read_packet_type(std::vector<uint8_t>{0x14}));
  EXPECT_FALSE(read_packet_type(std::vector<uint8_t>{0x05}));
  EXPECT_FALSE(read_packet_type(std::vector<uint8_t>{}));
  EXPECT_EQ(read_packet_type(std::vector<uint8_t>{0x02}), PacketType::connection_challenge);
}

TEST(net_packet, entry_test_vectors) {
  const uint8_t hi[] = {'h', 'i'};
  Entry e;
  e.tag = EntryTag::reliable_message;
  e.id = 7;
  e.data = hi;
  uint8_t out[32];
  size_t n = write_entry(e, out);
  EXPECT_EQ(std::vector<uint8_t>(out, out + n), (std::vector<uint8_t>{0x01, 0x07, 0x00, 0x02, 0x00, 0x68, 0x69}));

  const uint8_t x[] = {'x'};
  Entry f;
  f.tag = EntryTag::unreliable_fragment;
  f.id = 0x0203;
  f.fragment_index = 1;
  f.fragment_count = 3;
  f.data = x;
  n = write_entry(f, out);
  const std::vector<uint8_t> expected = {0x05, 0x03, 0x02, 0x01, 0x00, 0x03, 0x00, 0x01, 0x00, 0x78};
  EXPECT_EQ(std::vector<uint8_t>(out, out + n), expected);
  EntryReader reader(expected);
  Entry back;
  ASSERT_TRUE(reader.next(back));
  EXPECT_EQ(back.tag, EntryTag::unreliable_fragment);
  EXPECT_EQ(back.id, 0x0203);
  EXPECT_EQ(back.fragment_index, 1);
  EXPECT_EQ(back.fragment_count, 3);
  ASSERT_EQ(back.data.size(), 1u);
  EXPECT_EQ(back.data[0], 'x');
  EXPECT_FALSE(reader.next(back));
  EXPECT_FALSE(reader.error());
}

TEST(net_packet, entry_reader_rejects_truncated_and_unknown) {
  const std::vector<uint8_t> truncated = {0x01, 0x07, 0x00, 0x05, 0x00, 0x68};
  EntryReader r1(truncated);
  Entry e;
  EXPECT_FALSE(r1.next(e));
  EXPECT_TRUE(r1.error());
  const std::vector<uint8_t> unknown = {0x09};
  EntryReader r2(unknown);
  EXPECT_FALSE(r2.next(e));
  EXPECT_TRUE(r2.error());
  const std::vector<uint8_t> entry_does_not_fit = {0x01, 0x00};
  uint8_t small[4];
  Entry big;
  big.data = std::span<const uint8_t>(entry_does_not_fit);
  EXPECT_EQ(write_entry(big, small), 0u);
}

TEST(net_packet, sequence_order_wraps) {
  EXPECT_TRUE(sequence_greater_than(1, 0));
  EXPECT_TRUE(sequence_greater_than(0, 65535));
  EXPECT_FALSE(sequence_greater_than(65535, 0));
  EXPECT_TRUE(sequence_less_than(65000, 10));
  EXPECT_EQ(sequence_difference(2, 65534), 4);
  EXPECT_EQ(sequence_difference(65534, 2), -4);
}

TEST(net_packet, extend_sequence_vectors) {
  EXPECT_EQ(extend_sequence(5, 0), 5u);
  EXPECT_EQ(extend_sequence(0xffff, 0x10001), 0xffffu);
  EXPECT_EQ(extend_sequence(2, 0xfffe), 0x10002u);
  EXPECT_EQ(extend_sequence(0xfff0, 3), 0xfff0u);  // cannot go below zero
}

RC_GTEST_PROP(net_packet, extend_sequence_recovers_nearby, (uint64_t base, int16_t delta)) {
  const uint64_t expected = (base >> 2) + 0x10000;  // away from both ends of the range
  const uint64_t actual = expected + static_cast<uint64_t>(static_cast<int64_t>(delta));
  RC_ASSERT(extend_sequence(static_cast<uint16_t>(actual), expected) == actual);
}

}  // namespace
}  // namespace strata::net
