// tools/replay/world_json.h — the world as JSON, or the fields under a path, through the canonical
// walk (so every field that is hashed and saved is shown, named as sim::diff_worlds names it).
#pragma once

#include <string>

#include "sim/walk.h"

namespace strata::tools {

// JSON of the walk in `scope` (quick: no map; full: the map's layer arrays too).
[[nodiscard]] std::string world_json(const sim::World& world, sim::WalkScope scope);
// "path = value" lines for every field whose path starts with `prefix` (e.g. "players[3].pos",
// "counters", "map.chunks[1,0].active"). Empty when nothing matches.
[[nodiscard]] std::string world_fields(const sim::World& world, const std::string& prefix);

}  // namespace strata::tools
