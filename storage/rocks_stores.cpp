// storage/rocks_stores.cpp: RocksStores (layout and fsync policy in rocks_stores.h).
#include "storage/rocks_stores.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <map>

#include "storage/codec.h"
#include "storage/limits.h"

namespace strata::storage {
namespace {

enum Family : size_t { players_cf, maps_cf, chunks_cf, positions_cf, sessions_cf, family_count };
constexpr const char* family_names[family_count] = {"players", "maps", "chunks", "positions", "sessions"};

std::string player_key(PlayerKey player) {
  std::string key;
  codec::append_u32_be(key, static_cast<uint32_t>(player));
  return key;
}

std::string chunk_prefix(MapId map) {
  std::string key;
  codec::append_u32_be(key, static_cast<uint32_t>(map));
  return key;
}

std::string chunk_key(MapId map, int32_t cx, int32_t cy) {
  std::string key = chunk_prefix(map);
  codec::append_i32_sortable(key, cx);
  codec::append_i32_sortable(key, cy);
  return key;
}

std::string position_key(PlayerKey player) {
  std::string key = "p";
  codec::append_u32_be(key, static_cast<uint32_t>(player));
  return key;
}

std::string cell_prefix(int32_t cell_x, int32_t cell_y) {
  std::string key = "c";
  codec::append_i32_sortable(key, cell_x);
  codec::append_i32_sortable(key, cell_y);
  return key;
}

std::string cell_key(PlayerKey player, int32_t x, int32_t y) {
  std::string key = cell_prefix(cell_of(x), cell_of(y));
  codec::append_u32_be(key, static_cast<uint32_t>(player));
  return key;
}

Outcome failed(const rocksdb::Status& status) {
  return Outcome::failure(StoreStatus::unavailable, "rocksdb: " + status.ToString());
}

Outcome corrupt(std::string what) { return Outcome::failure(StoreStatus::corrupt, "rocksdb: " + std::move(what)); }

}  // namespace

struct RocksStores::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  rocksdb::WriteOptions durable;
  rocksdb::WriteOptions live;

  ~Impl() {
    for (rocksdb::ColumnFamilyHandle* family : families) (void)db->DestroyColumnFamilyHandle(family);
  }

  // The stored version of a versioned record (0 when absent); a read error or damage is an Outcome.
  Outcome stored_version(Family family, const std::string& key, size_t bytes_max, uint64_t& version) {
    std::string value;
    const rocksdb::Status read = db->Get(rocksdb::ReadOptions(), families[family], key, &value);
    version = 0;
    if (read.IsNotFound()) return Outcome::success();
    if (!read.ok()) return failed(read);
    const auto decoded = codec::decode_versioned(value, bytes_max);
    if (!decoded) return corrupt("damaged value in " + std::string(family_names[family]));
    version = decoded->version;
    return Outcome::success();
  }
};

