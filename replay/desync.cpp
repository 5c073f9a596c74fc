// replay/desync.cpp — see desync.h. Bundles use the export file's framing (frames.h) with their own
// magic: section(side 0) header snapshot(before) snapshot(at) tick* section(side 1) ... end.
#include "replay/desync.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>

#include "replay/frames.h"
#include "replay/limits.h"
#include "replay/replayer.h"
#include "schema/codec.h"

namespace strata::replay {
namespace {

std::string hex(uint64_t value) {
  char buffer[20];
  std::snprintf(buffer, sizeof(buffer), "%016" PRIx64, value);
  return buffer;
}

bool parse_hex(const std::string& text, uint64_t& out) {
  if (text.empty() || text.size() > 16) return false;
  out = 0;
  for (char c : text) {
    uint64_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a') + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint64_t>(c - 'A') + 10;
    } else {
      return false;
    }
    out = (out << 4U) | digit;
  }
  return true;
}

const HashEntry* at_tick(const HashStream& s, uint64_t tick) {
  if (s.empty() || tick < s.front().tick || tick > s.back().tick) return nullptr;
  return &s[tick - s.front().tick];
}

// Compares one tick of both streams; fills `d` when they differ.
bool differs(const HashEntry& x, const HashEntry& y, Divergence& d) {
  if (x.quick != y.quick) {
    d = Divergence{true, x.tick, "quick hash", x.quick, y.quick, d.common_first, d.common_last, d.full_points_compared};
    return true;
  }
  if (x.full && y.full && *x.full != *y.full) {
    d = Divergence{true, x.tick, "full hash", *x.full, *y.full, d.common_first, d.common_last, d.full_points_compared};
    return true;
  }
  return false;
}

std::string describe_command(const sim::Command& command) {
  return std::visit(
      [](const auto& c) -> std::string {
        using T = std::decay_t<decltype(c)>;
        auto stamp = [](const sim::LwwStamp& s) {
          return " stamp " + hex(s.hlc) + "@" + std::to_string(sim::raw(s.region));
        };
        auto cell = [](const sim::CellPos& p) { return " cell " + std::to_string(p.x) + "," + std::to_string(p.y); };
        if constexpr (std::is_same_v<T, sim::JoinCommand>) return "join player " + std::to_string(sim::raw(c.player));
        if constexpr (std::is_same_v<T, sim::LeaveCommand>) return "leave player " + std::to_string(sim::raw(c.player));
        if constexpr (std::is_same_v<T, sim::MoveCommand>) {
          return "move player " + std::to_string(sim::raw(c.player)) + " seq " + std::to_string(c.seq) + " dir " +
                 std::to_string(sim::to_underlying(c.direction)) + " mode " +
                 std::to_string(sim::to_underlying(c.mode));
        }
        if constexpr (std::is_same_v<T, sim::PlaceCommand>) {
          return "place player " + std::to_string(sim::raw(c.player)) + " seq " + std::to_string(c.seq) + cell(c.cell) +
                 " layer " + std::to_string(sim::to_underlying(c.layer)) + " kind " + std::to_string(c.kind) +
                 stamp(c.stamp);
        }
        if constexpr (std::is_same_v<T, sim::BreakCommand>) {
          return "break player " + std::to_string(sim::raw(c.player)) + " seq " + std::to_string(c.seq) + cell(c.cell) +
                 " layer " + std::to_string(sim::to_underlying(c.layer)) + stamp(c.stamp);
        }
        if constexpr (std::is_same_v<T, sim::InteractCommand>) {
          return "interact player " + std::to_string(sim::raw(c.player)) + " seq " + std::to_string(c.seq) +
                 cell(c.cell) + stamp(c.stamp);
        }
        if constexpr (std::is_same_v<T, sim::RemoteBlockWriteCommand>) {
          return "remote write" + cell(c.cell) + " layer " + std::to_string(sim::to_underlying(c.layer)) + " kind " +
                 std::to_string(c.kind) + " state " + std::to_string(c.state) + stamp(c.stamp);
        }
        if constexpr (std::is_same_v<T, sim::RemotePresenceCommand>) {
          return "remote presence region " + std::to_string(sim::raw(c.origin)) + " player " +
                 std::to_string(sim::raw(c.player)) + " pos " + std::to_string(c.pos.x.raw()) + "," +
                 std::to_string(c.pos.y.raw());
        }
        return {};
      },
      command);
}

}  // namespace

