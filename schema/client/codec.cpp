// schema/client/codec.cpp — see codec.h.
#include "schema/client/codec.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "schema/client/client.capnp.h"
#include "schema/packed_io.h"
#include "sim/movement.h"
#include "sim/types.h"

namespace strata::view {
namespace {

constexpr uint32_t zigzag(int32_t v) { return (static_cast<uint32_t>(v) << 1U) ^ static_cast<uint32_t>(v >> 31); }
constexpr int32_t unzigzag(uint32_t v) { return static_cast<int32_t>((v >> 1U) ^ (~(v & 1U) + 1U)); }
static_assert(unzigzag(zigzag(-5)) == -5 && unzigzag(zigzag(INT32_MIN)) == INT32_MIN && zigzag(-1) == 1);

// The largest legal snapshot in words, with room for list headers: bounds how much a hostile
// message can make the reader traverse (Cap'n Proto's amplification guard) and unpack.
constexpr size_t chunk_words = 4 * (ChunkContent::cells / 8 + 1) + 8;
// Records: an entity record is at most 41 bytes, a removed key 11, a cell 12.
constexpr size_t snapshot_words_max =
    16 + snapshot_entities_max * 8 + snapshot_chunks_max * chunk_words * 2 + snapshot_cells_max * 2 + 1024;

void put_chunk_array(capnp::Data::Builder dst, const std::array<uint8_t, ChunkContent::cells>& src) {
  std::memcpy(dst.begin(), src.data(), src.size());
}

bool get_chunk_array(capnp::Data::Reader src, std::array<uint8_t, ChunkContent::cells>& dst) {
  if (src.size() != dst.size()) return false;
  std::memcpy(dst.data(), src.begin(), dst.size());
  return true;
}

// --- byte records (see client.capnp) ---

constexpr uint8_t flag_fresh = 1U << 2U;
constexpr uint8_t flag_absolute = 1U << 3U;
constexpr uint8_t flag_position = 1U << 4U;
constexpr uint8_t flag_motion = 1U << 5U;
constexpr uint8_t flag_facing = 1U << 6U;
constexpr uint8_t flag_health = 1U << 7U;
constexpr uint8_t removed_absolute = 1U << 2U;
constexpr uint8_t motion_code_mask = 0x1f;
constexpr uint8_t motion_explicit = 31;
constexpr uint8_t motion_facing = 1U << 5U;
constexpr uint8_t motion_turn = 1U << 6U;
constexpr size_t varint_bytes_max = 5;

// Velocity codes 1-24: the velocities sim::velocity_for gives at walk, run and NPC speed in the
// eight directions n..nw (code 1 + 8 * speed + direction - 1); code 0 is standing still.
struct MotionTable {
  static constexpr size_t speeds = 3;
  static constexpr size_t codes = 1 + speeds * 8;
  std::array<std::pair<int32_t, int32_t>, codes> velocity{};
  MotionTable() {
    const std::array<int32_t, speeds> speed{sim::limits::walk_speed, sim::limits::run_speed, sim::limits::npc_speed};
    for (size_t s = 0; s < speeds; ++s) {
      for (uint8_t d = 1; d <= 8; ++d) {
        const sim::Vec2 v = sim::velocity_for(static_cast<sim::Direction>(d), speed[s]);
        velocity[1 + s * 8 + (d - 1)] = {v.x.raw(), v.y.raw()};
      }
    }
  }
  // The code of a velocity, or motion_explicit.
  [[nodiscard]] uint8_t code(int32_t vx, int32_t vy) const {
    for (size_t c = 0; c < codes; ++c) {
      if (velocity[c].first == vx && velocity[c].second == vy) return static_cast<uint8_t>(c);
    }
    return motion_explicit;
  }
  // The direction of a code 1-24.
  static uint8_t direction(uint8_t code) { return static_cast<uint8_t>(1 + (code - 1) % 8); }
};

const MotionTable& motion_table() {
  static const MotionTable table;
  return table;
}

void put_varint(std::vector<uint8_t>& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80U));
    v >>= 7U;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// False on a truncated, overlong (more than 5 bytes) or out-of-range varint.
bool get_varint(std::span<const uint8_t> in, size_t& at, uint32_t& v) {
  uint64_t value = 0;
  for (size_t i = 0; i < varint_bytes_max; ++i) {
    if (at >= in.size()) return false;
    const uint8_t b = in[at++];
    value |= static_cast<uint64_t>(b & 0x7fU) << (7 * i);
    if ((b & 0x80U) == 0) {
      if (value > UINT32_MAX) return false;
      v = static_cast<uint32_t>(value);
      return true;
    }
  }
  return false;
}

bool get_zigzag(std::span<const uint8_t> in, size_t& at, int32_t& v) {
  uint32_t u = 0;
  if (!get_varint(in, at, u)) return false;
  v = unzigzag(u);
  return true;
}

// A key relative to the previous one (same kind and region, larger id) is its id step alone.
bool relative_key(const EntityKey* previous, const EntityKey& key) {
  return previous != nullptr && previous->kind == key.kind && previous->region == key.region && key.id > previous->id;
}

void put_key(const EntityKey* previous, const EntityKey& key, std::vector<uint8_t>& out) {
  if (relative_key(previous, key)) {
    put_varint(out, key.id - previous->id);
  } else {
    put_varint(out, key.region);
    put_varint(out, key.id);
  }
}

// Reads a key of `kind` (absolute, or the step from `previous`); the result is after `previous`.
std::string get_key(std::span<const uint8_t> in, size_t& at, uint8_t kind, bool absolute, const EntityKey* previous,
                    EntityKey& key) {
  if (kind >= static_cast<uint8_t>(EntityKind::count)) return "bad entity kind";
  key.kind = static_cast<EntityKind>(kind);
  uint32_t a = 0;
  uint32_t b = 0;
  if (absolute) {
    if (!get_varint(in, at, a) || !get_varint(in, at, b) || a > UINT16_MAX) return "bad entity key";
    key.region = static_cast<uint16_t>(a);
    key.id = b;
  } else {
    if (previous == nullptr || previous->kind != key.kind) return "relative key without a previous entity";
    if (!get_varint(in, at, a) || a == 0 || a > UINT32_MAX - previous->id) return "bad entity id step";
    key.region = previous->region;
    key.id = previous->id + a;
  }
  if (previous != nullptr && !(*previous < key)) return "entities not sorted";
  return {};
}

void write_entity_records(const std::vector<EntityDelta>& deltas, std::vector<uint8_t>& out) {
  out.clear();
  const MotionTable& table = motion_table();
  const EntityKey* previous = nullptr;
  for (const EntityDelta& d : deltas) {
    const bool motion = d.fresh ? (d.vx != 0 || d.vy != 0) : d.has_velocity;
    const bool facing = d.fresh ? d.facing != 0 : d.has_facing;
    const bool health = d.fresh ? d.health != 0 : d.has_health;
    auto flags = static_cast<uint8_t>(static_cast<uint8_t>(d.key.kind) & 3U);
    if (d.fresh) flags |= flag_fresh;
    if (!relative_key(previous, d.key)) flags |= flag_absolute;
    if (d.x != 0 || d.y != 0) flags |= flag_position;
    if (motion) flags |= flag_motion;
    if (facing) flags |= flag_facing;
    if (health) flags |= flag_health;
    out.push_back(flags);
    put_key(previous, d.key, out);
    bool facing_folded = false;
    if (motion) {
      const uint8_t code = table.code(d.vx, d.vy);
      auto m = code;
      facing_folded = facing && code != 0 && code != motion_explicit && MotionTable::direction(code) == d.facing;
      if (facing_folded) m |= motion_facing;
      if (!d.fresh && d.turn != 0) m |= motion_turn;
      out.push_back(m);
      if (code == motion_explicit) put_varint(out, zigzag(d.vx)), put_varint(out, zigzag(d.vy));
      if (!d.fresh && d.turn != 0) put_varint(out, d.turn);
    }
    if ((flags & flag_position) != 0) put_varint(out, zigzag(d.x)), put_varint(out, zigzag(d.y));
    if (facing && !facing_folded) out.push_back(d.facing);
    if (health) put_varint(out, d.health);
    previous = &d.key;
  }
}

std::string read_entity_records(std::span<const uint8_t> in, std::vector<EntityDelta>& out) {
  const MotionTable& table = motion_table();
  size_t at = 0;
  while (at < in.size()) {
    if (out.size() >= snapshot_entities_max) return "too many entities";
    const uint8_t flags = in[at++];
    EntityDelta d;
    d.fresh = (flags & flag_fresh) != 0;
    if (std::string e =
            get_key(in, at, flags & 3U, (flags & flag_absolute) != 0, out.empty() ? nullptr : &out.back().key, d.key);
        !e.empty()) {
      return e;
    }
    bool facing_folded = false;
    if ((flags & flag_motion) != 0) {
      if (at >= in.size()) return "truncated entity motion";
      const uint8_t m = in[at++];
      const uint8_t code = m & motion_code_mask;
      if ((m & 0x80U) != 0 || (code >= MotionTable::codes && code != motion_explicit)) return "bad entity motion";
      if (code == motion_explicit) {
        if (!get_zigzag(in, at, d.vx) || !get_zigzag(in, at, d.vy)) return "truncated entity velocity";
      } else {
        d.vx = table.velocity[code].first;
        d.vy = table.velocity[code].second;
      }
      if ((m & motion_facing) != 0) {
        if ((flags & flag_facing) == 0 || code == 0 || code == motion_explicit) return "bad entity motion facing";
        d.facing = MotionTable::direction(code);
        facing_folded = true;
      }
      if ((m & motion_turn) != 0) {
        if (d.fresh) return "turn in a fresh entity";
        if (!get_varint(in, at, d.turn) || d.turn == 0) return "bad entity turn";
      }
      d.has_velocity = !d.fresh;
    }
    if ((flags & flag_position) != 0) {
      if (!get_zigzag(in, at, d.x) || !get_zigzag(in, at, d.y)) return "truncated entity position";
    }
    if ((flags & flag_facing) != 0) {
      if (!facing_folded) {
        if (at >= in.size()) return "truncated entity facing";
        d.facing = in[at++];
      }
      d.has_facing = !d.fresh;
    }
    if ((flags & flag_health) != 0) {
      uint32_t health = 0;
      if (!get_varint(in, at, health) || health > UINT16_MAX) return "bad entity health";
      d.health = static_cast<uint16_t>(health);
      d.has_health = !d.fresh;
    }
    out.push_back(d);
  }
  return {};
}

void write_removed_records(const std::vector<EntityKey>& keys, std::vector<uint8_t>& out) {
  out.clear();
  const EntityKey* previous = nullptr;
  for (const EntityKey& k : keys) {
    auto head = static_cast<uint8_t>(static_cast<uint8_t>(k.kind) & 3U);
    if (!relative_key(previous, k)) head |= removed_absolute;
    out.push_back(head);
    put_key(previous, k, out);
    previous = &k;
  }
}

std::string read_removed_records(std::span<const uint8_t> in, std::vector<EntityKey>& out) {
  size_t at = 0;
  while (at < in.size()) {
    if (out.size() >= snapshot_entities_max) return "too many removed entities";
    const uint8_t head = in[at++];
    if ((head & ~(3U | removed_absolute)) != 0) return "bad removed entity";
    EntityKey key;
    if (std::string e =
            get_key(in, at, head & 3U, (head & removed_absolute) != 0, out.empty() ? nullptr : &out.back(), key);
        !e.empty()) {
      return "removed: " + e;
    }
    out.push_back(key);
  }
  return {};
}

constexpr uint8_t active_layer = 1;
constexpr uint8_t layer_count = 3;

void write_cell_records(const std::vector<CellUpdate>& cells, std::vector<uint8_t>& out) {
  out.clear();
  int32_t x = 0;
  int32_t y = 0;
  for (const CellUpdate& c : cells) {
    put_varint(out, (static_cast<uint32_t>(c.x - x) << 2U) | c.layer);
    put_varint(out, zigzag(c.y - y));
    out.push_back(c.kind);
    if (c.layer == active_layer) out.push_back(c.state);
    x = c.x;
    y = c.y;
  }
}

std::string read_cell_records(std::span<const uint8_t> in, std::vector<CellUpdate>& out) {
  size_t at = 0;
  int64_t x = 0;
  int64_t y = 0;
  while (at < in.size()) {
    if (out.size() >= snapshot_cells_max) return "too many cell updates";
    uint32_t head = 0;
    int32_t dy = 0;
    if (!get_varint(in, at, head) || !get_zigzag(in, at, dy)) return "truncated cell update";
    CellUpdate c;
    c.layer = static_cast<uint8_t>(head & 3U);
    if (c.layer >= layer_count) return "bad cell layer";
    x += head >> 2U;
    y += dy;
    if (x > INT32_MAX || y < INT32_MIN || y > INT32_MAX) return "cell update out of range";
    c.x = static_cast<int32_t>(x);
    c.y = static_cast<int32_t>(y);
    if (at >= in.size()) return "truncated cell update";
    c.kind = in[at++];
    if (c.layer == active_layer) {
      if (at >= in.size()) return "truncated cell update";
      c.state = in[at++];
    }
    if (!out.empty() && !(out.back() < c)) return "cells not sorted";
    out.push_back(c);
  }
  return {};
}

}  // namespace

