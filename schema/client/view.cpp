// schema/client/view.cpp — see view.h.
#include "schema/client/view.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <cstddef>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace strata::view {
namespace {

// Canonical little-endian bytes of the entities (never raw struct bytes: padding), written into a
// reused per-thread buffer.
class Bytes {
 public:
  explicit Bytes(size_t reserve) {
    data_.clear();
    data_.reserve(reserve);
  }
  template <class T>
  void put(T value) {
    uint8_t bytes[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i));
    data_.insert(data_.end(), bytes, bytes + sizeof(T));
  }
  [[nodiscard]] const std::vector<uint8_t>& data() const { return data_; }

 private:
  static thread_local std::vector<uint8_t> data_;
};
thread_local std::vector<uint8_t> Bytes::data_;

int64_t dead_reckoned(int32_t position, int32_t velocity, uint64_t ticks) {
  return static_cast<int64_t>(position) + static_cast<int64_t>(velocity) * static_cast<int64_t>(ticks);
}

}  // namespace

uint64_t chunk_checksum(const ChunkContent& content) {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, content.floor.data(), content.floor.size());
  XXH3_64bits_update(&state, content.active.data(), content.active.size());
  XXH3_64bits_update(&state, content.active_state.data(), content.active_state.size());
  XXH3_64bits_update(&state, content.ceiling.data(), content.ceiling.size());
  return XXH3_64bits_digest(&state);
}

uint64_t view_checksum(const std::vector<EntityState>& entities,
                       const std::vector<std::pair<ChunkCoord, uint64_t>>& chunk_checksums) {
  Bytes bytes(8 + entities.size() * 26 + chunk_checksums.size() * 16);
  bytes.put(static_cast<uint32_t>(entities.size()));
  for (const EntityState& e : entities) {
    bytes.put(static_cast<uint8_t>(e.key.kind));
    bytes.put(e.key.region);
    bytes.put(e.key.id);
    bytes.put(static_cast<uint32_t>(e.x));
    bytes.put(static_cast<uint32_t>(e.y));
    bytes.put(static_cast<uint32_t>(e.vx));
    bytes.put(static_cast<uint32_t>(e.vy));
    bytes.put(e.facing);
    bytes.put(e.health);
  }
  bytes.put(static_cast<uint32_t>(chunk_checksums.size()));
  for (const auto& [coord, checksum] : chunk_checksums) {
    bytes.put(static_cast<uint32_t>(coord.first));
    bytes.put(static_cast<uint32_t>(coord.second));
    bytes.put(checksum);
  }
  return XXH3_64bits(bytes.data().data(), bytes.data().size());
}

uint64_t view_checksum(const ClientView& view) {
  thread_local std::vector<std::pair<ChunkCoord, uint64_t>> chunks;  // reused: clients verify 20 views a second
  chunks.clear();
  for (const ViewChunkRef& ref : view.chunks) chunks.emplace_back(ref.coord, ref.chunk->checksum);
  return view_checksum(view.entities, chunks);
}

namespace {

// How many of the `elapsed` ticks since the baseline the entity has moved with its new velocity:
// exact for an entity that turned once with no collision (its position is then base.pos +
// base.vel * (elapsed - k) + vel * k), and the correction carries whatever is left otherwise.
uint32_t turn_ticks(const EntityState& base, const EntityState& e, uint64_t elapsed) {
  const int64_t dvx = static_cast<int64_t>(e.vx) - base.vx;
  const int64_t dvy = static_cast<int64_t>(e.vy) - base.vy;
  const bool use_x = std::abs(dvx) >= std::abs(dvy);
  const int64_t dv = use_x ? dvx : dvy;
  if (dv == 0) return 0;
  const int64_t err =
      use_x ? e.x - dead_reckoned(base.x, base.vx, elapsed) : e.y - dead_reckoned(base.y, base.vy, elapsed);
  return static_cast<uint32_t>(std::clamp<int64_t>(err / dv, 0, static_cast<int64_t>(elapsed)));
}

}  // namespace

