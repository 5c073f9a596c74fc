// fuzz/replay_export_file.cc — libFuzzer target for the export file reader and the desync bundle
// reader (replay/frames.h framing): any bytes must be refused with a status naming a byte offset,
// or accepted as a log that replays without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "replay/desync.h"
#include "replay/export_file.h"
#include "replay/replayer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::replay;
  Status status;
  auto log = read_export_bytes(std::vector<uint8_t>(data, data + size), status);
  if (log) {
    ReplayOptions options;
    options.to_tick = log->header().start_tick + 64;  // bounded work per input
    (void)replay(*log, options);
  } else if (status.ok()) {
    std::abort();
  }
  DesyncBundle bundle;
  const Status bundle_status = read_bundle_bytes(std::vector<uint8_t>(data, data + size), bundle);
  if (bundle_status.ok()) (void)explain(bundle, 10);
  return 0;
}