void encode_client_snapshot(const ClientSnapshot& s, std::vector<uint8_t>& out) {
  out.clear();
  append_client_snapshot(s, out);
}

void append_client_snapshot(const ClientSnapshot& s, std::vector<uint8_t>& out) {
  // A per-thread first segment instead of a malloc per message. Cap'n Proto requires it zeroed:
  // it starts zeroed and the words a message used are zeroed again after it is written.
  constexpr size_t scratch_words = 4096;
  thread_local std::vector<capnp::word> scratch(scratch_words);
  capnp::MallocMessageBuilder message(kj::ArrayPtr<capnp::word>(scratch.data(), scratch.size()));
  auto root = message.initRoot<wire::ClientSnapshot>();
  root.setTick(s.tick);
  root.setBaselineAge(static_cast<uint16_t>(s.baseline_tick != 0 ? s.tick - s.baseline_tick : 0));
  root.setAoiChecksum(s.aoi_checksum);
  root.setWorldQuickHash(s.world_quick_hash);
  root.setLastInputSeq(s.last_input_seq);
  root.setViewer(s.viewer);
  root.setViewerHeading(s.viewer_heading);
  root.setViewerMode(s.viewer_mode);
  root.setViewerStamina(s.viewer_stamina);
  // Empty lists and records are left unset (a null pointer reads as empty): a set one still costs
  // about 3 packed bytes.
  thread_local std::vector<uint8_t> records;
  write_entity_records(s.entities, records);
  if (!records.empty()) root.setEntityRecords(capnp::Data::Reader(records.data(), records.size()));
  write_removed_records(s.removed, records);
  if (!records.empty()) root.setRemovedRecords(capnp::Data::Reader(records.data(), records.size()));
  write_cell_records(s.cells, records);
  if (!records.empty()) root.setCellRecords(capnp::Data::Reader(records.data(), records.size()));
  auto chunks =
      s.chunks.empty() ? capnp::List<wire::Chunk>::Builder() : root.initChunks(static_cast<unsigned>(s.chunks.size()));
  for (size_t i = 0; i < s.chunks.size(); ++i) {
    auto c = chunks[static_cast<unsigned>(i)];
    c.setCx(s.chunks[i].coord.first);
    c.setCy(s.chunks[i].coord.second);
    put_chunk_array(c.initFloor(ChunkContent::cells), s.chunks[i].content.floor);
    put_chunk_array(c.initActive(ChunkContent::cells), s.chunks[i].content.active);
    put_chunk_array(c.initActiveState(ChunkContent::cells), s.chunks[i].content.active_state);
    put_chunk_array(c.initCeiling(ChunkContent::cells), s.chunks[i].content.ceiling);
  }
  auto dropped = s.dropped_chunks.empty() ? capnp::List<wire::ChunkCoord>::Builder()
                                          : root.initDroppedChunks(static_cast<unsigned>(s.dropped_chunks.size()));
  for (size_t i = 0; i < s.dropped_chunks.size(); ++i) {
    dropped[static_cast<unsigned>(i)].setCx(s.dropped_chunks[i].first);
    dropped[static_cast<unsigned>(i)].setCy(s.dropped_chunks[i].second);
  }
  // Packed output is at most the unpacked size plus a tag byte per 8 words: one reservation, so
  // the stream's writes never reallocate.
  size_t unpacked_bytes = 16;
  for (const auto segment : message.getSegmentsForOutput())
    unpacked_bytes += segment.size() * sizeof(capnp::word) * 9 / 8 + 8;
  out.reserve(out.size() + unpacked_bytes);
  schema::detail::write_packed(message, out);
  const auto first = message.getSegmentsForOutput()[0];
  if (first.begin() == scratch.data()) std::memset(scratch.data(), 0, first.size() * sizeof(capnp::word));
}

