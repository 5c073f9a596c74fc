// replay/frames.cpp — see frames.h.
#include "replay/frames.h"

#include <xxhash.h>

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

FrameWriter::FrameWriter(std::FILE* out, uint64_t magic) : out_(out) {
  uint8_t head[limits::file_magic_bytes];
  store_le<uint64_t>(magic, head);
  store_le<uint32_t>(frames_version, head + 8);
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

Status FrameReader::start() {
  if (bytes_.size() < limits::file_magic_bytes)
    return Status::error(Code::damaged, "file shorter than its magic", std::nullopt, 0);
  if (load_le<uint64_t>(bytes_.data()) != magic_) {
    return Status::error(Code::damaged, "not a Strata file of this kind (bad magic)", std::nullopt, 0);
  }
  const uint32_t version = load_le<uint32_t>(bytes_.data() + 8);
  if (version != frames_version) {
    return Status::error(Code::unsupported, "file version " + std::to_string(version) + " not implemented",
                         std::nullopt, 8);
  }
  offset_ = limits::file_magic_bytes;
  return {};
}

bool FrameReader::next(schema::ExportEntry& entry, Status& status, uint64_t tick_hint) {
  status = {};
  frame_offset_ = offset_;
  const uint64_t left = bytes_.size() - offset_;
  if (left == 0) return false;
  if (left < limits::frame_header_bytes) {
    status = Status::error(Code::damaged, "truncated frame header", tick_hint, offset_);
    return false;
  }
  const uint8_t* head = bytes_.data() + offset_;
  const uint32_t length = load_le<uint32_t>(head);
  const uint64_t hash = load_le<uint64_t>(head + 4);
  if (length > limits::frame_payload_bytes_max || length > left - limits::frame_header_bytes) {
    status = Status::error(Code::damaged, "frame length " + std::to_string(length) + " beyond the file or the limit",
                           tick_hint, offset_);
    return false;
  }
  const std::span<const uint8_t> payload(head + limits::frame_header_bytes, length);
  if (XXH3_64bits(payload.data(), payload.size()) != hash) {
    status = Status::error(Code::damaged, "frame checksum mismatch", tick_hint, offset_);
    return false;
  }
  auto decoded = schema::decode_export_entry(payload);
  if (!decoded.ok()) {
    const Code code = decoded.code == schema::DecodeError::rules_version ? Code::rules_version
                      : decoded.code == schema::DecodeError::bad_version ? Code::unsupported
                                                                         : Code::damaged;
    status = Status::error(code, "frame does not decode: " + decoded.error, tick_hint, offset_);
    return false;
  }
  entry = std::move(*decoded.value);
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
