// server/aoi.cpp — see aoi.h.
#include "server/aoi.h"

#include <algorithm>
#include <bit>
#include <mutex>

#include "sim/assert.h"

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
    const CellPos cell{e.x >> sim::limits::fixed_shift, e.y >> sim::limits::fixed_shift};
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
    slots_[cursor[bucket_of_[rank]]++] = Slot{e.x >> sim::limits::fixed_shift, e.y >> sim::limits::fixed_shift, rank};
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

void MapMirror::copy_from(const TileMap& map, uint64_t tick) {
  tick_ = tick;
  chunks_x_ = map.chunks_x();
  chunks_y_ = map.chunks_y();
  chunks_.resize(map.chunks().size());
  for (size_t i = 0; i < chunks_.size(); ++i) chunks_[i] = content_of(map.chunks()[i]);
}

void MapMirror::apply(const ChangeTick& changes) {
  STRATA_ASSERT(changes.tick == tick_ + 1, "a mirror replays consecutive ticks");
  for (const ChangeTick::Entry& e : changes.changes) {
    STRATA_ASSERT(e.chunk < chunks_.size(), "a change inside the map");
    view::ChunkContent& chunk = chunks_[e.chunk];
    const size_t i = TileMap::index_in_chunk(CellPos{e.cell.x, e.cell.y});
    switch (static_cast<Layer>(e.cell.layer)) {
      case Layer::floor: chunk.floor[i] = e.cell.kind; break;
      case Layer::active:
        chunk.active[i] = e.cell.kind;
        chunk.active_state[i] = e.cell.state;
        break;
      case Layer::ceiling: chunk.ceiling[i] = e.cell.kind; break;
      case Layer::count: STRATA_ASSERT(false, "a change names a layer"); break;
    }
  }
  tick_ = changes.tick;
}

CellValue MapMirror::get(int32_t x, int32_t y, uint8_t layer) const {
  const CellPos cell{x, y};
  const view::ChunkContent& chunk =
      chunks_[static_cast<size_t>(y >> sim::limits::chunk_shift) * static_cast<size_t>(chunks_x_) +
              static_cast<size_t>(x >> sim::limits::chunk_shift)];
  const size_t i = TileMap::index_in_chunk(cell);
  switch (static_cast<Layer>(layer)) {
    case Layer::floor: return CellValue{chunk.floor[i], 0};
    case Layer::active: return CellValue{chunk.active[i], chunk.active_state[i]};
    case Layer::ceiling: return CellValue{chunk.ceiling[i], 0};
    case Layer::count: break;
  }
  return {};
}

const ViewerState* TickFrame::viewer(uint32_t id) const {
  auto it = std::lower_bound(viewers.begin(), viewers.end(), id,
                             [](const ViewerState& v, uint32_t key) { return v.id < key; });
  return it != viewers.end() && it->id == id ? &*it : nullptr;
}

void TickFrame::changes_in(size_t chunk_index, uint64_t after, std::vector<view::CellUpdate>& out) const {
  if (changes.empty()) return;
  // Consecutive ticks: the first one after `after` is found by arithmetic.
  const uint64_t first = changes.front()->tick;
  for (size_t i = after + 1 > first ? static_cast<size_t>(after + 1 - first) : 0; i < changes.size(); ++i) {
    for (const ChangeTick::Entry& e : changes[i]->in_chunk(chunk_index)) out.push_back(e.cell);
  }
}

// Mirrors no frame holds any more. The deleter of a handed-out mirror puts it back here, on the
// thread that dropped the last frame; the mutex orders that thread's last reads before the next
// writer's updates.
struct FramePublisher::Pool {
  static constexpr size_t frames_kept_max = 8;  // frames in use are a few (builders skip to the newest)
  std::mutex mutex;
  std::vector<std::unique_ptr<MapMirror>> free;
  size_t allocated = 0;
  std::vector<std::unique_ptr<TickFrame>> frames;
  size_t frames_allocated = 0;
};

