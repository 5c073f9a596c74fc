// replay/rocks_log.cpp — see rocks_log.h for the layout.
#include "replay/rocks_log.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <xxhash.h>

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "replay/limits.h"
#include "replay/rocks_keys.h"
#include "schema/codec.h"
#include "sim/assert.h"
#include "sim/hash.h"
#include "sim/limits.h"

namespace strata::replay {
namespace {

constexpr const char* meta_cf = "meta";
constexpr const char* ticks_cf = "ticks";
constexpr const char* snapshots_cf = "snapshots";
constexpr const char* header_key = "header";

// Keys and value framing: replay/rocks_keys.h (fuzzed apart from RocksDB).
using rocks_keys::checked_value;
using rocks_keys::snapshot_index_key;
using rocks_keys::snapshot_index_prefix;
using rocks_keys::tick_key;

bool key_tick(const rocksdb::Slice& key, uint64_t& tick) {
  return rocks_keys::key_tick(std::string_view(key.data(), key.size()), tick);
}

bool snapshot_index_tick(const rocksdb::Slice& key, uint64_t& tick) {
  return rocks_keys::snapshot_index_tick(std::string_view(key.data(), key.size()), tick);
}

bool open_value(const std::string& value, std::span<const uint8_t>& payload) {
  return rocks_keys::open_value(value, payload);
}

void name_thread(const char* name) { (void)::pthread_setname_np(::pthread_self(), name); }

Code code_of(schema::DecodeError error) {
  switch (error) {
    case schema::DecodeError::rules_version: return Code::rules_version;
    case schema::DecodeError::bad_version: return Code::unsupported;
    default: return Code::damaged;
  }
}

rocksdb::Options db_options(bool read_only) {
  rocksdb::Options options;
  options.create_if_missing = !read_only;
  options.create_missing_column_families = !read_only;
  // A writer reopening after a crash recovers the WAL up to its last intact record: a clean
  // prefix, never a torn record. A reader only forgives an incomplete record at the very end (what
  // a crash leaves); damage in the middle of the WAL is reported instead of silently cutting the log.
  options.wal_recovery_mode = read_only ? rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords
                                        : rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  // Opening loads table handlers with up to 16 threads per column family by default: 60-odd thread
  // creations per open for a log of a few files, most of a reader's 60 ms open in this VM.
  options.max_file_opening_threads = 1;
  return options;
}

std::vector<rocksdb::ColumnFamilyDescriptor> descriptors() {
  rocksdb::ColumnFamilyOptions cf;
  return {{rocksdb::kDefaultColumnFamilyName, cf}, {meta_cf, cf}, {ticks_cf, cf}, {snapshots_cf, cf}};
}

// An open database and its column family handles (handles must go before the DB).
struct Db {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ~Db() {
    for (auto* h : handles) {
      if (db) (void)db->DestroyColumnFamilyHandle(h);
    }
    handles.clear();
    if (db) (void)db->Close();
  }
  rocksdb::ColumnFamilyHandle* meta() const { return handles[1]; }
  rocksdb::ColumnFamilyHandle* ticks() const { return handles[2]; }
  rocksdb::ColumnFamilyHandle* snapshots() const { return handles[3]; }
  // A snapshot and its entry in the snapshot index, always in the same batch (readers list
  // snapshots from the index without reading them).
  void put_snapshot(rocksdb::WriteBatch& batch, uint64_t tick, const std::vector<uint8_t>& bytes) const {
    (void)batch.Put(snapshots(), tick_key(tick), checked_value(bytes));
    (void)batch.Put(meta(), snapshot_index_key(tick), rocksdb::Slice());
  }
};

Status open_db(const std::string& dir, bool read_only, Db& out) {
  rocksdb::DB* raw = nullptr;
  const rocksdb::Options options = db_options(read_only);
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, dir, descriptors(), &out.handles, &raw)
                                : rocksdb::DB::Open(options, dir, descriptors(), &out.handles, &raw);
  if (!s.ok()) {
    if (s.IsInvalidArgument() || s.IsCorruption())
      return Status::error(Code::damaged, "cannot open log " + dir + ": " + s.ToString());
    return Status::error(Code::io, "cannot open log " + dir + ": " + s.ToString());
  }
  out.db.reset(raw);
  return {};
}

Status read_header(Db& db, schema::LogHeader& header) {
  std::string value;
  const rocksdb::Status s = db.db->Get(rocksdb::ReadOptions(), db.meta(), header_key, &value);
  if (s.IsNotFound()) return Status::error(Code::damaged, "log has no header");
  if (s.IsCorruption()) return Status::error(Code::damaged, "reading the header: " + s.ToString());
  if (!s.ok()) return Status::error(Code::io, "reading the header: " + s.ToString());
  std::span<const uint8_t> payload;
  if (!open_value(value, payload)) return Status::error(Code::damaged, "header checksum mismatch");
  auto decoded = schema::decode_log_header(payload);
  if (!decoded.ok()) return Status::error(code_of(decoded.code), "header: " + decoded.error);
  header = *decoded.value;
  return {};
}

// Last tick key in the ticks column family, or the start tick when there is none.
Status find_last_tick(Db& db, const schema::LogHeader& header, uint64_t& last) {
  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(rocksdb::ReadOptions(), db.ticks()));
  it->SeekToLast();
  last = header.start_tick;
  if (it->Valid()) {
    if (!key_tick(it->key(), last)) return Status::error(Code::damaged, "malformed tick key");
    if (last <= header.start_tick) return Status::error(Code::damaged, "tick record before the start tick", last);
  }
  if (!it->status().ok()) return Status::error(Code::io, it->status().ToString());
  return {};
}

