// fuzz/sim_step.cpp — arbitrary bytes become a stream of commands of every kind with any field
// values, stepped on a small world; after every tick the world's invariants and derived indexes must
// hold. Finds rules that trust a field, overflow, or let an entity into a wall. The first byte picks
// the world's region map: the local region owning everything, or a split where it owns some chunks,
// another region others and nobody the rest (remote NPC positions then move NPCs it does not run).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sim/simulation.h"

namespace {

using namespace strata::sim;

class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  template <class T>
  T take() {
    T value{};
    const size_t n = std::min(sizeof(T), size_ - std::min(pos_, size_));
    std::memcpy(&value, data_ + pos_, n);
    pos_ += sizeof(T);
    return value;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

Command next_command(Bytes& in) {
  static_assert(command_kind_count == 10, "a new command kind needs a case here");
  const auto kind = in.take<uint8_t>() % 10;
  const PlayerId player{in.take<uint8_t>() % 8U};
  const auto seq = in.take<uint32_t>();
  const CellPos cell{static_cast<int32_t>(in.take<int8_t>()) + 32, static_cast<int32_t>(in.take<int8_t>()) + 32};
  const auto layer = static_cast<Layer>(in.take<uint8_t>() % 4);
  const auto a = in.take<uint8_t>();
  const auto b = in.take<uint8_t>();
  const LwwStamp stamp{in.take<uint16_t>(), RegionId{static_cast<uint16_t>(in.take<uint8_t>() % 4)}};
  switch (kind) {
    case 0: {
      // Half the joins carry a save built from the bytes: hostile limits, positions anywhere.
      JoinCommand join{player};
      if ((a & 1U) != 0) {
        PlayerSave save;
        save.pos = Vec2{Fixed::from_raw(static_cast<int32_t>(seq & 0x7FFF) - 64),
                        Fixed::from_raw(static_cast<int32_t>(seq >> 17U))};
        save.facing = static_cast<Direction>(b % 10);
        save.stamina = static_cast<uint16_t>(stamp.hlc % 210);
        save.health = static_cast<uint16_t>((stamp.hlc >> 8U) % 110);
        for (uint16_t& count : save.inventory) count = static_cast<uint16_t>(in.take<uint16_t>() % 1010);
        join.save = save;
      }
      return join;
    }
    case 1: return LeaveCommand{player};
    case 2: return MoveCommand{player, seq, static_cast<Direction>(a % 10), static_cast<MoveMode>(b % 3)};
    case 3: return PlaceCommand{player, seq, cell, layer, static_cast<uint8_t>(a % 10), stamp};
    case 4: return BreakCommand{player, seq, cell, layer, stamp};
    case 5: return InteractCommand{player, seq, cell, stamp};
    case 6:
      return RemoteBlockWriteCommand{cell, layer, static_cast<uint8_t>(a % 10), static_cast<uint8_t>(b % 5), stamp};
    case 7:
      return RemotePresenceCommand{stamp.region, player,
                                   Vec2{Fixed::from_raw(static_cast<int32_t>(seq & 0x7FFF) - 64),
                                        Fixed::from_raw(static_cast<int32_t>(seq >> 17U))},
                                   static_cast<Direction>(a % 10)};
    case 8: return RemoteBatchCommand{stamp.region, stamp.hlc % 8U};  // small: stale and repeated marks are common
    default:
      // NPC ids 1..5 (4 exist at the start), positions around and beyond the 64x64-cell map.
      return RemoteNpcCommand{stamp.region, NpcId{a % 6U},
                              Vec2{Fixed::from_raw(static_cast<int32_t>(seq & 0x7FFF) - 64),
                                   Fixed::from_raw(static_cast<int32_t>(seq >> 17U))},
                              static_cast<Direction>(b % 10)};
  }
}

WorldParams make_params(bool split) {
  WorldParams p;
  p.chunks_x = 2;
  p.chunks_y = 2;
  p.npc_count = 4;
  p.random_ticks_per_chunk = 8;
  if (split) {
    // Region 1 (local) owns the west column, region 2 the north-east chunk, nobody the south-east.
    p.region_map.mode = Ownership::by_map;
    p.region_map.rects = {RegionRect{0, 0, 1, 2, RegionId{1}}, RegionRect{1, 0, 1, 1, RegionId{2}}};
  }
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const WorldParams whole = make_params(false);
  static const WorldParams split = make_params(true);
  Bytes in(data, size);
  Simulation sim((in.take<uint8_t>() & 1U) != 0 ? split : whole);
  TickInput input;
  for (int tick = 0; tick < 64 && !in.empty(); ++tick) {
    input.tick = sim.tick() + 1;
    input.commands.clear();
    const auto count = in.take<uint8_t>() % 24U;
    for (uint32_t i = 0; i < count && !in.empty(); ++i) input.commands.push_back(next_command(in));
    sim.step(input);
    const std::string broken = check_invariants(sim.world());
    const std::string derived = sim.check_derived();
    if (!broken.empty() || !derived.empty()) {
      std::fprintf(stderr, "invariant broken at tick %llu: %s %s\n", static_cast<unsigned long long>(sim.tick()),
                   broken.c_str(), derived.c_str());
      std::abort();
    }
  }
  return 0;
}