FramePublisher::FramePublisher(size_t history_ticks) : history_ticks_(history_ticks), pool_(std::make_shared<Pool>()) {
  STRATA_ASSERT(history_ticks_ >= 1, "at least one tick of change history");
}

FramePublisher::~FramePublisher() = default;

size_t FramePublisher::mirrors_allocated() const {
  std::lock_guard lock(pool_->mutex);
  return pool_->allocated;
}

size_t FramePublisher::frames_allocated() const {
  std::lock_guard lock(pool_->mutex);
  return pool_->frames_allocated;
}

std::shared_ptr<TickFrame> FramePublisher::acquire_frame() {
  std::unique_ptr<TickFrame> frame;
  {
    std::lock_guard lock(pool_->mutex);
    if (!pool_->frames.empty()) {
      frame = std::move(pool_->frames.back());
      pool_->frames.pop_back();
    } else {
      pool_->frames_allocated += 1;
    }
  }
  if (!frame) frame = std::make_unique<TickFrame>();
  std::weak_ptr<Pool> pool = pool_;
  return {frame.release(), [pool](TickFrame* f) {
            std::unique_ptr<TickFrame> owned(f);
            owned->map.reset();  // the mirror goes back to its pool now, and the change ticks go
            owned->changes.clear();
            auto p = pool.lock();
            if (!p) return;
            std::lock_guard lock(p->mutex);
            if (p->frames.size() < Pool::frames_kept_max) p->frames.push_back(std::move(owned));
          }};
}

std::shared_ptr<MapMirror> FramePublisher::acquire_mirror(const World& world) {
  std::unique_ptr<MapMirror> mirror;
  {
    std::lock_guard lock(pool_->mutex);
    if (!pool_->free.empty()) {
      // The most recently returned mirror is the newest: fewest ticks to replay.
      auto newest = std::max_element(pool_->free.begin(), pool_->free.end(),
                                     [](const auto& a, const auto& b) { return a->tick() < b->tick(); });
      mirror = std::move(*newest);
      pool_->free.erase(newest);
    } else {
      pool_->allocated += 1;
    }
  }
  if (!mirror) mirror = std::make_unique<MapMirror>();
  const bool replayable = mirror->chunk_count() == world.map.chunks().size() && !history_.empty() &&
                          mirror->tick() < world.tick && mirror->tick() + 1 >= history_.front()->tick;
  if (replayable) {
    for (const auto& t : history_) {
      if (t->tick > mirror->tick()) mirror->apply(*t);
    }
  }
  if (!replayable || mirror->tick() != world.tick) mirror->copy_from(world.map, world.tick);
  std::weak_ptr<Pool> pool = pool_;
  return {mirror.release(), [pool](MapMirror* m) {
            std::unique_ptr<MapMirror> owned(m);
            if (auto p = pool.lock()) {
              std::lock_guard lock(p->mutex);
              p->free.push_back(std::move(owned));
            }
          }};
}

