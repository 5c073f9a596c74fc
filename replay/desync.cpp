// replay/desync.cpp — see desync.h. Bundles use the export file's framing (frames.h) with their own
// magic and version (bundle_version):
//   section(side 0) header provenance state(before) state(at) [state(later)] tick* section(side 1) ... end
// States are snapshot frames (schema::encode_snapshot). The provenance frame is a snapshot frame
// too (the schema has no other byte field to carry it), told apart by its own magic:
//   "STRATAPV" | u8 format (1) | u8 n (states, <= 3) | n x u8 StateSource | u8 has_mismatch |
//   u64 mismatch tick | u8 has_later | u64 later tick          (integers little-endian)
// Version-1 bundles have no provenance frame; their sources read as `unknown`.
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
        if constexpr (std::is_same_v<T, sim::JoinCommand>) {
          return "join player " + std::to_string(sim::raw(c.player)) + (c.save.has_value() ? " with a save" : "");
        }
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
        if constexpr (std::is_same_v<T, sim::RemoteBatchCommand>) {
          return "remote batch region " + std::to_string(sim::raw(c.origin)) + " seq " + std::to_string(c.stream_seq);
        }
        if constexpr (std::is_same_v<T, sim::RemoteNpcCommand>) {
          return "remote npc region " + std::to_string(sim::raw(c.origin)) + " npc " + std::to_string(sim::raw(c.npc)) +
                 " pos " + std::to_string(c.pos.x.raw()) + "," + std::to_string(c.pos.y.raw());
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

namespace {

// Reads one line (without its '\n') of at most line_bytes_max bytes. A longer line is not read
// whole: the bytes past the limit are never buffered (a file with one 10 GB line costs nothing).
enum class LineRead : uint8_t { line, end, too_long };
LineRead read_bounded_line(std::istream& in, std::string& line, size_t line_bytes_max) {
  line.clear();
  std::streambuf* buffer = in.rdbuf();
  bool any = false;
  for (;;) {
    const int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) return any ? LineRead::line : LineRead::end;
    any = true;
    if (c == '\n') return LineRead::line;
    if (line.size() == line_bytes_max) return LineRead::too_long;
    line.push_back(static_cast<char>(c));
  }
}

}  // namespace

Status read_hash_stream(const std::string& path, HashStream& out) {
  out.clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(Code::not_found, path + ": cannot open");
  return read_hash_stream(in, path, out);
}

Status read_hash_stream(std::istream& in, const std::string& name, HashStream& out) {
  out.clear();
  std::string line;
  line.reserve(limits::hash_stream_line_bytes_max);
  uint64_t line_number = 0;
  for (;;) {
    const LineRead read = read_bounded_line(in, line, limits::hash_stream_line_bytes_max);
    if (read == LineRead::end) break;
    line_number += 1;
    auto bad = [&](const std::string& what) {
      std::string message = name;
      message.append(" line ").append(std::to_string(line_number)).append(": ").append(what);
      return Status::error(Code::damaged, std::move(message));
    };
    if (read == LineRead::too_long)
      return bad("line longer than " + std::to_string(limits::hash_stream_line_bytes_max) + " bytes");
    if (line_number > limits::hash_stream_lines_max) return bad("too many lines");
    if (!line.empty() && line.back() == '\r') line.pop_back();  // written on Windows
    if (line.empty()) continue;
    if (line.find('\0') != std::string::npos) return bad("NUL byte");
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

namespace {

bool has_snapshot(const LogSource& log, uint64_t tick) {
  const auto ticks = log.snapshot_ticks();
  return std::binary_search(ticks.begin(), ticks.end(), tick);
}

// The state of `log` at `tick`, from the log's own snapshot when it has one, else replayed with
// every recorded hash checked, else (this build does not reproduce the log) recomputed.
Status rebuild(LogSource& log, uint64_t tick, DesyncSide& side) {
  const bool snapshot = has_snapshot(log, tick);
  StateAt state = state_at(log, tick, true);
  StateSource source = snapshot ? StateSource::recorded : StateSource::replayed;
  if (!state.status.ok()) {
    // A snapshot disagreeing with its own record is a damaged log, not a finding.
    if (snapshot || state.status.code != Code::hash_mismatch) return state.status;
    if (!side.replay_mismatch && state.status.tick) side.replay_mismatch = state.status.tick;
    state = state_at(log, tick, false);
    if (!state.status.ok()) return state.status;
    source = StateSource::recomputed;
    side.reproducible = false;
  }
  side.states.push_back(state.sim->world());
  side.sources.push_back(source);
  return {};
}

// The first tick after `tick` at which every side whose state at `tick` was recomputed recorded a
// snapshot (and both logs reach).
std::optional<uint64_t> later_recorded_tick(LogSource* logs[2], const DesyncBundle& bundle) {
  std::optional<uint64_t> best;
  const uint64_t last = std::min(logs[0]->last_tick(), logs[1]->last_tick());
  for (int i = 0; i < 2; ++i) {
    if (bundle.sides[i].sources.back() != StateSource::recomputed) continue;
    for (uint64_t t : logs[i]->snapshot_ticks()) {
      if (t <= bundle.tick || t > last) continue;
      const int other = 1 - i;
      if (bundle.sides[other].sources.back() == StateSource::recomputed && !has_snapshot(*logs[other], t)) continue;
      if (!best || t < *best) best = t;
      break;
    }
  }
  return best;
}

}  // namespace

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
      if (Status s = rebuild(log, t, side); !s.ok()) return s;
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
  out.later_tick = later_recorded_tick(logs, out);
  if (out.later_tick) {
    for (int i = 0; i < 2; ++i) {
      if (Status s = rebuild(*logs[i], *out.later_tick, out.sides[i]); !s.ok()) return s;
    }
  }
  return {};
}

namespace {

constexpr uint64_t provenance_magic = 0x5650415441525453ULL;  // "STRATAPV"
constexpr uint8_t provenance_format = 1;
constexpr size_t states_per_side_max = 3;

std::vector<uint8_t> encode_provenance(const DesyncSide& side, std::optional<uint64_t> later_tick) {
  std::vector<uint8_t> out;
  auto put_u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>((v >> (8 * i)) & 0xFFU));
  };
  put_u64(provenance_magic);
  out.push_back(provenance_format);
  out.push_back(static_cast<uint8_t>(side.sources.size()));
  for (StateSource source : side.sources) out.push_back(static_cast<uint8_t>(source));
  out.push_back(side.replay_mismatch ? 1 : 0);
  put_u64(side.replay_mismatch.value_or(0));
  out.push_back(later_tick ? 1 : 0);
  put_u64(later_tick.value_or(0));
  return out;
}

