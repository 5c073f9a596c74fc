// server/bus_outbox.cpp — world batches held until acked and published in tick order; samples
// latest-only and published only with room to spare (see bus_outbox.h).
#include "server/bus_outbox.h"

#include "server/bus_limits.h"
#include "sim/assert.h"

namespace strata::server {

BusOutbox::BusOutbox(BusOutboxConfig config) : config_(config) {
  STRATA_REQUIRE(config.world_batches_max >= 1, "the outbox holds at least one world batch");
  STRATA_REQUIRE(config.sample_pending_max >= 1, "samples need room for one pending publish");
}

OutboxVerdict BusOutbox::push_world(uint64_t tick, uint32_t part, std::vector<uint8_t> payload) {
  STRATA_REQUIRE(
      tick > last_pushed_tick_ || (tick == last_pushed_tick_ && last_pushed_part_ && part > *last_pushed_part_),
      "world batches come once per (tick, part), in order", tick, part, last_pushed_tick_);
  STRATA_REQUIRE(payload.size() <= bus_limits::payload_bytes_max, "a world batch is chunked below the limit",
                 payload.size());
  if (world_.size() >= config_.world_batches_max) {
    ++counters_.world_refused_full;
    return OutboxVerdict::full;
  }
  last_pushed_tick_ = tick;
  last_pushed_part_ = part;
  world_.emplace(std::pair{tick, part}, World{std::move(payload), false});
  ++counters_.world_pushed;
  return OutboxVerdict::queued;
}

size_t BusOutbox::slot_of(BusChannel channel) {
  STRATA_REQUIRE(channel == BusChannel::presence || channel == BusChannel::health, "samples are presence or health",
                 channel);
  return channel == BusChannel::presence ? 0 : 1;
}

void BusOutbox::offer_sample(BusChannel channel, uint64_t tick, std::vector<uint8_t> payload) {
  STRATA_REQUIRE(payload.size() <= bus_limits::payload_bytes_max, "a sample fits one message", payload.size());
  SampleSlot& slot = samples_[slot_of(channel)];
  if (slot.waiting) ++counters_.samples_thinned;
  slot.waiting = Sample{tick, std::move(payload)};
}

void BusOutbox::pump(Bus& bus, uint64_t now_us) {
  if (!pump_world(bus, now_us)) return;  // a world batch still waits: samples give way
  pump_samples(bus, now_us);
}

// True when every world batch is in flight (none waits for room).
bool BusOutbox::pump_world(Bus& bus, uint64_t now_us) {
  size_t in_flight = 0;
  for (auto& [key, world] : world_) {
    if (world.in_flight) {
      ++in_flight;
      continue;
    }
    if (in_flight >= config_.world_in_flight_max) return false;  // waits for the ack before it
    const auto [tick, part] = key;
    const BusMessageId id{config_.region, tick, BusChannel::world, part};
    const PublishVerdict verdict = bus.publish({config_.region, BusChannel::world}, id, world.payload, now_us);
    if (verdict != PublishVerdict::accepted) {
      STRATA_ASSERT(verdict != PublishVerdict::id_pending && verdict != PublishVerdict::too_large,
                    "a held batch is sent once at a time and fits", verdict, tick);
      return false;  // pending_full, buffer_full or closed: the bus takes no more now
    }
    world.in_flight = true;
    ++in_flight;
    ++counters_.world_published;
  }
  return true;
}

void BusOutbox::pump_samples(Bus& bus, uint64_t now_us) {
  for (size_t i = 0; i < samples_.size(); ++i) {
    SampleSlot& slot = samples_[i];
    if (!slot.waiting || slot.in_flight || bus.pending() >= config_.sample_pending_max) continue;
    const BusChannel channel = i == 0 ? BusChannel::presence : BusChannel::health;
    const BusMessageId id{config_.region, slot.waiting->tick, channel};
    if (bus.publish({config_.region, channel}, id, slot.waiting->payload, now_us) != PublishVerdict::accepted) return;
    slot.in_flight = slot.waiting->tick;
    slot.waiting.reset();
    ++counters_.samples_published;
  }
}

void BusOutbox::on_acks(std::span<const PublishAck> acks) {
  for (const PublishAck& ack : acks) {
    if (ack.id.origin != config_.region) continue;
    if (ack.id.channel != BusChannel::world) {
      SampleSlot& slot = samples_[slot_of(ack.id.channel)];
      if (slot.in_flight != ack.id.tick) continue;
      slot.in_flight.reset();
      if (ack.kind == AckKind::failed) ++counters_.samples_failed;
      continue;
    }
    const auto found = world_.find(std::pair{ack.id.tick, ack.id.part});
    if (found == world_.end() || !found->second.in_flight) continue;  // not ours, or already done
    if (ack.kind == AckKind::failed) {
      found->second.in_flight = false;  // published again at the next pump, same id
      ++counters_.world_republished;
      continue;
    }
    world_.erase(found);
    ++counters_.world_acked;
  }
  STRATA_ASSERT(counters_.world_acked + world_.size() == counters_.world_pushed, "a world batch is held or acked",
                counters_.world_acked, world_.size(), counters_.world_pushed);
}

uint64_t BusOutbox::world_acked_through() const {
  return world_.empty() ? last_pushed_tick_ : world_.begin()->first.first - 1;
}

}  // namespace strata::server