// Checks and decodes one tick's value (u64 XXH3 | packed TickRecord).
Status decode_tick_value(const rocksdb::Slice& value, uint64_t tick, schema::LogStreamDecoder& decoder,
                         schema::TickRecord& out) {
  if (value.size() < limits::value_checksum_bytes)
    return Status::error(Code::damaged, "tick record checksum mismatch", tick);
  uint64_t stored = 0;
  for (size_t i = 0; i < 8; ++i) stored |= uint64_t{static_cast<uint8_t>(value[i])} << (8 * i);
  const std::span payload(reinterpret_cast<const uint8_t*>(value.data()) + 8, value.size() - 8);
  if (XXH3_64bits(payload.data(), payload.size()) != stored)
    return Status::error(Code::damaged, "tick record checksum mismatch", tick);
  const schema::DecodeStatus decoded = decoder.tick_record(payload, out);
  if (!decoded.ok()) return Status::error(Code::damaged, "tick record: " + decoded.error, tick);
  if (out.input.tick != tick) return Status::error(Code::damaged, "record holds the input of another tick", tick);
  return {};
}

Status get_tick(Db& db, uint64_t tick, schema::TickRecord& out, std::string& scratch,
                schema::LogStreamDecoder& decoder) {
  const rocksdb::Status s = db.db->Get(rocksdb::ReadOptions(), db.ticks(), tick_key(tick), &scratch);
  if (s.IsNotFound()) return Status::error(Code::damaged, "tick record missing", tick);
  if (s.IsCorruption()) return Status::error(Code::damaged, s.ToString(), tick);
  if (!s.ok()) return Status::error(Code::io, s.ToString(), tick);
  return decode_tick_value(rocksdb::Slice(scratch), tick, decoder, out);
}

// Sequential reads through one iterator (RocksDB iterators are independent of each other, so a
// reader may run on its own thread): no per-tick seek through the index, and readahead.
class RocksTickReader final : public TickReader {
 public:
  // Ticks outside log_first..log_last (the log's records) are refused when reached.
  RocksTickReader(Db& db, uint64_t first, uint64_t last, uint64_t log_start, uint64_t log_last)
      : next_(first),
        last_(last),
        log_start_(log_start),
        log_last_(log_last),
        upper_(tick_key(last + 1)),
        upper_slice_(upper_) {
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice_;
    options.readahead_size = readahead_bytes;
    // A scan reads each block once: caching them only grew the heap block by block (a page fault
    // per new page, 14% of the decoding thread's time) to hold blocks no one reads again.
    options.fill_cache = false;
    it_.reset(db.db->NewIterator(options, db.ticks()));
    it_->Seek(tick_key(first));
  }
  Status next(schema::TickRecord& out) override {
    if (next_ > last_) return Status::error(Code::invalid_argument, "read past the end of the range", next_);
    const uint64_t tick = next_;
    if (tick <= log_start_ || tick > log_last_) return Status::error(Code::invalid_argument, "no such tick", tick);
    if (!it_->Valid()) {
      if (!it_->status().ok()) {
        const Code code = it_->status().IsCorruption() ? Code::damaged : Code::io;
        return Status::error(code, it_->status().ToString(), tick);
      }
      return Status::error(Code::damaged, "tick record missing", tick);
    }
    uint64_t key = 0;
    if (!key_tick(it_->key(), key)) return Status::error(Code::damaged, "malformed tick key", tick);
    if (key != tick) return Status::error(Code::damaged, "tick record missing", tick);
    if (Status s = decode_tick_value(it_->value(), tick, decoder_, out); !s.ok()) return s;
    it_->Next();
    next_ += 1;
    return {};
  }

