// fuzz/replay_record.cpp — libFuzzer target for the session log's record decoders: a RocksDB value
// payload is a TickRecord or a LogHeader (schema/log_codec.h). Any input must decode or return an
// error value; a decoded record must survive re-encoding. The stream decoder (one decoder and one
// record reused across inputs, as log readers keep them) must answer exactly as the one-off one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

#include "schema/log_codec.h"

namespace {

using namespace strata::schema;

bool same(const TickRecord& a, const TickRecord& b) {
  if (a.input.tick != b.input.tick || a.quick_hash != b.quick_hash || a.full_hash != b.full_hash) return false;
  if (a.input.commands.size() != b.input.commands.size()) return false;
  for (size_t i = 0; i < a.input.commands.size(); ++i) {
    // Commands are flat structs of integers, encoded field by field: equal encodings, equal commands.
    if (encode_command(a.input.commands[i]) != encode_command(b.input.commands[i])) return false;
  }
  return true;
}

// Kept across inputs on purpose: what one input leaves behind must not change the next answer.
LogStreamDecoder stream_decoder;
TickRecord stream_record;
ExportEntry stream_entry;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  const auto record = decode_tick_record(bytes);
  const DecodeStatus streamed = stream_decoder.tick_record(bytes, stream_record);
  if (streamed.code != record.code || streamed.error != record.error) std::abort();
  if (record.ok() && !same(stream_record, *record.value)) std::abort();
  if (record.ok() == record.error.empty()) {
    if (record.ok()) {
      std::vector<uint8_t> again;
      encode_tick_record(*record.value, again);
      const auto round = decode_tick_record(again);
      if (!round.ok() || round.value->quick_hash != record.value->quick_hash ||
          round.value->full_hash != record.value->full_hash ||
          round.value->input.commands.size() != record.value->input.commands.size()) {
        std::abort();
      }
    }
  } else {
    std::abort();
  }
  const auto header = decode_log_header(bytes);
  if (header.ok() != header.error.empty()) std::abort();
  const auto entry = decode_export_entry(bytes);
  if (entry.ok() != entry.error.empty()) std::abort();
  const DecodeStatus streamed_entry = stream_decoder.export_entry(bytes, stream_entry);
  if (streamed_entry.code != entry.code || streamed_entry.error != entry.error) std::abort();
  if (entry.ok() && stream_entry.index() != entry.value->index()) std::abort();
  if (const auto* r = std::get_if<TickRecord>(&stream_entry);
      r != nullptr && entry.ok() && !same(*r, std::get<TickRecord>(*entry.value))) {
    std::abort();
  }
  return 0;
}
