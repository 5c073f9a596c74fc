// storage/ports.cpp: the four AsyncPorts wired to their backends, with the read-your-writes lookups.
#include <algorithm>
#include <memory>

#include "storage/async_port.h"
#include "storage/codec.h"

namespace strata::storage {
namespace {

// The newest queued record of `key` (highest version: that is the one the store will keep).
template <class Record, class Key, class KeyOf>
std::optional<std::optional<Record>> newest_queued(const std::deque<Record>& queued, const Key& key, KeyOf key_of) {
  const Record* newest = nullptr;
  for (const Record& record : queued) {
    if (key_of(record) == key && (newest == nullptr || record.version > newest->version)) newest = &record;
  }
  if (newest == nullptr) return std::nullopt;
  return std::optional<Record>(*newest);
}

}  // namespace

std::unique_ptr<PlayerPort> make_player_port(PlayerBackend& backend, PortConfig config) {
  PlayerPort::Functions fn;
  fn.apply = [&backend](std::span<const PlayerRecord> batch) { return backend.save(batch); };
  fn.read = [&backend](const PlayerKey& key) { return backend.load(key); };
  fn.pending = [](const std::deque<PlayerRecord>& queued, const PlayerKey& key) {
    return newest_queued(queued, key, [](const PlayerRecord& r) { return r.player; });
  };
  fn.validate_write = [](const PlayerRecord& record) { return validate(record); };
  fn.validate_key = [](const PlayerKey& key) { return validate(key); };
  fn.encode = [](const PlayerRecord& record) { return codec::encode_player_record(record); };
  fn.decode = [](std::string_view bytes) { return codec::decode_player_record(bytes); };
  return std::make_unique<PlayerPort>(config, std::move(fn));
}

std::unique_ptr<MapPort> make_map_port(MapBackend& backend, PortConfig config) {
  MapPort::Functions fn;
  fn.apply = [&backend](std::span<const MapRecord> batch) { return backend.save(batch); };
  fn.read = [&backend](const MapId& map) { return backend.load(map); };
  // No queued answer: a queued map save holds only the chunks that changed, not the map.
  fn.validate_write = [](const MapRecord& record) { return validate(record); };
  fn.validate_key = [](const MapId&) { return Outcome::success(); };
  return std::make_unique<MapPort>(config, std::move(fn));
}

std::unique_ptr<PositionPort> make_position_port(PositionBackend& backend, PortConfig config) {
  PositionPort::Functions fn;
  fn.apply = [&backend](std::span<const PositionBatch> batch) { return backend.update(batch); };
  fn.read = [&backend](const NearQuery& query) { return backend.near(query); };
  // No queued answer: positions are live data, a query answers what the store holds.
  fn.validate_write = [](const PositionBatch& batch) { return validate(batch); };
  fn.validate_key = [](const NearQuery& query) { return validate(query); };
  return std::make_unique<PositionPort>(config, std::move(fn));
}

std::unique_ptr<SessionPort> make_session_port(SessionBackend& backend, PortConfig config) {
  SessionPort::Functions fn;
  fn.apply = [&backend](std::span<const SessionRecord> batch) { return backend.save(batch); };
  fn.read = [&backend](const SessionId& session) { return backend.load(session); };
  fn.pending = [](const std::deque<SessionRecord>& queued, const SessionId& key) {
    return newest_queued(queued, key, [](const SessionRecord& r) { return r.session; });
  };
  fn.validate_write = [](const SessionRecord& record) { return validate(record); };
  fn.validate_key = [](const SessionId& session) {
    return static_cast<uint64_t>(session) == 0 ? Outcome::failure(StoreStatus::refused, "session id 0")
                                               : Outcome::success();
  };
  fn.encode = [](const SessionRecord& record) { return codec::encode_session_record(record); };
  fn.decode = [](std::string_view bytes) { return codec::decode_session_record(bytes); };
  return std::make_unique<SessionPort>(config, std::move(fn));
}

}  // namespace strata::storage
