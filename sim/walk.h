// sim/walk.h — THE canonical walk of the state. The quick hash, the full hash, the snapshot encoder
// and decoder and the field-level diff are all visitors of this one function, so nothing can be
// hashed but not saved, or saved but not compared. Order is fixed: params (the region map's
// rectangles included), tick, rng, counters,
// players (by id), NPCs (by id), ghosts (by region, player), the bus marks (by origin), then — in the
// full scope only — the map chunk by chunk (row-major), layer array by layer array.
//
// A visitor V provides (T is the field type, const for readers, mutable for loaders):
//   void u16/u32/u64/i32(const char* name, T& value), fixed(name, Fixed&), id(name, StrongId&)
//   template<class E> void enumeration(const char* name, E& value)  // loaders check < E::count
//   template<class A> void array(const char* name, A& std_array)    // plain unsigned arrays
//   template<class Vec, class Fn> void list(const char* name, Vec& v, size_t max, Fn&& each)
//       each(element) walks one element; loaders check the count against max, then resize;
//       the diff names items with item_key(element).
//   template<class Fn> void map(const char* name, TileMap& m, int32_t cx, int32_t cy, Fn&& each)
//       each(chunk) walks one chunk; loaders build an empty TileMap(cx, cy) first.
//   void begin(const char* name) / void end()                       // nested structs
#pragma once

#include <cstdint>
#include <string>

#include "sim/world.h"

