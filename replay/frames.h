// replay/frames.h — the framing shared by export files and desync bundles.
//
// Layout (all integers little-endian):
//   file  := magic (8 bytes: "STRATAEX" export, "STRATADB" bundle) | u32 version | frame*
//   frame := u32 payload_length | u64 XXH3-64(payload) | payload (packed schema ExportEntry)
// Each frame carries its own checksum, so a reader names the exact frame (byte offset) where a file
// is damaged; a length is checked against limits::frame_payload_bytes_max and against the bytes
// left before anything is read or allocated for it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "replay/status.h"
#include "schema/log_codec.h"

namespace strata::replay {

inline constexpr uint64_t export_magic = 0x5845415441525453ULL;  // "STRATAEX"
inline constexpr uint64_t bundle_magic = 0x4244415441525453ULL;  // "STRATADB"
inline constexpr uint32_t frames_version = 1;

class FrameWriter {
 public:
  // Writes the file magic; `out` stays owned by the caller.
  FrameWriter(std::FILE* out, uint64_t magic);
  [[nodiscard]] Status write(const schema::ExportEntry& entry);
  [[nodiscard]] Status status() const { return status_; }
  [[nodiscard]] uint64_t bytes_written() const { return bytes_; }

 private:
  void put(const void* data, size_t size);
  std::FILE* out_;
  Status status_;
  uint64_t bytes_ = 0;
  std::vector<uint8_t> scratch_;
};

class FrameReader {
 public:
  FrameReader(std::span<const uint8_t> bytes, uint64_t magic) : bytes_(bytes), magic_(magic) {}
  // Checks the file magic and version.
  [[nodiscard]] Status start();
  // Reads the next frame. Returns false at the end of the bytes (status ok) or on damage (status
  // set, with the frame's byte offset). `tick_hint` names the tick the caller expects next.
  [[nodiscard]] bool next(schema::ExportEntry& entry, Status& status, uint64_t tick_hint);
  [[nodiscard]] uint64_t frame_offset() const { return frame_offset_; }  // of the last frame read
  [[nodiscard]] uint64_t offset() const { return offset_; }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t magic_;
  uint64_t offset_ = 0;
  uint64_t frame_offset_ = 0;
};

// Reads a whole file into memory (at most limits::file_bytes_max).
[[nodiscard]] Status read_file(const std::string& path, std::vector<uint8_t>& out);

}  // namespace strata::replay