namespace {

std::span<const uint8_t> bytes_of(capnp::Data::Reader data) { return {data.begin(), data.size()}; }

// The header fields: everything but the records and chunks.
std::string read_header(wire::ClientSnapshot::Reader root, ClientSnapshot& s) {
  s.tick = root.getTick();
  const uint16_t age = root.getBaselineAge();
  if (age > s.tick) return "baseline before tick 0";
  s.baseline_tick = age != 0 ? s.tick - age : 0;
  s.aoi_checksum = root.getAoiChecksum();
  s.world_quick_hash = root.getWorldQuickHash();
  s.last_input_seq = root.getLastInputSeq();
  s.viewer = root.getViewer();
  if (root.getViewerHeading() >= static_cast<uint8_t>(sim::Direction::count) ||
      root.getViewerMode() >= static_cast<uint8_t>(sim::MoveMode::count) ||
      root.getViewerStamina() > sim::limits::stamina_max) {
    return "bad viewer motion state";
  }
  s.viewer_heading = root.getViewerHeading();
  s.viewer_mode = root.getViewerMode();
  s.viewer_stamina = root.getViewerStamina();
  return {};
}

std::string read_snapshot(wire::ClientSnapshot::Reader root, ClientSnapshot& s) {
  if (root.getChunks().size() > snapshot_chunks_max || root.getDroppedChunks().size() > snapshot_chunks_max) {
    return "too many chunks";
  }
  if (std::string e = read_header(root, s); !e.empty()) return e;
  if (std::string e = read_entity_records(bytes_of(root.getEntityRecords()), s.entities); !e.empty()) return e;
  if (std::string e = read_removed_records(bytes_of(root.getRemovedRecords()), s.removed); !e.empty()) return e;
  if (std::string e = read_cell_records(bytes_of(root.getCellRecords()), s.cells); !e.empty()) return e;
  for (auto c : root.getChunks()) {
    FreshChunk fresh;
    fresh.coord = {c.getCx(), c.getCy()};
    if (!get_chunk_array(c.getFloor(), fresh.content.floor) || !get_chunk_array(c.getActive(), fresh.content.active) ||
        !get_chunk_array(c.getActiveState(), fresh.content.active_state) ||
        !get_chunk_array(c.getCeiling(), fresh.content.ceiling)) {
      return "chunk layer of the wrong size";
    }
    s.chunks.push_back(std::move(fresh));
  }
  for (auto c : root.getDroppedChunks()) s.dropped_chunks.emplace_back(c.getCx(), c.getCy());
  return {};
}

}  // namespace

