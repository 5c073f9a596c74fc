// replay/export_file.cpp — see export_file.h.
#include "replay/export_file.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "replay/frames.h"
#include "replay/limits.h"

namespace strata::replay {
namespace {

// Where a tick's record is found: the scan at open keeps the offset of every
// index_every_ticks-th record frame, and of every snapshot frame, nothing else, so memory stays
// small whatever the file's length; a read goes from the nearest indexed record by frame lengths.
constexpr uint64_t index_every_ticks = 64;

// Positions a FrameReader on the record frame of `tick` (already checked by the scan at open).
Status seek_record(FrameReader& reader, uint64_t tick, uint64_t start_tick, const std::vector<uint64_t>& index,
                   const std::vector<std::pair<uint64_t, uint64_t>>& snapshots) {
  const uint64_t k = (tick - start_tick - 1) / index_every_ticks;
  uint64_t at = start_tick + 1 + k * index_every_ticks;
  reader.seek(index[k]);
  auto snapshot_after = [&](uint64_t t) {
    return std::binary_search(snapshots.begin(), snapshots.end(), std::pair<uint64_t, uint64_t>{t, 0},
                              [](const auto& a, const auto& b) { return a.first < b.first; });
  };
  Status status;
  for (; at < tick; ++at) {
    if (!reader.skip(status, at)) return status.ok() ? Status::error(Code::damaged, "file cut short", at) : status;
    if (snapshot_after(at) && !reader.skip(status, at)) {
      return status.ok() ? Status::error(Code::damaged, "file cut short", at) : status;
    }
  }
  return {};
}

// Reads one record frame and checks it holds `tick`.
Status read_record(FrameReader& reader, uint64_t tick, schema::ExportEntry& entry, schema::TickRecord& out) {
  Status status;
  if (!reader.next(entry, status, tick))
    return status.ok() ? Status::error(Code::damaged, "file cut short", tick, reader.offset()) : status;
  auto* record = std::get_if<schema::TickRecord>(&entry);
  if (record == nullptr || record->input.tick != tick) {
    return Status::error(Code::damaged, "frame is not the record of this tick (file changed since it was opened?)",
                         tick, reader.frame_offset());
  }
  std::swap(out, *record);  // the entry keeps out's old buffers for the next frame
  return {};
}

class FileLog;

// A sequential reader with its own FrameReader over the shared ByteSource (pread: thread-safe).
class FileTickReader final : public TickReader {
 public:
  FileTickReader(const FileLog& log, uint64_t first, uint64_t last);
  Status next(schema::TickRecord& out) override;

 private:
  const FileLog& log_;
  FrameReader reader_;
  uint64_t next_;
  uint64_t last_;
  bool positioned_ = false;
  schema::ExportEntry entry_;
};

class FileLog final : public LogSource {
 public:
  explicit FileLog(std::unique_ptr<ByteSource> bytes) : bytes_(std::move(bytes)), cursor_(*bytes_, export_magic) {}
  const schema::LogHeader& header() const override { return header_; }
  uint64_t last_tick() const override { return last_tick_; }
  std::vector<uint64_t> snapshot_ticks() const override {
    std::vector<uint64_t> ticks;
    ticks.reserve(snapshots_.size());
    for (const auto& [tick, offset] : snapshots_) ticks.push_back(tick);
    return ticks;
  }
  Status read_tick(uint64_t tick, schema::TickRecord& out) override {
    if (tick <= header_.start_tick || tick > last_tick())
      return Status::error(Code::invalid_argument, "no such tick", tick);
    // Sequential reads continue from the last frame; anything else starts at the index.
    if (tick != cursor_next_) {
      if (Status s = position(cursor_, tick); !s.ok()) return s;
    } else if (has_snapshot(tick - 1) && tick - 1 > header_.start_tick) {
      Status status;
      if (!cursor_.skip(status, tick))
        return status.ok() ? Status::error(Code::damaged, "file cut short", tick) : status;
    }
    cursor_next_ = 0;
    if (Status s = read_record(cursor_, tick, cursor_entry_, out); !s.ok()) return s;
    cursor_next_ = tick + 1;
    return {};
  }
  std::unique_ptr<TickReader> read_ticks(uint64_t first, uint64_t last) override {
    return std::make_unique<FileTickReader>(*this, first, last);
  }
  Status read_snapshot(uint64_t tick, std::vector<uint8_t>& out) override {
    auto it = find_snapshot(tick);
    if (it == snapshots_.end() || it->first != tick)
      return Status::error(Code::invalid_argument, "no snapshot at this tick", tick);
    FrameReader reader(*bytes_, export_magic);
    reader.seek(it->second);
    schema::ExportEntry entry;
    Status status;
    if (!reader.next(entry, status, tick))
      return status.ok() ? Status::error(Code::damaged, "file cut short", tick, it->second) : status;
    auto* snapshot = std::get_if<schema::SnapshotBytes>(&entry);
    if (snapshot == nullptr) return Status::error(Code::damaged, "frame is not a snapshot", tick, it->second);
    out = std::move(snapshot->bytes);
    return {};
  }
  uint64_t size_bytes() const override { return bytes_->size(); }
  std::string kind() const override { return "export file"; }