 private:
  static constexpr size_t readahead_bytes = size_t{2} << 20;
  uint64_t next_;
  uint64_t last_;
  uint64_t log_start_;
  uint64_t log_last_;
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
  schema::LogStreamDecoder decoder_;
};

class RocksLog final : public LogSource {
 public:
  RocksLog(std::string dir, Db&& db) : dir_(std::move(dir)) {
    db_.db = std::move(db.db);
    db_.handles = std::move(db.handles);
  }
  Status init() {
    if (Status s = read_header(db_, header_); !s.ok()) return s;
    if (Status s = find_last_tick(db_, header_, last_tick_); !s.ok()) return s;
    if (Status s = read_snapshot_index(); !s.ok()) return s;
    if (!index_complete()) {
      snapshots_.clear();
      std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), db_.snapshots()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        uint64_t tick = 0;
        if (!key_tick(it->key(), tick)) return Status::error(Code::damaged, "malformed snapshot key");
        snapshots_.push_back(tick);
      }
      if (!it->status().ok()) return Status::error(Code::io, it->status().ToString());
    }
    if (snapshots_.empty() || snapshots_.front() != header_.start_tick) {
      return Status::error(Code::damaged, "start snapshot missing", header_.start_tick);
    }
    return {};
  }
  const schema::LogHeader& header() const override { return header_; }
  uint64_t last_tick() const override { return last_tick_; }
  std::vector<uint64_t> snapshot_ticks() const override { return snapshots_; }

  Status read_snapshot_index() {
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), db_.meta()));
    for (it->Seek(rocksdb::Slice(snapshot_index_prefix.data(), snapshot_index_prefix.size()));
         it->Valid() &&
         it->key().starts_with(rocksdb::Slice(snapshot_index_prefix.data(), snapshot_index_prefix.size()));
         it->Next()) {
      uint64_t tick = 0;
      if (!snapshot_index_tick(it->key(), tick)) return Status::error(Code::damaged, "malformed snapshot index key");
      snapshots_.push_back(tick);
    }
    if (!it->status().ok()) return Status::error(Code::io, it->status().ToString());
    return {};
  }
  // The list is trusted only when it starts at the start snapshot and ends at the last snapshot
  // (a log begun, or continued, by a writer that did not keep it is scanned instead).
  bool index_complete() {
    if (snapshots_.empty() || snapshots_.front() != header_.start_tick) return false;
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(rocksdb::ReadOptions(), db_.snapshots()));
    it->SeekToLast();
    uint64_t last = 0;
    return it->Valid() && key_tick(it->key(), last) && last == snapshots_.back();
  }

  Status read_tick(uint64_t tick, schema::TickRecord& out) override {
    if (tick <= header_.start_tick || tick > last_tick_)
      return Status::error(Code::invalid_argument, "no such tick", tick);
    return get_tick(db_, tick, out, scratch_, decoder_);
  }
  std::unique_ptr<TickReader> read_ticks(uint64_t first, uint64_t last) override {
    return std::make_unique<RocksTickReader>(db_, first, last, header_.start_tick, last_tick_);
  }
  Status read_snapshot(uint64_t tick, std::vector<uint8_t>& out) override {
    const rocksdb::Status s = db_.db->Get(rocksdb::ReadOptions(), db_.snapshots(), tick_key(tick), &scratch_);
    if (s.IsNotFound()) return Status::error(Code::invalid_argument, "no snapshot at this tick", tick);
    if (s.IsCorruption()) return Status::error(Code::damaged, s.ToString(), tick);
    if (!s.ok()) return Status::error(Code::io, s.ToString(), tick);
    std::span<const uint8_t> payload;
    if (!open_value(scratch_, payload)) return Status::error(Code::damaged, "snapshot checksum mismatch", tick);
    out.assign(payload.begin(), payload.end());
    return {};
  }
  uint64_t size_bytes() const override {
    uint64_t total = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      if (entry.is_regular_file(ec)) total += entry.file_size(ec);
    }
    return total;
  }
  std::string kind() const override { return "rocksdb"; }

 private:
  std::string dir_;
  Db db_;
  schema::LogHeader header_;
  uint64_t last_tick_ = 0;
  std::vector<uint64_t> snapshots_;
  std::string scratch_;
  schema::LogStreamDecoder decoder_;  // read_tick's
};

}  // namespace

