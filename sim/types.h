// sim/types.h — strong ids and the enumerations of the world (floors, blocks, roofs, items,
// directions, reasons). Every enum has a `count` sentinel; decoders reject values >= count.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string_view>

namespace strata::sim {

enum class PlayerId : uint32_t {};
enum class NpcId : uint32_t {};
enum class RegionId : uint16_t {};

[[nodiscard]] constexpr uint32_t raw(PlayerId id) { return static_cast<uint32_t>(id); }
[[nodiscard]] constexpr uint32_t raw(NpcId id) { return static_cast<uint32_t>(id); }
[[nodiscard]] constexpr uint16_t raw(RegionId id) { return static_cast<uint16_t>(id); }

// Last-writer-wins stamp of one cell layer: a hybrid logical clock time (48-bit ms, 16-bit counter)
// and the region that wrote it. Ordered by time, then by region id (the higher region wins a tie).
// The zero stamp is "generated with the map, never written".
struct LwwStamp {
  uint64_t hlc = 0;
  RegionId region{};
  constexpr auto operator<=>(const LwwStamp&) const = default;
};

enum class Layer : uint8_t { floor, active, ceiling, count };

enum class Floor : uint8_t { grass, dirt, sand, water, stone, farmland, count };

enum class Block : uint8_t { none, wood_wall, stone_wall, door, chest, crop, tree, rock, count };

enum class Ceiling : uint8_t { none, thatch_roof, stone_roof, count };

enum class Item : uint8_t { wood, stone, door_kit, chest_kit, seeds, thatch, produce, count };
inline constexpr size_t item_count = static_cast<size_t>(Item::count);
using Inventory = std::array<uint16_t, item_count>;

// Block state meanings: door 0 closed / 1 open; crop growth stage 0..crop_stage_ripe; others 0.
inline constexpr uint8_t door_closed = 0;
inline constexpr uint8_t door_open = 1;
inline constexpr uint8_t crop_stage_ripe = 3;

enum class Direction : uint8_t { none, n, ne, e, se, s, sw, w, nw, count };
enum class MoveMode : uint8_t { walk, run, count };
enum class NpcBehavior : uint8_t { wander, follow, count };

// Why a command was rejected. Counted per reason in the world's counters (part of the state).
enum class RejectReason : uint8_t {
  none,
  bad_player_id,
  unknown_player,
  already_joined,
  world_full,
  too_many_commands,
  duplicate_move,
  bad_enum,
  out_of_bounds,
  out_of_reach,
  not_placeable,
  cell_occupied,
  blocked_by_entity,
  floor_unsuitable,
  no_item,
  nothing_to_break,
  inventory_full,
  nothing_to_interact,
  stale_stamp,
  exhausted,
  own_region,
  ghost_limit,
  bad_state,
  stale_batch,   // a remote batch not above the last one applied from its origin
  unknown_npc,   // a remote NPC position for an NPC this world does not have
  bad_region,    // a remote event naming region 0 (reserved: no region has it)
  region_limit,  // a batch from one more origin than limits::regions_max
  count
};
inline constexpr size_t reject_reason_count = static_cast<size_t>(RejectReason::count);

[[nodiscard]] std::string_view name(RejectReason reason);
[[nodiscard]] std::string_view name(Layer layer);

template <class E>
[[nodiscard]] constexpr auto to_underlying(E e) {
  return static_cast<std::underlying_type_t<E>>(e);
}
template <class E>
[[nodiscard]] constexpr bool enum_valid(E e) {
  return to_underlying(e) < to_underlying(E::count);
}

}  // namespace strata::sim