RocksStores::RocksStores(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksStores::~RocksStores() = default;

std::unique_ptr<RocksStores> RocksStores::open(const std::string& dir, RocksStoresOptions options, std::string& error) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_open_files = 32;
  db_options.keep_log_file_num = 2;
  db_options.max_file_opening_threads = 1;
  db_options.max_background_jobs = 1;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (const char* name : family_names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  if (!status.ok()) {
    error = "stores " + dir + ": " + status.ToString();
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  (void)impl->db->DestroyColumnFamilyHandle(handles[0]);  // the default family is unused
  impl->families.assign(handles.begin() + 1, handles.end());
  impl->durable.sync = options.sync;
  impl->live.disableWAL = true;
  // Positions of an earlier run are stale (nobody is connected yet): start with none, whether the
  // last run ended cleanly (memtables flushed) or not.
  const rocksdb::Status cleared =
      impl->db->DeleteRange(rocksdb::WriteOptions(), impl->families[positions_cf], "", "\xff");
  if (!cleared.ok()) {
    error = "stores " + dir + ": " + cleared.ToString();
    return nullptr;
  }
  return std::unique_ptr<RocksStores>(new RocksStores(std::move(impl)));
}

Outcome RocksStores::save(std::span<const PlayerRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  // Newest record per player in this batch, compared with the stored version.
  std::map<PlayerKey, const PlayerRecord*> newest;
  for (const PlayerRecord& record : records) {
    const PlayerRecord*& slot = newest[record.player];
    if (slot == nullptr || record.version > slot->version) slot = &record;
  }
  rocksdb::WriteBatch batch;
  for (const auto& [player, record] : newest) {
    const std::string key = player_key(player);
    uint64_t stored = 0;
    if (Outcome read = impl_->stored_version(players_cf, key, player_state_bytes_max, stored); !read.ok()) return read;
    if (record->version <= stored) continue;
    (void)batch.Put(impl_->families[players_cf], key, codec::encode_versioned(record->version, record->state));
  }
  if (batch.Count() == 0) return Outcome::success();
  const rocksdb::Status written = impl_->db->Write(impl_->durable, &batch);
  return written.ok() ? Outcome::success() : failed(written);
}

Result<std::optional<PlayerRecord>> RocksStores::load(PlayerKey player) {
  if (Outcome valid = validate(player); !valid.ok()) return {valid, {}};
  std::string value;
  const rocksdb::Status read =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->families[players_cf], player_key(player), &value);
  if (read.IsNotFound()) return {};
  if (!read.ok()) return {failed(read), {}};
  const auto decoded = codec::decode_versioned(value, player_state_bytes_max);
  if (!decoded) return {corrupt("damaged player state"), {}};
  return {Outcome::success(), PlayerRecord{player, decoded->version, decoded->bytes}};
}

Outcome RocksStores::save(std::span<const MapRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  // Later records of the batch must compare against earlier ones, not only the stored values.
  std::map<std::string, uint64_t> written_versions;
  std::map<MapId, codec::MapHead> heads;
  rocksdb::WriteBatch batch;
  for (const MapRecord& record : records) {
    codec::MapHead head{};
    if (auto cached = heads.find(record.map); cached != heads.end()) {
      head = cached->second;
    } else {
      std::string value;
      const rocksdb::Status read =
          impl_->db->Get(rocksdb::ReadOptions(), impl_->families[maps_cf], chunk_prefix(record.map), &value);
      if (!read.ok() && !read.IsNotFound()) return failed(read);
      if (read.ok()) {
        const auto decoded = codec::decode_map_head(value);
        if (!decoded) return corrupt("damaged map head");
        head = *decoded;
      }
    }
    if (record.version > head.version) {
      head = {record.version, record.hash};
      (void)batch.Put(impl_->families[maps_cf], chunk_prefix(record.map),
                      codec::encode_map_head(head.version, head.hash));
    }
    heads[record.map] = head;
    for (const ChunkRecord& chunk : record.chunks) {
      const std::string key = chunk_key(record.map, chunk.cx, chunk.cy);
      uint64_t stored = 0;
      if (auto seen = written_versions.find(key); seen != written_versions.end()) {
        stored = seen->second;
      } else if (Outcome read = impl_->stored_version(chunks_cf, key, chunk_bytes_max, stored); !read.ok()) {
        return read;
      }
      if (chunk.version <= stored) continue;
      written_versions[key] = chunk.version;
      (void)batch.Put(impl_->families[chunks_cf], key, codec::encode_versioned(chunk.version, chunk.bytes));
    }
  }
  if (batch.Count() == 0) return Outcome::success();
  const rocksdb::Status written = impl_->db->Write(impl_->durable, &batch);
  return written.ok() ? Outcome::success() : failed(written);
}

Result<std::optional<MapRecord>> RocksStores::load(MapId map) {
  const std::string prefix = chunk_prefix(map);
  std::string value;
  const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), impl_->families[maps_cf], prefix, &value);
  if (read.IsNotFound()) return {};
  if (!read.ok()) return {failed(read), {}};
  const auto head = codec::decode_map_head(value);
  if (!head) return {corrupt("damaged map head"), {}};
  MapRecord record{map, head->version, head->hash, {}};
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->families[chunks_cf]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.size() != prefix.size() + 8) return {corrupt("damaged chunk key"), {}};
    const auto chunk =
        codec::decode_versioned(std::string_view(it->value().data(), it->value().size()), chunk_bytes_max);
    if (!chunk) return {corrupt("damaged chunk"), {}};
    record.chunks.push_back({*codec::read_i32_sortable(key.substr(4)), *codec::read_i32_sortable(key.substr(8)),
                             chunk->version, chunk->bytes});
  }
  if (!it->status().ok()) return {failed(it->status()), {}};
  return {Outcome::success(), std::move(record)};
}