std::shared_ptr<const TickFrame> FramePublisher::publish(const World& world, const std::vector<CellChange>& changed,
                                                         uint64_t quick_hash) {
  checksums_.update(world, changed);  // the first call (no checksums yet) computes them all
  if (!changed.empty() || !history_.empty()) {
    auto entry = std::make_shared<ChangeTick>();
    entry->tick = world.tick;
    if (!changed.empty()) {
      // A counting sort by chunk (stable: a chunk's changes keep the tick's order), which also
      // gives every chunk's range.
      const size_t chunk_count = static_cast<size_t>(world.map.chunks_x()) * static_cast<size_t>(world.map.chunks_y());
      entry->chunk_start.assign(chunk_count + 1, 0);
      for (const CellChange& c : changed) entry->chunk_start[world.map.chunk_index(c.cell) + 1] += 1;
      for (size_t i = 1; i <= chunk_count; ++i) entry->chunk_start[i] += entry->chunk_start[i - 1];
      thread_local std::vector<uint32_t> cursor;
      cursor.assign(entry->chunk_start.begin(), entry->chunk_start.end() - 1);
      entry->changes.resize(changed.size());
      for (const CellChange& c : changed) {
        const size_t chunk = world.map.chunk_index(c.cell);
        const CellValue value = world.map.get(c.cell, c.layer);
        entry->changes[cursor[chunk]++] =
            ChangeTick::Entry{static_cast<uint32_t>(chunk),
                              view::CellUpdate{c.cell.x, c.cell.y, to_underlying(c.layer), value.kind, value.state}};
      }
    }
    if (!history_.empty() && history_.back()->tick + 1 != world.tick) history_.clear();  // not consecutive
    history_.push_back(std::move(entry));
    while (history_.size() > history_ticks_) history_.pop_front();
  }
  std::shared_ptr<TickFrame> frame = acquire_frame();
  frame->tick = world.tick;
  frame->quick_hash = quick_hash;
  frame->index.rebuild(world);
  frame->chunk_checksums = checksums_.all();
  frame->viewers.clear();
  frame->viewers.reserve(world.players.size());
  for (const Player& p : world.players) {
    const CellPos cell{p.pos.x.tile(), p.pos.y.tile()};
    frame->viewers.push_back(ViewerState{raw(p.id), cell.x, cell.y,
                                         world.map.in_bounds(cell) && world.map.ceiling(cell) != Ceiling::none,
                                         to_underlying(p.heading), to_underlying(p.mode), p.stamina, p.last_seq});
  }
  frame->map = acquire_mirror(world);
  frame->changes.assign(history_.begin(), history_.end());
  return frame;
}

const SentView* ClientInterest::baseline() const {
  if (acked_tick_ == 0) return nullptr;
  for (const SentView& v : sent_) {
    if (v.tick == acked_tick_) return &v;
  }
  return nullptr;
}

namespace {

// Each thread recycles the vectors of the views its clients forget: a snapshot's view (hundreds of
// entity states) was a fresh allocation, and the old one's free a malloc slow path (with them, a
// fifth of a snapshot builder's time at 5000 clients). Bounded: a client's views are only ever
// touched by one builder thread, so a pool per thread sees about one view out for one view in.
struct ViewSpares {
  static constexpr size_t views_max = 64;
  std::vector<SentView> views;
};
thread_local ViewSpares view_spares;

// A spare that holds `entities` states without growing and not much more (views' sizes vary from
// client to client: the last spare alone made half of the reservations reallocate; taking any that
// fits would let every view grow to the most crowded one's size, and views are most of the
// server's memory); else the last.
SentView take_spare_view(size_t entities) {
  std::vector<SentView>& views = view_spares.views;
  if (views.empty()) return {};
  size_t pick = views.size() - 1;
  for (size_t i = views.size(); i-- > 0;) {
    const size_t capacity = views[i].entities.capacity();
    if (capacity >= entities && capacity <= entities + entities / 4 + 16) {
      pick = i;
      break;
    }
  }
  SentView view = std::move(views[pick]);
  if (pick + 1 != views.size()) views[pick] = std::move(views.back());
  views.pop_back();
  return view;
}

void give_spare_view(SentView&& view) {
  if (view_spares.views.size() >= ViewSpares::views_max) return;
  view.entities.clear();
  view.chunks.clear();
  view_spares.views.push_back(std::move(view));
}

}  // namespace

void ClientInterest::remember(SentView view) {
  // Views older than the acknowledged one can never be a baseline again.
  while (!sent_.empty() && (sent_.size() >= history || sent_.front().tick < acked_tick_ ||
                            entities_held_ + view.entities.size() > history_entities_max)) {
    entities_held_ -= sent_.front().entities.size();
    give_spare_view(std::move(sent_.front()));
    sent_.pop_front();
  }
  entities_held_ += view.entities.size();
  sent_.push_back(std::move(view));
  built_ += 1;
}

