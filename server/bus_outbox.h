// server/bus_outbox.h — what a region has to say on the bus, held between its tick and the Bus
// port (issue 15 item 2: "presence is sampled and thinned under backpressure; world batches never
// are"). No clock, no thread: the node pushes at its tick, and calls pump() and on_acks() after
// each poll of the bus.
//  - World batches, one per tick: never dropped. Held from push_world() until the stream has them
//    (acked stored or duplicate), published in tick order as the bus takes them, and published
//    again with the same id after a publish reported failed (dedup makes the copy harmless if the
//    first was stored after all). When world_batches_max are held, push_world() refuses: the node
//    must slow down or stop, it is never told "sent" for a batch that was dropped.
//  - Presence and health samples: only the latest of each matters. A newer sample replaces an
//    older one not yet published (thinned, counted); at most one of each is in flight; they are
//    published only when no world batch waits and the bus has fewer than sample_pending_max
//    publishes pending, so under backpressure they give way to the world.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "server/bus.h"

namespace strata::server {

struct BusOutboxConfig {
  sim::RegionId region{};
  size_t world_batches_max = 4096;  // held (queued or in flight); beyond it push_world() refuses
  size_t sample_pending_max = 32;   // samples are published only while the bus has fewer pending
  // World batches published and not yet acked. 1 keeps the stream's order of a region's batches
  // its tick order even when a publish is lost and sent again (later batches wait for it): a
  // peer that applied this region's batches up to stream sequence S then holds exactly the
  // writes of this region's ticks up to that batch's, so equal applied vectors mean equal maps
  // (region_link.h, "Divergence"). A tick's batch holds all its writes, so one round trip per
  // tick is plenty; more would reorder after a loss.
  size_t world_in_flight_max = 1;
};

enum class OutboxVerdict : uint8_t { queued, full };

#define STRATA_BUS_OUTBOX_COUNTERS(X)                                                \
  X(world_pushed, "world batches handed to the outbox")                              \
  X(world_refused_full, "world batches refused: world_batches_max held")             \
  X(world_published, "world batch publishes the bus accepted, republishes included") \
  X(world_republished, "world batches published again after a failed publish")       \
  X(world_acked, "world batches the stream acknowledged (stored or duplicate)")      \
  X(samples_published, "presence and health samples published")                      \
  X(samples_thinned, "samples replaced by a newer one before they were published")   \
  X(samples_failed, "samples whose publish failed (not retried: a newer one comes)")

struct BusOutboxCounters {
#define STRATA_BUS_OUTBOX_COUNTER_FIELD(name, help) uint64_t name = 0;
  STRATA_BUS_OUTBOX_COUNTERS(STRATA_BUS_OUTBOX_COUNTER_FIELD)
#undef STRATA_BUS_OUTBOX_COUNTER_FIELD
  friend bool operator==(const BusOutboxCounters&, const BusOutboxCounters&) = default;
};

class BusOutbox {
 public:
  explicit BusOutbox(BusOutboxConfig config);

  // A part of the tick's world batch ((tick, part) strictly increasing; payload within bus_limits).
  [[nodiscard]] OutboxVerdict push_world(uint64_t tick, uint32_t part, std::vector<uint8_t> payload);
  [[nodiscard]] OutboxVerdict push_world(uint64_t tick, std::vector<uint8_t> payload) {
    return push_world(tick, 0, std::move(payload));
  }
  // The latest presence or health sample of the tick; replaces an unpublished older one.
  void offer_sample(BusChannel channel, uint64_t tick, std::vector<uint8_t> payload);
  // Publishes what the bus takes now: world batches in tick order, then samples if there is room.
  void pump(Bus& bus, uint64_t now_us);
  // The acks of a poll. Acks of other regions' ids are ignored.
  void on_acks(std::span<const PublishAck> acks);

  // World batches pushed and not yet acked.
  [[nodiscard]] size_t world_held() const { return world_.size(); }
  // Every world batch up to this tick is in the stream (0: none pushed yet).
  [[nodiscard]] uint64_t world_acked_through() const;
  [[nodiscard]] const BusOutboxCounters& counters() const { return counters_; }

 private:
  struct World {
    std::vector<uint8_t> payload;
    bool in_flight = false;
  };
  struct Sample {
    uint64_t tick = 0;
    std::vector<uint8_t> payload;
  };
  struct SampleSlot {
    std::optional<Sample> waiting;      // the latest, not yet published
    std::optional<uint64_t> in_flight;  // the tick of the one published, not yet acked
  };
  [[nodiscard]] static size_t slot_of(BusChannel channel);
  [[nodiscard]] bool pump_world(Bus& bus, uint64_t now_us);
  void pump_samples(Bus& bus, uint64_t now_us);

  BusOutboxConfig config_;
  std::map<std::pair<uint64_t, uint32_t>, World> world_;  // by (tick, part)
  uint64_t last_pushed_tick_ = 0;
  std::optional<uint32_t> last_pushed_part_;
  std::array<SampleSlot, 2> samples_;  // presence, health
  BusOutboxCounters counters_;
};

}  // namespace strata::server
