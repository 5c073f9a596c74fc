// sim/types.cpp — names of enum values, for messages, counters and diffs.
#include "sim/types.h"

#include <array>

namespace strata::sim {

std::string_view name(RejectReason reason) {
  static constexpr std::array<std::string_view, reject_reason_count> names = {"none",
                                                                              "bad_player_id",
                                                                              "unknown_player",
                                                                              "already_joined",
                                                                              "world_full",
                                                                              "too_many_commands",
                                                                              "duplicate_move",
                                                                              "bad_enum",
                                                                              "out_of_bounds",
                                                                              "out_of_reach",
                                                                              "not_placeable",
                                                                              "cell_occupied",
                                                                              "blocked_by_entity",
                                                                              "floor_unsuitable",
                                                                              "no_item",
                                                                              "nothing_to_break",
                                                                              "inventory_full",
                                                                              "nothing_to_interact",
                                                                              "stale_stamp",
                                                                              "exhausted",
                                                                              "own_region",
                                                                              "ghost_limit",
                                                                              "bad_state",
                                                                              "stale_batch",
                                                                              "unknown_npc",
                                                                              "bad_region",
                                                                              "region_limit"};
  const auto i = static_cast<size_t>(reason);
  return i < names.size() ? names[i] : std::string_view("invalid");
}

std::string_view name(Layer layer) {
  switch (layer) {
    case Layer::floor: return "floor";
    case Layer::active: return "active";
    case Layer::ceiling: return "ceiling";
    case Layer::count: break;
  }
  return "invalid";
}

}  // namespace strata::sim
