// tests/schema/bus_payload_gen.h — bus payloads for the codec's tests, seeds, benchmark and the
// capnp-tool test: a realistic world batch (bots building and breaking in one area, stamped by a
// hybrid logical clock the way a tick stamps its writes), and a presence and a health message.
// Deterministic (a seed, no rapidcheck), so seeds and figures are reproducible.
#pragma once

#include <cstdint>

#include "schema/bus_codec.h"

namespace strata::test {

// A small, fixed pseudo-random sequence (splitmix64).
class BusGenRandom {
 public:
  explicit BusGenRandom(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }

 private:
  uint64_t state_;
};

// One tick's writes of `count` bots' commands in a square of `area` cells around (centre, centre):
// walls and doors placed (active layer), blocks broken (kind none), now and then a floor or a roof.
// Stamps: the HLC of a 20 Hz tick at a 2026 wall clock, the counter running within a millisecond.
inline schema::BusWorldBatch realistic_world_batch(sim::RegionId origin, uint64_t tick, size_t count, uint64_t seed = 1,
                                                   int32_t centre = 1000, int32_t area = 64) {
  BusGenRandom random(seed ^ (tick * 0x2545F4914F6CDD1DULL));
  schema::BusWorldBatch batch;
  batch.origin = origin;
  batch.tick = tick;
  batch.writes.reserve(count);
  const uint64_t tick_ms = 1'796'000'000'000ULL + tick * 50;
  for (size_t i = 0; i < count; ++i) {
    sim::BlockWrite w;
    w.cell = sim::CellPos{centre - area / 2 + static_cast<int32_t>(random.below(static_cast<uint32_t>(area))),
                          centre - area / 2 + static_cast<int32_t>(random.below(static_cast<uint32_t>(area)))};
    const uint32_t what = random.below(100);
    if (what < 45) {
      w.layer = sim::Layer::active;
      w.kind = static_cast<uint8_t>(random.below(2) == 0 ? sim::Block::wood_wall : sim::Block::stone_wall);
    } else if (what < 55) {
      w.layer = sim::Layer::active;
      w.kind = static_cast<uint8_t>(sim::Block::door);
      w.state = static_cast<uint8_t>(random.below(2));
    } else if (what < 85) {
      w.layer = sim::Layer::active;
      w.kind = static_cast<uint8_t>(sim::Block::none);
    } else if (what < 93) {
      w.layer = sim::Layer::floor;
      w.kind = static_cast<uint8_t>(sim::Floor::dirt);
    } else {
      w.layer = sim::Layer::ceiling;
      w.kind = static_cast<uint8_t>(sim::Ceiling::thatch_roof);
    }
    // Several writes per millisecond of the tick: the counter tells them apart.
    const uint64_t ms = tick_ms + (i * 50) / (count == 0 ? 1 : count);
    w.stamp = sim::LwwStamp{(ms << 16) | (i & 0xFFFF), origin};
    batch.writes.push_back(w);
  }
  return batch;
}

inline schema::BusPresence realistic_presence(sim::RegionId origin, uint64_t tick, size_t players, size_t npcs,
                                              uint64_t seed = 1) {
  BusGenRandom random(seed);
  schema::BusPresence presence;
  presence.origin = origin;
  presence.tick = tick;
  uint32_t id = 0;
  for (size_t i = 0; i < players + npcs; ++i) {
    if (i == players) id = 0;
    id += 1 + random.below(3);
    const auto at = [&] { return sim::Fixed::from_raw(static_cast<int32_t>(900 * 256 + random.below(200 * 256))); };
    presence.entries.push_back(schema::BusPresenceEntry{i >= players, id, sim::Vec2{at(), at()},
                                                        static_cast<sim::Direction>(1 + random.below(8))});
  }
  return presence;
}

inline schema::BusHealth realistic_health(sim::RegionId origin, uint64_t tick, uint16_t regions) {
  schema::BusHealth health;
  health.origin = origin;
  health.tick = tick;
  for (uint16_t r = 1; r <= regions; ++r) health.applied.push_back({sim::RegionId{r}, 1000U * r + tick});
  health.map_hash = 0x9E3779B97F4A7C15ULL ^ tick;
  return health;
}

}  // namespace strata::test
