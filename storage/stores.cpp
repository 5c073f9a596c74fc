// storage/stores.cpp: the limits every port and backend checks before a record reaches a store.
#include "storage/stores.h"

#include "storage/limits.h"

namespace strata::storage {

const char* status_name(StoreStatus status) {
  switch (status) {
    case StoreStatus::ok: return "ok";
    case StoreStatus::refused: return "refused";
    case StoreStatus::unavailable: return "unavailable";
    case StoreStatus::stalled: return "stalled";
    case StoreStatus::lost_connection: return "lost_connection";
    case StoreStatus::corrupt: return "corrupt";
  }
  return "unknown";
}

namespace {

Outcome refused(std::string reason) { return Outcome::failure(StoreStatus::refused, std::move(reason)); }

bool coord_ok(int32_t value) { return value >= -position_coord_abs_max && value <= position_coord_abs_max; }

}  // namespace

Outcome validate(PlayerKey player) {
  const auto raw = static_cast<uint32_t>(player);
  if (raw == 0 || raw > player_key_max) return refused("player id " + std::to_string(raw) + " out of range");
  return Outcome::success();
}

Outcome validate(const PlayerRecord& record) {
  if (Outcome key = validate(record.player); !key.ok()) return key;
  if (record.version < version_min) return refused("player state version 0");
  if (record.held_by != 0) return refused("a player save with held_by set (that is a load's answer)");
  if (record.state.size() > player_state_bytes_max) {
    return refused("player state of " + std::to_string(record.state.size()) + " bytes over the limit of " +
                   std::to_string(player_state_bytes_max));
  }
  return Outcome::success();
}

Outcome validate(const MapRecord& record) {
  if (record.version < version_min) return refused("map version 0");
  if (record.chunks.size() > chunks_per_save_max) {
    return refused(std::to_string(record.chunks.size()) + " chunks in one map save, over the limit of " +
                   std::to_string(chunks_per_save_max));
  }
  for (const ChunkRecord& chunk : record.chunks) {
    if (chunk.version < version_min) return refused("chunk version 0");
    if (chunk.bytes.size() > chunk_bytes_max) {
      return refused("chunk of " + std::to_string(chunk.bytes.size()) + " bytes over the limit of " +
                     std::to_string(chunk_bytes_max));
    }
  }
  return Outcome::success();
}

Outcome validate(const PositionBatch& batch) {
  if (batch.moved.size() + batch.gone.size() > positions_per_update_max) {
    return refused("position update of " + std::to_string(batch.moved.size() + batch.gone.size()) +
                   " players over the limit of " + std::to_string(positions_per_update_max));
  }
  for (const Position& position : batch.moved) {
    if (Outcome key = validate(position.player); !key.ok()) return key;
    if (!coord_ok(position.x) || !coord_ok(position.y)) return refused("position coordinate out of range");
  }
  for (PlayerKey player : batch.gone) {
    if (Outcome key = validate(player); !key.ok()) return key;
  }
  return Outcome::success();
}

Outcome validate(const NearQuery& query) {
  if (!coord_ok(query.x) || !coord_ok(query.y)) return refused("near query centre out of range");
  if (query.r > near_radius_max) {
    return refused("near radius " + std::to_string(query.r) + " over the limit of " + std::to_string(near_radius_max));
  }
  return Outcome::success();
}

Outcome validate(const SessionRecord& record) {
  if (static_cast<uint64_t>(record.session) == 0) return refused("session id 0");
  if (record.version < version_min) return refused("session version 0");
  if (record.region.size() > region_bytes_max) {
    return refused("region name of " + std::to_string(record.region.size()) + " bytes over the limit of " +
                   std::to_string(region_bytes_max));
  }
  if (record.log_location.size() > log_location_bytes_max) {
    return refused("log location of " + std::to_string(record.log_location.size()) + " bytes over the limit of " +
                   std::to_string(log_location_bytes_max));
  }
  return Outcome::success();
}

bool within(const NearQuery& query, int32_t x, int32_t y) {
  const int64_t dx = int64_t{x} - query.x;
  const int64_t dy = int64_t{y} - query.y;
  const uint64_t distance_squared = static_cast<uint64_t>(dx * dx) + static_cast<uint64_t>(dy * dy);
  return distance_squared <= uint64_t{query.r} * query.r;
}

int32_t cell_of(int32_t coord) {
  // Floor division: -1 is in cell -1, not 0.
  const int32_t quotient = coord / position_cell_tiles;
  return (coord % position_cell_tiles < 0) ? quotient - 1 : quotient;
}

}  // namespace strata::storage
