// net/tcp_frames.cpp: the TCP frame reader (see tcp_frames.h). The length is checked before any
// frame byte is waited for, so a peer cannot make the reader hold more than one frame's worth.
#include "net/tcp_frames.h"

#include <algorithm>
#include <cstring>

namespace strata::net {

static_assert(frame_reader_buffer_size >= 2 + tcp_frame_body_max);

TcpFrameReader::Result TcpFrameReader::commit(size_t n, const OnFrame& on_frame) {
  length_ += std::min(n, buffer_.size() - length_);
  size_t pos = 0;
  Result result = Result::ok;
  while (length_ - pos >= 2) {
    const size_t length = buffer_[pos] | (static_cast<size_t>(buffer_[pos + 1]) << 8);
    if (length == 0 || length > tcp_frame_body_max) {
      length_ = 0;
      return Result::malformed;
    }
    if (length_ - pos - 2 < length) break;
    const std::span<const uint8_t> frame(buffer_.data() + pos + 2, length);
    pos += 2 + length;
    if (!on_frame(frame)) {
      result = Result::stopped;
      break;
    }
  }
  std::memmove(buffer_.data(), buffer_.data() + pos, length_ - pos);
  length_ -= pos;
  return result;
}

size_t TcpFrameReader::feed(std::span<const uint8_t> bytes, const OnFrame& on_frame, Result& result) {
  const std::span<uint8_t> space = free_space();
  const size_t n = std::min(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), n);
  result = commit(n, on_frame);
  return n;
}

}  // namespace strata::net
