// sim/state_codec.cpp — see state_codec.h.
#include "sim/state_codec.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "sim/canonical.h"
#include "sim/hash.h"
#include "sim/movement.h"

namespace strata::sim {
namespace {

constexpr std::array<uint8_t, 4> magic = {'S', 'T', 'R', 'W'};

struct VectorSink {
  std::vector<uint8_t>& out;
  void put(const void* data, size_t size) {
    // resize + memcpy rather than insert: GCC 12 -O3 reports a false -Warray-bounds on insert.
    const size_t used = out.size();
    out.resize(used + size);
    std::memcpy(out.data() + used, data, size);
  }
};

std::string at(const char* what, uint64_t id) { return std::string(what) + " " + std::to_string(id); }

bool velocity_ok(Vec2 vel) {
  return vel.x.raw() >= -limits::run_speed && vel.x.raw() <= limits::run_speed && vel.y.raw() >= -limits::run_speed &&
         vel.y.raw() <= limits::run_speed;
}

bool position_on_map(const TileMap& map, Vec2 pos) {
  const CellRange r = box_cells(pos);
  return r.x0 >= 0 && r.y0 >= 0 && r.x1 < map.width() && r.y1 < map.height();
}

std::string validate_map(const TileMap& map) {
  for (size_t c = 0; c < map.chunks().size(); ++c) {
    const Chunk& chunk = map.chunks()[c];
    for (size_t i = 0; i < Chunk::cells; ++i) {
      if (chunk.floor[i] >= to_underlying(Floor::count)) return at("bad floor kind in chunk", c);
      if (chunk.active[i] >= to_underlying(Block::count)) return at("bad block kind in chunk", c);
      if (!block_state_valid(static_cast<Block>(chunk.active[i]), chunk.active_state[i])) {
        return at("bad block state in chunk", c);
      }
      if (chunk.ceiling[i] >= to_underlying(Ceiling::count)) return at("bad ceiling kind in chunk", c);
    }
  }
  return {};
}

}  // namespace

void encode_state(const World& world, std::vector<uint8_t>& out) {
  out.clear();
  // One allocation up front (an upper bound of the canonical size): growth by doubling would copy
  // tens of megabytes for a large map.
  const size_t chunk_bytes = Chunk::canonical_bytes;
  out.reserve(1024 + world.map.chunks().size() * chunk_bytes + world.players.size() * 96 + world.npcs.size() * 64 +
              world.ghosts.size() * 32 + world.bus_applied.size() * 16);
  VectorSink sink{out};
  sink.put(magic.data(), magic.size());
  canonical::Writer<VectorSink> writer(sink);
  const uint32_t version = state_format_version;
  writer.u32("version", version);
  walk_world(world, writer, WalkScope::full);
}

StateDecodeResult decode_state(std::span<const uint8_t> bytes) {
  StateDecodeResult result;
  if (bytes.size() < magic.size() + 4 || std::memcmp(bytes.data(), magic.data(), magic.size()) != 0) {
    result.error = "not a Strata world state (bad magic)";
    return result;
  }
  canonical::Reader reader(bytes.subspan(magic.size()));
  uint32_t version = 0;
  reader.u32("version", version);
  if (version != state_format_version) {
    result.error = "world state format version " + std::to_string(version) + " is not implemented (this build reads " +
                   std::to_string(state_format_version) + ")";
    result.error_offset = magic.size();
    return result;
  }
  World world;
  walk_world(world, reader, WalkScope::full);
  if (!reader.ok()) {
    result.error = reader.error();
    result.error_offset = magic.size() + reader.error_offset();
    return result;
  }
  if (reader.offset() != bytes.size() - magic.size()) {
    result.error = "trailing bytes after the world state";
    result.error_offset = magic.size() + reader.offset();
    return result;
  }
  std::string problem = validate_world(world);
  if (!problem.empty()) {
    result.error = "invalid world state: " + problem;
    return result;
  }
  result.world = std::move(world);
  return result;
}

std::optional<uint64_t> state_bytes_full_hash(std::span<const uint8_t> bytes) {
  constexpr size_t prefix = magic.size() + sizeof(uint32_t);
  if (bytes.size() < prefix || std::memcmp(bytes.data(), magic.data(), magic.size()) != 0) return std::nullopt;
  canonical::Reader reader(bytes.subspan(magic.size(), sizeof(uint32_t)));
  uint32_t version = 0;
  reader.u32("version", version);
  if (!reader.ok() || version != state_format_version) return std::nullopt;
  return walk_hash(bytes.subspan(prefix));
}

std::string validate_world(const World& world) {
  if (const char* problem = validate(world.params)) return problem;
  const TileMap& map = world.map;
  if (map.chunks_x() != world.params.chunks_x || map.chunks_y() != world.params.chunks_y)
    return "map size differs from params";
  if ((world.rng.increment & 1U) == 0) return "rng increment must be odd";
  if (world.players.size() > limits::players_max) return "too many players";
  if (world.npcs.size() > limits::npcs_max) return "too many npcs";
  if (world.ghosts.size() > limits::ghosts_max) return "too many ghosts";
  if (std::string problem = validate_map(map); !problem.empty()) return problem;
  for (size_t i = 0; i < world.players.size(); ++i) {
    const Player& p = world.players[i];
    const uint32_t id = raw(p.id);
    if (id == 0 || id > limits::player_id_max) return at("bad player id", id);
    if (i > 0 && raw(world.players[i - 1].id) >= id) return at("players not sorted by id at", id);
    if (!position_on_map(map, p.pos) || box_blocked(map, p.pos))
      return at("player inside a blocking cell or off the map:", id);
    if (!velocity_ok(p.vel)) return at("player velocity out of range:", id);
    if (!enum_valid(p.facing) || !enum_valid(p.heading) || !enum_valid(p.mode)) return at("bad player enum:", id);
    if (p.stamina > limits::stamina_max || p.health > limits::health_max)
      return at("player stamina/health out of range:", id);
    for (uint16_t count : p.inventory) {
      if (count > limits::item_stack_max) return at("player inventory over the stack limit:", id);
    }
    if (p.joined_tick > world.tick) return at("player joined in the future:", id);
  }
  for (size_t i = 0; i < world.npcs.size(); ++i) {
    const Npc& n = world.npcs[i];
    const uint32_t id = raw(n.id);
    if (id == 0 || id >= world.next_npc_id) return at("bad npc id", id);
    if (i > 0 && raw(world.npcs[i - 1].id) >= id) return at("npcs not sorted by id at", id);
    if (!position_on_map(map, n.pos) || box_blocked(map, n.pos))
      return at("npc inside a blocking cell or off the map:", id);
    if (!velocity_ok(n.vel)) return at("npc velocity out of range:", id);
    if (!enum_valid(n.facing) || !enum_valid(n.heading) || !enum_valid(n.behavior)) return at("bad npc enum:", id);
    if (raw(n.target) > limits::player_id_max) return at("bad npc target:", id);
  }
  for (size_t i = 0; i < world.ghosts.size(); ++i) {
    const Ghost& g = world.ghosts[i];
    if (g.region == world.params.region) return "ghost of the own region";
    if (raw(g.player) == 0 || raw(g.player) > limits::player_id_max) return at("bad ghost player id", raw(g.player));
    if (i > 0) {
      const Ghost& prev = world.ghosts[i - 1];
      const bool ordered =
          raw(prev.region) < raw(g.region) || (prev.region == g.region && raw(prev.player) < raw(g.player));
      if (!ordered) return at("ghosts not sorted at player", raw(g.player));
    }
    if (g.pos.x.raw() < 0 || g.pos.y.raw() < 0 || g.pos.x.raw() >= map.width() * limits::fixed_one ||
        g.pos.y.raw() >= map.height() * limits::fixed_one) {
      return at("ghost off the map:", raw(g.player));
    }
    if (!enum_valid(g.facing)) return at("bad ghost facing:", raw(g.player));
    if (g.last_update_tick > world.tick) return at("ghost updated in the future:", raw(g.player));
  }
  if (world.bus_applied.size() > limits::regions_max) return "too many bus marks";
  for (size_t i = 0; i < world.bus_applied.size(); ++i) {
    const BusMark& m = world.bus_applied[i];
    if (raw(m.origin) == 0) return "bus mark of region 0";
    if (m.origin == world.params.region) return "bus mark of the own region";
    if (m.seq == 0) return at("bus mark at sequence 0 for region", raw(m.origin));
    if (i > 0 && raw(world.bus_applied[i - 1].origin) >= raw(m.origin))
      return at("bus marks not sorted at region", raw(m.origin));
  }
  return {};
}

std::string check_invariants(const World& world) { return validate_world(world); }

}  // namespace strata::sim
