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

// Reads and checks a whole export file (every frame's checksum and decoding, the order of ticks and
// snapshots, the end frame) and serves it from memory.
[[nodiscard]] std::unique_ptr<LogSource> open_export_file(const std::string& path, Status& status);
[[nodiscard]] std::unique_ptr<LogSource> read_export_bytes(std::vector<uint8_t> bytes, Status& status);

// Export file -> new RocksDB log directory.
[[nodiscard]] Status import_log(const std::string& file, const std::string& dir, const LogConfig& config = {});

}  // namespace strata::replay