void diff_entities(const std::vector<EntityState>* baseline, uint64_t baseline_tick,
                   const std::vector<EntityState>& now, uint64_t tick, ClientSnapshot& out) {
  out.entities.clear();
  out.removed.clear();
  const uint64_t elapsed = tick - baseline_tick;
  size_t b = 0;
  const size_t b_end = baseline != nullptr ? baseline->size() : 0;
  for (const EntityState& e : now) {
    while (b < b_end && (*baseline)[b].key < e.key) out.removed.push_back((*baseline)[b++].key);
    if (b < b_end && (*baseline)[b].key == e.key) {
      const EntityState& base = (*baseline)[b++];
      EntityDelta d;
      d.key = e.key;
      int64_t x = dead_reckoned(base.x, base.vx, elapsed);
      int64_t y = dead_reckoned(base.y, base.vy, elapsed);
      if (e.vx != base.vx || e.vy != base.vy) {
        d.has_velocity = true;
        d.vx = e.vx;
        d.vy = e.vy;
        d.turn = turn_ticks(base, e, elapsed);
        x += (static_cast<int64_t>(e.vx) - base.vx) * d.turn;
        y += (static_cast<int64_t>(e.vy) - base.vy) * d.turn;
      }
      d.x = static_cast<int32_t>(e.x - x);
      d.y = static_cast<int32_t>(e.y - y);
      if (e.facing != base.facing) d.has_facing = true, d.facing = e.facing;
      if (e.health != base.health) d.has_health = true, d.health = e.health;
      if (d.x != 0 || d.y != 0 || d.has_velocity || d.has_facing || d.has_health) out.entities.push_back(d);
      continue;
    }
    out.entities.push_back(EntityDelta{e.key, true, false, false, false, 0, e.x, e.y, e.vx, e.vy, e.facing, e.health});
  }
  while (b < b_end) out.removed.push_back((*baseline)[b++].key);
}

namespace {

// The baseline entity carried to the snapshot's tick (dead-reckoned), with its delta applied when
// it has one.
std::string advance(const EntityState& base, const EntityDelta* d, uint64_t elapsed, EntityState& e) {
  e = base;
  int64_t x = dead_reckoned(base.x, base.vx, elapsed);
  int64_t y = dead_reckoned(base.y, base.vy, elapsed);
  if (d != nullptr) {
    if (d->has_velocity) {
      if (d->turn > elapsed) return "entity turned before its baseline";
      x += (static_cast<int64_t>(d->vx) - base.vx) * d->turn;
      y += (static_cast<int64_t>(d->vy) - base.vy) * d->turn;
      e.vx = d->vx;
      e.vy = d->vy;
    } else if (d->turn != 0) {
      return "entity turn without a velocity";
    }
    x += d->x;
    y += d->y;
    if (d->has_facing) e.facing = d->facing;
    if (d->has_health) e.health = d->health;
  }
  if (x < INT32_MIN || x > INT32_MAX || y < INT32_MIN || y > INT32_MAX) return "entity position out of range";
  e.x = static_cast<int32_t>(x);
  e.y = static_cast<int32_t>(y);
  return {};
}

// One merge of the baseline's entities, the removed keys and the deltas (all sorted by key).
std::string apply_entities(const ClientView* baseline, const ClientSnapshot& s, ClientView& view) {
  const uint64_t elapsed = baseline != nullptr ? s.tick - baseline->tick : 0;
  static const std::vector<EntityState> none;
  const std::vector<EntityState>& base = baseline != nullptr ? baseline->entities : none;
  view.entities.clear();
  view.entities.reserve(base.size() + s.entities.size());
  size_t b = 0;
  size_t r = 0;
  // Carries baseline entities before `key` (all of them for nullptr), dropping the removed ones.
  auto carry_before = [&](const EntityKey* key) -> std::string {
    for (; b < base.size() && (key == nullptr || base[b].key < *key); ++b) {
      while (r < s.removed.size() && s.removed[r] < base[b].key) ++r;
      if (r < s.removed.size() && s.removed[r] == base[b].key) continue;
      EntityState e;
      if (std::string err = advance(base[b], nullptr, elapsed, e); !err.empty()) return err;
      view.entities.push_back(e);
    }
    return {};
  };
  for (const EntityDelta& d : s.entities) {
    if (std::string err = carry_before(&d.key); !err.empty()) return err;
    const bool known = b < base.size() && base[b].key == d.key;
    while (known && r < s.removed.size() && s.removed[r] < d.key) ++r;
    if (known && r < s.removed.size() && s.removed[r] == d.key) return "delta for a removed entity";
    if (d.fresh) {
      if (known) return "fresh entity already in the baseline";
      view.entities.push_back(EntityState{d.key, d.x, d.y, d.vx, d.vy, d.facing, d.health});
      continue;
    }
    if (!known) return "delta for an entity not in the baseline";
    EntityState e;
    if (std::string err = advance(base[b++], &d, elapsed, e); !err.empty()) return err;
    view.entities.push_back(e);
  }
  if (std::string err = carry_before(nullptr); !err.empty()) return err;
  for (size_t i = 1; i < view.entities.size(); ++i) {
    if (!(view.entities[i - 1].key < view.entities[i].key)) return "entities not sorted or duplicated";
  }
  return {};
}

bool coord_less(const ViewChunkRef& a, const ViewChunkRef& b) { return a.coord < b.coord; }

// Chunk blocks (a ViewChunk with its shared_ptr control block, about 4 KB) recycled per thread: a
// client copies a chunk whenever cells in it change and frees one as its views age, many times a
// second; a recycled block is warm where a new one is memory to fault in (profiled: writing into
// the fresh copy was most of applying a snapshot). Blocks freed on another thread go to its list.
class ChunkBlocks {
 public:
  static constexpr size_t kept_max = 256;  // per thread, about 1 MB

