// sim/simulation.cpp — step(): commands in input order, then NPC decisions, then movement, then
// random ticks, then ghost expiry. Every rule that can refuse a command does so with a reason,
// counted in the state; nothing from the input is trusted and nothing from it reaches an assert.
#include "sim/simulation.h"

#include <algorithm>
#include <array>
#include <cstddef>

#include "sim/hash.h"
#include "sim/motion.h"
#include "sim/movement.h"
#include "sim/state_codec.h"

namespace strata::sim {

void Effects::clear() {
  block_writes.clear();
  rule_writes.clear();
  npcs_run.clear();
  rejections.clear();
  joined.clear();
  left.clear();
  left_saves.clear();
  changed_cells.clear();
  changed_before.clear();
}

namespace {

constexpr uint64_t rng_stream = 0x5354524154ULL;            // "STRAT"
constexpr uint64_t random_tick_salt = 0x52414E4454494BULL;  // "RANDTIK"
constexpr uint64_t npc_salt = 0x4E504344524157ULL;          // "NPCDRAW"

// The draws of one tick, for one purpose (salt) and one key (an NPC id; random ticks hash the chunk
// index the same way, see random_ticks): a function of (seed, tick, salt, key) only. Whatever a region runs or skips,
// the draws of what it runs are the ones the owner of everything would make (rules 4; one shared stream made them
// depend on every earlier draw of the tick). `tick_base` is tick_draw_base(seed, tick).
uint64_t tick_draw_base(uint64_t seed, uint64_t tick) { return mix64(seed ^ mix64(tick)); }
Rng keyed_rng(uint64_t tick_base, uint64_t salt, uint64_t key) {
  return Rng::seeded(mix64(tick_base ^ mix64(key ^ salt)), salt);
}

// The stamp of a write the rules make over `held`: its successor, by this region. It beats exactly
// the state the rule read (and nothing newer), so in every region it merges by LWW like a command's
// write. nullopt when `held` has no successor from this region (a stamp at the very top, which the
// server's clock-offset check keeps out): the rule then writes nothing rather than write a value
// other regions would refuse.
std::optional<LwwStamp> rule_stamp(LwwStamp held, RegionId local) {
  if (held.hlc != UINT64_MAX) return LwwStamp{held.hlc + 1, local};
  if (raw(held.region) < raw(local)) return LwwStamp{held.hlc, local};
  return std::nullopt;
}

Inventory starting_inventory() {
  Inventory inv{};
  inv[static_cast<size_t>(Item::wood)] = 20;
  inv[static_cast<size_t>(Item::stone)] = 20;
  inv[static_cast<size_t>(Item::door_kit)] = 2;
  inv[static_cast<size_t>(Item::seeds)] = 5;
  inv[static_cast<size_t>(Item::thatch)] = 10;
  return inv;
}

// Where a player joins: a spot in the spawn square, from the seed and the id (a pure function, so
// every replay and every client's expectation agree), clamped to the map.
CellPos join_cell(const World& world, PlayerId player) {
  const CellPos centre = spawn_cell(world.map);
  // The square grows with the map (a quarter of its side, less a margin) up to spawn_spread; maps
  // of 64 cells or fewer keep a single spawn point.
  const int32_t spread = std::min(limits::spawn_spread, std::min(world.map.width(), world.map.height()) / 4 - 16);
  if (spread <= 0) return centre;
  const uint64_t h = mix64(world.params.seed ^ (0x6A6F696EULL << 32U) ^ raw(player));
  const uint64_t side = 2 * static_cast<uint64_t>(spread) + 1;
  const int32_t dx = static_cast<int32_t>(h % side) - spread;
  const int32_t dy = static_cast<int32_t>((h >> 32U) % side) - spread;
  return CellPos{centre.x + dx, centre.y + dy};
}

// Whether an entity's box at `pos` lies wholly on the map (checked on the centre first: a hostile
// coordinate near the int32 limits must not overflow the box arithmetic).
bool box_on_map(const TileMap& map, Vec2 pos) {
  const int64_t max_x = static_cast<int64_t>(map.width()) * limits::fixed_one;
  const int64_t max_y = static_cast<int64_t>(map.height()) * limits::fixed_one;
  if (pos.x.raw() < 0 || pos.y.raw() < 0 || pos.x.raw() >= max_x || pos.y.raw() >= max_y) return false;
  const CellRange r = box_cells(pos);
  return r.x0 >= 0 && r.y0 >= 0 && r.x1 < map.width() && r.y1 < map.height();
}

// The cell of the map nearest to `pos` (its own cell when on the map, else clamped to the edge).
CellPos nearest_map_cell(const TileMap& map, Vec2 pos) {
  return CellPos{std::clamp(pos.x.tile(), 0, map.width() - 1), std::clamp(pos.y.tile(), 0, map.height() - 1)};
}

// A save the rules may continue from: every value within the limits a live player keeps (the
// position is checked apart: it is moved, not refused, since the map may have changed under it).
bool save_within_limits(const PlayerSave& save) {
  if (!enum_valid(save.facing)) return false;
  if (save.stamina > limits::stamina_max || save.health > limits::health_max) return false;
  return std::all_of(save.inventory.begin(), save.inventory.end(),
                     [](uint16_t count) { return count <= limits::item_stack_max; });
}

void place_initial_npcs(World& world) {
  const TileMap& map = world.map;
  for (uint32_t i = 0; i < world.params.npc_count; ++i) {
    for (int attempt = 0; attempt < 64; ++attempt) {
      const CellPos cell{static_cast<int32_t>(world.rng.below(static_cast<uint32_t>(map.width()))),
                         static_cast<int32_t>(world.rng.below(static_cast<uint32_t>(map.height())))};
      if (map.blocks(cell)) continue;
      Npc npc;
      npc.id = NpcId{world.next_npc_id++};
      npc.pos = cell_centre(cell);
      npc.behavior = (i % 3 == 2) ? NpcBehavior::follow : NpcBehavior::wander;
      npc.timer = static_cast<uint16_t>(world.rng.below(40));
      world.npcs.push_back(npc);
      break;
    }
  }
}

World generate_world(const WorldParams& params) {
  const char* problem = validate(params);
  STRATA_ASSERT(problem == nullptr, problem);
  World world;
  world.params = params;
  world.rng = Rng::seeded(params.seed, rng_stream);
  world.map = TileMap(params.chunks_x, params.chunks_y);
  generate_terrain(world.map, params.seed);
  world.npcs.reserve(limits::npcs_max);
  place_initial_npcs(world);
  return world;
}

// A generated world given a seed's tick, map and bus marks. The NPCs were placed on the generated
// terrain (the same draws as every region's generation, so their ids agree); those the seed's map
// blocks are moved like an eviction by a remote write.
World seeded_world(const WorldParams& params, WorldSeed seed) {
  const char* problem = validate(params, seed);
  STRATA_REQUIRE(problem == nullptr, problem);
  World world = generate_world(params);
  world.tick = seed.tick;
  world.map = std::move(seed.map);
  world.bus_applied = std::move(seed.bus_applied);
  auto blocked = [&](Vec2 pos) {
    const CellRange r = box_cells(pos);
    for (int32_t y = r.y0; y <= r.y1; ++y) {
      for (int32_t x = r.x0; x <= r.x1; ++x) {
        if (world.map.blocks(CellPos{x, y})) return true;
      }
    }
    return false;
  };
  for (size_t i = 0; i < world.npcs.size();) {
    Npc& npc = world.npcs[i];
    CellPos free_cell;
    if (!blocked(npc.pos)) {
      ++i;
    } else if (find_free_cell(world.map, CellPos{npc.pos.x.tile(), npc.pos.y.tile()}, limits::evict_search_radius,
                              free_cell)) {
      npc.pos = cell_centre(free_cell);
      ++i;
    } else {
      world.npcs.erase(world.npcs.begin() + static_cast<ptrdiff_t>(i));
    }
  }
  return world;
}

}  // namespace

const char* validate(const WorldParams& params, const WorldSeed& seed) {
  if (seed.tick == 0) return "a seeded world starts after tick 0";
  if (seed.map.chunks_x() != params.chunks_x || seed.map.chunks_y() != params.chunks_y) {
    return "the seed's map is not the params' size";
  }
  if (seed.bus_applied.size() > limits::regions_max) return "too many bus marks";
  for (size_t i = 0; i < seed.bus_applied.size(); ++i) {
    const BusMark& m = seed.bus_applied[i];
    if (raw(m.origin) == 0 || m.origin == params.region || m.seq == 0) return "a bus mark of no other region";
    if (i > 0 && raw(seed.bus_applied[i - 1].origin) >= raw(m.origin)) return "bus marks not sorted by origin";
  }
  return nullptr;
}

const char* validate(const WorldParams& params) {
  if (params.chunks_x < 1 || params.chunks_x > limits::map_chunks_per_axis_max) return "chunks_x out of range";
  if (params.chunks_y < 1 || params.chunks_y > limits::map_chunks_per_axis_max) return "chunks_y out of range";
  if (params.random_ticks_per_chunk > limits::random_ticks_per_chunk_max) return "random_ticks_per_chunk too large";
  if (params.npc_count > limits::npcs_max) return "npc_count too large";
  if (raw(params.region) == 0) return "region id 0 is reserved";
  if (params.rules != rules_version) return "rules version not implemented by this build";
  return validate_region_map(params.region_map, params.chunks_x, params.chunks_y);
}

// ---------------------------------------------------------------------------------------------
// StepContext: one step's worth of work over a Simulation's world, indexes and effects.

class StepContext {
 public:
  StepContext(Simulation& sim, const TickInput& input)
      : sim_(sim), world_(sim.world_), map_(sim.world_.map), effects_(sim.effects_), input_(input) {}

