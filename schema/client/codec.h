// schema/client/codec.h — ClientSnapshot to bytes (packed Cap'n Proto, client.capnp) and back.
// decode_client_snapshot takes untrusted bytes: sizes are checked against view.h's limits before
// anything is allocated, every field is validated, and errors are values, never exceptions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "schema/client/view.h"

namespace strata::view {

void encode_client_snapshot(const ClientSnapshot& snapshot, std::vector<uint8_t>& out);
// The same, appended to `out` (whose capacity is reused: one allocation at most).
void append_client_snapshot(const ClientSnapshot& snapshot, std::vector<uint8_t>& out);

struct SnapshotDecodeResult {
  std::optional<ClientSnapshot> snapshot;
  std::string error;
};
[[nodiscard]] SnapshotDecodeResult decode_client_snapshot(std::span<const uint8_t> bytes);

// The header fields alone (tick, baseline, checksums, last input, the viewer's motion state; no
// entities, cells or chunks), read from the leading words without unpacking the rest: for a
// client that only acknowledges. nullopt when they cannot be read that way (a malformed message,
// or one laid out unlike the encoder's); decode_client_snapshot then decides.
[[nodiscard]] std::optional<ClientSnapshot> decode_client_snapshot_header(std::span<const uint8_t> bytes);

}  // namespace strata::view
