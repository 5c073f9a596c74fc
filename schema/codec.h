// schema/codec.h — the only code that turns bytes into sim types and back (commands, tick inputs,
// snapshots). Every decoder takes untrusted bytes: it never asserts or throws on them, never
// allocates more than the named limits (schema/limits.h) allow, validates every field, and returns
// an error value with a code (counted per reason by DecodeStats) and a message saying what is wrong.
//
// Encodings are Cap'n Proto packed messages (schema/commands.capnp, schema/snapshot.capnp). The
// generated code stays behind this header.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/command.h"
#include "sim/world.h"

namespace strata::schema {

inline constexpr uint32_t snapshot_format_version = 1;
inline constexpr uint64_t snapshot_magic = 0x4E53415441525453ULL;  // "STRATASN" little-endian
// Bump when a .capnp file changes incompatibly (recorded in session log headers).
inline constexpr uint32_t schema_version = 1;

enum class DecodeError : uint8_t {
  none,
  empty,              // no bytes at all
  too_large,          // the message would unpack beyond the largest legal one
  malformed,          // not a valid packed Cap'n Proto message (capnp refused it)
  unknown_command,    // union discriminant this build does not know
  bad_enum,           // enum value outside the sim's range (strict policy)
  too_many_commands,  // more than sim::limits::commands_per_tick_max
  bad_magic,          // not a Strata snapshot
  bad_version,        // snapshot or state format version not implemented
  rules_version,      // recorded sim::rules_version not implemented by this build
  bad_params,         // world parameters invalid
  bad_state,          // state bytes refused by sim::decode_state, or inconsistent with the header
  hash_mismatch,      // full hash of the decoded world differs from the recorded one
  count
};
inline constexpr size_t decode_error_count = static_cast<size_t>(DecodeError::count);
[[nodiscard]] std::string_view name(DecodeError error);

// Per-reason counters of refused inputs; owned by the caller (one per connection, log reader...).
struct DecodeStats {
  std::array<uint64_t, decode_error_count> refused{};
  uint64_t accepted = 0;
  void count(DecodeError error) {
    if (error == DecodeError::none) {
      accepted += 1;
    } else {
      refused[static_cast<size_t>(error)] += 1;
    }
  }
};

template <class T>
struct DecodeResult {
  std::optional<T> value;  // set on success
  DecodeError code = DecodeError::none;
  std::string error;  // what is wrong (and where), when value is empty
  [[nodiscard]] bool ok() const { return value.has_value(); }
};

// The outcome of a decode into the caller's object (a stream's reader reuses one object, so there is
// no value to return). After a failure the object's contents are unspecified.
struct DecodeStatus {
  DecodeError code = DecodeError::none;
  std::string error;  // what is wrong (and where), when code is not none
  [[nodiscard]] bool ok() const { return code == DecodeError::none; }
};

// How decoders treat enum values outside the sim's range. Clients' commands are checked strictly
// at the edge. A recorded TickInput must replay exactly as it was applied, hostile values included
// (the rules rejected them with bad_enum, and that rejection is counted in the state), so log
// readers keep any value that fits the sim enum's width.
enum class EnumPolicy : uint8_t { strict, as_recorded };

[[nodiscard]] std::vector<uint8_t> encode_command(const sim::Command& command);
[[nodiscard]] DecodeResult<sim::Command> decode_command(std::span<const uint8_t> bytes,
                                                        EnumPolicy policy = EnumPolicy::strict,
                                                        DecodeStats* stats = nullptr);

[[nodiscard]] std::vector<uint8_t> encode_tick_input(const sim::TickInput& input);
void encode_tick_input(const sim::TickInput& input, std::vector<uint8_t>& out);
[[nodiscard]] DecodeResult<sim::TickInput> decode_tick_input(std::span<const uint8_t> bytes,
                                                             EnumPolicy policy = EnumPolicy::strict,
                                                             DecodeStats* stats = nullptr);

// What a snapshot says about itself, readable without decoding the state.
struct SnapshotHeader {
  uint32_t format_version = 0;
  uint32_t rules_version = 0;
  uint32_t state_format_version = 0;
  uint64_t tick = 0;
  uint64_t full_hash = 0;
  sim::WorldParams params;
  size_t state_bytes = 0;
};

// Encodes the world with its full hash (computed here).
[[nodiscard]] std::vector<uint8_t> encode_snapshot(const sim::World& world);
// Checks magic, versions and params only.
[[nodiscard]] DecodeResult<SnapshotHeader> decode_snapshot_header(std::span<const uint8_t> bytes,
                                                                  DecodeStats* stats = nullptr);
// A snapshot's header and the full hash of its state, from the state's bytes without decoding
// them (sim::state_bytes_full_hash), which must equal the header's recorded full hash. For a
// replay from tick 0: the world is regenerated from the parameters anyway and only has to be
// proved equal to the snapshot, for which equal full hashes are the proof decode_snapshot gives too.
struct SnapshotDigest {
  SnapshotHeader header;
  uint64_t state_hash = 0;
};
[[nodiscard]] DecodeResult<SnapshotDigest> decode_snapshot_digest(std::span<const uint8_t> bytes,
                                                                  DecodeStats* stats = nullptr);
// Checks the header, decodes and validates the state (sim::decode_state), checks that it agrees
// with the header and that its full hash equals the recorded one.
[[nodiscard]] DecodeResult<sim::World> decode_snapshot(std::span<const uint8_t> bytes, DecodeStats* stats = nullptr);

}  // namespace strata::schema
