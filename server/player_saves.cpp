// server/player_saves.cpp: see player_saves.h.
#include "server/player_saves.h"

#include <cstring>

namespace strata::server {
namespace {

template <class T>
void put(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFF));
}

template <class T>
T get(std::string_view bytes, size_t& at) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= uint64_t{static_cast<uint8_t>(bytes[at + i])} << (8 * i);
  at += sizeof(T);
  return static_cast<T>(value);
}

constexpr size_t head_bytes = 1 + 4 + 4 + 1 + 2 + 2 + 1;

}  // namespace

std::string encode_player_save(const sim::PlayerSave& save) {
  std::string out;
  out.reserve(head_bytes + 2 * sim::item_count);
  put(out, player_save_format);
  put(out, static_cast<uint32_t>(save.pos.x.raw()));
  put(out, static_cast<uint32_t>(save.pos.y.raw()));
  put(out, static_cast<uint8_t>(save.facing));
  put(out, save.stamina);
  put(out, save.health);
  put(out, static_cast<uint8_t>(sim::item_count));
  for (const uint16_t count : save.inventory) put(out, count);
  return out;
}

std::optional<sim::PlayerSave> decode_player_save(std::string_view bytes) {
  if (bytes.size() < head_bytes) return std::nullopt;
  size_t at = 0;
  if (get<uint8_t>(bytes, at) != player_save_format) return std::nullopt;
  sim::PlayerSave save;
  save.pos.x = sim::Fixed::from_raw(static_cast<int32_t>(get<uint32_t>(bytes, at)));
  save.pos.y = sim::Fixed::from_raw(static_cast<int32_t>(get<uint32_t>(bytes, at)));
  save.facing = static_cast<sim::Direction>(get<uint8_t>(bytes, at));
  save.stamina = get<uint16_t>(bytes, at);
  save.health = get<uint16_t>(bytes, at);
  const size_t items = get<uint8_t>(bytes, at);
  if (items > sim::item_count || bytes.size() != head_bytes + 2 * items) return std::nullopt;
  for (size_t i = 0; i < items; ++i) save.inventory[i] = get<uint16_t>(bytes, at);
  return save;
}

}  // namespace strata::server
