// schema/log_codec.h — the session log's header, tick records and export-file entries as bytes
// (schema/log.capnp, packed) and back. Same rules as codec.h: untrusted bytes, error values with
// codes, limits from schema/limits.h. Logged inputs are decoded with EnumPolicy::as_recorded: a
// hostile command that the rules rejected must replay exactly as it was applied.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "schema/codec.h"

namespace strata::schema {

inline constexpr uint64_t log_magic = 0x474C415441525453ULL;  // "STRATALG" little-endian
inline constexpr uint32_t log_format_version = 1;

struct LogHeader {
  uint32_t format_version = log_format_version;
  uint32_t rules_version = sim::rules_version;
  uint32_t schema_version = schema::schema_version;
  sim::WorldParams params;
  uint64_t start_tick = 0;
  uint64_t start_snapshot_tick = 0;
  uint32_t full_hash_every = 100;
  uint32_t snapshot_every = 1000;
};

struct TickRecord {
  sim::TickInput input;  // input.tick is the record's tick
  uint64_t quick_hash = 0;
  std::optional<uint64_t> full_hash;
};

struct ExportEnd {
  uint64_t tick_count = 0;
  uint64_t snapshot_count = 0;
  uint64_t last_tick = 0;
};
struct SnapshotBytes {
  std::vector<uint8_t> bytes;  // schema::encode_snapshot output
};
// Desync bundles (replay/desync.h): the frames after a section belong to one side.
struct BundleSection {
  uint8_t side = 0;  // 0 or 1
  uint64_t divergent_tick = 0;
};
using ExportEntry = std::variant<LogHeader, SnapshotBytes, TickRecord, ExportEnd, BundleSection>;

[[nodiscard]] std::vector<uint8_t> encode_log_header(const LogHeader& header);
// Refuses a wrong magic, format or schema version (bad_magic / bad_version), a rules version this
// build does not implement (rules_version), and invalid params or periods (bad_params).
[[nodiscard]] DecodeResult<LogHeader> decode_log_header(std::span<const uint8_t> bytes, DecodeStats* stats = nullptr);

void encode_tick_record(const TickRecord& record, std::vector<uint8_t>& out);
// The same bytes without building a TickRecord (the log writer's per-tick path: no input copy).
void encode_tick_record(const sim::TickInput& input, uint64_t quick_hash, std::optional<uint64_t> full_hash,
                        std::vector<uint8_t>& out);
[[nodiscard]] DecodeResult<TickRecord> decode_tick_record(std::span<const uint8_t> bytes, DecodeStats* stats = nullptr);

void encode_export_entry(const ExportEntry& entry, std::vector<uint8_t>& out);
[[nodiscard]] DecodeResult<ExportEntry> decode_export_entry(std::span<const uint8_t> bytes,
                                                            DecodeStats* stats = nullptr);

namespace detail {
struct UnpackBuffer;
}  // namespace detail

// Decodes the records of one stream (a log reader's, one record after the other) into objects the
// caller keeps: the unpacked words and a record's command vector keep their capacity, so once warm
// a record costs no allocation (decode_tick_record allocated both every tick: 20-30 us of a
// replay's tick). The same checks, limits and errors as the one-off decoders above: the buffer only
// ever grows to a size a call's limit allowed. After a failure the output is unspecified. One
// decoder per thread.
class LogStreamDecoder {
 public:
  LogStreamDecoder();
  ~LogStreamDecoder();
  LogStreamDecoder(LogStreamDecoder&&) noexcept;
  LogStreamDecoder& operator=(LogStreamDecoder&&) noexcept;
  LogStreamDecoder(const LogStreamDecoder&) = delete;
  LogStreamDecoder& operator=(const LogStreamDecoder&) = delete;

  [[nodiscard]] DecodeStatus tick_record(std::span<const uint8_t> bytes, TickRecord& out, DecodeStats* stats = nullptr);
  // A tick entry is decoded into the TickRecord `out` holds, if it holds one.
  [[nodiscard]] DecodeStatus export_entry(std::span<const uint8_t> bytes, ExportEntry& out,
                                          DecodeStats* stats = nullptr);

 private:
  std::unique_ptr<detail::UnpackBuffer> buffer_;
};

}  // namespace strata::schema