  ChunkBlocks() { free_.reserve(kept_max); }
  ~ChunkBlocks() {
    gone = true;  // chunks freed later (static views) go straight back to the heap
    for (void* block : free_) ::operator delete(block);
  }
  ChunkBlocks(const ChunkBlocks&) = delete;
  ChunkBlocks& operator=(const ChunkBlocks&) = delete;

  void* take(size_t bytes) {
    if (bytes != block_bytes_ || free_.empty()) return ::operator new(bytes);
    void* block = free_.back();
    free_.pop_back();
    return block;
  }
  void give(void* block, size_t bytes) {
    if (block_bytes_ == 0) block_bytes_ = bytes;  // one block size: the allocate_shared one
    if (bytes != block_bytes_ || free_.size() == kept_max) {
      ::operator delete(block);
      return;
    }
    free_.push_back(block);
  }

  static thread_local bool gone;  // trivially destructible: still readable after ~ChunkBlocks

 private:
  std::vector<void*> free_;
  size_t block_bytes_ = 0;
};
thread_local bool ChunkBlocks::gone = false;
thread_local ChunkBlocks chunk_blocks;

template <class T>
struct ChunkAllocator {
  using value_type = T;
  ChunkAllocator() = default;
  template <class U>
  ChunkAllocator(const ChunkAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor): rebinding
  T* allocate(size_t n) {
    if (ChunkBlocks::gone) return static_cast<T*>(::operator new(n * sizeof(T)));
    return static_cast<T*>(chunk_blocks.take(n * sizeof(T)));
  }
  void deallocate(T* block, size_t n) noexcept {
    if (ChunkBlocks::gone) {
      ::operator delete(block);
      return;
    }
    chunk_blocks.give(block, n * sizeof(T));
  }
  template <class U>
  bool operator==(const ChunkAllocator<U>&) const noexcept {
    return true;
  }
};

template <class... Args>
std::shared_ptr<ViewChunk> make_chunk(Args&&... args) {
  return std::allocate_shared<ViewChunk>(ChunkAllocator<ViewChunk>{}, std::forward<Args>(args)...);
}

// The baseline's chunks minus the dropped ones into view.chunks (sharing every chunk).
std::string carry_chunks(const ClientView* baseline, const ClientSnapshot& s, ClientView& view) {
  std::span<const ChunkCoord> dropped = s.dropped_chunks;
  std::vector<ChunkCoord> sorted;  // only for a sender that did not sort them (ours does)
  if (!std::is_sorted(dropped.begin(), dropped.end())) {
    sorted.assign(dropped.begin(), dropped.end());
    std::sort(sorted.begin(), sorted.end());
    dropped = sorted;
  }
  size_t d = 0;
  if (baseline != nullptr) {
    for (const ViewChunkRef& ref : baseline->chunks) {
      if (d < dropped.size() && dropped[d] < ref.coord) return "dropped a chunk not in view";
      if (d < dropped.size() && dropped[d] == ref.coord) {
        ++d;
        continue;
      }
      view.chunks.push_back(ref);
    }
  }
  if (d != dropped.size()) return "dropped a chunk not in view";
  return {};
}

// Fresh chunks are made and hashed, then merged into the carried ones (both sorted).
std::string add_fresh_chunks(const ClientSnapshot& s, ClientView& view) {
  if (s.chunks.empty()) return {};
  const auto carried = static_cast<ptrdiff_t>(view.chunks.size());
  for (const FreshChunk& fresh : s.chunks) {
    auto chunk = make_chunk();
    chunk->content = fresh.content;
    chunk->checksum = chunk_checksum(chunk->content);
    view.chunks.push_back(ViewChunkRef{fresh.coord, std::move(chunk)});
  }
  const auto middle = view.chunks.begin() + carried;
  if (!std::is_sorted(middle, view.chunks.end(), coord_less)) std::sort(middle, view.chunks.end(), coord_less);
  std::inplace_merge(view.chunks.begin(), middle, view.chunks.end(), coord_less);
  for (size_t i = 1; i < view.chunks.size(); ++i) {
    if (!(view.chunks[i - 1].coord < view.chunks[i].coord)) return "fresh chunk already in view";
  }
  return {};
}

// Cell updates: each touched chunk is copied once (the baseline keeps its own), updated, then
// hashed once. Updates are sorted by (x, y, layer), so those of one chunk are not contiguous.
std::string update_cells(const ClientSnapshot& s, ClientView& view) {
  struct Copy {
    ChunkCoord coord;
    ViewChunk* chunk;  // made here, owned by view.chunks
  };
  thread_local std::vector<Copy> copies;  // a few per snapshot; kept for its capacity
  copies.clear();
  Copy* last = nullptr;
  for (const CellUpdate& u : s.cells) {
    if (u.x < 0 || u.y < 0) return "cell update outside the map";
    if (u.layer > 2) return "cell update with a bad layer";
    const ChunkCoord coord{u.x >> sim::limits::chunk_shift, u.y >> sim::limits::chunk_shift};
    if (last == nullptr || last->coord != coord) {
      last = nullptr;
      for (Copy& c : copies) last = c.coord == coord ? &c : last;
    }
    if (last == nullptr) {
      auto it = std::lower_bound(view.chunks.begin(), view.chunks.end(), coord,
                                 [](const ViewChunkRef& a, const ChunkCoord& c) { return a.coord < c; });
      if (it == view.chunks.end() || it->coord != coord) return "cell update outside the view";
      auto copy = make_chunk(*it->chunk);
      copies.push_back(Copy{coord, copy.get()});
      it->chunk = std::move(copy);
      last = &copies.back();
    }
    const auto i = static_cast<size_t>(((u.y & (sim::limits::chunk_size - 1)) << sim::limits::chunk_shift) |
                                       (u.x & (sim::limits::chunk_size - 1)));
    ChunkContent& content = last->chunk->content;
    switch (u.layer) {
      case 0: content.floor[i] = u.kind; break;
      case 1:
        content.active[i] = u.kind;
        content.active_state[i] = u.state;
        break;
      default: content.ceiling[i] = u.kind; break;
    }
  }
  for (Copy& c : copies) c.chunk->checksum = chunk_checksum(c.chunk->content);
  return {};
}

std::string apply_chunks(const ClientView* baseline, const ClientSnapshot& s, ClientView& view) {
  view.chunks.clear();
  if (std::string e = carry_chunks(baseline, s, view); !e.empty()) return e;
  if (std::string e = add_fresh_chunks(s, view); !e.empty()) return e;
  return update_cells(s, view);
}

}  // namespace