bool is_provenance(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < 8) return false;
  uint64_t magic = 0;
  for (size_t i = 0; i < 8; ++i) magic |= uint64_t{bytes[i]} << (8 * i);
  return magic == provenance_magic;
}

// Untrusted: every size and value checked.
bool decode_provenance(const std::vector<uint8_t>& bytes, DesyncSide& side, std::optional<uint64_t>& later_tick) {
  if (bytes.size() < 10 || bytes[8] != provenance_format) return false;
  const size_t n = bytes[9];
  if (n > states_per_side_max || bytes.size() != 10 + n + 1 + 8 + 1 + 8) return false;
  auto get_u64 = [&](size_t at) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v |= uint64_t{bytes[at + i]} << (8 * i);
    return v;
  };
  side.sources.clear();
  for (size_t k = 0; k < n; ++k) {
    if (bytes[10 + k] >= static_cast<uint8_t>(StateSource::unknown)) return false;
    side.sources.push_back(static_cast<StateSource>(bytes[10 + k]));
    if (side.sources.back() == StateSource::recomputed) side.reproducible = false;
  }
  size_t at = 10 + n;
  if (bytes[at] > 1 || bytes[at + 9] > 1) return false;
  if (bytes[at] == 1) side.replay_mismatch = get_u64(at + 1);
  at += 9;
  if (bytes[at] == 1) later_tick = get_u64(at + 1);
  return true;
}

}  // namespace