  void run();

 private:
  // Commands.
  void apply(uint32_t index, const Command& command);
  RejectReason join(const JoinCommand& c);
  RejectReason leave(const LeaveCommand& c);
  RejectReason move(const MoveCommand& c);
  RejectReason place(const PlaceCommand& c);
  RejectReason break_block(const BreakCommand& c);
  RejectReason interact(const InteractCommand& c);
  RejectReason remote_write(const RemoteBlockWriteCommand& c);
  RejectReason remote_presence(const RemotePresenceCommand& c);
  RejectReason remote_batch(const RemoteBatchCommand& c);
  RejectReason remote_npc(const RemoteNpcCommand& c);
  // Finds the player of a command and charges its per-tick command budget.
  RejectReason player_for(PlayerId id, uint32_t seq, Player*& out);
  RejectReason check_cell_action(const Player& p, CellPos cell, Layer layer, LwwStamp stamp) const;
  void write_local(CellPos cell, Layer layer, CellValue value, LwwStamp stamp);
  void evict_from(CellPos cell);

  // Phases after the commands.
  void bucket_players();
  void think_npcs();
  void integrate();
  void relocate(Vec2& pos, Vec2& vel, Vec2 next);
  void random_ticks();
  void expire_ghosts();

  // Derived-index maintenance.
  void occupy(Vec2 pos, int32_t delta);
  uint16_t occupancy(CellPos cell) const {
    return sim_
        .occupancy_[static_cast<size_t>(cell.y) * static_cast<size_t>(map_.width()) + static_cast<size_t>(cell.x)];
  }
  // Where player `id` is, or would be inserted, in the id-sorted player list.
  std::vector<Player>::iterator player_slot(PlayerId id);
  Player* find_player(PlayerId id);

