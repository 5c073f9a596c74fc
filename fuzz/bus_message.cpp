// fuzz/bus_message.cpp — libFuzzer target for schema::decode_bus_payload (issue 15, "Bad input"):
// the payload of any message read from the region event bus, as anyone with publish rights could
// write it. Any input decodes or gives a reason; what decodes is within the limits and the sim's
// ranges for the context (region 2's subject, regions 1..3 deployed, a 2048 x 2048 map), and
// encodes and decodes back to itself.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "schema/bus_codec.h"

namespace {

using namespace strata;
using namespace strata::schema;

constexpr sim::RegionId subject_region{2};
constexpr std::array<sim::RegionId, 3> deployed = {sim::RegionId{1}, sim::RegionId{2}, sim::RegionId{3}};
constexpr int32_t map_cells = 2048;

bool on_map(int32_t x, int32_t y) { return x >= 0 && y >= 0 && x < map_cells && y < map_cells; }

bool valid(const BusWorldBatch& b) {
  if (b.parts == 0 || b.parts > bus_limits::world_parts_max || b.part >= b.parts) return false;
  if (b.writes.size() > bus_limits::writes_per_batch_max) return false;
  for (const sim::BlockWrite& w : b.writes) {
    if (w.stamp.region != b.origin || w.stamp.hlc == 0 || !sim::enum_valid(w.layer)) return false;
    if (!on_map(w.cell.x, w.cell.y)) return false;
  }
  return true;
}

bool valid(const BusPresence& p) {
  if (p.entries.size() > bus_limits::presence_entries_max) return false;
  for (size_t i = 0; i < p.entries.size(); ++i) {
    const BusPresenceEntry& e = p.entries[i];
    if (e.id == 0 || !sim::enum_valid(e.facing) || !on_map(e.pos.x.tile(), e.pos.y.tile())) return false;
    if (i > 0) {
      const BusPresenceEntry& before = p.entries[i - 1];
      if (before.npc == e.npc ? before.id >= e.id : before.npc) return false;
    }
  }
  return true;
}

bool valid(const BusHealth& h) {
  if (h.applied.size() > bus_limits::health_vector_max) return false;
  for (size_t i = 0; i < h.applied.size(); ++i) {
    const uint16_t origin = sim::raw(h.applied[i].origin);
    if (origin < 1 || origin > 3) return false;
    if (i > 0 && sim::raw(h.applied[i - 1].origin) >= origin) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const BusDecodeContext context{subject_region, deployed, map_cells, map_cells};
  BusPayload payload;
  const BusDecodeResult result = decode_bus_payload(std::span(data, size), context, payload);
  if (result.ok() != result.error.empty() || result.code >= BusDecodeError::count) std::abort();
  if (!result.ok()) return 0;
  const bool ok = std::visit([](const auto& p) { return p.origin == subject_region && valid(p); }, payload);
  if (!ok) std::abort();
  std::vector<uint8_t> again;
  encode_bus_payload(payload, BusEncodeOptions{}, again);
  BusPayload back;
  if (!decode_bus_payload(again, context, back).ok() || !(back == payload)) std::abort();
  return 0;
}
