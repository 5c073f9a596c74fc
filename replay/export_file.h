// replay/export_file.h — one portable file per session log (frames.h framing): the header frame,
// the start snapshot, then every tick record in order with each snapshot right after its tick's
// record, then an end frame with the counts (a file without it was cut short).
#pragma once

#include <memory>
#include <span>
#include <string>

#include "replay/log_source.h"
#include "replay/rocks_log.h"

namespace strata::replay {

[[nodiscard]] Status export_log(LogSource& log, const std::string& path, uint64_t* bytes_written = nullptr);

// Checks a whole export file in one streaming pass (every frame's checksum and decoding, the order of
// ticks and snapshots, the end frame; the first problem is reported with its byte offset and tick),
// keeping only an index (every 64th record's offset and every snapshot's), then serves reads from
// the file: memory stays at one frame plus the index, whatever the file's length.
[[nodiscard]] std::unique_ptr<LogSource> open_export_file(const std::string& path, Status& status);
// The same over bytes in memory (tests, fuzzers).
[[nodiscard]] std::unique_ptr<LogSource> read_export_bytes(std::vector<uint8_t> bytes, Status& status);

// Export file -> new RocksDB log directory.
[[nodiscard]] Status import_log(const std::string& file, const std::string& dir, const LogConfig& config = {});

}  // namespace strata::replay