Status write_bundle(const std::string& path, const DesyncBundle& bundle) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return Status::error(Code::io, path + ": cannot create");
  FrameWriter writer(out, bundle_magic, bundle_version);
  Status status;
  uint64_t snapshots = 0;
  uint64_t ticks = 0;
  for (uint8_t side = 0; side < 2 && status.ok(); ++side) {
    const DesyncSide& s = bundle.sides[side];
    status = writer.write(schema::BundleSection{side, bundle.tick});
    if (status.ok() && s.header) status = writer.write(*s.header);
    if (status.ok()) status = writer.write(schema::SnapshotBytes{encode_provenance(s, bundle.later_tick)});
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
  FrameReader reader(bytes, bundle_magic, bundle_version);
  if (Status s = reader.start(); !s.ok()) return s;
  const bool with_provenance = reader.version() >= 2;
  bool provenance_read[2] = {false, false};
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
      for (DesyncSide& s : out.sides) {
        if (!with_provenance) s.sources.assign(s.states.size(), StateSource::unknown);
        if (s.sources.size() != s.states.size())
          return Status::error(Code::damaged, "bundle provenance does not match its states", out.tick, at);
      }
      if (out.sides[0].states.size() != out.sides[1].states.size() ||
          (out.sides[0].states.size() == states_per_side_max) != out.later_tick.has_value()) {
        return Status::error(Code::damaged, "bundle sides hold different states", out.tick, at);
      }
      if (reader.offset() != bytes.size())
        return Status::error(Code::damaged, "bytes after the end frame", std::nullopt, reader.offset());
      return {};
    }
    if (side < 0) return Status::error(Code::damaged, "frame before the first bundle section", std::nullopt, at);
    DesyncSide& s = out.sides[side];
    if (auto* header = std::get_if<schema::LogHeader>(&entry)) {
      s.header = *header;
    } else if (auto* snapshot = std::get_if<schema::SnapshotBytes>(&entry);
               snapshot && is_provenance(snapshot->bytes)) {
      std::optional<uint64_t> later;
      if (!with_provenance || provenance_read[side] || !s.states.empty() ||
          !decode_provenance(snapshot->bytes, s, later) || (side == 1 && later != out.later_tick)) {
        return Status::error(Code::damaged, "bad or misplaced provenance frame", out.tick, at);
      }
      if (side == 0) out.later_tick = later;
      provenance_read[side] = true;
    } else if (snapshot != nullptr) {
      if (with_provenance && !provenance_read[side])
        return Status::error(Code::damaged, "state before the side's provenance frame", out.tick, at);
      if (s.states.size() >= states_per_side_max)
        return Status::error(Code::damaged, "more than three states for one side", std::nullopt, at);
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

const char* describe(StateSource source) {
  switch (source) {
    case StateSource::recorded: return "recorded (the log's snapshot)";
    case StateSource::replayed: return "replayed by this build, matching the log's hashes";
    case StateSource::recomputed: return "RECOMPUTED by this build (its replay differs from the log)";
    case StateSource::unknown: return "source not recorded (version-1 bundle)";
    case StateSource::count: break;
  }
  return "?";
}

namespace {

void explain_diff(std::string& out, const std::string& label, const sim::World& a, const sim::World& b,
                  size_t max_lines) {
  const sim::DiffResult diff = sim::diff_worlds(a, b, sim::WalkScope::full, max_lines);
  out += label + std::to_string(diff.total) + " field difference(s)\n";
  for (const std::string& line : diff.lines) out += "  " + line + "\n";
  if (diff.total > diff.lines.size()) out += "  ... " + std::to_string(diff.total - diff.lines.size()) + " more\n";
}

}  // namespace

std::string explain(const DesyncBundle& bundle, size_t max_lines) {
  std::string out = "first divergent tick: " + std::to_string(bundle.tick) + "\n";
  const char* names[2] = {"A", "B"};
  out += "states compared:\n";
  for (int i = 0; i < 2; ++i) {
    const DesyncSide& side = bundle.sides[i];
    for (size_t k = 0; k < side.states.size(); ++k) {
      const StateSource source = k < side.sources.size() ? side.sources[k] : StateSource::unknown;
      out += std::string("  ") + names[i] + " at tick " + std::to_string(side.states[k].tick) + ": " +
             describe(source) + "\n";
    }
  }
  for (int i = 0; i < 2; ++i) {
    const DesyncSide& side = bundle.sides[i];
    if (side.reproducible) continue;
    out += std::string("note: this build does not reproduce log ") + names[i] + "'s recorded hashes" +
           (side.replay_mismatch ? " (from tick " + std::to_string(*side.replay_mismatch) + ")" : std::string()) +
           ": it was recorded by another build, or a nondeterministic one. Its RECOMPUTED states are what this "
           "build makes of " +
           names[i] + "'s inputs, not what " + names[i] +
           "'s build computed, so a difference that build caused cannot show in them.\n";
  }
  if (bundle.later_tick) {
    out += "the recorded snapshots at tick " + std::to_string(*bundle.later_tick) +
           " (the first after the divergence) are compared below as well: they hold what each build computed.\n";
  } else if (!bundle.sides[0].reproducible || !bundle.sides[1].reproducible) {
    out +=
        "no recorded snapshot after the divergence in the recomputed log(s) (record with a shorter snapshot "
        "period, or compare the logs from another build with that build).\n";
  }
  const auto& a = bundle.sides[0].states;
  const auto& b = bundle.sides[1].states;
  for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    const std::string tick = std::to_string(a[k].tick);
    const std::string label = k == 0   ? "before (tick " + tick + "): "
                              : k == 1 ? "at (tick " + tick + "): "
                                       : "later, at the recorded snapshot (tick " + tick + "): ";
    explain_diff(out, label, a[k], b[k], max_lines);
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
