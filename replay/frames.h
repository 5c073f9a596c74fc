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
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "replay/status.h"
#include "schema/log_codec.h"

namespace strata::replay {

inline constexpr uint64_t export_magic = 0x5845415441525453ULL;  // "STRATAEX"
inline constexpr uint64_t bundle_magic = 0x4244415441525453ULL;  // "STRATADB"
inline constexpr uint32_t frames_version = 1;                    // export files
// Bundles: 2 adds a provenance frame per side (desync.h); 1 is still read (provenance unknown).
inline constexpr uint32_t bundle_version = 2;

class FrameWriter {
 public:
  // Writes the file magic and version; `out` stays owned by the caller.
  FrameWriter(std::FILE* out, uint64_t magic, uint32_t version = frames_version);
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

// Random access to the bytes of an export file or bundle: an open file (pread, so readers on
// several threads share one descriptor without sharing a position) or bytes in memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  [[nodiscard]] virtual uint64_t size() const = 0;
  // Reads exactly `length` bytes at `offset` (within size(): the caller checks).
  [[nodiscard]] virtual Status read_at(uint64_t offset, size_t length, uint8_t* out) const = 0;
};

class MemoryBytes final : public ByteSource {
 public:
  explicit MemoryBytes(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  Status read_at(uint64_t offset, size_t length, uint8_t* out) const override;

 private:
  std::vector<uint8_t> bytes_;
};

class FileBytes final : public ByteSource {
 public:
  // Opens `path` for reading (at most limits::file_bytes_max bytes).
  [[nodiscard]] static std::unique_ptr<FileBytes> open(const std::string& path, Status& status);
  ~FileBytes() override;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  uint64_t size() const override { return size_; }
  Status read_at(uint64_t offset, size_t length, uint8_t* out) const override;

 private:
  FileBytes(int fd, uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  std::string path_;
};

// Reads frames one at a time from a ByteSource: memory is one frame's payload (a reused buffer),
// whatever the file's size.
class FrameReader {
 public:
  // `bytes` must outlive the reader. Files of versions 1..version_max are read.
  FrameReader(const ByteSource& bytes, uint64_t magic, uint32_t version_max = frames_version)
      : bytes_(bytes), magic_(magic), version_max_(version_max) {}
  // Checks the file magic and version.
  [[nodiscard]] Status start();
  [[nodiscard]] uint32_t version() const { return version_; }
  // Reads the next frame into `entry` (a tick record is decoded into the one `entry` holds, reusing
  // its buffers). Returns false at the end of the bytes (status ok) or on damage (status set, with
  // the frame's byte offset; `entry` unspecified). `tick_hint` names the tick the caller expects next.
  [[nodiscard]] bool next(schema::ExportEntry& entry, Status& status, uint64_t tick_hint);
  // Steps over the next frame after checking only its length (for a file whose frames were all
  // checked already, to reach an indexed one). Same return convention as next().
  [[nodiscard]] bool skip(Status& status, uint64_t tick_hint);
  // Continues at `offset`, the start of a frame found by an earlier pass.
  void seek(uint64_t offset) { offset_ = offset; }
  [[nodiscard]] uint64_t frame_offset() const { return frame_offset_; }  // of the last frame read
  [[nodiscard]] uint64_t offset() const { return offset_; }

 private:
  // Reads and checks the next frame's header; sets length_ (0 frames left: returns false, ok).
  bool head(Status& status, uint64_t tick_hint, uint32_t& length, uint64_t& hash);
  // bytes_.read_at through a read-ahead window: sequential frames cost one read per window, not
  // two per frame (a 1 kB tick record read with two preads was syscall-bound).
  Status fetch(uint64_t offset, size_t length, uint8_t* out);
  static constexpr size_t window_bytes = size_t{256} << 10;

  const ByteSource& bytes_;
  uint64_t magic_;
  uint32_t version_max_;
  uint32_t version_ = 0;
  uint64_t offset_ = 0;
  uint64_t frame_offset_ = 0;
  std::vector<uint8_t> payload_;
  schema::LogStreamDecoder decoder_;  // entries decode into the caller's, reusing its buffers
  std::vector<uint8_t> window_;       // bytes_[window_offset_, window_offset_ + window_.size())
  uint64_t window_offset_ = 0;
};

// Reads a whole file into memory (at most limits::file_bytes_max). Tests and tools only: the readers
// stream through FileBytes.
[[nodiscard]] Status read_file(const std::string& path, std::vector<uint8_t>& out);

}  // namespace strata::replay