  Simulation& sim_;
  World& world_;
  TileMap& map_;
  Effects& effects_;
  const TickInput& input_;
};

void StepContext::run() {
  STRATA_ASSERT(input_.tick == world_.tick + 1, "tick input for the wrong tick");
  world_.tick += 1;
  effects_.clear();
  effects_.tick = world_.tick;
  for (Player& p : world_.players) {
    p.commands_this_tick = 0;
    p.moved_this_tick = false;
  }
  const size_t count = input_.commands.size();
  for (size_t i = 0; i < count; ++i) {
    if (i >= limits::commands_per_tick_max) {
      world_.counters.rejected[static_cast<size_t>(RejectReason::too_many_commands)] += 1;
      continue;  // beyond the limit: counted, not listed (the effects buffer is sized to the limit)
    }
    apply(static_cast<uint32_t>(i), input_.commands[i]);
  }
  bucket_players();
  think_npcs();
  integrate();
  random_ticks();
  expire_ghosts();
}

void StepContext::apply(uint32_t index, const Command& command) {
  const RejectReason reason = std::visit(
      [&](const auto& c) -> RejectReason {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, JoinCommand>) return join(c);
        if constexpr (std::is_same_v<T, LeaveCommand>) return leave(c);
        if constexpr (std::is_same_v<T, MoveCommand>) return move(c);
        if constexpr (std::is_same_v<T, PlaceCommand>) return place(c);
        if constexpr (std::is_same_v<T, BreakCommand>) return break_block(c);
        if constexpr (std::is_same_v<T, InteractCommand>) return interact(c);
        if constexpr (std::is_same_v<T, RemoteBlockWriteCommand>) return remote_write(c);
        if constexpr (std::is_same_v<T, RemotePresenceCommand>) return remote_presence(c);
        if constexpr (std::is_same_v<T, RemoteBatchCommand>) return remote_batch(c);
        if constexpr (std::is_same_v<T, RemoteNpcCommand>) return remote_npc(c);
      },
      command);
  if (reason == RejectReason::none) {
    world_.counters.commands_applied += 1;
    return;
  }
  STRATA_ASSERT(enum_valid(reason), "bad reject reason");
  world_.counters.rejected[static_cast<size_t>(reason)] += 1;
  effects_.rejections.push_back(Rejection{index, reason});
}

std::vector<Player>::iterator StepContext::player_slot(PlayerId id) {
  return std::lower_bound(world_.players.begin(), world_.players.end(), id,
                          [](const Player& p, PlayerId key) { return raw(p.id) < raw(key); });
}

Player* StepContext::find_player(PlayerId id) {
  auto it = player_slot(id);
  if (it == world_.players.end() || it->id != id) return nullptr;
  return &*it;
}

RejectReason StepContext::player_for(PlayerId id, uint32_t seq, Player*& out) {
  out = find_player(id);
  if (out == nullptr) return RejectReason::unknown_player;
  out->last_seq = seq;
  if (out->commands_this_tick >= limits::commands_per_player_per_tick_max) return RejectReason::too_many_commands;
  out->commands_this_tick = static_cast<uint8_t>(out->commands_this_tick + 1);
  return RejectReason::none;
}

RejectReason StepContext::join(const JoinCommand& c) {
  if (raw(c.player) == 0 || raw(c.player) > limits::player_id_max) return RejectReason::bad_player_id;
  auto it = player_slot(c.player);
  if (it != world_.players.end() && it->id == c.player) return RejectReason::already_joined;
  if (world_.players.size() >= limits::players_max) return RejectReason::world_full;
  // A save is never trusted: out of its limits, the player starts fresh.
  const bool refused = c.save.has_value() && !save_within_limits(*c.save);
  const PlayerSave* save = c.save.has_value() && !refused ? &*c.save : nullptr;
  Vec2 pos;
  bool relocated = false;
  CellPos free_cell;
  if (save != nullptr && box_on_map(map_, save->pos) && !box_blocked(map_, save->pos)) {
    pos = save->pos;
  } else if (save != nullptr &&
             find_free_cell(map_, nearest_map_cell(map_, save->pos), limits::evict_search_radius, free_cell)) {
    pos = cell_centre(free_cell);
    relocated = true;
  } else if (find_free_cell(map_, join_cell(world_, c.player), limits::evict_search_radius, free_cell) ||
             find_free_cell(map_, spawn_cell(map_), limits::evict_search_radius, free_cell)) {
    pos = cell_centre(free_cell);
    relocated = save != nullptr;
  } else {
    return RejectReason::world_full;
  }
  Player player;
  player.id = c.player;
  player.pos = pos;
  player.joined_tick = world_.tick;
  if (save != nullptr) {
    player.facing = save->facing;
    player.stamina = save->stamina;
    player.health = save->health;
    player.inventory = save->inventory;
    world_.counters.saves_loaded += 1;
    world_.counters.saves_relocated += relocated ? 1 : 0;
  } else {
    player.stamina = limits::stamina_max;
    player.health = limits::health_max;
    player.inventory = starting_inventory();
    world_.counters.saves_refused += refused ? 1 : 0;
  }
  world_.players.insert(it, player);
  occupy(player.pos, +1);
  effects_.joined.push_back(c.player);
  return RejectReason::none;
}

RejectReason StepContext::leave(const LeaveCommand& c) {
  auto it = player_slot(c.player);
  if (it == world_.players.end() || it->id != c.player) return RejectReason::unknown_player;
  occupy(it->pos, -1);
  effects_.left.push_back(c.player);
  effects_.left_saves.emplace_back(c.player, save_of(*it));
  world_.players.erase(it);
  return RejectReason::none;
}

RejectReason StepContext::move(const MoveCommand& c) {
  Player* p = nullptr;
  if (const RejectReason r = player_for(c.player, c.seq, p); r != RejectReason::none) return r;
  if (!enum_valid(c.direction) || !enum_valid(c.mode)) return RejectReason::bad_enum;
  if (p->moved_this_tick) return RejectReason::duplicate_move;
  MotionState motion{p->heading, p->mode, p->stamina};
  if (const RejectReason r = accept_move(motion, c.direction, c.mode); r != RejectReason::none) return r;
  p->moved_this_tick = true;
  p->heading = motion.heading;
  p->mode = motion.mode;
  if (c.direction != Direction::none) p->facing = c.direction;
  return RejectReason::none;
}

