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

struct SnapshotDecodeResult {
  std::optional<ClientSnapshot> snapshot;
  std::string error;
};
[[nodiscard]] SnapshotDecodeResult decode_client_snapshot(std::span<const uint8_t> bytes);

}  // namespace strata::view