Outcome RocksStores::update(std::span<const PositionBatch> batches) {
  for (const PositionBatch& batch : batches) {
    if (Outcome valid = validate(batch); !valid.ok()) return valid;
  }
  rocksdb::ColumnFamilyHandle* family = impl_->families[positions_cf];
  // The current position of every player touched (stored, or set earlier in this call).
  std::map<PlayerKey, std::optional<std::pair<int32_t, int32_t>>> current;
  auto lookup = [&](PlayerKey player) -> Result<std::optional<std::pair<int32_t, int32_t>>> {
    if (auto seen = current.find(player); seen != current.end()) return {Outcome::success(), seen->second};
    std::string value;
    const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), family, position_key(player), &value);
    if (read.IsNotFound()) return {};
    if (!read.ok()) return {failed(read), {}};
    const auto xy = codec::decode_xy(value);
    if (!xy) return {corrupt("damaged position"), {}};
    return {Outcome::success(), *xy};
  };
  rocksdb::WriteBatch batch;
  for (const PositionBatch& update : batches) {
    for (const Position& position : update.moved) {
      auto old = lookup(position.player);
      if (!old.ok()) return old.outcome;
      if (old.value) (void)batch.Delete(family, cell_key(position.player, old.value->first, old.value->second));
      (void)batch.Put(family, position_key(position.player), codec::encode_xy(position.x, position.y));
      (void)batch.Put(family, cell_key(position.player, position.x, position.y), "");
      current[position.player] = std::pair{position.x, position.y};
    }
    for (PlayerKey player : update.gone) {
      auto old = lookup(player);
      if (!old.ok()) return old.outcome;
      if (!old.value) continue;
      (void)batch.Delete(family, cell_key(player, old.value->first, old.value->second));
      (void)batch.Delete(family, position_key(player));
      current[player] = std::nullopt;
    }
  }
  const rocksdb::Status written = impl_->db->Write(impl_->live, &batch);
  return written.ok() ? Outcome::success() : failed(written);
}

Result<std::vector<Position>> RocksStores::near(const NearQuery& query) {
  if (Outcome valid = validate(query); !valid.ok()) return {valid, {}};
  const int64_t r = query.r;
  const int32_t cell_x_min = cell_of(static_cast<int32_t>(std::max<int64_t>(query.x - r, INT32_MIN)));
  const int32_t cell_x_max = cell_of(static_cast<int32_t>(std::min<int64_t>(query.x + r, INT32_MAX)));
  const int32_t cell_y_min = cell_of(static_cast<int32_t>(std::max<int64_t>(query.y - r, INT32_MIN)));
  const int32_t cell_y_max = cell_of(static_cast<int32_t>(std::min<int64_t>(query.y + r, INT32_MAX)));
  rocksdb::ColumnFamilyHandle* family = impl_->families[positions_cf];
  Result<std::vector<Position>> result;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), family));
  for (int32_t cell_x = cell_x_min; cell_x <= cell_x_max; ++cell_x) {
    for (int32_t cell_y = cell_y_min; cell_y <= cell_y_max; ++cell_y) {
      const std::string prefix = cell_prefix(cell_x, cell_y);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        const auto raw =
            codec::read_u32_be(std::string_view(it->key().data() + prefix.size(), it->key().size() - prefix.size()));
        if (!raw || it->key().size() != prefix.size() + 4) return {corrupt("damaged cell key"), {}};
        std::string value;
        const auto player = static_cast<PlayerKey>(*raw);
        const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), family, position_key(player), &value);
        if (!read.ok()) return {read.IsNotFound() ? corrupt("cell entry without position") : failed(read), {}};
        const auto xy = codec::decode_xy(value);
        if (!xy) return {corrupt("damaged position"), {}};
        if (within(query, xy->first, xy->second)) result.value.push_back({player, xy->first, xy->second});
      }
      if (!it->status().ok()) return {failed(it->status()), {}};
    }
  }
  std::sort(result.value.begin(), result.value.end(),
            [](const Position& a, const Position& b) { return a.player < b.player; });
  return result;
}

Outcome RocksStores::save(std::span<const SessionRecord> records) {
  if (Outcome valid = validate_all(records); !valid.ok()) return valid;
  std::map<SessionId, const SessionRecord*> newest;
  for (const SessionRecord& record : records) {
    const SessionRecord*& slot = newest[record.session];
    if (slot == nullptr || record.version > slot->version) slot = &record;
  }
  rocksdb::WriteBatch batch;
  for (const auto& [session, record] : newest) {
    std::string key;
    codec::append_u64_be(key, static_cast<uint64_t>(session));
    std::string value;
    const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), impl_->families[sessions_cf], key, &value);
    if (!read.ok() && !read.IsNotFound()) return failed(read);
    if (read.ok()) {
      const auto stored = codec::decode_session(session, value);
      if (!stored) return corrupt("damaged session");
      if (record->version <= stored->version) continue;
    }
    (void)batch.Put(impl_->families[sessions_cf], key, codec::encode_session(*record));
  }
  if (batch.Count() == 0) return Outcome::success();
  const rocksdb::Status written = impl_->db->Write(impl_->durable, &batch);
  return written.ok() ? Outcome::success() : failed(written);
}

Result<std::optional<SessionRecord>> RocksStores::load(SessionId session) {
  std::string key;
  codec::append_u64_be(key, static_cast<uint64_t>(session));
  std::string value;
  const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), impl_->families[sessions_cf], key, &value);
  if (read.IsNotFound()) return {};
  if (!read.ok()) return {failed(read), {}};
  auto record = codec::decode_session(session, value);
  if (!record) return {corrupt("damaged session"), {}};
  return {Outcome::success(), std::move(*record)};
}

}  // namespace strata::storage