namespace {

bool within_reach(Vec2 pos, CellPos cell) {
  const Vec2 centre = cell_centre(cell);
  const int64_t dx = static_cast<int64_t>(centre.x.raw()) - pos.x.raw();
  const int64_t dy = static_cast<int64_t>(centre.y.raw()) - pos.y.raw();
  const int64_t reach = limits::reach;
  return dx * dx + dy * dy <= reach * reach;
}

// What a placeable kind costs; Item::count when the kind cannot be placed on that layer.
Item placement_cost(Layer layer, uint8_t kind) {
  if (layer == Layer::active) {
    switch (static_cast<Block>(kind)) {
      case Block::wood_wall: return Item::wood;
      case Block::stone_wall: return Item::stone;
      case Block::door: return Item::door_kit;
      case Block::chest: return Item::chest_kit;
      case Block::crop: return Item::seeds;
      default: return Item::count;
    }
  }
  if (layer == Layer::ceiling) {
    switch (static_cast<Ceiling>(kind)) {
      case Ceiling::thatch_roof: return Item::thatch;
      case Ceiling::stone_roof: return Item::stone;
      default: return Item::count;
    }
  }
  return Item::count;
}

struct Yield {
  Item item = Item::count;
  uint16_t amount = 0;
  Item extra = Item::count;  // second item (ripe crops give produce too)
  uint16_t extra_amount = 0;
};

Yield break_yield(Layer layer, CellValue value) {
  if (layer == Layer::ceiling) {
    return static_cast<Ceiling>(value.kind) == Ceiling::thatch_roof ? Yield{Item::thatch, 1} : Yield{Item::stone, 1};
  }
  switch (static_cast<Block>(value.kind)) {
    case Block::wood_wall: return {Item::wood, 1};
    case Block::stone_wall: return {Item::stone, 1};
    case Block::door: return {Item::door_kit, 1};
    case Block::chest: return {Item::chest_kit, 1};
    case Block::crop:
      return value.state == crop_stage_ripe ? Yield{Item::seeds, 2, Item::produce, 2} : Yield{Item::seeds, 1};
    case Block::tree: return {Item::wood, 3};
    case Block::rock: return {Item::stone, 2};
    default: return {};
  }
}

bool inventory_fits(const Inventory& inv, const Yield& y) {
  if (y.item != Item::count && inv[static_cast<size_t>(y.item)] + y.amount > limits::item_stack_max) return false;
  if (y.extra != Item::count && inv[static_cast<size_t>(y.extra)] + y.extra_amount > limits::item_stack_max)
    return false;
  return true;
}

void inventory_add(Inventory& inv, const Yield& y) {
  if (y.item != Item::count)
    inv[static_cast<size_t>(y.item)] = static_cast<uint16_t>(inv[static_cast<size_t>(y.item)] + y.amount);
  if (y.extra != Item::count)
    inv[static_cast<size_t>(y.extra)] = static_cast<uint16_t>(inv[static_cast<size_t>(y.extra)] + y.extra_amount);
}

}  // namespace

RejectReason StepContext::check_cell_action(const Player& p, CellPos cell, Layer layer, LwwStamp stamp) const {
  if (!enum_valid(layer)) return RejectReason::bad_enum;
  if (!map_.in_bounds(cell)) return RejectReason::out_of_bounds;
  if (!within_reach(p.pos, cell)) return RejectReason::out_of_reach;
  if (layer == Layer::floor) return RejectReason::not_placeable;
  if (!(map_.stamp(cell, layer) < stamp)) return RejectReason::stale_stamp;
  return RejectReason::none;
}

void StepContext::write_local(CellPos cell, Layer layer, CellValue value, LwwStamp stamp) {
  effects_.changed_before.push_back(CellBefore{map_.get(cell, layer), map_.stamp(cell, layer)});
  map_.set(cell, layer, value, stamp);
  sim_.blocking_.update(map_, cell);
  effects_.block_writes.push_back(BlockWrite{cell, layer, value.kind, value.state, stamp});
  effects_.changed_cells.push_back(CellChange{cell, layer});
}

RejectReason StepContext::place(const PlaceCommand& c) {
  Player* p = nullptr;
  if (const RejectReason r = player_for(c.player, c.seq, p); r != RejectReason::none) return r;
  if (const RejectReason r = check_cell_action(*p, c.cell, c.layer, c.stamp); r != RejectReason::none) return r;
  const Item cost = placement_cost(c.layer, c.kind);
  if (cost == Item::count) {
    const uint8_t kinds = c.layer == Layer::active ? to_underlying(Block::count) : to_underlying(Ceiling::count);
    return c.kind >= kinds ? RejectReason::bad_enum : RejectReason::not_placeable;
  }
  if (map_.get(c.cell, c.layer).kind != 0) return RejectReason::cell_occupied;
  if (c.layer == Layer::active) {
    const auto floor = map_.floor(c.cell);
    if (!floor_walkable(floor)) return RejectReason::floor_unsuitable;
    if (static_cast<Block>(c.kind) == Block::crop && floor != Floor::dirt && floor != Floor::farmland) {
      return RejectReason::floor_unsuitable;
    }
    if (block_solid(static_cast<Block>(c.kind), 0) && occupancy(c.cell) > 0) return RejectReason::blocked_by_entity;
  }
  uint16_t& count = p->inventory[static_cast<size_t>(cost)];
  if (count == 0) return RejectReason::no_item;
  count = static_cast<uint16_t>(count - 1);
  write_local(c.cell, c.layer, CellValue{c.kind, 0}, c.stamp);
  return RejectReason::none;
}

RejectReason StepContext::break_block(const BreakCommand& c) {
  Player* p = nullptr;
  if (const RejectReason r = player_for(c.player, c.seq, p); r != RejectReason::none) return r;
  if (const RejectReason r = check_cell_action(*p, c.cell, c.layer, c.stamp); r != RejectReason::none) return r;
  const CellValue value = map_.get(c.cell, c.layer);
  if (value.kind == 0) return RejectReason::nothing_to_break;
  const Yield yield = break_yield(c.layer, value);
  if (!inventory_fits(p->inventory, yield)) return RejectReason::inventory_full;
  inventory_add(p->inventory, yield);
  write_local(c.cell, c.layer, CellValue{0, 0}, c.stamp);
  return RejectReason::none;
}

RejectReason StepContext::interact(const InteractCommand& c) {
  Player* p = nullptr;
  if (const RejectReason r = player_for(c.player, c.seq, p); r != RejectReason::none) return r;
  if (const RejectReason r = check_cell_action(*p, c.cell, Layer::active, c.stamp); r != RejectReason::none) return r;
  const CellValue value = map_.get(c.cell, Layer::active);
  const auto block = static_cast<Block>(value.kind);
  if (block == Block::door) {
    const bool closing = value.state == door_open;
    if (closing && occupancy(c.cell) > 0) return RejectReason::blocked_by_entity;
    write_local(c.cell, Layer::active, CellValue{value.kind, closing ? door_closed : door_open}, c.stamp);
    return RejectReason::none;
  }
  if (block == Block::crop && value.state == crop_stage_ripe) {
    const Yield harvest{Item::produce, 2, Item::seeds, 1};
    if (!inventory_fits(p->inventory, harvest)) return RejectReason::inventory_full;
    inventory_add(p->inventory, harvest);
    write_local(c.cell, Layer::active, CellValue{value.kind, 0}, c.stamp);
    return RejectReason::none;
  }
  return RejectReason::nothing_to_interact;
}