namespace {

void chunks_around(const MapMirror& map, int32_t x0, int32_t y0, int32_t x1, int32_t y1,
                   std::vector<view::ChunkCoord>& chunks) {
  chunks.clear();
  const int32_t cx0 = std::max(0, x0) >> sim::limits::chunk_shift;
  const int32_t cy0 = std::max(0, y0) >> sim::limits::chunk_shift;
  const int32_t cx1 = std::min(map.width() - 1, x1) >> sim::limits::chunk_shift;
  const int32_t cy1 = std::min(map.height() - 1, y1) >> sim::limits::chunk_shift;
  for (int32_t cx = cx0; cx <= cx1; ++cx) {
    for (int32_t cy = cy0; cy <= cy1; ++cy) chunks.emplace_back(cx, cy);  // pair order, as in ClientView::chunks
  }
}

size_t chunk_index(const MapMirror& map, const view::ChunkCoord& c) {
  return static_cast<size_t>(c.second) * static_cast<size_t>(map.chunks_x()) + static_cast<size_t>(c.first);
}

void diff_chunks(const TickFrame& frame, const SentView* base, const std::vector<view::ChunkCoord>& now,
                 view::ClientSnapshot& out) {
  const MapMirror& map = *frame.map;
  const std::vector<view::ChunkCoord> empty;
  const std::vector<view::ChunkCoord>& before = base != nullptr ? base->chunks : empty;
  out.chunks.clear();
  out.dropped_chunks.clear();
  out.cells.clear();
  thread_local std::vector<view::ChunkCoord> kept;
  kept.clear();
  std::set_intersection(now.begin(), now.end(), before.begin(), before.end(), std::back_inserter(kept));
  std::set_difference(before.begin(), before.end(), now.begin(), now.end(), std::back_inserter(out.dropped_chunks));
  thread_local std::vector<view::ChunkCoord> fresh;
  fresh.clear();
  std::set_difference(now.begin(), now.end(), before.begin(), before.end(), std::back_inserter(fresh));
  for (const view::ChunkCoord& c : fresh) out.chunks.push_back(view::FreshChunk{c, map.chunk(chunk_index(map, c))});
  // Cells changed since the baseline, with their value at this tick (a cell changed twice is sent once).
  for (const view::ChunkCoord& c : kept) frame.changes_in(chunk_index(map, c), base->tick, out.cells);
  for (view::CellUpdate& cell : out.cells) {
    const CellValue value = map.get(cell.x, cell.y, cell.layer);
    cell.kind = value.kind;
    cell.state = value.state;
  }
  std::sort(out.cells.begin(), out.cells.end());
  out.cells.erase(std::unique(out.cells.begin(), out.cells.end()), out.cells.end());
}

int32_t chebyshev(const view::EntityState& e, const ViewerState& viewer) {
  const int32_t dx = (e.x >> sim::limits::fixed_shift) - viewer.cell_x;
  const int32_t dy = (e.y >> sim::limits::fixed_shift) - viewer.cell_y;
  return std::max(dx < 0 ? -dx : dx, dy < 0 ? -dy : dy);
}

// Whether an entity at this distance is refreshed in the client's `built`-th snapshot.
bool refresh_due(const view::EntityState& e, const ViewerState& viewer, const AoiParams& params, uint64_t built) {
  const int32_t d = chebyshev(e, viewer);
  if (d <= params.near_cells) return true;
  const uint32_t every = d <= params.mid_cells ? params.mid_every : params.far_every;
  const uint64_t n = built + e.key.id;
  // (every is 2 or 4 by default: a mask, not a 64-bit division per entity per snapshot)
  return every <= 1 || ((every & (every - 1)) == 0 ? (n & (every - 1)) == 0 : n % every == 0);
}

// The view records, for an entity not refreshed this time, exactly what the client computes from
// its baseline: the baseline state dead-reckoned to this tick. False when that would leave int32.
bool dead_reckon(const view::EntityState& base, uint64_t elapsed, view::EntityState& out) {
  const int64_t x = int64_t{base.x} + int64_t{base.vx} * static_cast<int64_t>(elapsed);
  const int64_t y = int64_t{base.y} + int64_t{base.vy} * static_cast<int64_t>(elapsed);
  if (x < INT32_MIN || x > INT32_MAX || y < INT32_MIN || y > INT32_MAX) return false;
  out = base;
  out.x = static_cast<int32_t>(x);
  out.y = static_cast<int32_t>(y);
  return true;
}

}  // namespace