struct LogWriter::Impl {
  Db db;
  schema::LogHeader header;
  LogConfig config;
  uint64_t last_tick = 0;
  uint64_t ticks_since_sync = 0;
  std::vector<uint8_t> scratch;

  // Durability (WalSync::background): append() hands the tick it committed to `sync_thread`, which
  // fsyncs the WAL (SyncWAL covers every write before it) and then publishes that tick as durable.
  // Invariant: durable <= last_tick, and durable only grows.
  std::atomic<uint64_t> durable{0};
  std::thread sync_thread;
  std::mutex sync_mutex;
  std::condition_variable sync_cv;
  uint64_t sync_written = 0;  // newest tick committed and not yet known to be synced
  bool sync_stop = false;
  Status sync_status;  // the first failed fsync: appends fail from then on (the node stops)

  void start_sync_thread() {
    sync_thread = std::thread([this] {
      name_thread("strata-log-sync");
      for (;;) {
        uint64_t target = 0;
        {
          std::unique_lock lock(sync_mutex);
          sync_cv.wait(lock, [&] { return sync_stop || sync_written > durable.load(std::memory_order_relaxed); });
          if (sync_written <= durable.load(std::memory_order_relaxed)) return;  // stopping, all synced
          if (!sync_status.ok()) return;
          target = sync_written;
        }
        if (config.before_sync) config.before_sync();
        const rocksdb::Status s = db.db->SyncWAL();
        if (!s.ok()) {
          std::lock_guard lock(sync_mutex);
          sync_status = Status::error(Code::io, "fsync of the log: " + s.ToString(), target);
          sync_cv.notify_all();
          return;
        }
        {
          std::lock_guard lock(sync_mutex);  // (under the lock: written() may be waiting on it)
          // durable only grows (target was committed after what is durable).
          STRATA_ASSERT(target > durable.load(std::memory_order_relaxed), target, durable.load());
          durable.store(target, std::memory_order_release);
        }
        sync_cv.notify_all();
      }
    });
  }
  // Sim thread, after a commit of `tick`.
  Status written(uint64_t tick) {
    STRATA_ASSERT(tick == last_tick, tick, last_tick);
    if (config.wal_sync != WalSync::background) {
      STRATA_ASSERT(tick > durable.load(std::memory_order_relaxed), tick, durable.load());
      durable.store(tick, std::memory_order_release);
      return {};
    }
    if (!sync_thread.joinable()) start_sync_thread();
    {
      std::unique_lock lock(sync_mutex);
      if (!sync_status.ok()) return sync_status;
      STRATA_ASSERT(tick > sync_written, tick, sync_written);  // handed over in tick order
      sync_written = tick;
      sync_cv.notify_all();
      // Back-pressure: past the lag bound the tick waits for the disk.
      sync_cv.wait(lock, [&] {
        return !sync_status.ok() || durable.load(std::memory_order_relaxed) + config.sync_lag_ticks_max >= tick;
      });
      if (!sync_status.ok()) return sync_status;
    }
    return {};
  }
  void stop_sync_thread() {
    if (!sync_thread.joinable()) return;
    stop_worker(sync_thread, sync_mutex, sync_cv, sync_stop);  // syncs what was written first
  }

  // Background snapshots: one pending world at a time, written by `snapshot_thread`.
  std::thread snapshot_thread;
  std::mutex snapshot_mutex;
  std::condition_variable snapshot_cv;
  std::unique_ptr<sim::World> pending_world;  // handed to the thread
  uint64_t pending_tick = 0;
  std::unique_ptr<sim::World> spare_world;  // reused between snapshots (no fresh 35 MB each time)
  bool snapshot_busy = false;
  bool snapshot_stop = false;
  Status snapshot_status;