namespace {
RejectReason check_remote_value(Layer layer, uint8_t kind, uint8_t state) {
  switch (layer) {
    case Layer::floor:
      if (kind >= to_underlying(Floor::count)) return RejectReason::bad_enum;
      return state == 0 ? RejectReason::none : RejectReason::bad_state;
    case Layer::active:
      if (kind >= to_underlying(Block::count)) return RejectReason::bad_enum;
      return block_state_valid(static_cast<Block>(kind), state) ? RejectReason::none : RejectReason::bad_state;
    case Layer::ceiling:
      if (kind >= to_underlying(Ceiling::count)) return RejectReason::bad_enum;
      return state == 0 ? RejectReason::none : RejectReason::bad_state;
    case Layer::count: break;
  }
  return RejectReason::bad_enum;
}
}  // namespace

RejectReason StepContext::remote_write(const RemoteBlockWriteCommand& c) {
  if (c.stamp.region == world_.params.region) return RejectReason::own_region;
  if (!enum_valid(c.layer)) return RejectReason::bad_enum;
  if (!map_.in_bounds(c.cell)) return RejectReason::out_of_bounds;
  if (const RejectReason r = check_remote_value(c.layer, c.kind, c.state); r != RejectReason::none) return r;
  // LWW (lww_wins): the newer stamp wins, a tie the larger value.
  const LwwStamp held = map_.stamp(c.cell, c.layer);
  const CellValue held_value = map_.get(c.cell, c.layer);
  if (!lww_wins(held, held_value, c.stamp, CellValue{c.kind, c.state})) {
    world_.counters.remote_writes_superseded += 1;
    return RejectReason::none;
  }
  effects_.changed_before.push_back(CellBefore{held_value, held});
  map_.set(c.cell, c.layer, CellValue{c.kind, c.state}, c.stamp);
  sim_.blocking_.update(map_, c.cell);
  effects_.changed_cells.push_back(CellChange{c.cell, c.layer});
  world_.counters.remote_writes_applied += 1;
  if (map_.blocks(c.cell) && occupancy(c.cell) > 0) evict_from(c.cell);
  return RejectReason::none;
}

// A remote write made `cell` block while entities stand in it: the other region's write wins (LWW
// must not depend on local state), so the entities move to the nearest free cell instead.
void StepContext::evict_from(CellPos cell) {
  for (size_t i = 0; i < world_.players.size();) {
    Player& p = world_.players[i];
    if (!box_overlaps(p.pos, cell)) {
      ++i;
      continue;
    }
    world_.counters.evictions += 1;
    occupy(p.pos, -1);
    CellPos free_cell;
    if (find_free_cell(map_, CellPos{p.pos.x.tile(), p.pos.y.tile()}, limits::evict_search_radius, free_cell)) {
      p.pos = cell_centre(free_cell);
      occupy(p.pos, +1);
      ++i;
    } else {
      // Saved where it stood (the cell a remote write made solid): its next join moves it out.
      effects_.left.push_back(p.id);
      effects_.left_saves.emplace_back(p.id, save_of(p));
      world_.players.erase(world_.players.begin() + static_cast<ptrdiff_t>(i));
    }
  }
  for (size_t i = 0; i < world_.npcs.size();) {
    Npc& n = world_.npcs[i];
    if (!box_overlaps(n.pos, cell)) {
      ++i;
      continue;
    }
    world_.counters.evictions += 1;
    occupy(n.pos, -1);
    CellPos free_cell;
    if (find_free_cell(map_, CellPos{n.pos.x.tile(), n.pos.y.tile()}, limits::evict_search_radius, free_cell)) {
      n.pos = cell_centre(free_cell);
      occupy(n.pos, +1);
      ++i;
    } else {
      world_.npcs.erase(world_.npcs.begin() + static_cast<ptrdiff_t>(i));
    }
  }
}

RejectReason StepContext::remote_presence(const RemotePresenceCommand& c) {
  if (c.origin == world_.params.region) return RejectReason::own_region;
  if (raw(c.player) == 0 || raw(c.player) > limits::player_id_max) return RejectReason::bad_player_id;
  if (!enum_valid(c.facing)) return RejectReason::bad_enum;
  const int64_t max_x = static_cast<int64_t>(map_.width()) * limits::fixed_one;
  const int64_t max_y = static_cast<int64_t>(map_.height()) * limits::fixed_one;
  if (c.pos.x.raw() < 0 || c.pos.y.raw() < 0 || c.pos.x.raw() >= max_x || c.pos.y.raw() >= max_y) {
    return RejectReason::out_of_bounds;
  }
  auto less = [](const Ghost& g, const RemotePresenceCommand& key) {
    return raw(g.region) != raw(key.origin) ? raw(g.region) < raw(key.origin) : raw(g.player) < raw(key.player);
  };
  auto it = std::lower_bound(world_.ghosts.begin(), world_.ghosts.end(), c, less);
  if (it == world_.ghosts.end() || it->region != c.origin || it->player != c.player) {
    if (world_.ghosts.size() >= limits::ghosts_max) return RejectReason::ghost_limit;
    it = world_.ghosts.insert(it, Ghost{c.origin, c.player, {}, Direction::s, 0});
  }
  it->pos = c.pos;
  it->facing = c.facing;
  it->last_update_tick = world_.tick;
  return RejectReason::none;
}

