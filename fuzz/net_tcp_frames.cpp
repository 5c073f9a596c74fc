// fuzz/net_tcp_frames.cpp: the TCP frame reader (net/tcp_frames.h) on arbitrary stream bytes, cut
// into reads of arbitrary sizes (the first byte seeds the cuts). Checks: every frame is 1..
// tcp_frame_body_max bytes; the frames (with their lengths) are exactly the stream's prefix, in
// order, whatever the cuts; a malformed length is reported where a one-shot parse finds it; the
// reader never holds more than its buffer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "net/tcp_frames.h"

using namespace strata::net;

namespace {

// The reference: frames of the whole stream at once, and whether it hits a malformed length.
bool reference_frames(std::span<const uint8_t> in, std::vector<std::vector<uint8_t>>& frames) {
  size_t pos = 0;
  while (in.size() - pos >= 2) {
    const size_t length = in[pos] | (static_cast<size_t>(in[pos + 1]) << 8);
    if (length == 0 || length > tcp_frame_body_max) return false;
    if (in.size() - pos - 2 < length) break;
    frames.emplace_back(in.begin() + static_cast<ptrdiff_t>(pos + 2),
                        in.begin() + static_cast<ptrdiff_t>(pos + 2 + length));
    pos += 2 + length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0] * 2654435761u + 1;
  const std::span<const uint8_t> stream(data + 1, size - 1);
  std::vector<std::vector<uint8_t>> expected;
  const bool well_formed = reference_frames(stream, expected);

  TcpFrameReader reader;
  std::vector<std::vector<uint8_t>> frames;
  const auto on_frame = [&](std::span<const uint8_t> frame) {
    if (frame.empty() || frame.size() > tcp_frame_body_max) std::abort();
    frames.emplace_back(frame.begin(), frame.end());
    return true;
  };
  size_t pos = 0;
  bool malformed = false;
  while (pos < stream.size()) {
    seed = seed * 1103515245u + 12345u;
    const size_t cut = 1 + (seed >> 8) % 3000;  // reads of 1..3000 bytes
    auto chunk = stream.subspan(pos, std::min(cut, stream.size() - pos));
    TcpFrameReader::Result result = TcpFrameReader::Result::ok;
    const size_t taken = reader.feed(chunk, on_frame, result);
    if (taken == 0 && result == TcpFrameReader::Result::ok) std::abort();  // no room: would stall
    if (reader.buffered() > frame_reader_buffer_size) std::abort();
    pos += taken;
    if (result == TcpFrameReader::Result::malformed) {
      malformed = true;
      break;
    }
  }
  if (malformed == well_formed) std::abort();
  if (frames != expected) std::abort();
  return 0;
}
