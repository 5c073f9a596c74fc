// tests/schema/client_messages_test.cpp — the server reads a client's messages by kind, cheaply:
// only client -> server kinds, each within its own budget (client_limits), the largest legal
// message of each kind still decoding; server -> client kinds and oversized bodies are refused
// with their own reasons before anything large is unpacked.
#include <gtest/gtest.h>

#include "client_message_gen.h"
#include "schema/client/messages.h"

namespace strata::view {
namespace {

TEST(ClientMessages, TheLargestLegalMessageOfEachClientKindDecodes) {
  const std::vector<uint8_t> inputs = test::largest_inputs();
  auto decoded = decode_client_message(inputs);
  ASSERT_TRUE(decoded.message) << decoded.error;
  EXPECT_EQ(decoded.message->kind, MessageKind::inputs);
  EXPECT_EQ(decoded.message->inputs.size(), input_batch_max);
  EXPECT_LE(inputs.size(), client_limits::message_bytes_max);

  std::vector<uint8_t> bytes;
  const std::string chat = test::longest_chat();
  encode_chat_send(chat, bytes);
  decoded = decode_client_message(bytes);
  ASSERT_TRUE(decoded.message) << decoded.error;
  EXPECT_EQ(decoded.message->chat.text, chat);

  encode_ack(~uint64_t{0}, bytes);
  decoded = decode_client_message(bytes);
  ASSERT_TRUE(decoded.message) << decoded.error;
  EXPECT_EQ(decoded.message->ack_tick, ~uint64_t{0});

  const ChecksumReport report{~uint64_t{0}, ~uint64_t{0} - 1, ~uint64_t{0} - 2};
  encode_checksum_report(report, bytes);
  decoded = decode_client_message(bytes);
  ASSERT_TRUE(decoded.message) << decoded.error;
  EXPECT_EQ(decoded.message->report, report);
}

TEST(ClientMessages, ServerKindsAreRefusedUnread) {
  std::vector<uint8_t> bytes;
  encode_welcome(Welcome{1, 2, 20, 1, 3, 4, 4}, bytes);
  EXPECT_EQ(decode_client_message(bytes).code, MessageError::wrong_direction);
  encode_chat(ChatLine{1, 2, "hi"}, bytes);
  EXPECT_EQ(decode_client_message(bytes).code, MessageError::wrong_direction);
  const std::vector<uint8_t> part(observer_part_bytes_max, 0x5a);
  encode_observer_part(0, 1, part, bytes);
  EXPECT_EQ(decode_client_message(bytes).code, MessageError::wrong_direction);
  // A message that cost a server reading every kind 16 MiB (unpacked, then its input copied): an
  // 8 MiB observer tick in ~8 kB.
  const std::vector<uint8_t> fat = test::fat_observer_tick((size_t{8} << 20) - 65536);
  EXPECT_LT(fat.size(), 10'000U);
  const auto general = decode_message(fat);
  ASSERT_TRUE(general.message) << "a client (observer) still reads it: " << name(general.code) << " " << general.error;
  EXPECT_EQ(decode_client_message(fat).code, MessageError::wrong_direction);
  for (MessageKind kind : {MessageKind::welcome, MessageKind::snapshot, MessageKind::observer_part,
                           MessageKind::observer_tick, MessageKind::chat}) {
    EXPECT_FALSE(client_to_server(kind));
    EXPECT_EQ(decode_client_message(test::zero_runs(kind, 16'000)).code, MessageError::wrong_direction);
  }
  EXPECT_EQ(decode_client_message(std::vector<uint8_t>{0}).code, MessageError::unknown_kind);
  EXPECT_EQ(decode_client_message(std::vector<uint8_t>{200, 0, 0}).code, MessageError::unknown_kind);
  EXPECT_EQ(decode_client_message(std::vector<uint8_t>{}).code, MessageError::empty);
}

TEST(ClientMessages, BodiesBeyondTheirKindsBudgetAreRefusedBeforeUnpacking) {
  for (MessageKind kind :
       {MessageKind::inputs, MessageKind::ack, MessageKind::checksum_report, MessageKind::chat_send}) {
    EXPECT_TRUE(client_to_server(kind));
    // Larger than the kind's packed bound: refused on its size alone.
    EXPECT_EQ(decode_client_message(test::zero_runs(kind, client_limits::message_bytes_max + 2)).code,
              MessageError::too_large)
        << static_cast<int>(kind);
    // Within the packed bound but unpacking beyond the kind's words: refused when measured.
    EXPECT_EQ(decode_client_message(test::zero_runs(kind, 64)).code, MessageError::too_large) << static_cast<int>(kind);
  }
  // An ack padded beyond its 4 words is refused; the honest one (above) is not.
  std::vector<uint8_t> ack;
  encode_ack(5, ack);
  ack.push_back(0x00);
  ack.push_back(0x10);  // 17 more zero words
  EXPECT_EQ(decode_client_message(ack).code, MessageError::too_large);
}

TEST(ClientMessages, ClientKindsDecodeAsTheGeneralDecoderDoes) {
  std::vector<uint8_t> bytes;
  std::vector<InputEntry> inputs{{1, 2, sim::MoveCommand{{}, 0, sim::Direction::e, sim::MoveMode::run}},
                                 {2, 3, sim::BreakCommand{{}, 0, {4, 5}, sim::Layer::active, {}}}};
  encode_inputs(inputs, bytes);
  const auto general = decode_message(bytes);
  const auto client = decode_client_message(bytes);
  ASSERT_TRUE(general.message && client.message);
  ASSERT_EQ(client.message->inputs.size(), 2U);
  EXPECT_EQ(client.message->inputs[1].seq, general.message->inputs[1].seq);
  const auto& a = std::get<sim::BreakCommand>(client.message->inputs[1].command);
  const auto& b = std::get<sim::BreakCommand>(general.message->inputs[1].command);
  EXPECT_EQ(a.cell, b.cell);
  EXPECT_EQ(a.cell, (sim::CellPos{4, 5}));
  view::encode_chat_send("bell\x07", bytes);
  EXPECT_EQ(decode_client_message(bytes).code, MessageError::bad_chat);
  std::vector<InputEntry> too_many(input_batch_max + 1, inputs[0]);
  encode_inputs(too_many, bytes);
  EXPECT_EQ(decode_client_message(bytes).code, MessageError::too_many_inputs);
}

}  // namespace
}  // namespace strata::view
