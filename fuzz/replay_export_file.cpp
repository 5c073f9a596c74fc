// fuzz/replay_export_file.cpp — libFuzzer target for the export file reader and the desync bundle
// reader (replay/frames.h framing): any bytes must be refused with a status, or accepted as a log
// that replays (or a bundle that explains) without crashing.
//
// Each input is tried twice: as is (the checksums must catch the mutation), and with every frame's
// XXH3 recomputed, so mutations reach the frame decoders and the sequence checks behind them.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "replay/desync.h"
#include "replay/export_file.h"
#include "replay/limits.h"
#include "replay/replayer.h"

namespace {

void fix_checksums(std::vector<uint8_t>& bytes) {
  using namespace strata::replay::limits;
  size_t offset = file_magic_bytes;
  while (offset + frame_header_bytes <= bytes.size()) {
    uint32_t length = 0;
    for (size_t i = 0; i < 4; ++i) length |= uint32_t{bytes[offset + i]} << (8 * i);
    if (length > bytes.size() - offset - frame_header_bytes) return;
    const uint64_t hash = XXH3_64bits(bytes.data() + offset + frame_header_bytes, length);
    for (size_t i = 0; i < 8; ++i) bytes[offset + 4 + i] = static_cast<uint8_t>((hash >> (8 * i)) & 0xFFU);
    offset += frame_header_bytes + length;
  }
}

void try_bytes(const std::vector<uint8_t>& bytes) {
  using namespace strata::replay;
  Status status;
  auto log = read_export_bytes(bytes, status);
  if (log) {
    ReplayOptions options;
    options.to_tick = log->header().start_tick + 64;  // bounded work per input
    (void)replay(*log, options);
  } else if (status.ok()) {
    std::abort();
  }
  DesyncBundle bundle;
  if (read_bundle_bytes(bytes, bundle).ok()) (void)explain(bundle, 10);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  try_bytes(bytes);
  fix_checksums(bytes);
  try_bytes(bytes);
  return 0;
}
