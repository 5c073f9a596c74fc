// storage/account_registry.cpp — RocksAccountRegistry. Layout of the store (one default column
// family, every integer little-endian):
//   "n/" + name        -> uint32 player id
//   "i/" + id (4 bytes big-endian, so ids sort) -> name      (the reverse index, for checks)
//   "next"             -> uint32 the next id to hand out (ids 1..next-1 are taken)
// A new binding writes all three in one WriteBatch, so an id is either wholly assigned or not at all.
// Everything read back is checked (sizes, ranges): a damaged store is a store_error, not a crash.
#include "storage/account_registry.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <cstring>

namespace strata::storage {
namespace {

constexpr std::string_view next_key = "next";

std::string name_key(std::string_view name) {
  std::string key = "n/";
  key.append(name);
  return key;
}

std::string id_key(uint32_t id) {
  std::string key = "i/";
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>((id >> shift) & 0xff));
  return key;
}

std::string encode_u32(uint32_t value) {
  std::string out(4, '\0');
  for (size_t i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

std::optional<uint32_t> decode_u32(const std::string& bytes) {
  if (bytes.size() != 4) return std::nullopt;
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  return value;
}

}  // namespace

struct RocksAccountRegistry::Impl {
  std::unique_ptr<rocksdb::DB> db;
  uint32_t ids_max = 0;
  bool sync = true;
  mutable std::mutex mutex;  // bind is read-check-write: one at a time
  uint32_t next = 1;         // cached "next"
};

RocksAccountRegistry::RocksAccountRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksAccountRegistry::~RocksAccountRegistry() = default;

std::unique_ptr<RocksAccountRegistry> RocksAccountRegistry::open(const std::string& dir, uint32_t ids_max, bool sync,
                                                                 std::string& error) {
  if (ids_max == 0 || ids_max > account_ids_limit) {
    error = "account registry: ids_max " + std::to_string(ids_max) + " out of range [1, " +
            std::to_string(account_ids_limit) + "]";
    return nullptr;
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 16;
  options.keep_log_file_num = 2;
  options.max_file_opening_threads = 1;
  options.max_background_jobs = 1;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, dir, &raw);
  if (!status.ok()) {
    error = "account registry " + dir + ": " + status.ToString();
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  impl->ids_max = ids_max;
  impl->sync = sync;
  std::string value;
  const rocksdb::Status read = impl->db->Get(rocksdb::ReadOptions(), next_key, &value);
  if (read.ok()) {
    const auto next = decode_u32(value);
    if (!next || *next == 0 || *next > account_ids_limit + 1) {
      error = "account registry " + dir + ": damaged 'next' record";
      return nullptr;
    }
    impl->next = *next;
  } else if (!read.IsNotFound()) {
    error = "account registry " + dir + ": " + read.ToString();
    return nullptr;
  }
  return std::unique_ptr<RocksAccountRegistry>(new RocksAccountRegistry(std::move(impl)));
}

Binding RocksAccountRegistry::bind(std::string_view name, bool may_create) {
  Binding out;
  if (name.empty() || name.size() > account_name_bytes_max) {
    out.status = Binding::Status::not_found;
    return out;
  }
  std::lock_guard lock(impl_->mutex);
  std::string value;
  const std::string key = name_key(name);
  const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), key, &value);
  if (read.ok()) {
    const auto id = decode_u32(value);
    if (!id || *id == 0 || *id >= impl_->next) {
      out.status = Binding::Status::store_error;
      return out;
    }
    out.status = Binding::Status::existing;
    out.player = *id;
    return out;
  }
  if (!read.IsNotFound()) {
    out.status = Binding::Status::store_error;
    return out;
  }
  if (!may_create) {
    out.status = Binding::Status::not_found;
    return out;
  }
  if (impl_->next > impl_->ids_max) {
    out.status = Binding::Status::full;
    return out;
  }
  const uint32_t id = impl_->next;
  rocksdb::WriteBatch batch;
  batch.Put(key, encode_u32(id));
  batch.Put(id_key(id), rocksdb::Slice(name.data(), name.size()));
  batch.Put(next_key, encode_u32(id + 1));
  rocksdb::WriteOptions write;
  write.sync = impl_->sync;
  if (!impl_->db->Write(write, &batch).ok()) {
    out.status = Binding::Status::store_error;
    return out;
  }
  impl_->next = id + 1;
  out.status = Binding::Status::created;
  out.player = id;
  return out;
}

uint64_t RocksAccountRegistry::size() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->next - 1;
}

}  // namespace strata::storage