  // Background full hash: one tick at a time, of the live world the last append was given.
  std::thread hash_thread;
  std::mutex hash_mutex;
  std::condition_variable hash_cv;
  const sim::World* hash_world = nullptr;  // set by append, cleared by the thread when hashed
  uint64_t hash_tick = 0;
  uint64_t hash_quick = 0;
  sim::TickInput hash_input;         // a copy: the record is re-encoded with its full hash
  std::vector<uint8_t> hash_record;  // the thread's encoding buffer
  bool hash_busy = false;            // a hash is running (or handed over and not yet taken)
  bool hash_stop = false;
  bool hash_unsettled = false;  // sim thread: append started a hash that release_world() has not waited for
  std::string amended;          // sim thread: record of hash_tick with its full hash, to write
  uint64_t amended_tick = 0;
  uint64_t background_hashes = 0;

  void start_hash_thread() {
    hash_thread = std::thread([this] {
      name_thread("strata-log-hash");
      for (;;) {
        const sim::World* world = nullptr;
        {
          std::unique_lock lock(hash_mutex);
          hash_cv.wait(lock, [&] { return hash_stop || hash_world != nullptr; });
          if (hash_world == nullptr) return;
          world = hash_world;
        }
        const uint64_t full = sim::full_hash(*world);
        schema::encode_tick_record(hash_input, hash_quick, full, hash_record);
        {
          std::lock_guard lock(hash_mutex);
          hash_world = nullptr;
          hash_busy = false;
        }
        hash_cv.notify_all();
      }
    });
  }
  // Sim thread: waits for the running hash; its record becomes the amendment to write.
  void settle_hash() {
    if (!hash_unsettled) return;
    {
      std::unique_lock lock(hash_mutex);
      hash_cv.wait(lock, [&] { return !hash_busy; });
    }
    hash_unsettled = false;
    STRATA_ASSERT(hash_tick > header.start_tick && hash_tick <= last_tick, hash_tick, last_tick);
    amended = checked_value(hash_record);
    amended_tick = hash_tick;
    background_hashes += 1;
  }
  // Tells a worker thread that waits on `cv` for `stop` to end, and joins it.
  static void stop_worker(std::thread& thread, std::mutex& mutex, std::condition_variable& cv, bool& stop) {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    cv.notify_all();
    thread.join();
  }
  void stop_hash_thread() {
    if (!hash_thread.joinable()) return;
    settle_hash();
    stop_worker(hash_thread, hash_mutex, hash_cv, hash_stop);
  }
  // Puts the amended record (if any) into `batch`.
  void take_amendment(rocksdb::WriteBatch& batch) {
    if (amended.empty()) return;
    // The amendment rewrites a tick already appended (never one ahead of the log).
    STRATA_ASSERT(amended_tick > header.start_tick && amended_tick <= last_tick, amended_tick, last_tick);
    (void)batch.Put(db.ticks(), tick_key(amended_tick), amended);
    amended.clear();
  }
  Status write_amendment() {
    if (amended.empty()) return {};
    rocksdb::WriteBatch batch;
    take_amendment(batch);
    return commit(batch);
  }

