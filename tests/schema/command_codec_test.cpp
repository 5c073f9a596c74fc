// tests/schema/command_codec_test.cpp — commands and tick inputs: round trips (strict and
// as-recorded enum policies), enum and length checks, and hostile bytes (garbage, truncation, bit
// flips) that must come back as error values, never a crash.
#include <capnp/any.h>
#include <capnp/message.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "schema/codec.h"
#include "schema/commands.capnp.h"
#include "schema/limits.h"
#include "schema/packed_io.h"
#include "tests/schema/command_gen.h"

namespace strata {
namespace {

using schema::DecodeError;
using schema::EnumPolicy;

bool enums_valid(const sim::Command& command) {
  return std::visit(
      [](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, sim::MoveCommand>)
          return sim::enum_valid(c.direction) && sim::enum_valid(c.mode);
        if constexpr (std::is_same_v<T, sim::PlaceCommand> || std::is_same_v<T, sim::BreakCommand> ||
                      std::is_same_v<T, sim::RemoteBlockWriteCommand>) {
          return sim::enum_valid(c.layer);
        }
        if constexpr (std::is_same_v<T, sim::RemotePresenceCommand> || std::is_same_v<T, sim::RemoteNpcCommand>) {
          return sim::enum_valid(c.facing);
        }
        if constexpr (std::is_same_v<T, sim::JoinCommand>)
          return !c.save.has_value() || sim::enum_valid(c.save->facing);
        return true;
      },
      command);
}

RC_GTEST_PROP(CommandCodec, RoundTripsEveryValidCommand, ()) {
  const sim::Command command = test::arbitrary_command(true);
  const auto bytes = schema::encode_command(command);
  const auto decoded = schema::decode_command(bytes);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(test::same(*decoded.value, command));
}

RC_GTEST_PROP(CommandCodec, HostileEnumsRoundTripAsRecordedAndAreRefusedStrictly, ()) {
  const sim::Command command = test::arbitrary_command(false);
  const auto bytes = schema::encode_command(command);
  const auto recorded = schema::decode_command(bytes, EnumPolicy::as_recorded);
  RC_ASSERT(recorded.ok());
  RC_ASSERT(test::same(*recorded.value, command));
  const auto strict = schema::decode_command(bytes, EnumPolicy::strict);
  RC_ASSERT(strict.ok() == enums_valid(command));
  if (!strict.ok()) RC_ASSERT(strict.code == DecodeError::bad_enum);
}

RC_GTEST_PROP(TickInputCodec, RoundTripsRandomTickInputs, (bool valid_enums)) {
  const sim::TickInput input = test::arbitrary_tick_input(valid_enums);
  const auto bytes = schema::encode_tick_input(input);
  const auto decoded = schema::decode_tick_input(bytes, EnumPolicy::as_recorded);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(test::same(*decoded.value, input));
  std::vector<uint8_t> reused = {1, 2, 3};
  schema::encode_tick_input(input, reused);
  RC_ASSERT(reused == bytes);
}

RC_GTEST_PROP(TickInputCodec, EveryProperPrefixIsRefused, ()) {
  const sim::TickInput input = test::arbitrary_tick_input(true, 20);
  const auto bytes = schema::encode_tick_input(input);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const auto decoded = schema::decode_tick_input(std::span(bytes.data(), n));
    RC_ASSERT(!decoded.ok());
    RC_ASSERT(decoded.code != DecodeError::none);
    RC_ASSERT(!decoded.error.empty());
  }
}

RC_GTEST_PROP(TickInputCodec, BitFlipsNeverCrashAndAlwaysAnswer, ()) {
  const sim::TickInput input = test::arbitrary_tick_input(true, 20);
  auto bytes = schema::encode_tick_input(input);
  const size_t bit = *rc::gen::inRange<size_t>(0, bytes.size() * 8);
  bytes[bit / 8] = static_cast<uint8_t>(bytes[bit / 8] ^ (1U << (bit % 8)));
  schema::DecodeStats stats;
  const auto decoded = schema::decode_tick_input(bytes, EnumPolicy::strict, &stats);
  RC_ASSERT(decoded.ok() == decoded.error.empty());
  RC_ASSERT(stats.accepted + stats.refused[static_cast<size_t>(decoded.code)] >= 1);
}

RC_GTEST_PROP(Decoders, GarbageNeverCrashes, (const std::vector<uint8_t>& garbage)) {
  for (auto policy : {EnumPolicy::strict, EnumPolicy::as_recorded}) {
    const auto a = schema::decode_command(garbage, policy);
    RC_ASSERT(a.ok() == (a.code == DecodeError::none));
    const auto b = schema::decode_tick_input(garbage, policy);
    RC_ASSERT(b.ok() == (b.code == DecodeError::none));
  }
  const auto c = schema::decode_snapshot(garbage);
  RC_ASSERT(!c.ok());
}

TEST(CommandCodec, EmptyInputIsRefusedAndCounted) {
  schema::DecodeStats stats;
  const auto decoded = schema::decode_command({}, EnumPolicy::strict, &stats);
  EXPECT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.code, DecodeError::empty);
  EXPECT_EQ(stats.refused[static_cast<size_t>(DecodeError::empty)], 1U);
  EXPECT_EQ(stats.accepted, 0U);
}

TEST(CommandCodec, OutOfRangeDirectionIsBadEnumUnderStrict) {
  sim::MoveCommand move;
  move.player = sim::PlayerId{3};
  move.direction = static_cast<sim::Direction>(9);
  const auto bytes = schema::encode_command(move);
  schema::DecodeStats stats;
  const auto strict = schema::decode_command(bytes, EnumPolicy::strict, &stats);
  EXPECT_EQ(strict.code, DecodeError::bad_enum);
  EXPECT_NE(strict.error.find("move.direction"), std::string::npos) << strict.error;
  EXPECT_EQ(stats.refused[static_cast<size_t>(DecodeError::bad_enum)], 1U);
  EXPECT_TRUE(schema::decode_command(bytes, EnumPolicy::as_recorded).ok());
}

