// fuzz/map_snapshot.cpp — a published map snapshot or a desync map file, as any bytes (whoever may
// write the key-value bucket, or a file handed over): server/map_snapshots.h's decoder gives a
// snapshot or an error and never crashes, never allocates beyond its limits; what it accepts
// encodes back to bytes that decode to the same snapshot. The same bytes as a part read through
// the bucket's reader (manifest and parts) give a snapshot or an error too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "server/map_snapshots.h"
#include "sim/hash.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  const std::span<const uint8_t> bytes(data, size);
  server::MapSnapshotDecode decoded = server::decode_map_snapshot(bytes);
  if (decoded.snapshot) {
    std::vector<uint8_t> again;
    server::encode_map_snapshot(decoded.snapshot->info, decoded.snapshot->world, again);
    server::MapSnapshotDecode twice = server::decode_map_snapshot(again);
    if (!twice.snapshot || !(twice.snapshot->info == decoded.snapshot->info) ||
        sim::full_hash(twice.snapshot->world) != sim::full_hash(decoded.snapshot->world)) {
      std::abort();
    }
  }
  // As the bucket's values: the first half the manifest, the rest part 0.
  server::MemoryMapStore store;
  const sim::RegionId region{1};
  (void)store.put(server::map_manifest_key(region), bytes.first(size / 2));
  (void)store.put(server::map_part_key(region, 0), bytes.subspan(size / 2));
  std::string error;
  (void)server::read_map_snapshot(store, region, error, 1);
  return 0;
}