  // Started by the first append; it first makes the spare world (a map of the right size, its
  // pages touched), so the first snapshot's copy does not fault in a fresh 35 MB on the sim thread.
  void start_snapshot_thread(int32_t chunks_x, int32_t chunks_y) {
    snapshot_thread = std::thread([this, chunks_x, chunks_y] {
      name_thread("strata-log-snap");
      auto warm = std::make_unique<sim::World>();
      warm->map = sim::TileMap(chunks_x, chunks_y);
      {
        std::lock_guard lock(snapshot_mutex);
        if (spare_world == nullptr) spare_world = std::move(warm);
      }
      for (;;) {
        std::unique_ptr<sim::World> world;
        uint64_t tick = 0;
        {
          std::unique_lock lock(snapshot_mutex);
          snapshot_cv.wait(lock, [&] { return snapshot_stop || pending_world != nullptr; });
          if (pending_world == nullptr) return;  // stopping, nothing left
          world = std::move(pending_world);
          tick = pending_tick;
        }
        Status status = write_snapshot(tick, *world);
        {
          std::lock_guard lock(snapshot_mutex);
          if (!status.ok() && snapshot_status.ok()) snapshot_status = status;
          spare_world = std::move(world);
          snapshot_busy = false;
        }
        snapshot_cv.notify_all();
      }
    });
  }
  void wait_snapshots() {
    std::unique_lock lock(snapshot_mutex);
    snapshot_cv.wait(lock, [&] { return !snapshot_busy; });
  }
  void stop_snapshot_thread() {
    if (!snapshot_thread.joinable()) return;
    wait_snapshots();
    stop_worker(snapshot_thread, snapshot_mutex, snapshot_cv, snapshot_stop);
  }
  Status write_snapshot(uint64_t tick, const sim::World& world) {
    rocksdb::WriteBatch batch;
    db.put_snapshot(batch, tick, schema::encode_snapshot(world));
    rocksdb::WriteOptions options;
    options.sync = config.wal_sync != WalSync::none;
    const rocksdb::Status s = db.db->Write(options, &batch);
    if (!s.ok()) return Status::error(Code::io, "snapshot write: " + s.ToString(), tick);
    return {};
  }

  Status commit(rocksdb::WriteBatch& batch) {
    rocksdb::WriteOptions options;
    ticks_since_sync += 1;
    options.sync = config.wal_sync == WalSync::every_tick ||
                   (config.wal_sync == WalSync::every_n_ticks && ticks_since_sync >= config.sync_every_ticks);
    if (options.sync) ticks_since_sync = 0;
    const rocksdb::Status s = db.db->Write(options, &batch);
    if (!s.ok()) return Status::error(Code::io, "write: " + s.ToString());
    return {};
  }
};

LogWriter::LogWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
// A clean close moves the memtable into table files: a reader then opens the log without
// replaying the whole WAL into memory (a read-only handle cannot flush, so it redid that on every
// open: 0.15 s of opening a 10-minute 1000-player log, against 0.06 s from table files).
LogWriter::~LogWriter() {
  if (!impl_ || !impl_->db.db) return;
  impl_->stop_hash_thread();
  (void)impl_->write_amendment();
  impl_->stop_snapshot_thread();  // a pending snapshot is written first
  impl_->stop_sync_thread();
  rocksdb::FlushOptions options;
  options.wait = true;
  (void)impl_->db.db->Flush(options, impl_->db.handles);
}

std::unique_ptr<LogWriter> LogWriter::create_raw(const std::string& dir, const schema::LogHeader& header,
                                                 const std::vector<uint8_t>& start_snapshot, const LogConfig& config,
                                                 Status& status) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    status = Status::error(Code::invalid_argument, dir + " already exists");
    return nullptr;
  }
  const auto parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  // Built under a temporary name and renamed when the header and start snapshot are durable, so a
  // crash during creation leaves no log rather than a log without a header.
  const std::string creating = dir + ".creating";
  std::filesystem::remove_all(creating, ec);
  {
    Db db;
    if (status = open_db(creating, false, db); !status.ok()) return nullptr;
    rocksdb::WriteBatch batch;
    (void)batch.Put(db.meta(), header_key, checked_value(schema::encode_log_header(header)));
    db.put_snapshot(batch, header.start_tick, start_snapshot);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    if (rocksdb::Status s = db.db->Write(sync, &batch); !s.ok()) {
      status = Status::error(Code::io, "writing the header: " + s.ToString());
      return nullptr;
    }
  }
  std::filesystem::rename(creating, dir, ec);
  if (ec) {
    status = Status::error(Code::io, "renaming " + creating + " to " + dir + ": " + ec.message());
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  if (status = open_db(dir, false, impl->db); !status.ok()) return nullptr;
  impl->header = header;
  impl->config = config;
  impl->last_tick = header.start_tick;
  impl->durable.store(header.start_tick);  // the header and start snapshot were written with sync
  status = {};
  return std::unique_ptr<LogWriter>(new LogWriter(std::move(impl)));
}

