// fuzz/sdk_observer_reassembly.cpp — libFuzzer target for the observer's world reassembly
// (sdk::WorldAssembler, net/sdk/observer.h) and what the observer does with a whole world: any
// sequence of server messages (observer parts, well-formed or not) must be refused or assembled
// within world_bytes_max, and a world decoded or refused, never a crash or unbounded growth.
// Input: a sequence of records  u8 mode | u16 length | length bytes, little-endian:
//   mode 0: the bytes are a message, decoded with view::decode_message as the observer does;
//   mode 1: a part built from the bytes: u32 index | u32 count | rest as its bytes (so that the
//           ordering and count checks are reached without the fuzzer learning Cap'n Proto first).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "net/sdk/observer.h"
#include "schema/client/messages.h"
#include "schema/codec.h"

namespace {

uint32_t read_u32(std::span<const uint8_t> b, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4 && at + i < b.size(); ++i) v |= uint32_t{b[at + i]} << (8 * i);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  const std::span<const uint8_t> input(data, size);
  sdk::WorldAssembler assembler;
  size_t at = 0;
  while (at + 3 <= input.size()) {
    const uint8_t mode = input[at];
    const size_t length = std::min<size_t>(input[at + 1] | (size_t{input[at + 2]} << 8), input.size() - at - 3);
    const std::span<const uint8_t> record = input.subspan(at + 3, length);
    at += 3 + length;
    view::ObserverPart part;
    if (mode % 2 == 0) {
      auto decoded = view::decode_message(record);
      if (!decoded.message || decoded.message->kind != view::MessageKind::observer_part) continue;
      part = std::move(decoded.message->observer_part);
    } else {
      part.index = read_u32(record, 0) % 8;
      part.count = read_u32(record, 4) % 8;
      if (record.size() > 8) part.bytes.assign(record.begin() + 8, record.end());
    }
    std::string error;
    const auto result = sdk::WorldAssembler::Result{assembler.add(part, error)};
    if (result == sdk::WorldAssembler::Result::refused && error.empty()) std::abort();
    if (result != sdk::WorldAssembler::Result::complete) continue;
    const std::vector<uint8_t> world = assembler.take();
    if (world.size() > sdk::WorldAssembler::world_bytes_max) std::abort();
    auto decoded = schema::decode_snapshot(world);
    if (decoded.ok()) {
      std::string sim_error;
      (void)sim::Simulation::from_world(std::move(*decoded.value), &sim_error);
    }
  }
  return 0;
}
