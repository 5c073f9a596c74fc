// storage/cached_players.cpp: read-through and fill-after-durable (see cached_players.h).
#include "storage/cached_players.h"

#include <map>

#include "storage/limits.h"

namespace strata::storage {

Outcome CachedPlayers::save(std::span<const PlayerRecord> records) {
  Outcome outcome = cold_.save(records);
  if (!outcome.ok()) return outcome;
  std::map<PlayerKey, PlayerRecord> newest;
  for (const PlayerRecord& record : records) {
    // A fenced save (another region holds the player) may not be in the cold store: with holds the
    // cache is never read by a load, so the entry only mirrors this region's saves.
    auto [slot, inserted] = newest.try_emplace(record.player, record);
    if (!inserted && record.version > slot->second.version) slot->second = record;
  }
  std::vector<PlayerRecord> fill;
  for (auto& [player, record] : newest) fill.push_back(std::move(record));
  if (cache_.put(fill).ok()) {
    for (const PlayerRecord& record : fill) stale_.erase(static_cast<uint32_t>(record.player));
  } else {
    ++cache_failures_;
    mark_stale(fill);
  }
  return outcome;
}

void CachedPlayers::mark_stale(std::span<const PlayerRecord> records) {
  for (const PlayerRecord& record : records) {
    if (stale_.size() >= cache_stale_players_max) {
      all_stale_ = true;
      stale_.clear();
      return;
    }
    stale_.insert(static_cast<uint32_t>(record.player));
  }
}

Result<std::optional<PlayerRecord>> CachedPlayers::load(PlayerKey player) {
  if (Outcome valid = validate(player); !valid.ok()) return {valid, {}};
  if (cold_.holds_players()) {
    ++cold_first_;
    return cold_.load(player);
  }
  if (all_stale_ || stale_.contains(static_cast<uint32_t>(player))) {
    ++stale_skips_;
    Result<std::optional<PlayerRecord>> cold = cold_.load(player);
    if (cold.ok() && cold.value && cache_.put(std::span(&*cold.value, 1)).ok()) {
      ++fills_;
      stale_.erase(static_cast<uint32_t>(player));  // the cache now holds the newest durable save
    }
    return cold;
  }
  Result<std::optional<PlayerRecord>> cached = cache_.get(player);
  if (cached.ok() && cached.value) {
    ++hits_;
    return cached;
  }
  if (cached.ok()) {
    ++misses_;
  } else {
    ++cache_failures_;
  }
  Result<std::optional<PlayerRecord>> cold = cold_.load(player);
  if (cold.ok() && cold.value) {
    if (cache_.put(std::span(&*cold.value, 1)).ok()) {
      ++fills_;
    } else {
      ++cache_failures_;
    }
  }
  return cold;
}

}  // namespace strata::storage