bool snapshot_due(const ClientInterest& client, uint64_t tick, const AoiParams& params) {
  if (client.last_full_tick() == 0 || !client.needs_full()) return true;
  return tick >= client.last_full_tick() + params.full_retry_ticks;
}

SnapshotKind build_client_snapshot(const TickFrame& frame, ClientInterest& client, const ViewerState& viewer,
                                   const AoiParams& params, view::ClientSnapshot& out) {
  const InterestIndex& index = frame.index;
  const int32_t vx = viewer.cell_x;
  const int32_t vy = viewer.cell_y;
  const int32_t r = params.radius_cells;
  const SentView* base = client.baseline();
  SnapshotKind kind = SnapshotKind::delta;
  if (base == nullptr) kind = client.acked_tick() == 0 ? SnapshotKind::full_first : SnapshotKind::full_evicted;
  // Older than the change history, or than a delta may span: full.
  if (base != nullptr && (!frame.covers(base->tick) || frame.tick - base->tick > view::delta_ticks_max)) {
    base = nullptr;
    kind = SnapshotKind::full_too_old;
  }
  const uint64_t elapsed = base != nullptr ? frame.tick - base->tick : 0;
  thread_local std::vector<uint64_t> visible;  // bitset over ranks
  visible.assign((index.size() + 63) / 64, 0);
  size_t count = 0;  // each entity is in one bucket: a query reports it once
  index.query(vx - r, vy - r, vx + r, vy + r, [&](uint32_t rank) {
    if (!viewer.indoors && index.indoors(rank)) {  // hidden, unless it is the viewer itself
      const view::EntityState& e = index.entity(rank);
      if (e.key.kind != view::EntityKind::player || e.key.id != viewer.id) return;
    }
    visible[rank / 64] |= uint64_t{1} << (rank % 64);
    count += 1;
  });
  SentView now = take_spare_view(count);
  now.tick = frame.tick;
  now.entities.reserve(count);
  size_t b = 0;  // merge cursor in the baseline (both sorted by key)
  for (size_t word = 0; word < visible.size(); ++word) {
    for (uint64_t bits = visible[word]; bits != 0; bits &= bits - 1) {
      const view::EntityState& e =
          index.entity(static_cast<uint32_t>(word * 64 + static_cast<size_t>(std::countr_zero(bits))));
      if (base != nullptr) {
        while (b < base->entities.size() && base->entities[b].key < e.key) ++b;
        view::EntityState carried;
        if (b < base->entities.size() && base->entities[b].key == e.key &&
            !refresh_due(e, viewer, params, client.built()) && dead_reckon(base->entities[b], elapsed, carried)) {
          now.entities.push_back(carried);
          continue;
        }
      }
      now.entities.push_back(e);
    }
  }
  chunks_around(*frame.map, vx - r, vy - r, vx + r, vy + r, now.chunks);

  out.tick = frame.tick;
  out.world_quick_hash = frame.quick_hash;
  out.last_input_seq = viewer.last_seq;
  out.viewer = viewer.id;
  out.viewer_heading = viewer.heading;
  out.viewer_mode = viewer.mode;
  out.viewer_stamina = viewer.stamina;
  out.baseline_tick = base != nullptr ? base->tick : 0;
  view::diff_entities(base != nullptr ? &base->entities : nullptr, out.baseline_tick, now.entities, now.tick, out);
  diff_chunks(frame, base, now.chunks, out);

  thread_local std::vector<std::pair<view::ChunkCoord, uint64_t>> chunk_sums;
  chunk_sums.clear();
  for (const view::ChunkCoord& c : now.chunks)
    chunk_sums.emplace_back(c, frame.chunk_checksums[chunk_index(*frame.map, c)]);
  out.aoi_checksum = view::view_checksum(now.entities, chunk_sums);
  if (base == nullptr) client.built_full(frame.tick);
  client.remember(std::move(now));
  return kind;
}

}  // namespace strata::server
