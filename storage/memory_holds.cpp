// storage/memory_holds.cpp: the twin's holds (see memory_holds.h and PlayerHolds in stores.h).
#include "storage/memory_holds.h"

#include "sim/assert.h"

namespace strata::storage {

bool MemoryHolds::may_hold(PlayerKey player, uint16_t region, uint64_t now_ms) const {
  auto found = holds.find(player);
  if (found == holds.end()) return true;
  const Hold& hold = found->second;
  return hold.holder == 0 || hold.holder == region || hold.lease_until_ms < now_ms;
}

RegionPlayers::RegionPlayers(MemoryStores& records, MemoryHolds& holds, uint16_t region, uint64_t lease_ms,
                             std::function<uint64_t()> now_ms)
    : records_(records), holds_(holds), region_(region), lease_ms_(lease_ms), now_ms_(std::move(now_ms)) {
  STRATA_REQUIRE(region_ != 0 && lease_ms_ > 0 && now_ms_, region_, lease_ms_);
}

Outcome RegionPlayers::save(std::span<const PlayerRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  const uint64_t now = now_ms_();
  std::vector<PlayerRecord> allowed;  // the others are fenced: another region holds the player
  for (const PlayerRecord& record : records) {
    if (holds_.may_hold(record.player, region_, now)) allowed.push_back(record);
  }
  Outcome outcome = records_.save(allowed);
  if (!outcome.ok() && outcome.status != StoreStatus::lost_connection) return outcome;  // nothing applied
  for (const PlayerRecord& record : allowed) {
    // Only the newest save changes the hold (a retry or an overtaken save never does).
    auto stored = records_.players().find(record.player);
    if (stored == records_.players().end() || record.version < stored->second.version) continue;
    MemoryHolds::Hold& hold = holds_.holds[record.player];
    hold.holder = record.release ? 0 : region_;
    hold.lease_until_ms = record.release ? 0 : now + lease_ms_;
  }
  return outcome;
}

Result<std::optional<PlayerRecord>> RegionPlayers::load(PlayerKey player) {
  Result<std::optional<PlayerRecord>> loaded = records_.load(player);
  if (!loaded.ok()) return loaded;  // the script refused the call: no claim
  const uint64_t now = now_ms_();
  if (!holds_.may_hold(player, region_, now)) {
    return {Outcome::success(), PlayerRecord{player, 0, {}, false, holds_.holds[player].holder}};
  }
  holds_.holds[player] = {region_, now + lease_ms_};
  if (loaded.value) loaded.value->release = false;  // the twin keeps the record as saved
  return loaded;
}

Outcome RegionPlayers::renew() {
  const uint64_t now = now_ms_();
  for (auto& [player, hold] : holds_.holds) {
    if (hold.holder == region_ && hold.lease_until_ms > 0) hold.lease_until_ms = now + lease_ms_;
  }
  return Outcome::success();
}

Outcome RegionPlayers::restart(std::span<const PlayerKey> keep) {
  for (PlayerKey player : keep) {
    if (Outcome valid = validate(player); !valid.ok()) return valid;
  }
  for (auto& [player, hold] : holds_.holds) {
    if (hold.holder == region_) hold = {};
  }
  const uint64_t now = now_ms_();
  for (PlayerKey player : keep) {
    if (holds_.may_hold(player, region_, now)) holds_.holds[player] = {region_, now + lease_ms_};
  }
  return Outcome::success();
}

}  // namespace strata::storage