Status recorded_hashes(LogSource& log, HashStream& out) {
  out.clear();
  schema::TickRecord record;
  if (log.last_tick() == log.header().start_tick) return {};
  auto reader = log.read_ticks(log.header().start_tick + 1, log.last_tick());
  for (uint64_t t = log.header().start_tick + 1; t <= log.last_tick(); ++t) {
    if (Status s = reader->next(record); !s.ok()) return s;
    out.push_back(HashEntry{t, record.quick_hash, record.full_hash});
  }
  return {};
}

Status read_hash_stream(const std::string& path, HashStream& out) {
  out.clear();
  std::ifstream in(path);
  if (!in) return Status::error(Code::not_found, path + ": cannot open");
  std::string line;
  uint64_t line_number = 0;
  while (std::getline(in, line)) {
    line_number += 1;
    auto bad = [&](const std::string& what) {
      std::string message = path;
      message.append(" line ").append(std::to_string(line_number)).append(": ").append(what);
      return Status::error(Code::damaged, std::move(message));
    };
    if (line.size() > limits::hash_stream_line_bytes_max) return bad("line too long");
    if (line_number > limits::hash_stream_lines_max) return bad("too many lines");
    if (line.empty()) continue;
    char tick_text[24] = {};
    char quick_text[24] = {};
    char full_text[24] = {};
    const int fields = std::sscanf(line.c_str(), "%20s %20s %20s", tick_text, quick_text, full_text);
    HashEntry entry;
    char* end = nullptr;
    entry.tick = std::strtoull(tick_text, &end, 10);
    if (fields < 2 || end == tick_text || *end != '\0') return bad("expected '<tick> <quick hex> [<full hex>]'");
    if (!parse_hex(quick_text, entry.quick)) return bad("quick hash is not hex");
    if (fields == 3) {
      uint64_t full = 0;
      if (!parse_hex(full_text, full)) return bad("full hash is not hex");
      entry.full = full;
    }
    if (!out.empty() && entry.tick != out.back().tick + 1) return bad("ticks not contiguous");
    out.push_back(entry);
  }
  return {};
}

Divergence first_divergence(const HashStream& a, const HashStream& b) {
  Divergence d;
  if (a.empty() || b.empty()) return d;
  const uint64_t first = std::max(a.front().tick, b.front().tick);
  const uint64_t last = std::min(a.back().tick, b.back().tick);
  if (first > last) return d;
  d.common_first = first;
  d.common_last = last;
  std::vector<uint64_t> full_points;
  for (uint64_t t = first; t <= last; ++t) {
    if (at_tick(a, t)->full && at_tick(b, t)->full) full_points.push_back(t);
  }
  // Binary search: first full-hash point that differs.
  size_t lo = 0;
  size_t hi = full_points.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    d.full_points_compared += 1;
    if (*at_tick(a, full_points[mid])->full != *at_tick(b, full_points[mid])->full) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const uint64_t scan_from = lo == 0 ? first : full_points[lo - 1] + 1;
  const uint64_t scan_to = lo < full_points.size() ? full_points[lo] : last;
  for (uint64_t t = scan_from; t <= scan_to; ++t) {
    if (differs(*at_tick(a, t), *at_tick(b, t), d)) return d;
  }
  // A divergence that healed before the next full-hash point: fall back to the whole range.
  for (uint64_t t = first; t <= last; ++t) {
    if (differs(*at_tick(a, t), *at_tick(b, t), d)) return d;
  }
  return d;
}