RejectReason StepContext::remote_batch(const RemoteBatchCommand& c) {
  if (c.origin == world_.params.region) return RejectReason::own_region;
  if (raw(c.origin) == 0) return RejectReason::bad_region;
  std::vector<BusMark>& marks = world_.bus_applied;
  auto it = std::lower_bound(marks.begin(), marks.end(), c.origin,
                             [](const BusMark& m, RegionId key) { return raw(m.origin) < raw(key); });
  if (it == marks.end() || it->origin != c.origin) {
    // A new origin: sequence 0 is "nothing applied", so the first batch must be above it too.
    if (c.stream_seq == 0) return RejectReason::stale_batch;
    if (marks.size() >= limits::regions_max) return RejectReason::region_limit;
    marks.insert(it, BusMark{c.origin, c.stream_seq});
    return RejectReason::none;
  }
  if (c.stream_seq <= it->seq) return RejectReason::stale_batch;
  it->seq = c.stream_seq;
  return RejectReason::none;
}

// The owner's word on where its NPC is. The local copy is put there whole (position and facing);
// its velocity becomes zero, not the displacement: the copy's motion is the owner's presence
// samples, which may be ticks apart, and a jump of several cells is no velocity a box may have
// (validate_world bounds velocities by the run speed).
RejectReason StepContext::remote_npc(const RemoteNpcCommand& c) {
  if (c.origin == world_.params.region) return RejectReason::own_region;
  if (!enum_valid(c.facing)) return RejectReason::bad_enum;
  auto it = std::lower_bound(world_.npcs.begin(), world_.npcs.end(), c.npc,
                             [](const Npc& n, NpcId key) { return raw(n.id) < raw(key); });
  if (it == world_.npcs.end() || it->id != c.npc) return RejectReason::unknown_npc;
  if (sim_.owns(CellPos{it->pos.x.tile(), it->pos.y.tile()})) return RejectReason::own_region;
  if (!box_on_map(map_, c.pos)) return RejectReason::out_of_bounds;
  if (box_blocked(map_, c.pos)) return RejectReason::cell_occupied;  // a solid cell: no box may overlap it
  Npc& n = *it;
  Vec2 ignored;
  relocate(n.pos, ignored, c.pos);
  n.vel = Vec2{};
  n.facing = c.facing;
  return RejectReason::none;
}

// ---------------------------------------------------------------------------------------------
// Phases after the commands.

