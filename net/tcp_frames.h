// net/tcp_frames.h: the TCP frame reader, pure (no sockets): bytes of a stream in, whole frames
// out, or an error. A frame is a u16 little-endian length (1..tcp_frame_body_max) and that many
// bytes; a zero or oversized length is malformed and the stream must be closed. The reader holds
// at most frame_reader_buffer_size bytes, whatever the peer sends (fuzzed by fuzz/net_tcp_frames.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "net/limits.h"

namespace strata::net {

// One whole frame plus room to take what the kernel has in a few large reads.
inline constexpr size_t tcp_read_slack = 4096;
inline constexpr size_t frame_reader_buffer_size = 2 + tcp_frame_body_max + tcp_read_slack;

class TcpFrameReader {
 public:
  enum class Result : uint8_t { ok, malformed, stopped };
  // Called for each whole frame; returns false to stop reading (the stream was closed meanwhile).
  using OnFrame = std::function<bool(std::span<const uint8_t> frame)>;

  TcpFrameReader() : buffer_(frame_reader_buffer_size) {}

  // Where the next read may write (never empty while the reader is usable).
  [[nodiscard]] std::span<uint8_t> free_space() { return std::span<uint8_t>(buffer_).subspan(length_); }
  // Takes `n` bytes written into free_space() and hands out every whole frame. After `malformed`
  // the stream must be closed (the reader keeps nothing usable).
  [[nodiscard]] Result commit(size_t n, const OnFrame& on_frame);
  // Copies as much of `bytes` as fits and commits it; returns how many bytes were taken (tests
  // and the fuzzer; the transport reads straight into free_space()).
  size_t feed(std::span<const uint8_t> bytes, const OnFrame& on_frame, Result& result);
  [[nodiscard]] size_t buffered() const { return length_; }

 private:
  std::vector<uint8_t> buffer_;
  size_t length_ = 0;
};

}  // namespace strata::net
