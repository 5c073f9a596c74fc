// server/player_saves.h: what the node asks of player persistence (issue 16 item 1), and the bytes a
// player's save is stored as.
//
// The node (server/node.h) holds a joining player's JoinCommand until its save is loaded off the
// tick thread: it calls request() when the client connects, poll() once a tick until answered, and
// joins with the answer (or, after its wait runs out, with last_known(): what this process last
// saved for the player, else a fresh start; or refuses the join when may_join_unloaded() says so). After every step it
// hands over the state of the players that left (Effects::left_saves: leave, disconnect, the shutdown's final tick, the
// leaves of a recovered world's first tick). Everything here is called on the sim thread and must not block: the
// implementation (StorageService) queues reads and writes on the player port.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "sim/entities.h"
#include "sim/types.h"

namespace strata::server {

class PlayerSaves {
 public:
  virtual ~PlayerSaves() = default;
  // Starts loading `player`'s save. False when it cannot be queued (the read queue is full): the
  // node then joins the player at once with last_known().
  [[nodiscard]] virtual bool request(sim::PlayerId player) = 0;
  enum class Poll : uint8_t { waiting, answered };
  // answered (once): `save` holds the loaded save, or nullopt for a player the store does not know
  // (or whose stored bytes are refused: counted) — a fresh start.
  [[nodiscard]] virtual Poll poll(sim::PlayerId player, std::optional<sim::PlayerSave>& save) = 0;
  // The request will not be polled again (the client left before its join, or its wait ran out).
  virtual void cancel(sim::PlayerId player) = 0;
  // What this process last saved or loaded for `player` (the fallback when a load times out).
  [[nodiscard]] virtual std::optional<sim::PlayerSave> last_known(sim::PlayerId player) = 0;
  // Asked when `player`'s save was not loaded (its wait ran out, or it could not be asked for):
  // false when joining with last_known() could lose what the player did elsewhere (another region
  // holds the player, or the store that would say so fails); the node then refuses the join (the
  // client is disconnected with `refused` and may try again).
  [[nodiscard]] virtual bool may_join_unloaded(sim::PlayerId /*player*/) { return true; }
  // After the step of `tick`: the players that left and their state.
  virtual void left(uint64_t tick, std::span<const std::pair<sim::PlayerId, sim::PlayerSave>> saves) = 0;
};

// A save as the player store keeps it (little-endian):
//   format u8 (1) | x i32 | y i32 (Fixed raw) | facing u8 | stamina u16 | health u16 |
//   item count u8 | count u16 per item
// A save of fewer item kinds than this build has decodes with the others at zero; the rules check
// every value when the save comes back in a join (sim/command.h), so the decoder checks the layout
// only. Fuzzed: fuzz/player_save.cpp.
inline constexpr uint8_t player_save_format = 1;
[[nodiscard]] std::string encode_player_save(const sim::PlayerSave& save);
[[nodiscard]] std::optional<sim::PlayerSave> decode_player_save(std::string_view bytes);

}  // namespace strata::server
