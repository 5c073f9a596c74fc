// replay/rocks_keys.h — the session log's RocksDB keys and value framing, apart from RocksDB so
// that the decoders of what a log directory holds (untrusted: a copied or damaged log) can be
// fuzzed (fuzz/replay_rocks_keys.cpp).
//   tick key          8 bytes, the tick big-endian (keys sort in tick order)
//   snapshot index    "snapshot/" + tick key, in the meta column family (an empty value per snapshot)
//   value             XXH3-64 of the payload (8 bytes, little-endian) | payload
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::replay::rocks_keys {

inline constexpr std::string_view snapshot_index_prefix = "snapshot/";
inline constexpr size_t tick_key_bytes = 8;

[[nodiscard]] std::string tick_key(uint64_t tick);
[[nodiscard]] std::string snapshot_index_key(uint64_t tick);
// The tick of a tick key; false unless `key` is exactly tick_key_bytes long.
[[nodiscard]] bool key_tick(std::string_view key, uint64_t& tick);
// The tick of a snapshot index key; false unless it is the prefix and a tick key.
[[nodiscard]] bool snapshot_index_tick(std::string_view key, uint64_t& tick);

[[nodiscard]] std::string checked_value(std::span<const uint8_t> payload);
// Verifies a value's checksum; on success `payload` views the bytes after it (within `value`).
[[nodiscard]] bool open_value(std::string_view value, std::span<const uint8_t>& payload);

}  // namespace strata::replay::rocks_keys
