// replay/desync.h — the desync finder: the first tick where two runs diverge (two logs, or a log and
// a hash stream dumped by a client, another region or another build), the field-level differences
// there through the canonical walk (sim::diff_worlds), and a bundle file with both states before
// and at the divergence and the inputs around it, which `explain` prints again elsewhere.
//
// Hash stream text format (strata-scenario and `strata-replay hashes` print it): one line per tick,
//   <tick> <quick hash, 16 hex digits> [<full hash, 16 hex digits>]
#pragma once

#include <cstdint>
#include <istream>
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
// A line longer than limits::hash_stream_line_bytes_max is refused without being read whole.
[[nodiscard]] Status read_hash_stream(const std::string& path, HashStream& out);
// The same from a stream (`name` for messages); what the file version and the fuzzer call.
[[nodiscard]] Status read_hash_stream(std::istream& in, const std::string& name, HashStream& out);

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

// Where a state in a desync report comes from. Only `recorded` and `replayed` states are what the
// log's recording build computed; a `recomputed` one is what THIS build makes of the log's inputs,
// so a difference caused by the recording build (another build, a nondeterministic one) cannot
// show in it.
enum class StateSource : uint8_t {
  recorded,    // the log's own snapshot at that tick (checked against the full hash its record holds)
  replayed,    // rebuilt by this build from the nearest snapshot, matching every hash the log recorded
  recomputed,  // rebuilt by this build, whose replay differs from the log's recorded hashes
  unknown,     // read from a version-1 bundle, which did not record it
  count
};
[[nodiscard]] const char* describe(StateSource source);

// Both states at the divergence, their differences, and the inputs around it.
struct DesyncSide {
  std::optional<schema::LogHeader> header;
  // [before (tick - 1), at (tick)], then [later (DesyncBundle::later_tick)] when set.
  std::vector<sim::World> states;
  std::vector<StateSource> sources;         // one per state
  std::optional<uint64_t> replay_mismatch;  // first tick where this build's replay differs from the log
  std::vector<schema::TickRecord> inputs;   // ticks around the divergence
  bool reproducible = true;                 // no state had to be recomputed
};
struct DesyncBundle {
  uint64_t tick = 0;
  // When a state at `tick` had to be recomputed: the first later tick at which every such side
  // recorded a snapshot, so the report can also compare what the recording builds really had.
  std::optional<uint64_t> later_tick;
  DesyncSide sides[2];
};

// Rebuilds the states of both logs before and at `tick`, preferring each log's recorded snapshots
// (see StateSource), and adds recorded states at a later snapshot when one side's state at `tick`
// could only be recomputed.
[[nodiscard]] Status collect(LogSource& a, LogSource& b, uint64_t tick, DesyncBundle& out);
[[nodiscard]] Status write_bundle(const std::string& path, const DesyncBundle& bundle);
[[nodiscard]] Status read_bundle(const std::string& path, DesyncBundle& out);
[[nodiscard]] Status read_bundle_bytes(std::vector<uint8_t> bytes, DesyncBundle& out);
// Human-readable report: divergent tick, field differences before and at it, inputs around it.
[[nodiscard]] std::string explain(const DesyncBundle& bundle, size_t max_lines = 200);

}  // namespace strata::replay
