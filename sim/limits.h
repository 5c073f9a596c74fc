// sim/limits.h — every named limit of the simulation, in one place, with the relations between them
// asserted at compile time. Each limit is a security feature as much as a size: decoders check
// lengths against these before allocating, and the rules reject commands that would exceed them.
#pragma once

#include <cstdint>

namespace strata::sim::limits {

// Fixed point: positions are in 1/256 of a tile.
inline constexpr int32_t fixed_shift = 8;
inline constexpr int32_t fixed_one = 1 << fixed_shift;

// Map geometry. A chunk is 32x32 cells; the map is a rectangle of chunks.
inline constexpr int32_t chunk_shift = 5;
inline constexpr int32_t chunk_size = 1 << chunk_shift;
inline constexpr int32_t chunk_cells = chunk_size * chunk_size;
inline constexpr int32_t map_chunks_per_axis_max = 64;  // 2048 x 2048 cells
inline constexpr int32_t map_cells_per_axis_max = map_chunks_per_axis_max * chunk_size;

// Entity counts. Player ids are assigned by the server (accounts); 0 is never a valid id.
inline constexpr uint32_t players_max = 16384;
inline constexpr uint32_t npcs_max = 16384;
inline constexpr uint32_t ghosts_max = 16384;
inline constexpr uint32_t player_id_max = (1U << 24) - 1;

// Commands. The per-player limit stops one client from flooding a tick; the total bounds a tick.
inline constexpr uint32_t commands_per_tick_max = 65536;
inline constexpr uint32_t commands_per_player_per_tick_max = 8;

// Movement, in fixed units per tick (20 Hz: walk 2.5 tiles/s, run 4.375 tiles/s).
inline constexpr int32_t walk_speed = 32;
inline constexpr int32_t run_speed = 56;
inline constexpr int32_t npc_speed = 20;
// Diagonal components are speed * 181 / 256 (181/256 ~ 1/sqrt(2)), integer only.
inline constexpr int32_t diagonal_numerator = 181;
// Half the side of an entity's square collision box (0.3 tile).
inline constexpr int32_t entity_half_extent = 77;
// How far (centre to cell centre) a player can build, break or interact: 4 tiles.
inline constexpr int32_t reach = 4 * fixed_one;

// Stamina: running costs, standing or walking regenerates.
inline constexpr uint16_t stamina_max = 200;
inline constexpr uint16_t stamina_run_cost = 2;
inline constexpr uint16_t stamina_regen = 1;
inline constexpr uint16_t stamina_run_min = 20;
inline constexpr uint16_t health_max = 100;

// Inventory: every count is in [0, item_stack_max].
inline constexpr uint16_t item_stack_max = 999;

// NPCs.
inline constexpr int32_t npc_follow_range = 8 * fixed_one;
inline constexpr uint32_t npc_retarget_period_ticks = 8;

// Ghosts (presence of players of other regions) expire when not refreshed.
inline constexpr uint64_t ghost_ttl_ticks = 200;

// Random ticks per chunk per tick.
inline constexpr uint32_t random_ticks_per_chunk_max = 64;

// Region map: rectangles of chunks, each owned by one region (sim/regions.h). A map of 64x64 chunks
// split into a few dozen regions needs far fewer.
inline constexpr uint32_t region_rects_max = 256;
// Regions of one deployment whose world batches a world records (World::bus_applied).
inline constexpr uint32_t regions_max = 256;

// Players join at a spot spread over a square of at most this half-side (cells) around the map
// centre, chosen from the world seed and the player id, so arrivals do not pile onto one cell.
inline constexpr int32_t spawn_spread = 48;

// When a remote write makes a cell solid under an entity, it is moved to the nearest free cell
// within this radius (in cells); beyond it a player is made to leave and an NPC is removed.
inline constexpr int32_t evict_search_radius = 24;

static_assert(chunk_size == 32, "DESIGN.md fixes chunks at 32x32 cells");
static_assert(map_cells_per_axis_max * fixed_one < (1 << 30), "positions must fit int32 with headroom");
static_assert(entity_half_extent * 2 < fixed_one, "a box must fit in one cell, so it spans at most 2x2 cells");
static_assert(run_speed < fixed_one - 2 * entity_half_extent,
              "a step may cross at most one cell boundary per axis (collision checks one column/row)");
static_assert(walk_speed < run_speed);
static_assert(npc_follow_range < chunk_size * fixed_one, "follow search looks at the 3x3 neighbouring chunks");
static_assert(players_max + npcs_max < 65535, "per-cell occupancy counts are uint16");
static_assert(commands_per_player_per_tick_max < 256, "per-tick command counts are uint8");
static_assert(player_id_max < (1U << 31));

}  // namespace strata::sim::limits
