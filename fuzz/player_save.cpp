// fuzz/player_save.cpp: a player's save read back from the player store (server/player_saves.h)
// takes any bytes: nullopt, or a save that re-encodes to the same bytes (a save of fewer item kinds
// than this build re-encodes with all of them, so only the full layout must round-trip).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/player_saves.h"
#include "sim/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<sim::PlayerSave> save = server::decode_player_save(bytes);
  if (!save) return 0;
  const std::string again = server::encode_player_save(*save);
  STRATA_ASSERT(server::decode_player_save(again) == save);
  if (size == again.size()) STRATA_ASSERT(again == bytes);
  return 0;
}
