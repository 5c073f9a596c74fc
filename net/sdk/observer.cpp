// net/sdk/observer.cpp — see observer.h.
#include "net/sdk/observer.h"

#include "schema/client/messages.h"
#include "schema/codec.h"

namespace strata::sdk {

void Observer::update(uint64_t now_us) {
  net_.update(now_us);
  net::Message message;
  while (net_.pop_message(message)) {
    auto decoded = view::decode_message(message.data);
    if (!decoded.message) {
      stats_.refused_messages += 1;
      last_error_ = decoded.error;
      continue;
    }
    const view::Message& m = *decoded.message;
    if (m.kind == view::MessageKind::observer_part && !sim_) {
      if (m.observer_part.index != parts_received_) {
        stats_.refused_messages += 1;
        last_error_ = "world part out of order";
        continue;
      }
      world_bytes_.insert(world_bytes_.end(), m.observer_part.bytes.begin(), m.observer_part.bytes.end());
      parts_received_ += 1;
      if (parts_received_ < m.observer_part.count) continue;
      auto world = schema::decode_snapshot(world_bytes_);
      world_bytes_.clear();
      if (!world.ok()) {
        stats_.refused_messages += 1;
        last_error_ = "world: " + world.error;
        continue;
      }
      std::string error;
      auto sim = sim::Simulation::from_world(std::move(*world.value), &error);
      if (!sim) {
        last_error_ = "world: " + error;
        continue;
      }
      sim_ = std::make_unique<sim::Simulation>(std::move(*sim));
      stats_.start_tick = sim_->tick();
      continue;
    }
    if (m.kind != view::MessageKind::observer_tick || !sim_) continue;
    const view::ObserverTick& t = m.observer_tick;
    if (t.tick <= sim_->tick()) continue;  // already in the world it started from
    if (t.tick != sim_->tick() + 1) {
      stats_.gaps += 1;
      last_error_ = "tick " + std::to_string(t.tick) + " after " + std::to_string(sim_->tick());
      continue;
    }
    // The server's log keeps hostile enum values as the rules saw them; so does the stream.
    auto input = schema::decode_tick_input(t.input, schema::EnumPolicy::as_recorded);
    if (!input.ok()) {
      stats_.refused_messages += 1;
      last_error_ = "tick input: " + input.error;
      continue;
    }
    sim_->step(*input.value);
    if (sim_->quick_hash() != t.quick_hash) {
      if (stats_.hash_mismatches == 0) stats_.first_mismatch_tick = t.tick;
      stats_.hash_mismatches += 1;
    } else {
      stats_.ticks_verified += 1;
    }
  }
}

}  // namespace strata::sdk