namespace strata::sim {

enum class WalkScope : uint8_t {
  quick,  // players, NPCs, ghosts, bus marks, RNG, counters: hashed every tick
  full,   // everything, the map included
};

// Names a list item for diffs and paths: players and NPCs by id, ghosts by region:player, chunks
// by chunk x,y.
inline std::string item_key(const Player& p) { return std::to_string(raw(p.id)); }
inline std::string item_key(const Npc& n) { return std::to_string(raw(n.id)); }
inline std::string item_key(const Ghost& g) {
  return std::to_string(raw(g.region)) + ":" + std::to_string(raw(g.player));
}
inline std::string item_key(const RegionRect& r) { return std::to_string(r.x) + "," + std::to_string(r.y); }
inline std::string item_key(const BusMark& m) { return std::to_string(raw(m.origin)); }

namespace walk_detail {

template <class V, class P>
void walk_vec2(V& v, const char* name, P& pos) {
  v.begin(name);
  v.fixed("x", pos.x);
  v.fixed("y", pos.y);
  v.end();
}

template <class V, class P>
void walk_player(V& v, P& p) {
  v.id("id", p.id);
  walk_vec2(v, "pos", p.pos);
  walk_vec2(v, "vel", p.vel);
  v.enumeration("facing", p.facing);
  v.enumeration("heading", p.heading);
  v.enumeration("mode", p.mode);
  v.u16("stamina", p.stamina);
  v.u16("health", p.health);
  v.u32("last_seq", p.last_seq);
  v.u64("joined_tick", p.joined_tick);
  v.array("inventory", p.inventory);
}

template <class V, class N>
void walk_npc(V& v, N& n) {
  v.id("id", n.id);
  walk_vec2(v, "pos", n.pos);
  walk_vec2(v, "vel", n.vel);
  v.enumeration("facing", n.facing);
  v.enumeration("heading", n.heading);
  v.enumeration("behavior", n.behavior);
  v.id("target", n.target);
  v.u16("timer", n.timer);
}

template <class V, class G>
void walk_ghost(V& v, G& g) {
  v.id("region", g.region);
  v.id("player", g.player);
  walk_vec2(v, "pos", g.pos);
  v.enumeration("facing", g.facing);
  v.u64("last_update_tick", g.last_update_tick);
}

template <class V, class R>
void walk_region_rect(V& v, R& r) {
  v.i32("x", r.x);
  v.i32("y", r.y);
  v.i32("w", r.w);
  v.i32("h", r.h);
  v.id("region", r.region);
}

template <class V, class M>
void walk_bus_mark(V& v, M& m) {
  v.id("origin", m.origin);
  v.u64("seq", m.seq);
}

template <class V, class C>
void walk_chunk(V& v, C& c) {
  v.array("floor", c.floor);
  v.array("active", c.active);
  v.array("active_state", c.active_state);
  v.array("ceiling", c.ceiling);
  v.array("floor_stamp_hlc", c.stamp_hlc[0]);
  v.array("active_stamp_hlc", c.stamp_hlc[1]);
  v.array("ceiling_stamp_hlc", c.stamp_hlc[2]);
  v.array("floor_stamp_region", c.stamp_region[0]);
  v.array("active_stamp_region", c.stamp_region[1]);
  v.array("ceiling_stamp_region", c.stamp_region[2]);
}

// One list item by its type: what walk_world's list lambdas call for it (for a visitor that walks a
// list's items itself, canonical::Writer's reserved path).
template <class V>
void walk_item(V& v, const Player& p) {
  walk_player(v, p);
}
template <class V>
void walk_item(V& v, const Npc& n) {
  walk_npc(v, n);
}
template <class V>
void walk_item(V& v, const Ghost& g) {
  walk_ghost(v, g);
}
template <class V>
void walk_item(V& v, const RegionRect& r) {
  walk_region_rect(v, r);
}
template <class V>
void walk_item(V& v, const BusMark& m) {
  walk_bus_mark(v, m);
}

}  // namespace walk_detail

// W is World or const World.
template <class W, class V>
void walk_world(W& w, V& v, WalkScope scope) {
  using namespace walk_detail;
  v.begin("params");
  v.u64("seed", w.params.seed);
  v.i32("chunks_x", w.params.chunks_x);
  v.i32("chunks_y", w.params.chunks_y);
  v.u32("random_ticks_per_chunk", w.params.random_ticks_per_chunk);
  v.u32("npc_count", w.params.npc_count);
  v.id("region", w.params.region);
  v.u32("rules", w.params.rules);
  v.begin("region_map");
  v.enumeration("mode", w.params.region_map.mode);
  v.id("fallback", w.params.region_map.fallback);
  v.list("rects", w.params.region_map.rects, limits::region_rects_max, [&](auto& r) { walk_region_rect(v, r); });
  v.end();
  v.end();
  v.u64("tick", w.tick);
  v.begin("rng");
  v.u64("state", w.rng.state);
  v.u64("increment", w.rng.increment);
  v.end();
  v.u32("next_npc_id", w.next_npc_id);
  v.begin("counters");
  v.u64("commands_applied", w.counters.commands_applied);
  v.array("rejected", w.counters.rejected);
  v.u64("remote_writes_applied", w.counters.remote_writes_applied);
  v.u64("remote_writes_superseded", w.counters.remote_writes_superseded);
  v.u64("random_updates", w.counters.random_updates);
  v.u64("evictions", w.counters.evictions);
  v.u64("saves_loaded", w.counters.saves_loaded);
  v.u64("saves_refused", w.counters.saves_refused);
  v.u64("saves_relocated", w.counters.saves_relocated);
  v.end();
  v.list("players", w.players, limits::players_max, [&](auto& p) { walk_player(v, p); });
  v.list("npcs", w.npcs, limits::npcs_max, [&](auto& n) { walk_npc(v, n); });
  v.list("ghosts", w.ghosts, limits::ghosts_max, [&](auto& g) { walk_ghost(v, g); });
  v.list("bus_applied", w.bus_applied, limits::regions_max, [&](auto& m) { walk_bus_mark(v, m); });
  if (scope == WalkScope::full) {
    v.map("map", w.map, w.params.chunks_x, w.params.chunks_y, [&](auto& chunk) { walk_chunk(v, chunk); });
  }
}

// The map alone, as the full walk has it, behind its own size (from the map, not the params): what
// map_hash hashes. Only for writers: nothing loads a map by itself.
template <class V>
void walk_map_only(const World& w, V& v) {
  const int32_t chunks_x = w.map.chunks_x();
  const int32_t chunks_y = w.map.chunks_y();
  v.i32("chunks_x", chunks_x);
  v.i32("chunks_y", chunks_y);
  v.map("map", w.map, chunks_x, chunks_y, [&](const auto& chunk) { walk_detail::walk_chunk(v, chunk); });
}

}  // namespace strata::sim