std::optional<schema::LogHeader> new_log_header(const sim::World& start, const LogConfig& config, Status& status) {
  if (config.full_hash_every == 0 || config.snapshot_every == 0 || config.full_hash_every > limits::period_max ||
      config.snapshot_every > limits::period_max) {
    status = Status::error(Code::invalid_argument, "full hash and snapshot periods must be in [1, 2^24]");
    return std::nullopt;
  }
  schema::LogHeader header;
  header.params = start.params;
  header.start_tick = start.tick;
  header.start_snapshot_tick = start.tick;
  header.full_hash_every = config.full_hash_every;
  header.snapshot_every = config.snapshot_every;
  return header;
}

std::unique_ptr<LogWriter> LogWriter::create(const std::string& dir, const sim::World& start, const LogConfig& config,
                                             Status& status) {
  const std::optional<schema::LogHeader> header = new_log_header(start, config, status);
  if (!header) return nullptr;
  return create_raw(dir, *header, schema::encode_snapshot(start), config, status);
}

std::unique_ptr<LogWriter> LogWriter::open(const std::string& dir, const LogConfig& config, Status& status) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    status = Status::error(Code::not_found, dir + ": no such log directory");
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  if (status = open_db(dir, false, impl->db); !status.ok()) return nullptr;
  if (status = read_header(impl->db, impl->header); !status.ok()) return nullptr;
  if (status = find_last_tick(impl->db, impl->header, impl->last_tick); !status.ok()) return nullptr;
  impl->config = config;
  impl->config.full_hash_every = impl->header.full_hash_every;  // the log's periods win
  impl->config.snapshot_every = impl->header.snapshot_every;
  if (impl->last_tick > impl->header.start_tick) {
    schema::TickRecord last;
    std::string scratch;
    schema::LogStreamDecoder decoder;
    if (status = get_tick(impl->db, impl->last_tick, last, scratch, decoder); !status.ok()) return nullptr;
  }
  impl->durable.store(impl->last_tick);  // what a reopened log holds is what survived
  status = {};
  return std::unique_ptr<LogWriter>(new LogWriter(std::move(impl)));
}

bool LogWriter::full_hash_due(uint64_t tick) const {
  return tick == 1 || tick % impl_->header.full_hash_every == 0 || snapshot_due(tick);
}
bool LogWriter::snapshot_due(uint64_t tick) const { return tick % impl_->header.snapshot_every == 0; }
uint64_t LogWriter::last_tick() const { return impl_->last_tick; }
uint64_t LogWriter::durable_tick() const { return impl_->durable.load(std::memory_order_acquire); }
const schema::LogHeader& LogWriter::header() const { return impl_->header; }

