// schema/limits.h — every named limit of the wire codecs, with the relations between them asserted.
// These are security features: a decoder refuses a message larger than the largest legal one before
// allocating for it, and capnp's ReaderOptions are set from them (see the comments below for the
// amplification each prevents).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "sim/limits.h"

namespace strata::schema::limits {

// --- Commands and tick inputs ---------------------------------------------------------------
// A Command is a union of groups with no pointers: its struct is at most this many words
// (static_asserted against the generated code in command_codec.cpp). 5 since a join carries the
// player's save (position, facing, stamina, health and seven item counts: 34 bytes of fields).
inline constexpr size_t command_words_max = 5;
// Segment table (1 word for one segment) + root pointer.
inline constexpr size_t message_overhead_words = 2;
inline constexpr size_t command_message_words_max = message_overhead_words + command_words_max;
// TickInput: struct (1 data word, 1 pointer) + list tag + the commands.
inline constexpr size_t tick_input_words_max =
    message_overhead_words + 2 + 1 + size_t{sim::limits::commands_per_tick_max} * command_words_max;

// Cap'n Proto's traversal limit counts every word a reader visits. Without it a hostile message
// whose pointers all aim at the same large object ("amplification") makes a tiny message cost
// gigabytes of reads; with it set to the largest legal message, a reader does at most as much work
// as an honest maximum-size message needs. Our readers visit each pointer exactly once.
inline constexpr uint64_t command_traversal_words = command_message_words_max;
inline constexpr uint64_t tick_input_traversal_words = tick_input_words_max;
// Nesting: TickInput -> List(Command) -> Command. The limit stops deep pointer chains from
// exhausting the stack of a recursive reader (capnp's own validation recurses).
inline constexpr int command_nesting_max = 2;
inline constexpr int tick_input_nesting_max = 4;

// --- Snapshots ------------------------------------------------------------------------------
// Byte sizes of the canonical state (sim/canonical.h): a fixed part, then per entity and chunk.
// Checked against sim::encode_state by tests/schema/snapshot_test.cpp.
inline constexpr size_t state_fixed_bytes = 369;
inline constexpr size_t state_region_rect_bytes = 18;
inline constexpr size_t state_player_bytes = 53;
inline constexpr size_t state_npc_bytes = 29;
inline constexpr size_t state_ghost_bytes = 23;
inline constexpr size_t state_bus_mark_bytes = 10;
inline constexpr size_t state_chunk_bytes = 34 * size_t{sim::limits::chunk_cells};
inline constexpr size_t map_chunks_max =
    size_t{sim::limits::map_chunks_per_axis_max} * size_t{sim::limits::map_chunks_per_axis_max};
inline constexpr size_t state_bytes_max =
    state_fixed_bytes + size_t{sim::limits::region_rects_max} * state_region_rect_bytes +
    size_t{sim::limits::players_max} * state_player_bytes + size_t{sim::limits::npcs_max} * state_npc_bytes +
    size_t{sim::limits::ghosts_max} * state_ghost_bytes + size_t{sim::limits::regions_max} * state_bus_mark_bytes +
    map_chunks_max * state_chunk_bytes;
// The region map in WorldParams: a list of RegionRect structs (3 data words each) behind its tag.
inline constexpr size_t region_rect_words = 3;
inline constexpr size_t region_map_words_max = 1 + size_t{sim::limits::region_rects_max} * region_rect_words;
// WorldParams -> List(RegionRect) -> RegionRect: the nesting the region map adds below params.
inline constexpr int region_map_nesting = 2;
// Snapshot: header struct with params (at most 16 words and the region map) + Data of the state.
inline constexpr size_t snapshot_header_words_max = 16 + region_map_words_max;
inline constexpr size_t snapshot_words_max =
    message_overhead_words + 2 + snapshot_header_words_max + 1 + (state_bytes_max + 7) / 8;
inline constexpr uint64_t snapshot_traversal_words = snapshot_words_max;
// Snapshot -> SnapshotHeader -> WorldParams (-> the region map's rectangles).
inline constexpr int snapshot_nesting_max = 4 + region_map_nesting;

// --- Session log records and export entries ---------------------------------------------------
// Packed encoding expands a word to at most 10 bytes (tag, 8 bytes, run count).
inline constexpr size_t packed_bytes_per_word_max = 10;
inline constexpr size_t snapshot_packed_bytes_max = snapshot_words_max * packed_bytes_per_word_max;
// TickRecord struct (3 data words, 1 pointer) + the TickInput it holds.
inline constexpr size_t tick_record_words_max = tick_input_words_max + 4;
inline constexpr int tick_record_nesting_max = tick_input_nesting_max + 1;
inline constexpr size_t log_header_words_max = message_overhead_words + 16 + region_map_words_max;
// LogHeader -> WorldParams (-> the region map's rectangles).
inline constexpr int log_header_nesting_max = 3 + region_map_nesting;
// ExportEntry (union of header, snapshot Data, tick record, end group): the largest member is a
// snapshot's packed bytes.
inline constexpr size_t export_entry_words_max = message_overhead_words + 8 + 1 + (snapshot_packed_bytes_max + 7) / 8;
inline constexpr int export_entry_nesting_max = std::max(tick_record_nesting_max, log_header_nesting_max) + 1;
// Period limits of a log header (ticks).
inline constexpr uint32_t log_period_max = 1U << 24;

// Unpacked messages are held in one flat array sized from the packed bytes (never from a segment
// table a sender wrote), checked against the *_words_max above before allocating. Messages may
// have several segments (capnp's builders add one when the first fills up); FlatArrayMessageReader
// bounds their count (512) and checks every segment against the array.

static_assert(command_words_max >= 2, "a command carries at least player, seq and a stamp");
static_assert(tick_input_words_max < (size_t{1} << 29), "capnp lists and segments are bounded by 2^29 words");
static_assert(state_bytes_max < (size_t{1} << 29), "the state must fit one capnp Data blob");
static_assert(snapshot_words_max < (size_t{1} << 29), "a snapshot must fit one capnp segment");
static_assert(state_bytes_max / 8 < snapshot_words_max);
static_assert(snapshot_packed_bytes_max < (size_t{1} << 29), "a packed snapshot must fit one capnp Data blob");
static_assert(tick_record_words_max < export_entry_words_max);
static_assert(export_entry_words_max < (size_t{1} << 29), "an export entry must fit one capnp segment");

}  // namespace strata::schema::limits
