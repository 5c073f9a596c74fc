// storage/spill.cpp: RocksSpill. Keys are the entry's sequence number (u64 big-endian, so they sort
// in FIFO order); [head, tail) are the live entries, found again at open by the first and last key.
#include "storage/spill.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "storage/codec.h"

namespace strata::storage {

struct RocksSpill::Impl {
  std::unique_ptr<rocksdb::DB> db;
  size_t entries_max = 0;
  uint64_t head = 0;  // the oldest entry's sequence
  uint64_t tail = 0;  // the next entry's sequence

  static std::string key(uint64_t sequence) {
    std::string out;
    codec::append_u64_be(out, sequence);
    return out;
  }
  static std::optional<uint64_t> sequence_of(const rocksdb::Slice& key) {
    if (key.size() != 8) return std::nullopt;
    uint64_t value = 0;
    for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(key[i]);
    return value;
  }
};

RocksSpill::RocksSpill(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksSpill::~RocksSpill() = default;

std::unique_ptr<RocksSpill> RocksSpill::open(const std::string& dir, size_t entries_max, std::string& error) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 16;
  options.keep_log_file_num = 2;
  options.max_background_jobs = 1;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, dir, &raw);
  if (!status.ok()) {
    error = "spill " + dir + ": " + status.ToString();
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  impl->entries_max = entries_max;
  std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  if (it->Valid()) {
    const auto first = Impl::sequence_of(it->key());
    it->SeekToLast();
    const auto last = it->Valid() ? Impl::sequence_of(it->key()) : std::nullopt;
    if (!first || !last || *last < *first) {
      error = "spill " + dir + ": damaged keys";
      return nullptr;
    }
    impl->head = *first;
    impl->tail = *last + 1;
  }
  return std::unique_ptr<RocksSpill>(new RocksSpill(std::move(impl)));
}

bool RocksSpill::push(std::string_view bytes) {
  if (size() >= impl_->entries_max) return false;
  const rocksdb::Status written =
      impl_->db->Put(rocksdb::WriteOptions(), Impl::key(impl_->tail), rocksdb::Slice(bytes.data(), bytes.size()));
  if (!written.ok()) return false;
  ++impl_->tail;
  return true;
}

std::optional<std::string> RocksSpill::front() {
  if (size() == 0) return std::nullopt;
  std::string value;
  if (!impl_->db->Get(rocksdb::ReadOptions(), Impl::key(impl_->head), &value).ok()) return std::nullopt;
  return value;
}

void RocksSpill::pop() {
  if (size() == 0) return;
  if (impl_->db->Delete(rocksdb::WriteOptions(), Impl::key(impl_->head)).ok()) ++impl_->head;
}

size_t RocksSpill::size() const { return static_cast<size_t>(impl_->tail - impl_->head); }

void RocksSpill::for_each(const std::function<void(std::string_view)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(Impl::key(impl_->head)); it->Valid(); it->Next()) {
    visit(std::string_view(it->value().data(), it->value().size()));
  }
}

}  // namespace strata::storage