  Status load();
  // Positions `reader` on the record frame of `tick` (in range).
  Status position(FrameReader& reader, uint64_t tick) const {
    return seek_record(reader, tick, header_.start_tick, index_, snapshots_);
  }
  bool has_snapshot(uint64_t tick) const {
    auto it = find_snapshot(tick);
    return it != snapshots_.end() && it->first == tick;
  }
  const ByteSource& bytes() const { return *bytes_; }

 private:
  std::vector<std::pair<uint64_t, uint64_t>>::const_iterator find_snapshot(uint64_t tick) const {
    return std::lower_bound(snapshots_.begin(), snapshots_.end(), tick,
                            [](const auto& entry, uint64_t t) { return entry.first < t; });
  }
  Status add_snapshot(const schema::SnapshotBytes& snapshot, uint64_t offset);

  std::unique_ptr<ByteSource> bytes_;
  schema::LogHeader header_;
  uint64_t last_tick_ = 0;
  std::vector<uint64_t> index_;                           // offset of every index_every_ticks-th record
  std::vector<std::pair<uint64_t, uint64_t>> snapshots_;  // (tick, frame offset), ascending
  FrameReader cursor_;                                    // read_tick's
  uint64_t cursor_next_ = 0;                              // tick the cursor is in front of (0: none)
  schema::ExportEntry cursor_entry_;
};

FileTickReader::FileTickReader(const FileLog& log, uint64_t first, uint64_t last)
    : log_(log), reader_(log.bytes(), export_magic), next_(first), last_(last) {}

Status FileTickReader::next(schema::TickRecord& out) {
  if (next_ > last_) return Status::error(Code::invalid_argument, "read past the end of the range", next_);
  const uint64_t tick = next_;
  if (tick <= log_.header().start_tick || tick > log_.last_tick())
    return Status::error(Code::invalid_argument, "no such tick", tick);
  if (!positioned_) {
    if (Status s = log_.position(reader_, tick); !s.ok()) return s;
    positioned_ = true;
  } else if (log_.has_snapshot(tick - 1)) {
    Status status;
    if (!reader_.skip(status, tick)) return status.ok() ? Status::error(Code::damaged, "file cut short", tick) : status;
  }
  if (Status s = read_record(reader_, tick, entry_, out); !s.ok()) return s;
  next_ += 1;
  return {};
}

Status FileLog::add_snapshot(const schema::SnapshotBytes& snapshot, uint64_t offset) {
  auto header = schema::decode_snapshot_header(snapshot.bytes);
  if (!header.ok()) {
    const Code code = header.code == schema::DecodeError::rules_version ? Code::rules_version : Code::damaged;
    return Status::error(code, "snapshot frame: " + header.error, last_tick(), offset);
  }
  if (header.value->tick != last_tick() || (!snapshots_.empty() && snapshots_.back().first == last_tick())) {
    return Status::error(Code::damaged, "snapshot of tick " + std::to_string(header.value->tick) + " out of place",
                         last_tick(), offset);
  }
  snapshots_.emplace_back(last_tick(), offset);
  return {};
}

// One pass over every frame (checksum, decoding, place in the sequence, end frame), one frame in
// memory at a time; keeps only the index.
Status FileLog::load() {
  FrameReader reader(*bytes_, export_magic);
  if (Status s = reader.start(); !s.ok()) return s;
  schema::ExportEntry entry;
  Status status;
  if (!reader.next(entry, status, 0)) {
    return status.ok() ? Status::error(Code::damaged, "no header frame", std::nullopt, reader.offset()) : status;
  }
  if (!std::holds_alternative<schema::LogHeader>(entry)) {
    return Status::error(Code::damaged, "first frame is not the log header", std::nullopt, reader.frame_offset());
  }
  header_ = std::get<schema::LogHeader>(entry);
  last_tick_ = header_.start_tick;
  uint64_t frames = 1;
  while (true) {
    if (++frames > limits::export_frames_max)
      return Status::error(Code::damaged, "too many frames", last_tick() + 1, reader.offset());
    if (!reader.next(entry, status, last_tick() + 1)) {
      if (!status.ok()) return status;
      return Status::error(Code::damaged, "file cut short: no end frame", last_tick() + 1, reader.offset());
    }
    const uint64_t at = reader.frame_offset();
    if (auto* record = std::get_if<schema::TickRecord>(&entry)) {
      if (snapshots_.empty())
        return Status::error(Code::damaged, "tick record before the start snapshot", std::nullopt, at);
      if (record->input.tick != last_tick() + 1) {
        return Status::error(Code::damaged, "tick " + std::to_string(record->input.tick) + " out of order",
                             last_tick() + 1, at);
      }
      if ((record->input.tick - header_.start_tick - 1) % index_every_ticks == 0) index_.push_back(at);
      last_tick_ = record->input.tick;
    } else if (const auto* snapshot = std::get_if<schema::SnapshotBytes>(&entry)) {
      if (Status s = add_snapshot(*snapshot, at); !s.ok()) return s;
    } else if (const auto* end = std::get_if<schema::ExportEnd>(&entry)) {
      if (end->tick_count != last_tick() - header_.start_tick || end->snapshot_count != snapshots_.size() ||
          end->last_tick != last_tick()) {
        return Status::error(Code::damaged, "end frame counts differ from the frames read", last_tick(), at);
      }
      if (reader.offset() != bytes_->size())
        return Status::error(Code::damaged, "bytes after the end frame", std::nullopt, reader.offset());
      if (snapshots_.empty()) return Status::error(Code::damaged, "no start snapshot", std::nullopt, at);
      return {};
    } else {
      return Status::error(Code::damaged, "unexpected frame kind", last_tick() + 1, at);
    }
  }
}

}  // namespace

Status export_log(LogSource& log, const std::string& path, uint64_t* bytes_written) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return Status::error(Code::io, path + ": cannot create");
  FrameWriter writer(out, export_magic);
  const std::vector<uint64_t> snapshot_ticks = log.snapshot_ticks();
  Status status = writer.write(log.header());
  std::vector<uint8_t> snapshot;
  auto write_snapshot = [&](uint64_t tick) {
    if (!std::binary_search(snapshot_ticks.begin(), snapshot_ticks.end(), tick)) return Status{};
    if (Status s = log.read_snapshot(tick, snapshot); !s.ok()) return s;
    return writer.write(schema::SnapshotBytes{snapshot});
  };
  if (status.ok()) status = write_snapshot(log.header().start_tick);
  schema::TickRecord record;
  std::unique_ptr<TickReader> reader;
  if (log.last_tick() > log.header().start_tick) reader = log.read_ticks(log.header().start_tick + 1, log.last_tick());
  for (uint64_t t = log.header().start_tick + 1; status.ok() && t <= log.last_tick(); ++t) {
    status = reader->next(record);
    if (status.ok()) status = writer.write(record);
    if (status.ok()) status = write_snapshot(t);
  }
  if (status.ok()) {
    status = writer.write(
        schema::ExportEnd{log.last_tick() - log.header().start_tick, snapshot_ticks.size(), log.last_tick()});
  }
  if (std::fclose(out) != 0 && status.ok()) status = Status::error(Code::io, path + ": close failed");
  if (bytes_written != nullptr) *bytes_written = writer.bytes_written();
  return status;
}