SnapshotDecodeResult decode_client_snapshot(std::span<const uint8_t> bytes) {
  SnapshotDecodeResult result;
  if (bytes.empty()) {
    result.error = "empty snapshot";
    return result;
  }
  capnp::ReaderOptions options;
  options.traversalLimitInWords = snapshot_words_max;
  options.nestingLimit = 8;  // the schema nests three levels; anything deeper is hostile
  ClientSnapshot snapshot;
  auto unpacked = schema::detail::unpack(bytes, snapshot_words_max);
  if (unpacked.words.size() == 0) {
    result.error = "malformed snapshot: " + unpacked.error;
    return result;
  }
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&]() {
    capnp::FlatArrayMessageReader message(unpacked.words.asPtr(), options);
    result.error = read_snapshot(message.getRoot<wire::ClientSnapshot>(), snapshot);
  });
  KJ_IF_MAYBE (e, failure) {
    result.error = std::string("malformed snapshot: ") + e->getDescription().cStr();
    return result;
  }
  if (result.error.empty()) result.snapshot = std::move(snapshot);
  return result;
}

// The header is read from the message's leading words only: unpacked (segment table, root pointer
// and root struct, which the encoder allocates first), made a one-segment message of their own and
// read through the generated reader, whose bounds checks still apply; pointers (records, chunks)
// are never followed.
std::optional<ClientSnapshot> decode_client_snapshot_header(std::span<const uint8_t> bytes) {
  constexpr size_t header_words_max = 48;
  constexpr size_t segments_max = 64;  // in the table; more than the encoder ever writes
  constexpr size_t table_words_max = (segments_max + 2) / 2;
  // The segment table (u32 little endian): segment count - 1, each segment's size, padded to a
  // word. A large snapshot (a full one) outgrows the encoder's first segment: the root struct is
  // still at the start of segment 0.
  std::array<uint8_t, (table_words_max + header_words_max) * 8> unpacked_bytes{};
  const auto unpacked = schema::detail::unpack_prefix(bytes, unpacked_bytes);
  if (!unpacked || *unpacked < 3 * 8) return std::nullopt;
  std::array<uint32_t, 2> first{};  // segment count - 1, segment 0's size
  std::memcpy(first.data(), unpacked_bytes.data(), sizeof(first));
  const size_t segments = size_t{first[0]} + 1;
  if (segments > segments_max) return std::nullopt;
  const size_t table_words = (segments + 2) / 2;
  if (*unpacked / 8 <= table_words) return std::nullopt;
  // One segment of segment 0's first words, under a table of its own.
  const size_t segment_words = std::min<size_t>({first[1], *unpacked / 8 - table_words, header_words_max});
  std::array<capnp::word, 1 + header_words_max> one{};
  auto* one_bytes = reinterpret_cast<kj::byte*>(one.data());
  const std::array<uint32_t, 2> table{0, static_cast<uint32_t>(segment_words)};
  std::memcpy(one_bytes, table.data(), sizeof(table));
  std::memcpy(one_bytes + 8, unpacked_bytes.data() + table_words * 8, segment_words * 8);
  std::optional<ClientSnapshot> header;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = header_words_max;
    options.nestingLimit = 2;
    capnp::FlatArrayMessageReader reader(kj::ArrayPtr<const capnp::word>(one.data(), 1 + segment_words), options);
    ClientSnapshot s;
    if (read_header(reader.getRoot<wire::ClientSnapshot>(), s).empty()) header = std::move(s);
  });
  if (failure != nullptr) return std::nullopt;
  return header;
}

}  // namespace strata::view
