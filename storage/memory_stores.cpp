// storage/memory_stores.cpp: the twin's maps and its fault script (see memory_stores.h).
#include "storage/memory_stores.h"

namespace strata::storage {

void MemoryStores::inject(Fault fault, uint32_t calls) {
  for (uint32_t i = 0; i < calls; ++i) script_.push_back(fault);
}

void MemoryStores::restart(RestartLoses loses) {
  ++faults_.restarts;
  script_.clear();  // a held fault is the caller's window: it outlasts the restart
  if (loses == RestartLoses::everything) {
    players_.clear();
    cache_.clear();
    maps_.clear();
    positions_.clear();
    sessions_.clear();
  }
}

MemoryStores::Gate MemoryStores::gate(Outcome& outcome) {
  ++faults_.calls;
  if (down_) {
    ++faults_.failed_down;
    outcome = Outcome::failure(StoreStatus::unavailable, "memory store: down");
    return Gate::refuse;
  }
  if (!held_ && script_.empty()) return Gate::pass;
  Fault fault = Fault::stall;
  if (held_) {
    fault = *held_;
  } else {
    fault = script_.front();
    script_.pop_front();
  }
  switch (fault) {
    case Fault::stall:
      ++faults_.stalls;
      outcome = Outcome::failure(StoreStatus::stalled, "memory store: stalled");
      return Gate::refuse;
    case Fault::error:
      ++faults_.errors;
      outcome = Outcome::failure(StoreStatus::unavailable, "memory store: injected error");
      return Gate::refuse;
    case Fault::lost_connection:
      ++faults_.lost_connections;
      outcome = Outcome::failure(StoreStatus::lost_connection, "memory store: connection lost");
      return Gate::apply_then_lose;
  }
  return Gate::pass;
}

Outcome MemoryStores::save(std::span<const PlayerRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  Outcome outcome;
  if (gate(outcome) == Gate::refuse) return outcome;
  for (const PlayerRecord& record : records) {
    PlayerRecord& stored = players_[record.player];
    if (record.version > stored.version) stored = record;
  }
  return outcome;
}

Result<std::optional<PlayerRecord>> MemoryStores::load(PlayerKey player) {
  if (Outcome valid = validate(player); !valid.ok()) return {valid, {}};
  Outcome outcome;
  if (gate(outcome) != Gate::pass) return {outcome, {}};
  auto found = players_.find(player);
  if (found == players_.end() || found->second.version == 0) return {};
  return {Outcome::success(), found->second};
}

Outcome MemoryStores::save(std::span<const MapRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  Outcome outcome;
  if (gate(outcome) == Gate::refuse) return outcome;
  for (const MapRecord& record : records) {
    MapState& state = maps_[record.map];
    if (record.version > state.version) {
      state.version = record.version;
      state.hash = record.hash;
    }
    for (const ChunkRecord& chunk : record.chunks) {
      ChunkRecord& stored = state.chunks[{chunk.cx, chunk.cy}];
      if (chunk.version > stored.version) stored = chunk;
    }
  }
  return outcome;
}

Result<std::optional<MapRecord>> MemoryStores::load(MapId map) {
  Outcome outcome;
  if (gate(outcome) != Gate::pass) return {outcome, {}};
  auto found = maps_.find(map);
  if (found == maps_.end() || found->second.version == 0) return {};
  MapRecord record{map, found->second.version, found->second.hash, {}};
  for (const auto& [coords, chunk] : found->second.chunks) record.chunks.push_back(chunk);
  return {Outcome::success(), std::move(record)};
}

Outcome MemoryStores::update(std::span<const PositionBatch> batches) {
  for (const PositionBatch& batch : batches) {
    if (Outcome valid = validate(batch); !valid.ok()) return valid;
  }
  Outcome outcome;
  if (gate(outcome) == Gate::refuse) return outcome;
  for (const PositionBatch& batch : batches) {
    for (const Position& position : batch.moved) positions_[position.player] = {position.x, position.y};
    for (PlayerKey player : batch.gone) positions_.erase(player);
  }
  return outcome;
}

Result<std::vector<Position>> MemoryStores::near(const NearQuery& query) {
  if (Outcome valid = validate(query); !valid.ok()) return {valid, {}};
  Outcome outcome;
  if (gate(outcome) != Gate::pass) return {outcome, {}};
  Result<std::vector<Position>> result;
  for (const auto& [player, xy] : positions_) {
    if (within(query, xy.first, xy.second)) result.value.push_back({player, xy.first, xy.second});
  }
  return result;
}

Outcome MemoryStores::save(std::span<const SessionRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  Outcome outcome;
  if (gate(outcome) == Gate::refuse) return outcome;
  for (const SessionRecord& record : records) {
    SessionRecord& stored = sessions_[record.session];
    if (record.version > stored.version) stored = record;
  }
  return outcome;
}

Result<std::optional<SessionRecord>> MemoryStores::load(SessionId session) {
  Outcome outcome;
  if (gate(outcome) != Gate::pass) return {outcome, {}};
  auto found = sessions_.find(session);
  if (found == sessions_.end() || found->second.version == 0) return {};
  return {Outcome::success(), found->second};
}

Result<std::optional<PlayerRecord>> MemoryStores::get(PlayerKey player) {
  Outcome outcome;
  if (gate(outcome) != Gate::pass) return {outcome, {}};
  auto found = cache_.find(player);
  if (found == cache_.end() || found->second.version == 0) return {};
  return {Outcome::success(), found->second};
}

Outcome MemoryStores::put(std::span<const PlayerRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  Outcome outcome;
  if (gate(outcome) == Gate::refuse) return outcome;
  for (const PlayerRecord& record : records) {
    PlayerRecord& stored = cache_[record.player];
    if (record.version > stored.version) stored = record;
  }
  return outcome;
}

}  // namespace strata::storage
