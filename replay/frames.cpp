// replay/frames.cpp — see frames.h.
#include "replay/frames.h"

#include <xxhash.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "replay/limits.h"

namespace strata::replay {
namespace {

template <class T>
T load_le(const uint8_t* p) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(T{p[i]} << (8 * i));
  return value;
}

template <class T>
void store_le(T value, uint8_t* p) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>((value >> (8 * i)) & 0xFFU);
}

}  // namespace

FrameWriter::FrameWriter(std::FILE* out, uint64_t magic, uint32_t version) : out_(out) {
  uint8_t head[limits::file_magic_bytes];
  store_le<uint64_t>(magic, head);
  store_le<uint32_t>(version, head + 8);
  put(head, sizeof(head));
}

void FrameWriter::put(const void* data, size_t size) {
  if (!status_.ok()) return;
  if (std::fwrite(data, 1, size, out_) != size) {
    status_ = Status::error(Code::io, "write failed", std::nullopt, bytes_);
    return;
  }
  bytes_ += size;
}

Status FrameWriter::write(const schema::ExportEntry& entry) {
  schema::encode_export_entry(entry, scratch_);
  if (scratch_.size() > limits::frame_payload_bytes_max)
    return Status::error(Code::invalid_argument, "entry too large");
  uint8_t head[limits::frame_header_bytes];
  store_le<uint32_t>(static_cast<uint32_t>(scratch_.size()), head);
  store_le<uint64_t>(XXH3_64bits(scratch_.data(), scratch_.size()), head + 4);
  put(head, sizeof(head));
  put(scratch_.data(), scratch_.size());
  return status_;
}

Status MemoryBytes::read_at(uint64_t offset, size_t length, uint8_t* out) const {
  if (offset > bytes_.size() || length > bytes_.size() - offset)
    return Status::error(Code::damaged, "read beyond the end", std::nullopt, offset);
  if (length > 0) std::memcpy(out, bytes_.data() + offset, length);
  return {};
}

std::unique_ptr<FileBytes> FileBytes::open(const std::string& path, Status& status) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    status = Status::error(Code::not_found, path + ": no such file");
    return nullptr;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    status = Status::error(Code::io, path + ": cannot open: " + std::strerror(errno));
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    status = Status::error(Code::io, path + ": not a regular file");
    return nullptr;
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > limits::file_bytes_max) {
    ::close(fd);
    status = Status::error(Code::invalid_argument, path + ": larger than the file limit");
    return nullptr;
  }
  status = {};
  return std::unique_ptr<FileBytes>(new FileBytes(fd, size, path));
}

FileBytes::~FileBytes() { ::close(fd_); }

