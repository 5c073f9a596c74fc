// net/sdk/observer.cpp — see observer.h.
#include "net/sdk/observer.h"

#include "schema/client/messages.h"
#include "schema/codec.h"

namespace strata::sdk {

void WorldAssembler::reset() {
  bytes_.clear();
  next_ = 0;
  count_ = 0;
  complete_ = false;
}

WorldAssembler::Result WorldAssembler::add(const view::ObserverPart& part, std::string& error) {
  if (complete_) reset();  // a world not taken: start again
  auto refuse = [&](std::string why) {
    error = "world part " + std::to_string(part.index) + "/" + std::to_string(part.count) + ": " + std::move(why);
    reset();
    return Result::refused;
  };
  if (part.index != next_) return refuse("out of order (expected " + std::to_string(next_) + ")");
  if (part.count == 0 || part.count > view::observer_parts_max) return refuse("count out of bounds");
  if (next_ == 0) count_ = part.count;
  if (part.count != count_) return refuse("count changed from " + std::to_string(count_));
  if (part.bytes.size() > view::observer_part_bytes_max) return refuse("part too large");
  if (part.bytes.size() > world_bytes_max - bytes_.size()) return refuse("world too large");
  bytes_.insert(bytes_.end(), part.bytes.begin(), part.bytes.end());
  next_ += 1;
  if (next_ < count_) return Result::incomplete;
  complete_ = true;
  return Result::complete;
}

std::vector<uint8_t> WorldAssembler::take() {
  std::vector<uint8_t> out = complete_ ? std::move(bytes_) : std::vector<uint8_t>{};
  reset();
  return out;
}

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
      const WorldAssembler::Result added = world_.add(m.observer_part, last_error_);
      if (added == WorldAssembler::Result::refused) stats_.refused_messages += 1;
      if (added != WorldAssembler::Result::complete) continue;
      auto world = schema::decode_snapshot(world_.take());
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