std::unique_ptr<LogSource> read_export_bytes(std::vector<uint8_t> bytes, Status& status) {
  auto log = std::make_unique<FileLog>(std::make_unique<MemoryBytes>(std::move(bytes)));
  status = log->load();
  if (!status.ok()) return nullptr;
  return log;
}

std::unique_ptr<LogSource> open_export_file(const std::string& path, Status& status) {
  auto file = FileBytes::open(path, status);
  if (!file) return nullptr;
  auto log = std::make_unique<FileLog>(std::move(file));
  status = log->load();
  if (!status.ok()) return nullptr;
  return log;
}

Status import_log(const std::string& file, const std::string& dir, const LogConfig& config) {
  Status status;
  auto log = open_export_file(file, status);
  if (!log) return status;
  std::vector<uint8_t> snapshot;
  if (status = log->read_snapshot(log->header().start_tick, snapshot); !status.ok()) return status;
  auto writer = LogWriter::create_raw(dir, log->header(), snapshot, config, status);
  if (!writer) return status;
  const std::vector<uint64_t> snapshots = log->snapshot_ticks();
  schema::TickRecord record;
  std::unique_ptr<TickReader> reader;
  if (log->last_tick() > log->header().start_tick)
    reader = log->read_ticks(log->header().start_tick + 1, log->last_tick());
  for (uint64_t t = log->header().start_tick + 1; t <= log->last_tick(); ++t) {
    if (status = reader->next(record); !status.ok()) return status;
    const bool has_snapshot = std::binary_search(snapshots.begin(), snapshots.end(), t);
    if (has_snapshot) {
      if (status = log->read_snapshot(t, snapshot); !status.ok()) return status;
    }
    if (status = writer->append_record(record, has_snapshot ? &snapshot : nullptr); !status.ok()) return status;
  }
  return {};
}

std::unique_ptr<LogSource> open_log(const std::string& path, Status& status) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    status = Status::error(Code::not_found, path + ": no such file or directory");
    return nullptr;
  }
  if (std::filesystem::is_directory(path, ec)) return open_rocks_log(path, status);
  return open_export_file(path, status);
}

}  // namespace strata::replay