std::string apply_snapshot_into(const ClientView* baseline, const ClientSnapshot& snapshot, ClientView& out) {
  if (snapshot.baseline_tick != 0) {
    if (baseline == nullptr || baseline->tick != snapshot.baseline_tick) {
      return "snapshot needs the view of tick " + std::to_string(snapshot.baseline_tick);
    }
    if (snapshot.tick <= baseline->tick) return "snapshot is not newer than its baseline";
    if (snapshot.tick - baseline->tick > delta_ticks_max) return "snapshot spans too many ticks from its baseline";
  } else {
    baseline = nullptr;
  }
  if (baseline == &out) return "snapshot applied onto its own baseline";
  out.tick = snapshot.tick;
  if (std::string e = apply_entities(baseline, snapshot, out); !e.empty()) return e;
  return apply_chunks(baseline, snapshot, out);
}

ApplyResult apply_snapshot(const ClientView* baseline, const ClientSnapshot& snapshot) {
  ApplyResult result;
  ClientView view;
  result.error = apply_snapshot_into(baseline, snapshot, view);
  if (result.error.empty()) result.view = std::move(view);
  return result;
}

const ViewChunk* ClientView::chunk(ChunkCoord coord) const {
  auto it = std::lower_bound(chunks.begin(), chunks.end(), coord,
                             [](const ViewChunkRef& a, const ChunkCoord& c) { return a.coord < c; });
  return it != chunks.end() && it->coord == coord ? it->chunk.get() : nullptr;
}

}  // namespace strata::view
