// fuzz/client_snapshot.cpp — the client SDK's snapshot decoder and delta application on any bytes:
// errors are values; a decoded snapshot applied as a full one, and as a delta to a small view
// (moving entities and one chunk), never crashes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "schema/client/codec.h"

namespace {

const strata::view::ClientView& baseline() {
  static const strata::view::ClientView view = [] {
    strata::view::ClientView v;
    v.tick = 100;
    for (uint32_t id = 1; id <= 20; ++id) {
      v.entities.push_back(strata::view::EntityState{{strata::view::EntityKind::player, 0, id * 3},
                                                     static_cast<int32_t>(id * 700),
                                                     static_cast<int32_t>(id * 300),
                                                     static_cast<int32_t>(id % 3) * 32 - 32,
                                                     static_cast<int32_t>(id % 2) * 22,
                                                     static_cast<uint8_t>(1 + id % 8),
                                                     100});
    }
    v.chunks.push_back(
        strata::view::ViewChunkRef{strata::view::ChunkCoord{0, 0}, std::make_shared<strata::view::ViewChunk>()});
    return v;
  }();
  return view;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = strata::view::decode_client_snapshot(std::span<const uint8_t>(data, size));
  // The header-only read never crashes, and never disagrees with a full decode that succeeds.
  const auto header = strata::view::decode_client_snapshot_header(std::span<const uint8_t>(data, size));
  if (header && decoded.snapshot &&
      (header->tick != decoded.snapshot->tick || header->baseline_tick != decoded.snapshot->baseline_tick ||
       header->aoi_checksum != decoded.snapshot->aoi_checksum || header->viewer != decoded.snapshot->viewer)) {
    __builtin_trap();
  }
  if (!decoded.snapshot) return 0;
  strata::view::ClientSnapshot snapshot = *decoded.snapshot;
  snapshot.baseline_tick = 0;
  auto applied = strata::view::apply_snapshot(nullptr, snapshot);
  if (applied.view) (void)strata::view::view_checksum(*applied.view);
  if (decoded.snapshot->baseline_tick == baseline().tick) {
    auto delta = strata::view::apply_snapshot(&baseline(), *decoded.snapshot);
    if (delta.view) (void)strata::view::view_checksum(*delta.view);
  }
  return 0;
}