Status FileBytes::read_at(uint64_t offset, size_t length, uint8_t* out) const {
  if (offset > size_ || length > size_ - offset)
    return Status::error(Code::damaged, "read beyond the end", std::nullopt, offset);
  size_t done = 0;
  while (done < length) {
    const ssize_t got = ::pread(fd_, out + done, length - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::error(Code::io, path_ + ": read failed: " + std::strerror(errno), std::nullopt, offset);
    // The file shrank since it was opened: what is missing is damage at this offset.
    if (got == 0) return Status::error(Code::damaged, path_ + ": file cut short while reading", std::nullopt, offset);
    done += static_cast<size_t>(got);
  }
  return {};
}

Status FrameReader::start() {
  uint8_t head[limits::file_magic_bytes];
  if (bytes_.size() < limits::file_magic_bytes)
    return Status::error(Code::damaged, "file shorter than its magic", std::nullopt, 0);
  if (Status s = bytes_.read_at(0, sizeof(head), head); !s.ok()) return s;
  if (load_le<uint64_t>(head) != magic_) {
    return Status::error(Code::damaged, "not a Strata file of this kind (bad magic)", std::nullopt, 0);
  }
  const uint32_t version = load_le<uint32_t>(head + 8);
  if (version == 0 || version > version_max_) {
    return Status::error(Code::unsupported, "file version " + std::to_string(version) + " not implemented",
                         std::nullopt, 8);
  }
  version_ = version;
  offset_ = limits::file_magic_bytes;
  return {};
}

Status FrameReader::fetch(uint64_t offset, size_t length, uint8_t* out) {
  if (offset >= window_offset_ && offset - window_offset_ <= window_.size() &&
      length <= window_.size() - (offset - window_offset_)) {
    if (length > 0) std::memcpy(out, window_.data() + (offset - window_offset_), length);
    return {};
  }
  if (length >= window_bytes) return bytes_.read_at(offset, length, out);  // large frames: directly
  if (offset > bytes_.size() || length > bytes_.size() - offset)
    return Status::error(Code::damaged, "read beyond the end", std::nullopt, offset);
  const auto fill = static_cast<size_t>(std::min<uint64_t>(window_bytes, bytes_.size() - offset));
  window_.resize(fill);
  window_offset_ = offset;
  if (Status s = bytes_.read_at(offset, fill, window_.data()); !s.ok()) {
    // The window reached past what can be read now (a file cut short since it was opened): read
    // just this, so the error, if any, is the one of these bytes.
    window_.clear();
    return bytes_.read_at(offset, length, out);
  }
  if (length > 0) std::memcpy(out, window_.data(), length);
  return {};
}

bool FrameReader::head(Status& status, uint64_t tick_hint, uint32_t& length, uint64_t& hash) {
  status = {};
  frame_offset_ = offset_;
  const uint64_t left = bytes_.size() - offset_;
  if (left == 0) return false;
  if (left < limits::frame_header_bytes) {
    status = Status::error(Code::damaged, "truncated frame header", tick_hint, offset_);
    return false;
  }
  uint8_t head[limits::frame_header_bytes];
  if (status = fetch(offset_, sizeof(head), head); !status.ok()) {
    status.tick = tick_hint;
    return false;
  }
  length = load_le<uint32_t>(head);
  hash = load_le<uint64_t>(head + 4);
  // Checked before anything is read or allocated for the payload.
  if (length > limits::frame_payload_bytes_max || length > left - limits::frame_header_bytes) {
    status = Status::error(Code::damaged, "frame length " + std::to_string(length) + " beyond the file or the limit",
                           tick_hint, offset_);
    return false;
  }
  return true;
}

bool FrameReader::skip(Status& status, uint64_t tick_hint) {
  uint32_t length = 0;
  uint64_t hash = 0;
  if (!head(status, tick_hint, length, hash)) return false;
  offset_ += limits::frame_header_bytes + length;
  return true;
}

bool FrameReader::next(schema::ExportEntry& entry, Status& status, uint64_t tick_hint) {
  uint32_t length = 0;
  uint64_t hash = 0;
  if (!head(status, tick_hint, length, hash)) return false;
  payload_.resize(length);
  if (status = fetch(offset_ + limits::frame_header_bytes, length, payload_.data()); !status.ok()) {
    status.tick = tick_hint;
    return false;
  }
  if (XXH3_64bits(payload_.data(), payload_.size()) != hash) {
    status = Status::error(Code::damaged, "frame checksum mismatch", tick_hint, offset_);
    return false;
  }
  const schema::DecodeStatus decoded = decoder_.export_entry(payload_, entry);
  if (!decoded.ok()) {
    const Code code = decoded.code == schema::DecodeError::rules_version ? Code::rules_version
                      : decoded.code == schema::DecodeError::bad_version ? Code::unsupported
                                                                         : Code::damaged;
    status = Status::error(code, "frame does not decode: " + decoded.error, tick_hint, offset_);
    return false;
  }
  offset_ += limits::frame_header_bytes + length;
  return true;
}

Status read_file(const std::string& path, std::vector<uint8_t>& out) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::error(Code::not_found, path + ": no such file");
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::error(Code::io, path + ": " + ec.message());
  if (size > limits::file_bytes_max)
    return Status::error(Code::invalid_argument, path + ": larger than the file limit");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::error(Code::io, path + ": cannot open");
  out.resize(size);
  const size_t got = size == 0 ? 0 : std::fread(out.data(), 1, size, f);
  std::fclose(f);
  if (got != size) return Status::error(Code::io, path + ": short read");
  return {};
}

}  // namespace strata::replay
