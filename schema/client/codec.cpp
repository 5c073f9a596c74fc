// schema/client/codec.cpp — see codec.h.
#include "schema/client/codec.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <algorithm>
#include <cstring>

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
  auto entities = root.initEntities(static_cast<unsigned>(s.entities.size()));
  for (size_t i = 0; i < s.entities.size(); ++i) {
    const EntityDelta& d = s.entities[i];
    auto e = entities[static_cast<unsigned>(i)];
    e.setKind(static_cast<uint8_t>(d.key.kind));
    e.setFresh(d.fresh);
    e.setRegion(d.key.region);
    e.setId(d.key.id);
    e.setX(zigzag(d.x));
    e.setY(zigzag(d.y));
    e.setVx(zigzag(d.vx));
    e.setVy(zigzag(d.vy));
    e.setFacing(d.facing);
    e.setHealth(zigzag(d.health));
  }
  auto removed = root.initRemoved(static_cast<unsigned>(s.removed.size()));
  for (size_t i = 0; i < s.removed.size(); ++i) {
    auto k = removed[static_cast<unsigned>(i)];
    k.setKind(static_cast<uint8_t>(s.removed[i].kind));
    k.setRegion(s.removed[i].region);
    k.setId(s.removed[i].id);
  }
  auto chunks = root.initChunks(static_cast<unsigned>(s.chunks.size()));
  for (size_t i = 0; i < s.chunks.size(); ++i) {
    auto c = chunks[static_cast<unsigned>(i)];
    c.setCx(s.chunks[i].coord.first);
    c.setCy(s.chunks[i].coord.second);
    put_chunk_array(c.initFloor(ChunkContent::cells), s.chunks[i].content.floor);
    put_chunk_array(c.initActive(ChunkContent::cells), s.chunks[i].content.active);
    put_chunk_array(c.initActiveState(ChunkContent::cells), s.chunks[i].content.active_state);
    put_chunk_array(c.initCeiling(ChunkContent::cells), s.chunks[i].content.ceiling);
  }
  auto dropped = root.initDroppedChunks(static_cast<unsigned>(s.dropped_chunks.size()));
  for (size_t i = 0; i < s.dropped_chunks.size(); ++i) {
    dropped[static_cast<unsigned>(i)].setCx(s.dropped_chunks[i].first);
    dropped[static_cast<unsigned>(i)].setCy(s.dropped_chunks[i].second);
  }
  auto cells = root.initCells(static_cast<unsigned>(s.cells.size()));
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
  if (root.getEntities().size() > snapshot_entities_max || root.getRemoved().size() > snapshot_entities_max) {
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
  for (auto e : root.getEntities()) {
    if (e.getKind() >= static_cast<uint8_t>(EntityKind::count)) return "bad entity kind";
    if (e.getFresh() && (unzigzag(e.getHealth()) < 0 || unzigzag(e.getHealth()) > 65535)) return "bad health";
    s.entities.push_back(EntityDelta{EntityKey{static_cast<EntityKind>(e.getKind()), e.getRegion(), e.getId()},
                                     e.getFresh(), unzigzag(e.getX()), unzigzag(e.getY()), unzigzag(e.getVx()),
                                     unzigzag(e.getVy()), e.getFacing(), unzigzag(e.getHealth())});
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
  auto by_key = [](const auto& a, const auto& b) { return a.key < b.key; };
  if (!std::is_sorted(s.entities.begin(), s.entities.end(), by_key)) return "entities not sorted";
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
