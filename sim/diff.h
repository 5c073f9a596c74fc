// sim/diff.h — field-level differences between two worlds, through the canonical walk, so every
// field that is hashed is compared. Lines read like `players[42].pos.x: 1234 != 1235` or
// `map.chunks[3,1].active[5,17] (cell 101,49): 2 != 0`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sim/walk.h"

namespace strata::sim {

struct DiffResult {
  std::vector<std::string> lines;  // at most max_lines
  size_t total = 0;                // differences found in all
};

[[nodiscard]] DiffResult diff_worlds(const World& a, const World& b, WalkScope scope = WalkScope::full,
                                     size_t max_lines = 200);

}  // namespace strata::sim