void StepContext::bucket_players() {
  auto& start = sim_.bucket_start_;
  auto& items = sim_.bucket_players_;
  std::fill(start.begin(), start.end(), 0U);
  for (const Player& p : world_.players) {
    start[map_.chunk_index(CellPos{p.pos.x.tile(), p.pos.y.tile()}) + 1] += 1;
  }
  for (size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  // Fill using the end of each bucket as a cursor, then restore the starts (stable, id order kept).
  for (uint32_t i = 0; i < world_.players.size(); ++i) {
    const Player& p = world_.players[i];
    const size_t chunk = map_.chunk_index(CellPos{p.pos.x.tile(), p.pos.y.tile()});
    items[start[chunk]++] = i;
  }
  for (size_t i = start.size() - 1; i > 0; --i) start[i] = start[i - 1];
  start[0] = 0;
}

namespace {
Direction direction_towards(Vec2 from, Vec2 to) {
  const int32_t dx = to.x.raw() - from.x.raw();
  const int32_t dy = to.y.raw() - from.y.raw();
  const int32_t sx = dx > limits::fixed_one ? 1 : (dx < -limits::fixed_one ? -1 : 0);
  const int32_t sy = dy > limits::fixed_one ? 1 : (dy < -limits::fixed_one ? -1 : 0);
  static constexpr Direction table[3][3] = {{Direction::nw, Direction::n, Direction::ne},
                                            {Direction::w, Direction::none, Direction::e},
                                            {Direction::sw, Direction::s, Direction::se}};
  return table[sy + 1][sx + 1];
}
int64_t distance_sq(Vec2 a, Vec2 b) {
  const int64_t dx = static_cast<int64_t>(a.x.raw()) - b.x.raw();
  const int64_t dy = static_cast<int64_t>(a.y.raw()) - b.y.raw();
  return dx * dx + dy * dy;
}
}  // namespace

void StepContext::think_npcs() {
  const int64_t range_sq = static_cast<int64_t>(limits::npc_follow_range) * limits::npc_follow_range;
  const uint64_t draw_base = tick_draw_base(world_.params.seed, world_.tick);
  auto& runs = sim_.npc_runs_;
  runs.assign(world_.npcs.size(), 0);
  for (size_t index = 0; index < world_.npcs.size(); ++index) {
    Npc& n = world_.npcs[index];
    // Only the owner of the chunk it stands in runs an NPC; elsewhere it waits for the owner's presence.
    if (!sim_.owns(CellPos{n.pos.x.tile(), n.pos.y.tile()})) continue;
    runs[index] = 1;
    effects_.npcs_run.push_back(n.id);
    if (n.behavior == NpcBehavior::follow && (world_.tick + raw(n.id)) % limits::npc_retarget_period_ticks == 0) {
      n.target = PlayerId{0};
      int64_t best = range_sq + 1;
      const int32_t ccx = n.pos.x.tile() >> limits::chunk_shift;
      const int32_t ccy = n.pos.y.tile() >> limits::chunk_shift;
      for (int32_t cy = std::max(0, ccy - 1); cy <= std::min(map_.chunks_y() - 1, ccy + 1); ++cy) {
        for (int32_t cx = std::max(0, ccx - 1); cx <= std::min(map_.chunks_x() - 1, ccx + 1); ++cx) {
          const auto chunk = static_cast<size_t>(cy) * static_cast<size_t>(map_.chunks_x()) + static_cast<size_t>(cx);
          for (uint32_t k = sim_.bucket_start_[chunk]; k < sim_.bucket_start_[chunk + 1]; ++k) {
            const Player& p = world_.players[sim_.bucket_players_[k]];
            const int64_t d = distance_sq(p.pos, n.pos);
            if (d < best || (d == best && raw(p.id) < raw(n.target))) {
              best = d;
              n.target = p.id;
            }
          }
        }
      }
    }
    Direction direction = Direction::none;
    const Player* target = raw(n.target) != 0 ? find_player(n.target) : nullptr;
    if (target != nullptr && distance_sq(target->pos, n.pos) <= range_sq) {
      direction = direction_towards(n.pos, target->pos);
    } else {
      n.target = PlayerId{0};
      if (n.timer == 0) {
        Rng draws = keyed_rng(draw_base, npc_salt, raw(n.id));
        n.heading = static_cast<Direction>(draws.below(static_cast<uint32_t>(Direction::count)));
        n.timer = static_cast<uint16_t>(20 + draws.below(60));
      } else {
        n.timer = static_cast<uint16_t>(n.timer - 1);
      }
      direction = n.heading;
    }
    if (direction != Direction::none) n.facing = direction;
    n.vel = velocity_for(direction, limits::npc_speed);
  }
}

// Intent (heading and gait; an NPC's choice this tick) becomes motion here; `vel` then records the
// motion that happened, so a walk into a wall leaves vel zero on that axis.
void StepContext::integrate() {
  const BlockingBits& blocking = sim_.blocking_;
  for (Player& p : world_.players) {
    MotionState motion{p.heading, p.mode, p.stamina};
    const Vec2 next = advance(motion, blocking, p.pos);
    p.mode = motion.mode;
    p.stamina = motion.stamina;
    relocate(p.pos, p.vel, next);
  }
  for (size_t index = 0; index < world_.npcs.size(); ++index) {
    Npc& n = world_.npcs[index];
    if (sim_.npc_runs_[index] == 0) {
      n.vel = Vec2{};  // not run here: it stands still until the owner's presence moves it
      continue;
    }
    const bool moving = n.vel.x.raw() != 0 || n.vel.y.raw() != 0;
    relocate(n.pos, n.vel, moving ? move_box(blocking, n.pos, n.vel) : n.pos);
  }
}

void StepContext::relocate(Vec2& pos, Vec2& vel, Vec2 next) {
  if (box_cells(next) != box_cells(pos)) {
    occupy(pos, -1);
    occupy(next, +1);
  }
  vel = Vec2{next.x - pos.x, next.y - pos.y};
  pos = next;
}

namespace {
CellPos cell_of(int32_t chunk_x, int32_t chunk_y, uint32_t index) {
  return CellPos{chunk_x * limits::chunk_size + static_cast<int32_t>(index & (limits::chunk_size - 1)),
                 chunk_y * limits::chunk_size + static_cast<int32_t>(index >> limits::chunk_shift)};
}
}  // namespace

// Random ticks work on the chunk arrays directly (this runs chunks x per_chunk times a tick). They
// never change whether a cell blocks (dirt and grass are walkable, crops never solid), so the
// blocking index needs no update here.
static_assert(floor_walkable(Floor::dirt) && floor_walkable(Floor::grass), "grass spreading changes no blocking");
static_assert(!block_solid(Block::crop, 0) && !block_solid(Block::crop, crop_stage_ripe), "crops never block");

void StepContext::random_ticks() {
  const uint32_t per_chunk = world_.params.random_ticks_per_chunk;
  if (per_chunk == 0) return;
  constexpr auto crop = to_underlying(Block::crop);
  constexpr auto none = to_underlying(Block::none);
  constexpr auto dirt = to_underlying(Floor::dirt);
  constexpr auto grass = to_underlying(Floor::grass);
  constexpr auto floor_layer = static_cast<size_t>(Layer::floor);
  constexpr auto active_layer = static_cast<size_t>(Layer::active);
  // The cells are drawn `lookahead` chunks ahead of their processing and their bytes prefetched:
  // a random cell of a 35 kB chunk is a cache miss, and this loop was mostly waiting on them. A
  // chunk's draws are its own (keyed_rng), and what a draw picks never depends on the cells.
  constexpr size_t lookahead = 4;
  constexpr size_t stride = limits::random_ticks_per_chunk_max;
  static_assert(limits::chunk_cells <= 65536, "a drawn cell index fits 16 bits");
  std::array<uint16_t, lookahead * stride> drawn{};
  std::vector<Chunk>& chunks = map_.chunks();
  const std::vector<RegionId>& owner = sim_.chunk_owner_;
  const RegionId local = world_.params.region;
  const uint64_t draw_base = tick_draw_base(world_.params.seed, world_.tick);
  const size_t count = chunks.size();
  // A chunk's cells are drawn from a counter-based hash (one SplitMix64 finaliser per 6 cells, 10
  // bits each) of (the tick's base, chunk, group): a PCG stream seeded per chunk cost 4 multiplies
  // more per chunk, a quarter of a 64x64-chunk world's step.
  static_assert(limits::chunk_cells == 1 << 10, "10 bits per drawn cell");
  static_assert(limits::random_ticks_per_chunk_max <= 6 * 16, "a chunk's draw groups fit 4 bits of the key");
  const uint64_t tick_base = mix64(draw_base ^ random_tick_salt);
  auto draw = [&](size_t c) {
    if (owner[c] != local) return;  // another region's (or nobody's) chunk: its owner draws
    const Chunk& chunk = chunks[c];
    uint64_t bits = 0;
    for (uint32_t k = 0; k < per_chunk; ++k) {
      if (k % 6 == 0) bits = mix64(tick_base + ((static_cast<uint64_t>(c) << 4U) | (k / 6)));
      const auto i = static_cast<uint32_t>(bits & (limits::chunk_cells - 1));
      bits >>= 10U;
      drawn[(c % lookahead) * stride + k] = static_cast<uint16_t>(i);
      __builtin_prefetch(&chunk.active[i]);
      __builtin_prefetch(&chunk.floor[i]);
    }
  };
  // One rule write: the value is already in the chunk; stamp it and list it.
  auto stamp_write = [&](Chunk& chunk, CellPos cell, size_t layer, uint32_t i, CellValue before, uint8_t kind,
                         uint8_t state) {
    const LwwStamp held{chunk.stamp_hlc[layer][i], RegionId{chunk.stamp_region[layer][i]}};
    const std::optional<LwwStamp> stamp = rule_stamp(held, local);
    STRATA_ASSERT(stamp.has_value(), "rule write without a stamp (checked before writing)");
    effects_.changed_before.push_back(CellBefore{before, held});
    chunk.stamp_hlc[layer][i] = stamp->hlc;
    chunk.stamp_region[layer][i] = raw(stamp->region);
    const auto which = static_cast<Layer>(layer);
    effects_.rule_writes.push_back(BlockWrite{cell, which, kind, state, *stamp});
    effects_.changed_cells.push_back(CellChange{cell, which});
    world_.counters.random_updates += 1;
  };
  auto stampable = [&](const Chunk& chunk, size_t layer, uint32_t i) {
    return rule_stamp(LwwStamp{chunk.stamp_hlc[layer][i], RegionId{chunk.stamp_region[layer][i]}}, local).has_value();
  };
  for (size_t c = 0; c < std::min(lookahead, count); ++c) draw(c);
  const auto chunks_x = static_cast<size_t>(map_.chunks_x());
  for (size_t c = 0; c < count; ++c) {
    if (owner[c] == local) {
      Chunk& chunk = chunks[c];
      const auto cx = static_cast<int32_t>(c % chunks_x);
      const auto cy = static_cast<int32_t>(c / chunks_x);
      for (uint32_t k = 0; k < per_chunk; ++k) {
        const uint32_t i = drawn[(c % lookahead) * stride + k];
        if (chunk.active[i] == crop) {
          if (chunk.active_state[i] < crop_stage_ripe && stampable(chunk, active_layer, i)) {
            const CellValue before{crop, chunk.active_state[i]};
            chunk.active_state[i] = static_cast<uint8_t>(chunk.active_state[i] + 1);
            stamp_write(chunk, cell_of(cx, cy, i), active_layer, i, before, crop, chunk.active_state[i]);
          }
          continue;
        }
        if (chunk.floor[i] != dirt || chunk.active[i] != none || chunk.ceiling[i] != 0) continue;
        // Grass spreads onto open dirt next to grass (4-neighbourhood, fixed order).
        const CellPos cell = cell_of(cx, cy, i);
        static constexpr int32_t offsets[4][2] = {{0, -1}, {1, 0}, {0, 1}, {-1, 0}};
        for (const auto& o : offsets) {
          const CellPos n{cell.x + o[0], cell.y + o[1]};
          if (map_.in_bounds(n) && to_underlying(map_.floor(n)) == grass) {
            if (stampable(chunk, floor_layer, i)) {
              chunk.floor[i] = grass;
              stamp_write(chunk, cell, floor_layer, i, CellValue{dirt, 0}, grass, 0);
            }
            break;
          }
        }
      }
    }
    if (c + lookahead < count) draw(c + lookahead);
  }
}

void StepContext::expire_ghosts() {
  const uint64_t tick = world_.tick;
  std::erase_if(world_.ghosts, [tick](const Ghost& g) { return tick - g.last_update_tick > limits::ghost_ttl_ticks; });
}

void StepContext::occupy(Vec2 pos, int32_t delta) {
  const CellRange r = box_cells(pos);
  const auto width = static_cast<size_t>(map_.width());
  for (int32_t y = r.y0; y <= r.y1; ++y) {
    for (int32_t x = r.x0; x <= r.x1; ++x) {
      STRATA_ASSERT(map_.in_bounds(CellPos{x, y}), "entity box outside the map");
      uint16_t& count = sim_.occupancy_[static_cast<size_t>(y) * width + static_cast<size_t>(x)];
      STRATA_ASSERT(delta > 0 || count > 0, "occupancy underflow");
      count = static_cast<uint16_t>(count + delta);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Simulation.

Simulation::Simulation(const WorldParams& params) : Simulation(generate_world(params)) {}

Simulation::Simulation(const WorldParams& params, WorldSeed seed) : Simulation(seeded_world(params, std::move(seed))) {}

Simulation::Simulation(World world) : world_(std::move(world)) {
  world_.players.reserve(limits::players_max);
  world_.npcs.reserve(limits::npcs_max);
  world_.ghosts.reserve(limits::ghosts_max);
  effects_.block_writes.reserve(limits::commands_per_tick_max);
  effects_.rule_writes.reserve(world_.map.chunks().size() * world_.params.random_ticks_per_chunk);
  effects_.npcs_run.reserve(limits::npcs_max);
  npc_runs_.reserve(limits::npcs_max);
  effects_.rejections.reserve(limits::commands_per_tick_max);
  effects_.joined.reserve(limits::players_max);
  effects_.left.reserve(limits::players_max);
  effects_.left_saves.reserve(limits::players_max);
  effects_.changed_cells.reserve(limits::commands_per_tick_max +
                                 world_.map.chunks().size() * limits::random_ticks_per_chunk_max);
  effects_.changed_before.reserve(effects_.changed_cells.capacity());
  rebuild_derived();
}

std::optional<Simulation> Simulation::from_world(World world, std::string* error) {
  std::string problem = validate_world(world);
  if (!problem.empty()) {
    if (error != nullptr) *error = std::move(problem);
    return std::nullopt;
  }
  return Simulation(std::move(world));
}

void Simulation::rebuild_derived() {
  const TileMap& map = world_.map;
  occupancy_.assign(static_cast<size_t>(map.width()) * static_cast<size_t>(map.height()), 0);
  bucket_start_.assign(map.chunks().size() + 1, 0);
  bucket_players_.assign(limits::players_max, 0);
  auto add = [&](Vec2 pos) {
    const CellRange r = box_cells(pos);
    for (int32_t y = r.y0; y <= r.y1; ++y) {
      for (int32_t x = r.x0; x <= r.x1; ++x) {
        occupancy_[static_cast<size_t>(y) * static_cast<size_t>(map.width()) + static_cast<size_t>(x)] += 1;
      }
    }
  };
  for (const Player& p : world_.players) add(p.pos);
  for (const Npc& n : world_.npcs) add(n.pos);
  blocking_.rebuild(map);
  chunk_owners(world_.params.region_map, world_.params.region, map.chunks_x(), map.chunks_y(), chunk_owner_);
}

bool Simulation::owns(CellPos cell) const {
  STRATA_REQUIRE(world_.map.in_bounds(cell), cell.x, cell.y);
  return chunk_owner_[world_.map.chunk_index(cell)] == world_.params.region;
}

std::string Simulation::check_derived() const {
  Simulation fresh(world_);
  if (fresh.occupancy_ != occupancy_) return "occupancy index differs from a rebuild";
  if (!(fresh.blocking_ == blocking_)) return "blocking index differs from a rebuild";
  return {};
}

const Effects& Simulation::step(const TickInput& input) {
  StepContext context(*this, input);
  context.run();
  return effects_;
}

uint64_t Simulation::quick_hash() const { return sim::quick_hash(world_); }
uint64_t Simulation::full_hash() const { return sim::full_hash(world_); }

}  // namespace strata::sim