Status collect(LogSource& a, LogSource& b, uint64_t tick, DesyncBundle& out) {
  out = DesyncBundle{};
  out.tick = tick;
  LogSource* logs[2] = {&a, &b};
  for (int i = 0; i < 2; ++i) {
    LogSource& log = *logs[i];
    DesyncSide& side = out.sides[i];
    side.header = log.header();
    const uint64_t before = tick == 0 ? 0 : tick - 1;
    for (uint64_t t : {before, tick}) {
      StateAt state = state_at(log, t, true);
      if (!state.status.ok()) {
        // This build does not reproduce the log's own hashes (recorded by another build, or a
        // nondeterministic one): show what this build computes from the log's inputs.
        side.reproducible = false;
        state = state_at(log, t, false);
        if (!state.status.ok()) return state.status;
      }
      side.states.push_back(state.sim->world());
    }
    const uint64_t from = std::max(log.header().start_tick + 1,
                                   tick > limits::bundle_window_ticks ? tick - limits::bundle_window_ticks : 0);
    const uint64_t to = std::min(log.last_tick(), tick + limits::bundle_window_ticks);
    schema::TickRecord record;
    for (uint64_t t = from; t <= to; ++t) {
      if (Status s = log.read_tick(t, record); !s.ok()) return s;
      side.inputs.push_back(record);
    }
  }
  return {};
}

Status write_bundle(const std::string& path, const DesyncBundle& bundle) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return Status::error(Code::io, path + ": cannot create");
  FrameWriter writer(out, bundle_magic);
  Status status;
  uint64_t snapshots = 0;
  uint64_t ticks = 0;
  for (uint8_t side = 0; side < 2 && status.ok(); ++side) {
    const DesyncSide& s = bundle.sides[side];
    status = writer.write(schema::BundleSection{side, bundle.tick});
    if (status.ok() && s.header) status = writer.write(*s.header);
    for (const sim::World& world : s.states) {
      if (status.ok()) status = writer.write(schema::SnapshotBytes{schema::encode_snapshot(world)});
      snapshots += 1;
    }
    for (const schema::TickRecord& record : s.inputs) {
      if (status.ok()) status = writer.write(record);
      ticks += 1;
    }
  }
  if (status.ok()) status = writer.write(schema::ExportEnd{ticks, snapshots, bundle.tick});
  if (std::fclose(out) != 0 && status.ok()) status = Status::error(Code::io, path + ": close failed");
  return status;
}

namespace {

Status read_bundle_from(const ByteSource& bytes, DesyncBundle& out) {
  out = DesyncBundle{};
  FrameReader reader(bytes, bundle_magic);
  if (Status s = reader.start(); !s.ok()) return s;
  schema::ExportEntry entry;
  Status status;
  int side = -1;
  uint64_t snapshots = 0;
  uint64_t ticks = 0;
  uint64_t frames = 0;
  while (reader.next(entry, status, out.tick)) {
    const uint64_t at = reader.frame_offset();
    if (++frames > limits::export_frames_max) return Status::error(Code::damaged, "too many frames", std::nullopt, at);
    if (const auto* section = std::get_if<schema::BundleSection>(&entry)) {
      if (section->side != side + 1 || (side == 0 && section->divergent_tick != out.tick)) {
        return Status::error(Code::damaged, "bundle sections out of order", std::nullopt, at);
      }
      side = section->side;
      out.tick = section->divergent_tick;
      continue;
    }
    if (const auto* end = std::get_if<schema::ExportEnd>(&entry)) {
      if (side != 1 || end->tick_count != ticks || end->snapshot_count != snapshots || end->last_tick != out.tick) {
        return Status::error(Code::damaged, "bundle end frame differs from the frames read", out.tick, at);
      }
      if (reader.offset() != bytes.size())
        return Status::error(Code::damaged, "bytes after the end frame", std::nullopt, reader.offset());
      return {};
    }
    if (side < 0) return Status::error(Code::damaged, "frame before the first bundle section", std::nullopt, at);
    DesyncSide& s = out.sides[side];
    if (auto* header = std::get_if<schema::LogHeader>(&entry)) {
      s.header = *header;
    } else if (auto* snapshot = std::get_if<schema::SnapshotBytes>(&entry)) {
      if (s.states.size() >= 2)
        return Status::error(Code::damaged, "more than two states for one side", std::nullopt, at);
      auto world = schema::decode_snapshot(snapshot->bytes);
      if (!world.ok()) return Status::error(Code::damaged, "bundle state: " + world.error, out.tick, at);
      s.states.push_back(std::move(*world.value));
      snapshots += 1;
    } else if (auto* record = std::get_if<schema::TickRecord>(&entry)) {
      if (s.inputs.size() >= 2 * limits::bundle_window_ticks + 1) {
        return Status::error(Code::damaged, "more inputs than a bundle window", std::nullopt, at);
      }
      s.inputs.push_back(std::move(*record));
      ticks += 1;
    }
  }
  if (!status.ok()) return status;
  return Status::error(Code::damaged, "bundle cut short: no end frame", out.tick, reader.offset());
}

}  // namespace

