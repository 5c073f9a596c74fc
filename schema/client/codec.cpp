// schema/client/codec.cpp — see codec.h.
#include "schema/client/codec.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

#include "schema/client/client.capnp.h"
#include "schema/packed_io.h"
#include "sim/types.h"

namespace strata::view {
namespace {

constexpr uint32_t zigzag(int32_t v) { return (static_cast<uint32_t>(v) << 1U) ^ static_cast<uint32_t>(v >> 31); }
constexpr int32_t unzigzag(uint32_t v) { return static_cast<int32_t>((v >> 1U) ^ (~(v & 1U) + 1U)); }
static_assert(unzigzag(zigzag(-5)) == -5 && unzigzag(zigzag(INT32_MIN)) == INT32_MIN && zigzag(-1) == 1);

// The largest legal snapshot in words, with room for list headers: bounds how much a hostile
// message can make the reader traverse (Cap'n Proto's amplification guard) and unpack.
constexpr size_t chunk_words = 4 * (ChunkContent::cells / 8 + 1) + 8;
constexpr size_t snapshot_words_max =
    16 + snapshot_entities_max * 4 * 2 + snapshot_chunks_max * chunk_words * 2 + snapshot_cells_max * 2 + 1024;

void put_chunk_array(capnp::Data::Builder dst, const std::array<uint8_t, ChunkContent::cells>& src) {
  std::memcpy(dst.begin(), src.data(), src.size());
}

bool get_chunk_array(capnp::Data::Reader src, std::array<uint8_t, ChunkContent::cells>& dst) {
  if (src.size() != dst.size()) return false;
  std::memcpy(dst.data(), src.begin(), dst.size());
  return true;
}

// --- entity records (see client.capnp) ---

constexpr uint8_t flag_fresh = 1U << 2U;
constexpr uint8_t flag_absolute = 1U << 3U;
constexpr uint8_t flag_position = 1U << 4U;
constexpr uint8_t flag_velocity = 1U << 5U;
constexpr uint8_t flag_facing = 1U << 6U;
constexpr uint8_t flag_health = 1U << 7U;
constexpr size_t varint_bytes_max = 5;

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

void write_entity_records(const std::vector<EntityDelta>& deltas, std::vector<uint8_t>& out) {
  out.clear();
  const EntityDelta* previous = nullptr;
  for (const EntityDelta& d : deltas) {
    const bool relative = previous != nullptr && previous->key.kind == d.key.kind &&
                          previous->key.region == d.key.region && d.key.id > previous->key.id;
    auto flags = static_cast<uint8_t>(static_cast<uint8_t>(d.key.kind) & 3U);
    if (d.fresh) flags |= flag_fresh;
    if (!relative) flags |= flag_absolute;
    if (d.x != 0 || d.y != 0) flags |= flag_position;
    if (d.vx != 0 || d.vy != 0) flags |= flag_velocity;
    if (d.facing != 0) flags |= flag_facing;
    if (d.health != 0) flags |= flag_health;
    out.push_back(flags);
    if (relative) {
      put_varint(out, d.key.id - previous->key.id);
    } else {
      put_varint(out, d.key.region);
      put_varint(out, d.key.id);
    }
    if ((flags & flag_position) != 0) put_varint(out, zigzag(d.x)), put_varint(out, zigzag(d.y));
    if ((flags & flag_velocity) != 0) put_varint(out, zigzag(d.vx)), put_varint(out, zigzag(d.vy));
    if ((flags & flag_facing) != 0) out.push_back(d.facing);
    if ((flags & flag_health) != 0) put_varint(out, zigzag(d.health));
    previous = &d;
  }
}

std::string read_entity_records(std::span<const uint8_t> in, std::vector<EntityDelta>& out) {
  size_t at = 0;
  while (at < in.size()) {
    if (out.size() >= snapshot_entities_max) return "too many entities";
    const uint8_t flags = in[at++];
    EntityDelta d;
    const uint8_t kind = flags & 3U;
    if (kind >= static_cast<uint8_t>(EntityKind::count)) return "bad entity kind";
    d.key.kind = static_cast<EntityKind>(kind);
    d.fresh = (flags & flag_fresh) != 0;
    uint32_t a = 0;
    uint32_t b = 0;
    if ((flags & flag_absolute) != 0) {
      if (!get_varint(in, at, a) || !get_varint(in, at, b) || a > UINT16_MAX) return "bad entity key";
      d.key.region = static_cast<uint16_t>(a);
      d.key.id = b;
    } else {
      if (out.empty() || out.back().key.kind != d.key.kind) return "relative key without a previous entity";
      if (!get_varint(in, at, a) || a == 0 || a > UINT32_MAX - out.back().key.id) return "bad entity id step";
      d.key.region = out.back().key.region;
      d.key.id = out.back().key.id + a;
    }
    if (!out.empty() && !(out.back().key < d.key)) return "entities not sorted";
    if ((flags & flag_position) != 0) {
      if (!get_varint(in, at, a) || !get_varint(in, at, b)) return "truncated entity position";
      d.x = unzigzag(a), d.y = unzigzag(b);
    }
    if ((flags & flag_velocity) != 0) {
      if (!get_varint(in, at, a) || !get_varint(in, at, b)) return "truncated entity velocity";
      d.vx = unzigzag(a), d.vy = unzigzag(b);
    }
    if ((flags & flag_facing) != 0) {
      if (at >= in.size()) return "truncated entity facing";
      d.facing = in[at++];
    }
    if ((flags & flag_health) != 0) {
      if (!get_varint(in, at, a)) return "truncated entity health";
      d.health = unzigzag(a);
    }
    if (d.fresh && (d.health < 0 || d.health > 65535)) return "bad health";
    out.push_back(d);
  }
  return {};
}

}  // namespace

void encode_client_snapshot(const ClientSnapshot& s, std::vector<uint8_t>& out) {
  // A per-thread first segment instead of a malloc per message. Cap'n Proto requires it zeroed:
  // it starts zeroed and the words a message used are zeroed again after it is written.
  constexpr size_t scratch_words = 4096;
  thread_local std::vector<capnp::word> scratch(scratch_words);
  capnp::MallocMessageBuilder message(kj::ArrayPtr<capnp::word>(scratch.data(), scratch.size()));
  auto root = message.initRoot<wire::ClientSnapshot>();
  root.setTick(s.tick);
  root.setBaselineTick(s.baseline_tick);
  root.setAoiChecksum(s.aoi_checksum);
  root.setWorldQuickHash(s.world_quick_hash);
  root.setLastInputSeq(s.last_input_seq);
  root.setViewer(s.viewer);
  root.setViewerHeading(s.viewer_heading);
  root.setViewerMode(s.viewer_mode);
  root.setViewerStamina(s.viewer_stamina);
  // Empty lists are left unset (a null pointer reads as an empty list): an empty list pointer
  // still costs about 3 packed bytes, and most delta snapshots have four empty lists.
  thread_local std::vector<uint8_t> records;
  write_entity_records(s.entities, records);
  if (!records.empty()) root.setEntityRecords(capnp::Data::Reader(records.data(), records.size()));
  auto removed = s.removed.empty() ? capnp::List<wire::EntityKey>::Builder()
                                   : root.initRemoved(static_cast<unsigned>(s.removed.size()));
  for (size_t i = 0; i < s.removed.size(); ++i) {
    auto k = removed[static_cast<unsigned>(i)];
    k.setKind(static_cast<uint8_t>(s.removed[i].kind));
    k.setRegion(s.removed[i].region);
    k.setId(s.removed[i].id);
  }
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
  auto cells = s.cells.empty() ? capnp::List<wire::CellUpdate>::Builder()
                               : root.initCells(static_cast<unsigned>(s.cells.size()));
  for (size_t i = 0; i < s.cells.size(); ++i) {
    auto c = cells[static_cast<unsigned>(i)];
    c.setX(s.cells[i].x);
    c.setY(s.cells[i].y);
    c.setLayer(s.cells[i].layer);
    c.setKind(s.cells[i].kind);
    c.setState(s.cells[i].state);
  }
  out.clear();
  schema::detail::write_packed(message, out);
  const auto first = message.getSegmentsForOutput()[0];
  if (first.begin() == scratch.data()) std::memset(scratch.data(), 0, first.size() * sizeof(capnp::word));
}

namespace {

std::string read_snapshot(wire::ClientSnapshot::Reader root, ClientSnapshot& s) {
  if (root.getRemoved().size() > snapshot_entities_max) {
    return "too many entities";
  }
  if (root.getChunks().size() > snapshot_chunks_max || root.getDroppedChunks().size() > snapshot_chunks_max) {
    return "too many chunks";
  }
  if (root.getCells().size() > snapshot_cells_max) return "too many cell updates";
  s.tick = root.getTick();
  s.baseline_tick = root.getBaselineTick();
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
  if (root.getEntitiesRetired().size() != 0) return "entities in the retired list";
  auto records = root.getEntityRecords();
  if (std::string e = read_entity_records(std::span<const uint8_t>(records.begin(), records.size()), s.entities);
      !e.empty()) {
    return e;
  }
  for (auto k : root.getRemoved()) {
    if (k.getKind() >= static_cast<uint8_t>(EntityKind::count)) return "bad removed entity kind";
    s.removed.push_back(EntityKey{static_cast<EntityKind>(k.getKind()), k.getRegion(), k.getId()});
  }
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
  for (auto c : root.getCells()) {
    if (c.getLayer() > 2) return "bad cell layer";
    s.cells.push_back(CellUpdate{c.getX(), c.getY(), c.getLayer(), c.getKind(), c.getState()});
  }
  if (!std::is_sorted(s.removed.begin(), s.removed.end())) return "removed entities not sorted";
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

}  // namespace strata::view
