// replay/desync.h — the desync finder: the first tick where two runs diverge (two logs, or a log and
// a hash stream dumped by a client, another region or another build), the field-level differences
// there through the canonical walk (sim::diff_worlds), and a bundle file with both states before
// and at the divergence and the inputs around it, which `explain` prints again elsewhere.
//
// Hash stream text format (strata-scenario and `strata-replay hashes` print it): one line per tick,
//   <tick> <quick hash, 16 hex digits> [<full hash, 16 hex digits>]
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replay/log_source.h"
#include "sim/diff.h"

namespace strata::replay {

struct HashEntry {
  uint64_t tick = 0;
  uint64_t quick = 0;
  std::optional<uint64_t> full;
};
using HashStream = std::vector<HashEntry>;  // contiguous ticks, ascending

// The hashes a log recorded (not replayed).
[[nodiscard]] Status recorded_hashes(LogSource& log, HashStream& out);
// Parses a hash stream file (untrusted: line length, count, order and hex digits are checked; errors
// name the line).
[[nodiscard]] Status read_hash_stream(const std::string& path, HashStream& out);

struct Divergence {
  bool found = false;
  uint64_t tick = 0;  // first divergent tick
  std::string which;  // "quick hash" or "full hash"
  uint64_t a = 0;     // the two values
  uint64_t b = 0;
  uint64_t common_first = 0;  // ticks both streams cover
  uint64_t common_last = 0;
  uint64_t full_points_compared = 0;  // full-hash points the binary search looked at
};

// Binary search over the full hashes both streams recorded (state divergence persists, so the
// first differing full-hash point bounds it), then tick by tick over the quick hashes in between.
[[nodiscard]] Divergence first_divergence(const HashStream& a, const HashStream& b);

// Both states at the divergence, their differences, and the inputs around it.
struct DesyncSide {
  std::optional<schema::LogHeader> header;
  std::vector<sim::World> states;          // [before (tick - 1), at (tick)]
  std::vector<schema::TickRecord> inputs;  // ticks around the divergence
  bool reproducible = true;                // this build's replay matched the log's own hashes
};
struct DesyncBundle {
  uint64_t tick = 0;
  DesyncSide sides[2];
};

// Rebuilds the states of both logs before and at `tick`.
[[nodiscard]] Status collect(LogSource& a, LogSource& b, uint64_t tick, DesyncBundle& out);
[[nodiscard]] Status write_bundle(const std::string& path, const DesyncBundle& bundle);
[[nodiscard]] Status read_bundle(const std::string& path, DesyncBundle& out);
[[nodiscard]] Status read_bundle_bytes(std::vector<uint8_t> bytes, DesyncBundle& out);
// Human-readable report: divergent tick, field differences before and at it, inputs around it.
[[nodiscard]] std::string explain(const DesyncBundle& bundle, size_t max_lines = 200);

}  // namespace strata::replay
