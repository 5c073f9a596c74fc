// server/aoi.cpp — see aoi.h.
#include "server/aoi.h"

#include <algorithm>
#include <bit>

namespace strata::server {

using namespace strata::sim;

namespace {

view::EntityState state_of(const Player& p) {
  return {{view::EntityKind::player, 0, raw(p.id)},
          p.pos.x.raw(),
          p.pos.y.raw(),
          p.vel.x.raw(),
          p.vel.y.raw(),
          to_underlying(p.facing),
          p.health};
}
view::EntityState state_of(const Npc& n) {
  return {{view::EntityKind::npc, 0, raw(n.id)},
          n.pos.x.raw(),
          n.pos.y.raw(),
          n.vel.x.raw(),
          n.vel.y.raw(),
          to_underlying(n.facing),
          0};
}
view::EntityState state_of(const Ghost& g) {
  return {{view::EntityKind::ghost, raw(g.region), raw(g.player)},
          g.pos.x.raw(),
          g.pos.y.raw(),
          0,
          0,
          to_underlying(g.facing),
          0};
}

view::ChunkContent content_of(const Chunk& chunk) {
  view::ChunkContent content;
  content.floor = chunk.floor;
  content.active = chunk.active;
  content.active_state = chunk.active_state;
  content.ceiling = chunk.ceiling;
  return content;
}

}  // namespace

void InterestIndex::rebuild(const World& world) {
  const TileMap& map = world.map;
  buckets_x_ = (map.width() + bucket_cells - 1) / bucket_cells;
  buckets_y_ = (map.height() + bucket_cells - 1) / bucket_cells;
  start_.assign(static_cast<size_t>(buckets_x_) * static_cast<size_t>(buckets_y_) + 1, 0);
  states_.clear();
  indoors_.clear();
  for (const Player& p : world.players) states_.push_back(state_of(p));
  for (const Npc& npc : world.npcs) states_.push_back(state_of(npc));
  for (const Ghost& g : world.ghosts) states_.push_back(state_of(g));
  bucket_of_.resize(states_.size());
  for (size_t rank = 0; rank < states_.size(); ++rank) {
    const view::EntityState& e = states_[rank];
    const CellPos cell{e.x >> limits::fixed_shift, e.y >> limits::fixed_shift};
    indoors_.push_back(map.in_bounds(cell) && map.ceiling(cell) != Ceiling::none ? 1 : 0);
    const auto b = static_cast<uint32_t>((cell.y / bucket_cells) * buckets_x_ + cell.x / bucket_cells);
    bucket_of_[rank] = b;
    start_[b + 1] += 1;
  }
  for (size_t b = 1; b < start_.size(); ++b) start_[b] += start_[b - 1];
  slots_.resize(states_.size());
  std::vector<uint32_t> cursor(start_.begin(), start_.end() - 1);
  for (uint32_t rank = 0; rank < states_.size(); ++rank) {
    const view::EntityState& e = states_[rank];
    slots_[cursor[bucket_of_[rank]]++] = Slot{e.x >> limits::fixed_shift, e.y >> limits::fixed_shift, rank};
  }
}

void ChunkChecksums::rebuild(const World& world) {
  checksums_.resize(world.map.chunks().size());
  dirty_.assign(world.map.chunks().size(), 0);
  for (size_t i = 0; i < checksums_.size(); ++i)
    checksums_[i] = view::chunk_checksum(content_of(world.map.chunks()[i]));
}

void ChunkChecksums::update(const World& world, const std::vector<CellChange>& changes) {
  if (checksums_.size() != world.map.chunks().size()) {
    rebuild(world);
    return;
  }
  std::vector<size_t> touched;
  for (const CellChange& c : changes) {
    const size_t chunk = world.map.chunk_index(c.cell);
    if (dirty_[chunk] == 0) {
      dirty_[chunk] = 1;
      touched.push_back(chunk);
    }
  }
  for (size_t chunk : touched) {
    checksums_[chunk] = view::chunk_checksum(content_of(world.map.chunks()[chunk]));
    dirty_[chunk] = 0;
  }
}

void MapChangeLog::record(const World& world, const std::vector<CellChange>& changes) {
  Tick entry;
  entry.tick = world.tick;
  entry.changes.reserve(changes.size());
  for (const CellChange& c : changes)
    entry.changes.emplace_back(static_cast<uint32_t>(world.map.chunk_index(c.cell)), c);
  std::stable_sort(entry.changes.begin(), entry.changes.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  ticks_.push_back(std::move(entry));
  while (ticks_.size() > history_) ticks_.pop_front();
}

void MapChangeLog::changes_in(size_t chunk_index, uint64_t after, std::vector<CellChange>& out) const {
  const auto chunk = static_cast<uint32_t>(chunk_index);
  for (const Tick& t : ticks_) {
    if (t.tick <= after) continue;
    auto range = std::equal_range(t.changes.begin(), t.changes.end(), std::pair<uint32_t, CellChange>{chunk, {}},
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  }
}

const SentView* ClientInterest::baseline() const {
  if (acked_tick_ == 0) return nullptr;
  for (const SentView& v : sent_) {
    if (v.tick == acked_tick_) return &v;
  }
  return nullptr;
}

void ClientInterest::remember(SentView view) {
  // Views older than the acknowledged one can never be a baseline again.
  while (!sent_.empty() && (sent_.size() >= history || sent_.front().tick < acked_tick_)) sent_.pop_front();
  sent_.push_back(std::move(view));
}

namespace {

std::vector<view::ChunkCoord> chunks_around(const TileMap& map, int32_t x0, int32_t y0, int32_t x1, int32_t y1) {
  std::vector<view::ChunkCoord> chunks;
  const int32_t cx0 = std::max(0, x0) >> limits::chunk_shift;
  const int32_t cy0 = std::max(0, y0) >> limits::chunk_shift;
  const int32_t cx1 = std::min(map.width() - 1, x1) >> limits::chunk_shift;
  const int32_t cy1 = std::min(map.height() - 1, y1) >> limits::chunk_shift;
  for (int32_t cx = cx0; cx <= cx1; ++cx) {
    for (int32_t cy = cy0; cy <= cy1; ++cy) chunks.emplace_back(cx, cy);  // pair order, as in ClientView::chunks
  }
  return chunks;
}

void diff_chunks(const TileMap& map, const SentView* base, const std::vector<view::ChunkCoord>& now,
                 const MapChangeLog& log, view::ClientSnapshot& out) {
  const std::vector<view::ChunkCoord> empty;
  const std::vector<view::ChunkCoord>& before = base != nullptr ? base->chunks : empty;
  std::vector<view::ChunkCoord> kept;
  std::set_intersection(now.begin(), now.end(), before.begin(), before.end(), std::back_inserter(kept));
  std::set_difference(before.begin(), before.end(), now.begin(), now.end(), std::back_inserter(out.dropped_chunks));
  std::vector<view::ChunkCoord> fresh;
  std::set_difference(now.begin(), now.end(), before.begin(), before.end(), std::back_inserter(fresh));
  for (const view::ChunkCoord& c : fresh) {
    const size_t index =
        static_cast<size_t>(c.second) * static_cast<size_t>(map.chunks_x()) + static_cast<size_t>(c.first);
    out.chunks.push_back(view::FreshChunk{c, content_of(map.chunks()[index])});
  }
  thread_local std::vector<CellChange> changes;
  changes.clear();
  for (const view::ChunkCoord& c : kept) {
    log.changes_in(static_cast<size_t>(c.second) * static_cast<size_t>(map.chunks_x()) + static_cast<size_t>(c.first),
                   base->tick, changes);
  }
  for (const CellChange& change : changes) {
    const CellValue value = map.get(change.cell, change.layer);
    out.cells.push_back(
        view::CellUpdate{change.cell.x, change.cell.y, to_underlying(change.layer), value.kind, value.state});
  }
  std::sort(out.cells.begin(), out.cells.end());
  out.cells.erase(std::unique(out.cells.begin(), out.cells.end(),
                              [](const view::CellUpdate& a, const view::CellUpdate& b) {
                                return a.x == b.x && a.y == b.y && a.layer == b.layer;
                              }),
                  out.cells.end());
}

}  // namespace

view::ClientSnapshot build_client_snapshot(const World& world, const InterestIndex& index,
                                           const ChunkChecksums& checksums, const MapChangeLog& changes,
                                           ClientInterest& client, const Player& viewer, const AoiParams& params,
                                           uint64_t world_quick_hash) {
  const int32_t vx = viewer.pos.x.tile();
  const int32_t vy = viewer.pos.y.tile();
  const int32_t r = params.radius_cells;
  const bool viewer_indoors = world.map.ceiling(CellPos{vx, vy}) != Ceiling::none;
  SentView now;
  now.tick = world.tick;
  thread_local std::vector<uint64_t> visible;  // bitset over ranks
  visible.assign((index.size() + 63) / 64, 0);
  index.query(vx - r, vy - r, vx + r, vy + r, [&](uint32_t rank) {
    const view::EntityState& e = index.entity(rank);
    const bool self = e.key.kind == view::EntityKind::player && e.key.id == raw(viewer.id);
    if (!self && !viewer_indoors && index.indoors(rank)) return;
    visible[rank / 64] |= uint64_t{1} << (rank % 64);
  });
  for (size_t word = 0; word < visible.size(); ++word) {
    for (uint64_t bits = visible[word]; bits != 0; bits &= bits - 1) {
      now.entities.push_back(
          index.entity(static_cast<uint32_t>(word * 64 + static_cast<size_t>(std::countr_zero(bits)))));
    }
  }
  now.chunks = chunks_around(world.map, vx - r, vy - r, vx + r, vy + r);

  view::ClientSnapshot out;
  out.tick = world.tick;
  out.world_quick_hash = world_quick_hash;
  out.last_input_seq = viewer.last_seq;
  out.viewer = raw(viewer.id);
  out.viewer_heading = to_underlying(viewer.heading);
  out.viewer_mode = to_underlying(viewer.mode);
  out.viewer_stamina = viewer.stamina;
  const SentView* base = client.baseline();
  if (base != nullptr && !changes.covers(base->tick)) base = nullptr;  // older than the change log: full
  out.baseline_tick = base != nullptr ? base->tick : 0;
  view::diff_entities(base != nullptr ? &base->entities : nullptr, out.baseline_tick, now.entities, now.tick, out);
  diff_chunks(world.map, base, now.chunks, changes, out);

  std::vector<std::pair<view::ChunkCoord, uint64_t>> chunk_sums;
  for (const view::ChunkCoord& c : now.chunks) {
    chunk_sums.emplace_back(c, checksums.get(static_cast<size_t>(c.second) * static_cast<size_t>(world.map.chunks_x()) +
                                             static_cast<size_t>(c.first)));
  }
  out.aoi_checksum = view::view_checksum(now.entities, chunk_sums);
  client.remember(std::move(now));
  return out;
}

}  // namespace strata::server
