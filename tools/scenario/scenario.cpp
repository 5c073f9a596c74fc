// tools/scenario/scenario.cpp — see scenario.h.
#include "tools/scenario/scenario.h"

#include <algorithm>

namespace strata::scenario {

using namespace strata::sim;

WorldParams world_for(uint64_t seed, int32_t chunks_per_axis, uint32_t npcs) {
  WorldParams params;
  params.seed = seed;
  params.chunks_x = chunks_per_axis;
  params.chunks_y = chunks_per_axis;
  params.npc_count = npcs;
  return params;
}

ScenarioGenerator::ScenarioGenerator(const ScenarioConfig& config)
    : config_(config), rng_(Rng::seeded(config.seed, 0x7363656EULL)), agents_(config.players) {}

namespace {
bool chance(Rng& rng, uint32_t per_mille) { return per_mille > 0 && rng.below(1000) < per_mille; }

const Player* find(const World& world, PlayerId id) {
  auto it = std::lower_bound(world.players.begin(), world.players.end(), id,
                             [](const Player& p, PlayerId key) { return raw(p.id) < raw(key); });
  return it != world.players.end() && it->id == id ? &*it : nullptr;
}

CellPos near(Rng& rng, const Player& p) {
  return CellPos{p.pos.x.tile() + static_cast<int32_t>(rng.below(5)) - 2,
                 p.pos.y.tile() + static_cast<int32_t>(rng.below(5)) - 2};
}
}  // namespace

LwwStamp ScenarioGenerator::local_stamp(const World& world) {
  // A stand-in HLC: 50 ms per tick, a counter within the tick.
  if (hlc_tick_ != world.tick) {
    hlc_tick_ = world.tick;
    hlc_counter_ = 0;
  }
  const uint64_t ms = (world.tick + 1) * 50;
  return LwwStamp{(ms << 16U) | (hlc_counter_++ & 0xFFFFU), world.params.region};
}

Command ScenarioGenerator::hostile_command(const World& world) {
  auto any32 = [&] { return rng_.next_u32(); };
  auto cell = [&] {
    // Mostly near the map, sometimes anywhere.
    if (rng_.below(4) == 0) return CellPos{static_cast<int32_t>(any32()), static_cast<int32_t>(any32())};
    return CellPos{static_cast<int32_t>(rng_.below(static_cast<uint32_t>(world.map.width() + 8))) - 4,
                   static_cast<int32_t>(rng_.below(static_cast<uint32_t>(world.map.height() + 8))) - 4};
  };
  auto player = [&] { return PlayerId{rng_.below(4) == 0 ? any32() : rng_.below(config_.players + 2)}; };
  auto stamp = [&] {
    return LwwStamp{(static_cast<uint64_t>(any32()) << 32U) | any32(), RegionId{static_cast<uint16_t>(rng_.below(5))}};
  };
  auto byte = [&] { return static_cast<uint8_t>(rng_.below(12)); };
  auto pos = [&] {
    return Vec2{Fixed::from_raw(static_cast<int32_t>(any32() >> 10U)),
                Fixed::from_raw(static_cast<int32_t>(any32() >> 10U))};
  };
  switch (rng_.below(10)) {
    case 0: {
      // Half the hostile joins carry a save with values anywhere (the rules refuse or move them).
      JoinCommand join{player()};
      if (rng_.below(2) == 0) {
        PlayerSave save;
        save.pos = pos();
        save.facing = static_cast<Direction>(byte());
        save.stamina = static_cast<uint16_t>(rng_.below(260));
        save.health = static_cast<uint16_t>(rng_.below(130));
        for (uint16_t& count : save.inventory) count = static_cast<uint16_t>(rng_.below(1100));
        join.save = save;
      }
      return join;
    }
    case 1: return LeaveCommand{player()};
    case 2: return MoveCommand{player(), any32(), static_cast<Direction>(byte()), static_cast<MoveMode>(byte() % 4)};
    case 3: return PlaceCommand{player(), any32(), cell(), static_cast<Layer>(byte() % 5), byte(), stamp()};
    case 4: return BreakCommand{player(), any32(), cell(), static_cast<Layer>(byte() % 5), stamp()};
    case 5: return InteractCommand{player(), any32(), cell(), stamp()};
    case 6:
      return RemoteBlockWriteCommand{cell(), static_cast<Layer>(byte() % 5), byte(), static_cast<uint8_t>(byte() % 6),
                                     stamp()};
    case 7:
      return RemotePresenceCommand{RegionId{static_cast<uint16_t>(rng_.below(5))}, player(), pos(),
                                   static_cast<Direction>(byte())};
    case 8: return RemoteBatchCommand{RegionId{static_cast<uint16_t>(rng_.below(5))}, rng_.below(4) == 0 ? any32() : 0};
    default:
      return RemoteNpcCommand{RegionId{static_cast<uint16_t>(rng_.below(5))}, NpcId{rng_.below(12)}, pos(),
                              static_cast<Direction>(byte())};
  }
}

void ScenarioGenerator::player_commands(const World& world, const Player& p, Agent& agent, std::vector<Command>& out) {
  if (chance(rng_, config_.turn_per_mille)) {
    const auto direction = static_cast<Direction>(rng_.below(static_cast<uint32_t>(Direction::count)));
    const MoveMode mode = chance(rng_, config_.run_per_mille) ? MoveMode::run : MoveMode::walk;
    out.emplace_back(MoveCommand{p.id, ++agent.seq, direction, mode});
  }
  if (chance(rng_, config_.build_per_mille)) {
    const bool roof = rng_.below(5) == 0;
    static constexpr Block blocks[] = {Block::wood_wall, Block::stone_wall, Block::door, Block::crop};
    const uint8_t kind = roof ? to_underlying(Ceiling::thatch_roof) : to_underlying(blocks[rng_.below(4)]);
    out.emplace_back(PlaceCommand{p.id, ++agent.seq, near(rng_, p), roof ? Layer::ceiling : Layer::active, kind,
                                  local_stamp(world)});
  }
  if (chance(rng_, config_.break_per_mille)) {
    const Layer layer = rng_.below(5) == 0 ? Layer::ceiling : Layer::active;
    out.emplace_back(BreakCommand{p.id, ++agent.seq, near(rng_, p), layer, local_stamp(world)});
  }
  if (chance(rng_, config_.interact_per_mille)) {
    out.emplace_back(InteractCommand{p.id, ++agent.seq, near(rng_, p), local_stamp(world)});
  }
}

void ScenarioGenerator::next(const World& world, TickInput& out) {
  out.tick = world.tick + 1;
  out.commands.clear();
  const auto tick = static_cast<uint32_t>(out.tick);
  const uint32_t ramp = std::max<uint32_t>(config_.join_ramp_ticks, 1);
  // System commands: joins (ramp and returns) and leaves, in player id order.
  for (uint32_t i = 0; i < config_.players; ++i) {
    Agent& agent = agents_[i];
    const PlayerId id{i + 1};
    const bool present = find(world, id) != nullptr;
    if (!present && !agent.joined && i * ramp / std::max<uint32_t>(config_.players, 1) < tick &&
        tick >= agent.rejoin_at) {
      out.commands.emplace_back(JoinCommand{id, agent.save});
      agent.joined = true;
    } else if (present && chance(rng_, config_.leave_per_mille)) {
      // System commands come first in a tick: the player leaves in the state the world has now.
      out.commands.emplace_back(LeaveCommand{id});
      agent.joined = false;
      agent.rejoin_at = tick + 20 + rng_.below(200);
      agent.save = save_of(*find(world, id));
    } else if (!present && agent.joined) {
      agent.joined = false;  // evicted, or the join was refused: try again later (fresh)
      agent.rejoin_at = tick + 20;
      agent.save.reset();
    }
  }
  // Player commands, by player id then sequence.
  for (const Player& p : world.players) {
    const uint32_t index = raw(p.id) - 1;
    if (index >= agents_.size() || !agents_[index].joined) continue;
    player_commands(world, p, agents_[index], out.commands);
  }
  // Remote events, by origin region.
  for (uint32_t r = 0; r < config_.remote_regions; ++r) {
    const RegionId origin{static_cast<uint16_t>(raw(world.params.region) + 1 + r)};
    for (uint32_t k = 0; k < config_.remote_writes_per_tick; ++k) {
      const CellPos cell{static_cast<int32_t>(rng_.below(static_cast<uint32_t>(world.map.width()))),
                         static_cast<int32_t>(rng_.below(static_cast<uint32_t>(world.map.height())))};
      static constexpr Block blocks[] = {Block::none, Block::wood_wall, Block::stone_wall, Block::crop};
      const uint64_t ms = out.tick * 50 + rng_.below(100);
      out.commands.emplace_back(RemoteBlockWriteCommand{cell, Layer::active, to_underlying(blocks[rng_.below(4)]), 0,
                                                        LwwStamp{(ms << 16U) | k, origin}});
    }
    for (uint32_t k = 0; k < config_.remote_presence_per_tick; ++k) {
      const Vec2 pos{
          Fixed::from_raw(static_cast<int32_t>(rng_.below(static_cast<uint32_t>(world.map.width() * 256)))),
          Fixed::from_raw(static_cast<int32_t>(rng_.below(static_cast<uint32_t>(world.map.height() * 256))))};
      out.commands.emplace_back(RemotePresenceCommand{origin, PlayerId{1 + rng_.below(1000)}, pos, Direction::s});
    }
    // The end of this origin's batch for the tick, at a stream sequence growing with the ticks.
    if (config_.remote_writes_per_tick > 0) out.commands.emplace_back(RemoteBatchCommand{origin, out.tick});
  }
  if (config_.hostile_per_mille > 0) {
    for (Command& c : out.commands) {
      if (chance(rng_, config_.hostile_per_mille)) c = hostile_command(world);
    }
    if (chance(rng_, config_.hostile_per_mille)) out.commands.push_back(hostile_command(world));
  }
}

}  // namespace strata::scenario
