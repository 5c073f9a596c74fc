// replay/limits.h — named limits of the session log, its export file and desync bundles. Every
// length read from a file is checked against these (and against the bytes really left) before
// anything is allocated for it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "schema/limits.h"

namespace strata::replay::limits {

// Export file / bundle frame: u32 payload length | u64 XXH3-64 of the payload | payload.
inline constexpr size_t frame_header_bytes = 12;
inline constexpr size_t file_magic_bytes = 12;  // 8-byte magic + u32 version
// The largest payload is a packed ExportEntry holding the largest packed snapshot.
inline constexpr size_t frame_payload_bytes_max =
    schema::limits::export_entry_words_max * schema::limits::packed_bytes_per_word_max;
// RocksDB values carry an 8-byte XXH3 before their payload.
inline constexpr size_t value_checksum_bytes = 8;
// Periods a log may be configured with (ticks).
inline constexpr uint32_t period_max = schema::limits::log_period_max;
// Sync-test rollback depth (ticks) and the desync bundle's window of inputs around the divergence.
inline constexpr uint32_t rollback_ticks_max = 64;
inline constexpr uint32_t bundle_window_ticks = 5;
// Records decoded ahead of the replay by the prefetching reader (memory: this many TickRecords).
inline constexpr size_t prefetch_ticks = 64;
// Frames in one export file (a week at 20 Hz plus its snapshots, with headroom).
inline constexpr uint64_t export_frames_max = uint64_t{1} << 26;
// Lines of a hash stream file (same bound as frames).
inline constexpr uint64_t hash_stream_lines_max = export_frames_max;
// Longest line: "<20 digits> <16 hex> <16 hex>" is 54 bytes; a longer line is refused after this
// many bytes, never read whole (a file of one endless line must not cost its size in memory).
inline constexpr size_t hash_stream_line_bytes_max = 128;
static_assert(hash_stream_line_bytes_max >= 20 + 1 + 16 + 1 + 16 + 1, "the longest valid line (with a \\r)");
// Largest export file or bundle accepted (they are streamed, not read whole, except by tests).
inline constexpr uint64_t file_bytes_max = uint64_t{16} << 30;

static_assert(frame_payload_bytes_max < (uint64_t{1} << 32), "frame lengths are u32");
static_assert(frame_payload_bytes_max > schema::limits::snapshot_packed_bytes_max);
static_assert(rollback_ticks_max <= period_max);

}  // namespace strata::replay::limits
