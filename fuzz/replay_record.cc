// fuzz/replay_record.cc — libFuzzer target for the session log's record decoders: a RocksDB value
// payload is a TickRecord or a LogHeader (schema/log_codec.h). Any input must decode or return an
// error value; a decoded record must survive re-encoding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "schema/log_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::schema;
  const std::span<const uint8_t> bytes(data, size);
  const auto record = decode_tick_record(bytes);
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
  return 0;
}
