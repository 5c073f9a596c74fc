// replay/rocks_keys.cpp — see rocks_keys.h.
#include "replay/rocks_keys.h"

#include <xxhash.h>

#include <cstring>

#include "replay/limits.h"

namespace strata::replay::rocks_keys {

static_assert(limits::value_checksum_bytes == sizeof(uint64_t), "values start with an XXH3-64");

std::string tick_key(uint64_t tick) {
  std::string key(tick_key_bytes, '\0');
  for (size_t i = 0; i < tick_key_bytes; ++i) key[i] = static_cast<char>((tick >> (56 - 8 * i)) & 0xFFU);
  return key;
}

std::string snapshot_index_key(uint64_t tick) { return std::string(snapshot_index_prefix) + tick_key(tick); }

bool key_tick(std::string_view key, uint64_t& tick) {
  if (key.size() != tick_key_bytes) return false;
  tick = 0;
  for (size_t i = 0; i < tick_key_bytes; ++i) tick = (tick << 8U) | static_cast<uint8_t>(key[i]);
  return true;
}

bool snapshot_index_tick(std::string_view key, uint64_t& tick) {
  if (!key.starts_with(snapshot_index_prefix)) return false;
  return key_tick(key.substr(snapshot_index_prefix.size()), tick);
}

std::string checked_value(std::span<const uint8_t> payload) {
  const uint64_t hash = XXH3_64bits(payload.data(), payload.size());
  std::string value(limits::value_checksum_bytes + payload.size(), '\0');
  for (size_t i = 0; i < limits::value_checksum_bytes; ++i) value[i] = static_cast<char>((hash >> (8 * i)) & 0xFFU);
  if (!payload.empty()) std::memcpy(value.data() + limits::value_checksum_bytes, payload.data(), payload.size());
  return value;
}

bool open_value(std::string_view value, std::span<const uint8_t>& payload) {
  if (value.size() < limits::value_checksum_bytes) return false;
  uint64_t stored = 0;
  for (size_t i = 0; i < limits::value_checksum_bytes; ++i)
    stored |= uint64_t{static_cast<uint8_t>(value[i])} << (8 * i);
  payload = std::span(reinterpret_cast<const uint8_t*>(value.data()) + limits::value_checksum_bytes,
                      value.size() - limits::value_checksum_bytes);
  return XXH3_64bits(payload.data(), payload.size()) == stored;
}

}  // namespace strata::replay::rocks_keys
