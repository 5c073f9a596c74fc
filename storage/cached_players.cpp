// storage/cached_players.cpp: read-through and fill-after-durable (see cached_players.h).
#include "storage/cached_players.h"

#include <map>

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
  if (!cache_.put(fill).ok()) ++cache_failures_;
  return outcome;
}

Result<std::optional<PlayerRecord>> CachedPlayers::load(PlayerKey player) {
  if (Outcome valid = validate(player); !valid.ok()) return {valid, {}};
  if (cold_.holds_players()) {
    ++cold_first_;
    return cold_.load(player);
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
