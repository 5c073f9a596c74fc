// fuzz/schema_snapshot.cpp — libFuzzer target for schema::decode_snapshot and, on the same bytes,
// sim::decode_state (the snapshot body decoder, also reachable alone from disk). Any input must
// decode or return an error value; a decoded world must hash to what its snapshot recorded and be
// accepted by the simulation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "schema/codec.h"
#include "sim/hash.h"
#include "sim/simulation.h"
#include "sim/state_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  const std::span<const uint8_t> bytes(data, size);
  const auto header = schema::decode_snapshot_header(bytes);
  const auto snapshot = schema::decode_snapshot(bytes);
  if (snapshot.ok() == snapshot.error.empty()) {
    if (snapshot.ok()) {
      if (!header.ok() || sim::full_hash(*snapshot.value) != header.value->full_hash) std::abort();
    }
  } else {
    std::abort();
  }
  const sim::StateDecodeResult state = sim::decode_state(bytes);
  if (state.world.has_value()) {
    if (!sim::validate_world(*state.world).empty()) std::abort();
    auto sim = sim::Simulation::from_world(std::move(*state.world));
    if (!sim.has_value()) std::abort();
    // One step on an empty input must not trip any assertion on a world the decoder accepted.
    sim::TickInput input;
    input.tick = sim->tick() + 1;
    sim->step(input);
  } else if (state.error.empty()) {
    std::abort();
  }
  return 0;
}