Status read_bundle_bytes(std::vector<uint8_t> bytes, DesyncBundle& out) {
  return read_bundle_from(MemoryBytes(std::move(bytes)), out);
}

Status read_bundle(const std::string& path, DesyncBundle& out) {
  Status status;
  auto file = FileBytes::open(path, status);
  if (!file) return status;
  return read_bundle_from(*file, out);
}

std::string explain(const DesyncBundle& bundle, size_t max_lines) {
  std::string out = "first divergent tick: " + std::to_string(bundle.tick) + "\n";
  for (int i = 0; i < 2; ++i) {
    if (!bundle.sides[i].reproducible) {
      out += "note: log " + std::string(i == 0 ? "A" : "B") +
             " is not reproduced by this build from its own inputs (recorded by another build, or nondeterminism); "
             "its states here are this build's replay\n";
    }
  }
  const auto& a = bundle.sides[0].states;
  const auto& b = bundle.sides[1].states;
  const char* labels[2] = {"before (tick ", "at (tick "};
  for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    const sim::DiffResult diff = sim::diff_worlds(a[k], b[k], sim::WalkScope::full, max_lines);
    out += std::string(labels[k]) + std::to_string(a[k].tick) + "): " + std::to_string(diff.total) +
           " field difference(s)\n";
    for (const std::string& line : diff.lines) out += "  " + line + "\n";
    if (diff.total > diff.lines.size()) out += "  ... " + std::to_string(diff.total - diff.lines.size()) + " more\n";
  }
  out += "inputs around the divergence (A | B):\n";
  const auto& ia = bundle.sides[0].inputs;
  const auto& ib = bundle.sides[1].inputs;
  for (size_t k = 0; k < std::max(ia.size(), ib.size()); ++k) {
    const schema::TickRecord* ra = k < ia.size() ? &ia[k] : nullptr;
    const schema::TickRecord* rb = k < ib.size() ? &ib[k] : nullptr;
    const uint64_t tick = ra ? ra->input.tick : rb->input.tick;
    std::vector<uint8_t> ea;
    std::vector<uint8_t> eb;
    if (ra) ea = schema::encode_tick_input(ra->input);
    if (rb) eb = schema::encode_tick_input(rb->input);
    const bool same_input = ra && rb && ea == eb;
    out += "  tick " + std::to_string(tick) + (tick == bundle.tick ? " <- divergence" : "") + ": " +
           (same_input ? "same inputs" : "INPUTS DIFFER") + ", quick A " + (ra ? hex(ra->quick_hash) : "-") + " B " +
           (rb ? hex(rb->quick_hash) : "-") + "\n";
    for (int side = 0; side < 2; ++side) {
      const schema::TickRecord* r = side == 0 ? ra : rb;
      if (r == nullptr || (same_input && side == 1)) continue;
      for (const sim::Command& c : r->input.commands) {
        out += std::string("    ") + (same_input ? "" : (side == 0 ? "A " : "B ")) + describe_command(c) + "\n";
      }
    }
  }
  return out;
}

}  // namespace strata::replay
