// storage/memory_holds.h: the twin of the global cold store's holds (PlayerHolds in stores.h), so
// strata-vopr can run regions that share one player store on simulated time.
//
// MemoryHolds is the holder-and-lease column every region's view shares; RegionPlayers is one
// region's PlayerBackend over a shared MemoryStores (the records, with its fault script) and the
// shared MemoryHolds, under the rules MariaDbStores follows with MariaDbOptions::region set:
// a load claims (or answers held_by), a save is fenced unless the region may hold the player, and
// the newest save takes, keeps or (a leave save) releases the hold. Time is the caller's: now_ms()
// (a ManualClock in a simulation). The faults are the MemoryStores': a call the script refuses
// changes no hold; a lost connection applies the save and its hold change, then fails.
// renew() and restart() meet no fault (the script counts store calls, these are bookkeeping).
// Not thread-safe: one caller at a time, like MemoryStores.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "storage/memory_stores.h"

namespace strata::storage {

struct MemoryHolds {
  struct Hold {
    uint16_t holder = 0;
    uint64_t lease_until_ms = 0;
  };
  std::map<PlayerKey, Hold> holds;
  // True when `region` may write or claim `player` at `now_ms` (free, its own, or the lease ran out).
  [[nodiscard]] bool may_hold(PlayerKey player, uint16_t region, uint64_t now_ms) const;
};

class RegionPlayers final : public PlayerBackend, public PlayerHolds {
 public:
  RegionPlayers(MemoryStores& records, MemoryHolds& holds, uint16_t region, uint64_t lease_ms,
                std::function<uint64_t()> now_ms);

  [[nodiscard]] Outcome save(std::span<const PlayerRecord> records) override;
  [[nodiscard]] Result<std::optional<PlayerRecord>> load(PlayerKey player) override;
  [[nodiscard]] bool holds_players() const override { return true; }
  [[nodiscard]] Outcome renew() override;
  [[nodiscard]] Outcome restart(std::span<const PlayerKey> keep) override;

 private:
  MemoryStores& records_;
  MemoryHolds& holds_;
  const uint16_t region_;
  const uint64_t lease_ms_;
  const std::function<uint64_t()> now_ms_;
};

}  // namespace strata::storage
