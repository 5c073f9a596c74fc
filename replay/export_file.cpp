// replay/export_file.cpp — see export_file.h.
#include "replay/export_file.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "replay/frames.h"
#include "replay/limits.h"

namespace strata::replay {
namespace {

class FileLog final : public LogSource {
 public:
  const schema::LogHeader& header() const override { return header_; }
  uint64_t last_tick() const override { return header_.start_tick + records_.size(); }
  std::vector<uint64_t> snapshot_ticks() const override {
    std::vector<uint64_t> ticks;
    for (const auto& [tick, bytes] : snapshots_) ticks.push_back(tick);
    return ticks;
  }
  Status read_tick(uint64_t tick, schema::TickRecord& out) override {
    if (tick <= header_.start_tick || tick > last_tick())
      return Status::error(Code::invalid_argument, "no such tick", tick);
    out = records_[tick - header_.start_tick - 1];
    return {};
  }
  Status read_snapshot(uint64_t tick, std::vector<uint8_t>& out) override {
    auto it = snapshots_.find(tick);
    if (it == snapshots_.end()) return Status::error(Code::invalid_argument, "no snapshot at this tick", tick);
    out = it->second;
    return {};
  }
  uint64_t size_bytes() const override { return size_; }
  std::string kind() const override { return "export file"; }

  Status load(std::span<const uint8_t> bytes);

 private:
  Status add_snapshot(schema::SnapshotBytes&& snapshot, uint64_t offset);

  schema::LogHeader header_;
  std::vector<schema::TickRecord> records_;
  std::map<uint64_t, std::vector<uint8_t>> snapshots_;
  uint64_t size_ = 0;
};

Status FileLog::add_snapshot(schema::SnapshotBytes&& snapshot, uint64_t offset) {
  auto header = schema::decode_snapshot_header(snapshot.bytes);
  if (!header.ok()) {
    const Code code = header.code == schema::DecodeError::rules_version ? Code::rules_version : Code::damaged;
    return Status::error(code, "snapshot frame: " + header.error, last_tick(), offset);
  }
  if (header.value->tick != last_tick() || snapshots_.count(last_tick()) != 0) {
    return Status::error(Code::damaged, "snapshot of tick " + std::to_string(header.value->tick) + " out of place",
                         last_tick(), offset);
  }
  snapshots_.emplace(last_tick(), std::move(snapshot.bytes));
  return {};
}

Status FileLog::load(std::span<const uint8_t> bytes) {
  size_ = bytes.size();
  FrameReader reader(bytes, export_magic);
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
      records_.push_back(std::move(*record));
    } else if (auto* snapshot = std::get_if<schema::SnapshotBytes>(&entry)) {
      if (Status s = add_snapshot(std::move(*snapshot), at); !s.ok()) return s;
    } else if (const auto* end = std::get_if<schema::ExportEnd>(&entry)) {
      if (end->tick_count != records_.size() || end->snapshot_count != snapshots_.size() ||
          end->last_tick != last_tick()) {
        return Status::error(Code::damaged, "end frame counts differ from the frames read", last_tick(), at);
      }
      if (reader.offset() != bytes.size())
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
  for (uint64_t t = log.header().start_tick + 1; status.ok() && t <= log.last_tick(); ++t) {
    status = log.read_tick(t, record);
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
  auto log = std::make_unique<FileLog>();
  status = log->load(bytes);
  if (!status.ok()) return nullptr;
  return log;
}

std::unique_ptr<LogSource> open_export_file(const std::string& path, Status& status) {
  std::vector<uint8_t> bytes;
  if (status = read_file(path, bytes); !status.ok()) return nullptr;
  return read_export_bytes(std::move(bytes), status);
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
  for (uint64_t t = log->header().start_tick + 1; t <= log->last_tick(); ++t) {
    if (status = log->read_tick(t, record); !status.ok()) return status;
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
