// tests/schema/command_gen.h — rapidcheck generators of commands and tick inputs for the schema and
// replay tests, and a field-by-field equality (the sim's command structs have no operator==).
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <variant>

#include "sim/command.h"

namespace strata::test {

// valid_enums: every enum within the sim's range; otherwise any byte (hostile, as logs may carry).
inline sim::Command arbitrary_command(bool valid_enums) {
  using namespace sim;
  auto u32 = [] { return *rc::gen::arbitrary<uint32_t>(); };
  auto i32 = [] { return *rc::gen::arbitrary<int32_t>(); };
  auto byte = [] { return *rc::gen::arbitrary<uint8_t>(); };
  auto player = [&] { return PlayerId{u32()}; };
  auto cell = [&] { return CellPos{i32(), i32()}; };
  auto stamp = [&] { return LwwStamp{*rc::gen::arbitrary<uint64_t>(), RegionId{*rc::gen::arbitrary<uint16_t>()}}; };
  auto enumeration = [&]<class E>(E) {
    return valid_enums ? static_cast<E>(*rc::gen::inRange<int>(0, to_underlying(E::count))) : static_cast<E>(byte());
  };
  static_assert(command_kind_count == 10, "a new command kind needs a case here");
  switch (*rc::gen::inRange(0, 10)) {
    case 0: {
      JoinCommand c{player()};
      if (*rc::gen::arbitrary<bool>()) {
        PlayerSave save;
        save.pos = Vec2{Fixed::from_raw(i32()), Fixed::from_raw(i32())};
        save.facing = enumeration(Direction{});
        save.stamina = *rc::gen::arbitrary<uint16_t>();
        save.health = *rc::gen::arbitrary<uint16_t>();
        for (uint16_t& count : save.inventory) count = *rc::gen::arbitrary<uint16_t>();
        c.save = save;
      }
      return c;
    }
    case 1: return LeaveCommand{player()};
    case 2: {
      MoveCommand c;
      c.player = player();
      c.seq = u32();
      c.direction = enumeration(Direction{});
      c.mode = enumeration(MoveMode{});
      return c;
    }
    case 3: {
      PlaceCommand c;
      c.player = player();
      c.seq = u32();
      c.cell = cell();
      c.layer = enumeration(Layer{});
      c.kind = byte();
      c.stamp = stamp();
      return c;
    }
    case 4: {
      BreakCommand c;
      c.player = player();
      c.seq = u32();
      c.cell = cell();
      c.layer = enumeration(Layer{});
      c.stamp = stamp();
      return c;
    }
    case 5: {
      InteractCommand c;
      c.player = player();
      c.seq = u32();
      c.cell = cell();
      c.stamp = stamp();
      return c;
    }
    case 6: {
      RemoteBlockWriteCommand c;
      c.cell = cell();
      c.layer = enumeration(Layer{});
      c.kind = byte();
      c.state = byte();
      c.stamp = stamp();
      return c;
    }
    case 7: {
      RemotePresenceCommand c;
      c.origin = RegionId{*rc::gen::arbitrary<uint16_t>()};
      c.player = player();
      c.pos = Vec2{Fixed::from_raw(i32()), Fixed::from_raw(i32())};
      c.facing = enumeration(Direction{});
      return c;
    }
    case 8: return RemoteBatchCommand{RegionId{*rc::gen::arbitrary<uint16_t>()}, *rc::gen::arbitrary<uint64_t>()};
    default: {
      RemoteNpcCommand c;
      c.origin = RegionId{*rc::gen::arbitrary<uint16_t>()};
      c.npc = NpcId{u32()};
      c.pos = Vec2{Fixed::from_raw(i32()), Fixed::from_raw(i32())};
      c.facing = enumeration(Direction{});
      return c;
    }
  }
}

inline sim::TickInput arbitrary_tick_input(bool valid_enums, int commands_max = 200) {
  sim::TickInput input;
  input.tick = *rc::gen::arbitrary<uint64_t>();
  const int n = *rc::gen::inRange(0, commands_max + 1);
  for (int i = 0; i < n; ++i) input.commands.push_back(arbitrary_command(valid_enums));
  return input;
}

inline bool same(const sim::Command& a, const sim::Command& b) {
  using namespace sim;
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, JoinCommand>) {
          return x.player == y.player && x.save == y.save;
        } else if constexpr (std::is_same_v<T, LeaveCommand>) {
          return x.player == y.player;
        } else if constexpr (std::is_same_v<T, MoveCommand>) {
          return x.player == y.player && x.seq == y.seq && x.direction == y.direction && x.mode == y.mode;
        } else if constexpr (std::is_same_v<T, PlaceCommand>) {
          return x.player == y.player && x.seq == y.seq && x.cell == y.cell && x.layer == y.layer && x.kind == y.kind &&
                 x.stamp == y.stamp;
        } else if constexpr (std::is_same_v<T, BreakCommand>) {
          return x.player == y.player && x.seq == y.seq && x.cell == y.cell && x.layer == y.layer && x.stamp == y.stamp;
        } else if constexpr (std::is_same_v<T, InteractCommand>) {
          return x.player == y.player && x.seq == y.seq && x.cell == y.cell && x.stamp == y.stamp;
        } else if constexpr (std::is_same_v<T, RemoteBlockWriteCommand>) {
          return x.cell == y.cell && x.layer == y.layer && x.kind == y.kind && x.state == y.state && x.stamp == y.stamp;
        } else if constexpr (std::is_same_v<T, RemotePresenceCommand>) {
          return x.origin == y.origin && x.player == y.player && x.pos == y.pos && x.facing == y.facing;
        } else if constexpr (std::is_same_v<T, RemoteBatchCommand>) {
          return x.origin == y.origin && x.stream_seq == y.stream_seq;
        } else {
          static_assert(std::is_same_v<T, RemoteNpcCommand>);
          return x.origin == y.origin && x.npc == y.npc && x.pos == y.pos && x.facing == y.facing;
        }
      },
      a);
}

inline bool same(const sim::TickInput& a, const sim::TickInput& b) {
  if (a.tick != b.tick || a.commands.size() != b.commands.size()) return false;
  for (size_t i = 0; i < a.commands.size(); ++i) {
    if (!same(a.commands[i], b.commands[i])) return false;
  }
  return true;
}

}  // namespace strata::test