TEST(CommandCodec, WideEnumValueIsRefusedEvenAsRecorded) {
  capnp::MallocMessageBuilder message;
  auto move = message.initRoot<schema::wire::Command>().initMove();
  move.setDirection(static_cast<schema::wire::Direction>(300));
  std::vector<uint8_t> bytes;
  schema::detail::write_packed(message, bytes);
  EXPECT_EQ(schema::decode_command(bytes, EnumPolicy::as_recorded).code, DecodeError::bad_enum);
}

TEST(CommandCodec, AJoinCarriesItsSaveAndItsFacingIsCheckedPerPolicy) {
  sim::PlayerSave save;
  save.pos = sim::Vec2{sim::Fixed::from_raw(-7), sim::Fixed::from_raw(123456)};
  save.facing = sim::Direction::nw;
  save.stamina = 0xFFFF;  // beyond the limits: the codec carries it, the rules refuse it
  save.health = 3;
  for (size_t i = 0; i < save.inventory.size(); ++i) save.inventory[i] = static_cast<uint16_t>(1000 + i);
  const auto decoded = schema::decode_command(schema::encode_command(sim::JoinCommand{sim::PlayerId{4}, save}));
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  const auto& join = std::get<sim::JoinCommand>(*decoded.value);
  ASSERT_TRUE(join.save.has_value());
  EXPECT_EQ(*join.save, save);
  const auto fresh = schema::decode_command(schema::encode_command(sim::JoinCommand{sim::PlayerId{4}}));
  ASSERT_TRUE(fresh.ok()) << fresh.error;
  EXPECT_FALSE(std::get<sim::JoinCommand>(*fresh.value).save.has_value());
  save.facing = static_cast<sim::Direction>(12);
  const auto bytes = schema::encode_command(sim::JoinCommand{sim::PlayerId{4}, save});
  EXPECT_EQ(schema::decode_command(bytes, EnumPolicy::strict).code, DecodeError::bad_enum);
  EXPECT_TRUE(schema::decode_command(bytes, EnumPolicy::as_recorded).ok());
}

TEST(CommandCodec, AJoinWithoutASaveCarryingSaveFieldsIsMalformed) {
  capnp::MallocMessageBuilder message;
  auto join = message.initRoot<schema::wire::Command>().initJoin();
  join.setPlayer(4);
  join.setSaveWood(3);  // hasSave left false
  std::vector<uint8_t> bytes;
  schema::detail::write_packed(message, bytes);
  const auto decoded = schema::decode_command(bytes, EnumPolicy::as_recorded);
  EXPECT_EQ(decoded.code, DecodeError::malformed) << decoded.error;
}

TEST(CommandCodec, UnknownUnionMemberIsRefused) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::wire::Command>();
  // With every field zero, the only non-zero byte of the data section is the discriminant.
  root.initRemotePresence();
  auto data = capnp::AnyStruct::Builder(decltype(root)(root)).getDataSection();
  size_t patched = 0;
  for (auto& byte : data) {
    if (byte == static_cast<uint8_t>(schema::wire::Command::REMOTE_PRESENCE)) {
      byte = 200;
      patched += 1;
    }
  }
  ASSERT_EQ(patched, 1U);
  std::vector<uint8_t> bytes;
  schema::detail::write_packed(message, bytes);
  const auto decoded = schema::decode_command(bytes);
  EXPECT_EQ(decoded.code, DecodeError::unknown_command) << decoded.error;
}

TEST(TickInputCodec, ListLongerThanTheLimitIsRefused) {
  // A hostile sender may write commands as structs smaller than ours (capnp lets readers accept
  // them), fitting more than commands_per_tick_max into the word limit.
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::wire::TickInput>();
  root.setTick(9);
  capnp::AnyStruct::Builder(decltype(root)(root))
      .getPointerSection()[0]
      .initAs<capnp::List<uint8_t>>(sim::limits::commands_per_tick_max + 1);
  std::vector<uint8_t> bytes;
  schema::detail::write_packed(message, bytes);
  const auto decoded = schema::decode_tick_input(bytes);
  EXPECT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.code, DecodeError::too_many_commands) << decoded.error;
}

TEST(TickInputCodec, MessageBeyondTheWordLimitIsRefusedBeforeUnpacking) {
  // Packed zero runs: 2 bytes stand for up to 256 zero words, so a tiny input can claim a huge
  // message. It must be refused by size, not allocated.
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 20000; ++i) {
    bytes.push_back(0);
    bytes.push_back(255);
  }
  const auto decoded = schema::decode_tick_input(bytes);
  EXPECT_EQ(decoded.code, DecodeError::too_large) << decoded.error;
}

TEST(TickInputCodec, LargestLegalTickInputDecodes) {
  sim::TickInput input;
  input.tick = 1;
  sim::PlaceCommand place;
  place.player = sim::PlayerId{0xFFFFFFFF};
  place.seq = 0xFFFFFFFF;
  place.cell = sim::CellPos{-1, -1};
  place.kind = 0xFF;
  place.stamp = sim::LwwStamp{~uint64_t{0}, sim::RegionId{0xFFFF}};
  input.commands.assign(sim::limits::commands_per_tick_max, place);
  const auto decoded = schema::decode_tick_input(schema::encode_tick_input(input));
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ(decoded.value->commands.size(), sim::limits::commands_per_tick_max);
}

}  // namespace
}  // namespace strata
