// tests/schema/log_codec_test.cpp — the stream decoder of session log records (LogStreamDecoder):
// one decoder and one record reused over a stream of records of any sizes, hostile ones among them,
// must give exactly what the one-off decoders give, record by record, and refuse what they refuse.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "schema/limits.h"
#include "schema/log_codec.h"
#include "tests/schema/command_gen.h"

namespace strata {
namespace {

using schema::DecodeError;

schema::TickRecord arbitrary_record(int commands_max) {
  schema::TickRecord record;
  record.input = test::arbitrary_tick_input(*rc::gen::arbitrary<bool>(), commands_max);
  record.quick_hash = *rc::gen::arbitrary<uint64_t>();
  if (*rc::gen::arbitrary<bool>()) record.full_hash = *rc::gen::arbitrary<uint64_t>();
  return record;
}

bool same_record(const schema::TickRecord& a, const schema::TickRecord& b) {
  return a.input.tick == b.input.tick && a.quick_hash == b.quick_hash && a.full_hash == b.full_hash &&
         test::same(a.input, b.input);
}

// Some records are damaged: a flipped bit or a cut, as a damaged log would hand them over.
std::vector<uint8_t> maybe_damaged(std::vector<uint8_t> bytes) {
  switch (*rc::gen::inRange(0, 4)) {
    case 0: {
      const size_t bit = *rc::gen::inRange<size_t>(0, bytes.size() * 8);
      bytes[bit / 8] = static_cast<uint8_t>(bytes[bit / 8] ^ (1U << (bit % 8)));
      break;
    }
    case 1: bytes.resize(*rc::gen::inRange<size_t>(0, bytes.size())); break;
    default: break;
  }
  return bytes;
}

RC_GTEST_PROP(LogStreamDecoder, AStreamDecodesAsEachRecordAlone, ()) {
  schema::LogStreamDecoder decoder;
  schema::TickRecord reused;  // one record for the whole stream, as a log reader keeps
  const int records = *rc::gen::inRange(1, 12);
  for (int i = 0; i < records; ++i) {
    // Sizes jump both ways, so stale commands or a stale full hash of a larger record would show.
    const schema::TickRecord record = arbitrary_record(*rc::gen::element(0, 3, 200));
    std::vector<uint8_t> bytes;
    schema::encode_tick_record(record, bytes);
    bytes = maybe_damaged(std::move(bytes));
    const auto alone = schema::decode_tick_record(bytes);
    schema::DecodeStats stats;
    const schema::DecodeStatus status = decoder.tick_record(bytes, reused, &stats);
    RC_ASSERT(status.code == alone.code);
    RC_ASSERT(status.error == alone.error);
    RC_ASSERT(stats.accepted + stats.refused[static_cast<size_t>(status.code)] == 1U);
    if (status.ok()) RC_ASSERT(same_record(reused, *alone.value));
  }
}

RC_GTEST_PROP(LogStreamDecoder, ExportEntriesDecodeAsEachEntryAlone, ()) {
  schema::LogStreamDecoder decoder;
  schema::ExportEntry reused;
  const int entries = *rc::gen::inRange(1, 12);
  for (int i = 0; i < entries; ++i) {
    schema::ExportEntry entry;
    switch (*rc::gen::inRange(0, 3)) {
      case 0: entry = arbitrary_record(*rc::gen::element(0, 3, 200)); break;
      case 1: entry = schema::ExportEnd{*rc::gen::arbitrary<uint64_t>(), 2, 3}; break;
      default: entry = schema::BundleSection{*rc::gen::inRange<uint8_t>(0, 3), *rc::gen::arbitrary<uint64_t>()}; break;
    }
    std::vector<uint8_t> bytes;
    schema::encode_export_entry(entry, bytes);
    bytes = maybe_damaged(std::move(bytes));
    const auto alone = schema::decode_export_entry(bytes);
    const schema::DecodeStatus status = decoder.export_entry(bytes, reused);
    RC_ASSERT(status.code == alone.code);
    RC_ASSERT(status.error == alone.error);
    if (!status.ok()) continue;
    RC_ASSERT(reused.index() == alone.value->index());
    if (const auto* r = std::get_if<schema::TickRecord>(&reused)) {
      RC_ASSERT(same_record(*r, std::get<schema::TickRecord>(*alone.value)));
    }
  }
}

TEST(LogStreamDecoder, OversizedRecordIsRefusedBeforeUnpacking) {
  // A packed zero run of 255 words per two bytes: tiny bytes, a huge unpacked size.
  std::vector<uint8_t> bytes;
  for (size_t words = 0; words <= schema::limits::tick_record_words_max; words += 256) {
    bytes.push_back(0x00);
    bytes.push_back(0xFF);
  }
  schema::LogStreamDecoder decoder;
  schema::TickRecord record;
  const schema::DecodeStatus status = decoder.tick_record(bytes, record);
  EXPECT_EQ(status.code, DecodeError::too_large);
  EXPECT_EQ(status.code, schema::decode_tick_record(bytes).code);
}

TEST(LogStreamDecoder, EmptyInputIsRefused) {
  schema::LogStreamDecoder decoder;
  schema::TickRecord record;
  EXPECT_EQ(decoder.tick_record({}, record).code, DecodeError::empty);
}

}  // namespace
}  // namespace strata