Status LogWriter::append(const sim::TickInput& input, const sim::Simulation& after, bool force_snapshot) {
  if (input.tick != impl_->last_tick + 1 || after.tick() != input.tick) {
    return Status::error(Code::invalid_argument, "append out of order: log at " + std::to_string(impl_->last_tick),
                         input.tick);
  }
  if (input.commands.size() > sim::limits::commands_per_tick_max) {
    // Written, it would not decode (schema: too_many_commands): replay and recovery would stop here.
    return Status::error(Code::invalid_argument,
                         "tick input of " + std::to_string(input.commands.size()) + " commands, the log decodes " +
                             std::to_string(sim::limits::commands_per_tick_max),
                         input.tick);
  }
  if (impl_->hash_unsettled) {
    impl_->settle_hash();
    impl_->amended.clear();  // dropped: the world it hashed may have been this later one
    return Status::error(
        Code::invalid_argument,
        "append while the background full hash of tick " + std::to_string(impl_->hash_tick) +
            " was not settled (release_world() before the world changes): that tick keeps no full hash",
        input.tick);
  }
  rocksdb::WriteBatch batch;
  impl_->take_amendment(batch);  // the previous background hash's record, now with its full hash
  const bool snapshot = force_snapshot || snapshot_due(input.tick);
  const bool background = snapshot && !force_snapshot && impl_->config.background_snapshots;
  const bool hash_due = snapshot || full_hash_due(input.tick);
  const bool background_hash = hash_due && !snapshot && impl_->config.background_full_hash;
  std::optional<uint64_t> full;
  if (hash_due && !background_hash) full = after.full_hash();
  const uint64_t quick = after.quick_hash();
  schema::encode_tick_record(input, quick, full, impl_->scratch);
  (void)batch.Put(impl_->db.ticks(), tick_key(input.tick), checked_value(impl_->scratch));
  if (snapshot && !background) {
    if (Status s = flush(); !s.ok()) return s;  // snapshots stay in tick order
    impl_->db.put_snapshot(batch, input.tick, schema::encode_snapshot(after.world()));
  }
  if (Status s = impl_->commit(batch); !s.ok()) return s;
  impl_->last_tick = input.tick;
  if (Status s = impl_->written(input.tick); !s.ok()) return s;
  STRATA_ASSERT(durable_tick() <= impl_->last_tick, durable_tick(), impl_->last_tick);
  if (background_hash) {
    Impl& i = *impl_;
    if (!i.hash_thread.joinable()) i.start_hash_thread();
    {
      std::lock_guard lock(i.hash_mutex);
      STRATA_ASSERT(!i.hash_busy && i.hash_world == nullptr, i.hash_tick, input.tick);  // settled above
      i.hash_input = input;  // copy-assign: reuses the capacity
      i.hash_quick = quick;
      i.hash_tick = input.tick;
      i.hash_world = &after.world();
      i.hash_busy = true;
    }
    i.hash_unsettled = true;
    i.hash_cv.notify_all();
  }
  if (impl_->config.background_snapshots && !impl_->snapshot_thread.joinable())
    impl_->start_snapshot_thread(after.world().map.chunks_x(), after.world().map.chunks_y());
  if (background) {
    Impl& i = *impl_;
    i.wait_snapshots();  // the previous one (K ticks ago) is long done unless the disk is stuck
    std::unique_ptr<sim::World> copy;
    {
      std::lock_guard lock(i.snapshot_mutex);
      if (!i.snapshot_status.ok()) return i.snapshot_status;
      copy = std::move(i.spare_world);
    }
    if (copy) {
      *copy = after.world();  // copy-assign: reuses the spare's capacity
    } else {
      copy = std::make_unique<sim::World>(after.world());
    }
    {
      std::lock_guard lock(i.snapshot_mutex);
      STRATA_ASSERT(!i.snapshot_busy && i.pending_world == nullptr, i.pending_tick, input.tick);  // waited above
      i.pending_world = std::move(copy);
      i.pending_tick = input.tick;
      i.snapshot_busy = true;
    }
    i.snapshot_cv.notify_all();
  }
  return {};
}

void LogWriter::release_world() { impl_->settle_hash(); }
uint64_t LogWriter::background_full_hashes() const { return impl_->background_hashes; }

Status LogWriter::flush() {
  impl_->settle_hash();
  if (Status s = impl_->write_amendment(); !s.ok()) return s;
  if (!impl_->snapshot_thread.joinable()) return {};
  impl_->wait_snapshots();
  std::lock_guard lock(impl_->snapshot_mutex);
  return impl_->snapshot_status;
}

Status LogWriter::append_record(const schema::TickRecord& record, const std::vector<uint8_t>* snapshot) {
  if (record.input.tick != impl_->last_tick + 1) {
    return Status::error(Code::invalid_argument, "append out of order", record.input.tick);
  }
  rocksdb::WriteBatch batch;
  schema::encode_tick_record(record, impl_->scratch);
  (void)batch.Put(impl_->db.ticks(), tick_key(record.input.tick), checked_value(impl_->scratch));
  if (snapshot != nullptr) {
    impl_->db.put_snapshot(batch, record.input.tick, *snapshot);
  }
  if (Status s = impl_->commit(batch); !s.ok()) return s;
  impl_->last_tick = record.input.tick;
  if (Status s = impl_->written(record.input.tick); !s.ok()) return s;
  STRATA_ASSERT(durable_tick() <= impl_->last_tick, durable_tick(), impl_->last_tick);
  return {};
}

std::unique_ptr<LogSource> open_rocks_log(const std::string& dir, Status& status) {
  Db db;
  if (status = open_db(dir, true, db); !status.ok()) return nullptr;
  auto log = std::make_unique<RocksLog>(dir, std::move(db));
  if (status = log->init(); !status.ok()) return nullptr;
  return log;
}

uint64_t snapshot_at_or_before(const LogSource& log, uint64_t tick) {
  uint64_t best = log.header().start_tick;
  for (uint64_t t : log.snapshot_ticks()) {
    if (t <= tick) best = t;
  }
  return best;
}

}  // namespace strata::replay
