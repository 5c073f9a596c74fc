// server/aoi.h — interest management: what each client sees and the delta snapshot it is sent.
//  - InterestIndex: a uniform grid over players, NPCs and ghosts, rebuilt once per tick (counting
//    sort, no per-entity allocation), queried per client.
//  - ChunkChecksums: per-chunk content checksums, recomputed only for chunks a tick changed.
//  - TickFrame: what the snapshots of one tick read (index, checksums, viewers, a map mirror and
//    the recent changes), published by FramePublisher on the sim thread and immutable after.
//  - ClientInterest: per client, the views recently sent (a ring) and the one it acknowledged.
// A client's view: every entity within `radius` cells (Chebyshev) of it, except entities standing
// under a roof when the viewer is not (indoors is hidden from outside); and every chunk the square
// touches. Building reads a frame only, so it runs on builder threads while the sim steps on.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "schema/client/view.h"
#include "sim/simulation.h"

namespace strata::server {

// Entities are numbered by rank: their position in key order (players by id, then NPCs by id,
// then ghosts by (region, player): the world's own list order). A query marks ranks in a bitset, so
// reading the bitset gives the visible entities already in key order, with no sort per client.
class InterestIndex {
 public:
  static constexpr int32_t bucket_cells = 16;
  void rebuild(const sim::World& world);
  // Calls fn(rank) for each entity whose cell is in [x0,x1] x [y0,y1], in bucket order.
  template <class Fn>
  void query(int32_t x0, int32_t y0, int32_t x1, int32_t y1, Fn&& fn) const;
  [[nodiscard]] const view::EntityState& entity(uint32_t rank) const { return states_[rank]; }
  // Whether the entity stands under a roof (hidden from viewers outside).
  [[nodiscard]] bool indoors(uint32_t rank) const { return indoors_[rank] != 0; }
  [[nodiscard]] size_t size() const { return states_.size(); }

 private:
  int32_t buckets_x_ = 0;
  int32_t buckets_y_ = 0;
  std::vector<uint32_t> start_;
  struct Slot {
    int32_t cell_x;
    int32_t cell_y;
    uint32_t rank;
  };
  std::vector<Slot> slots_;                // bucketed, contiguous: queries scan without chasing ranks
  std::vector<view::EntityState> states_;  // by rank
  std::vector<uint8_t> indoors_;           // by rank
  std::vector<uint32_t> bucket_of_;        // by rank, scratch for the counting sort
};

class ChunkChecksums {
 public:
  void rebuild(const sim::World& world);
  void update(const sim::World& world, const std::vector<sim::CellChange>& changes);
  [[nodiscard]] uint64_t get(size_t chunk_index) const { return checksums_[chunk_index]; }
  [[nodiscard]] const std::vector<uint64_t>& all() const { return checksums_; }

 private:
  std::vector<uint64_t> checksums_;
  std::vector<uint8_t> dirty_;
};

// The cells one tick changed, with their values after the tick, grouped by chunk (a client looks up
// only the few chunks it sees rather than filtering every change in the world: random ticks alone
// change thousands of cells a tick).
struct ChangeTick {
  struct Entry {
    uint32_t chunk = 0;
    view::CellUpdate cell;
  };
  uint64_t tick = 0;
  std::vector<Entry> changes;  // sorted by chunk, in the order the tick made them within a chunk
  // The changes of chunk c are changes[chunk_start[c], chunk_start[c + 1]) (a client looks up a
  // dozen chunks in up to 64 ticks per snapshot: no search). Empty when the tick changed nothing.
  std::vector<uint32_t> chunk_start;
  [[nodiscard]] std::span<const Entry> in_chunk(size_t chunk) const {
    if (chunk + 1 >= chunk_start.size()) return {};
    return {changes.data() + chunk_start[chunk], changes.data() + chunk_start[chunk + 1]};
  }
};

// The map's visible content (no LWW stamps) at one tick. Kept in step with the world by replaying
// each tick's changes, so a builder can read tick T while the sim steps T+1.
class MapMirror {
 public:
  void copy_from(const sim::TileMap& map, uint64_t tick);
  void apply(const ChangeTick& changes);  // changes.tick must be tick() + 1
  [[nodiscard]] uint64_t tick() const { return tick_; }
  [[nodiscard]] int32_t chunks_x() const { return chunks_x_; }
  [[nodiscard]] int32_t chunks_y() const { return chunks_y_; }
  [[nodiscard]] int32_t width() const { return chunks_x_ * sim::limits::chunk_size; }
  [[nodiscard]] int32_t height() const { return chunks_y_ * sim::limits::chunk_size; }
  [[nodiscard]] const view::ChunkContent& chunk(size_t index) const { return chunks_[index]; }
  [[nodiscard]] size_t chunk_count() const { return chunks_.size(); }
  [[nodiscard]] sim::CellValue get(int32_t x, int32_t y, uint8_t layer) const;

 private:
  uint64_t tick_ = 0;
  int32_t chunks_x_ = 0;
  int32_t chunks_y_ = 0;
  std::vector<view::ChunkContent> chunks_;
};

// The viewer's own fields a snapshot carries (some are not in the entity state others see).
struct ViewerState {
  uint32_t id = 0;
  int32_t cell_x = 0;
  int32_t cell_y = 0;
  bool indoors = false;
  uint8_t heading = 0;
  uint8_t mode = 0;
  uint16_t stamina = 0;
  uint32_t last_seq = 0;
  bool operator==(const ViewerState&) const = default;
};

// Everything the snapshots of tick T read, copied out of the world by the sim thread right after
// the step. Immutable once published: builders on other threads never touch the live world.
struct TickFrame {
  uint64_t tick = 0;
  uint64_t quick_hash = 0;
  InterestIndex index;
  std::vector<uint64_t> chunk_checksums;
  std::vector<ViewerState> viewers;  // by id
  std::shared_ptr<const MapMirror> map;
  std::vector<std::shared_ptr<const ChangeTick>> changes;  // consecutive ticks ending at `tick`, oldest first

  [[nodiscard]] const ViewerState* viewer(uint32_t id) const;
  // Whether the changes of every tick after `after` are all held.
  [[nodiscard]] bool covers(uint64_t after) const { return changes.empty() || after + 1 >= changes.front()->tick; }
  // Appends the cells of chunk `chunk_index` changed after tick `after`.
  void changes_in(size_t chunk_index, uint64_t after, std::vector<view::CellUpdate>& out) const;
};

// Makes the frames, on the sim thread: keeps the chunk checksums, the change history and a pool of
// map mirrors (a mirror returns to the pool when the last frame holding it is dropped, on whatever
// thread; bringing a pooled mirror up to date replays only the few ticks it missed).
class FramePublisher {
 public:
  explicit FramePublisher(size_t history_ticks);
  ~FramePublisher();
  FramePublisher(const FramePublisher&) = delete;
  FramePublisher& operator=(const FramePublisher&) = delete;
  // The frame of the world's current tick; `changed` are the cells the tick that led to it changed
  // (empty for the first frame after start or recovery).
  [[nodiscard]] std::shared_ptr<const TickFrame> publish(const sim::World& world,
                                                         const std::vector<sim::CellChange>& changed,
                                                         uint64_t quick_hash);
  [[nodiscard]] size_t mirrors_allocated() const;
  // Frames are pooled too (a frame's index, viewers and checksums keep their capacity): at 5000
  // players a fresh frame each tick was ~0.5 MB of allocations, freed on the builder threads.
  [[nodiscard]] size_t frames_allocated() const;

 private:
  struct Pool;
  std::shared_ptr<MapMirror> acquire_mirror(const sim::World& world);
  std::shared_ptr<TickFrame> acquire_frame();
  size_t history_ticks_;
  ChunkChecksums checksums_;
  std::deque<std::shared_ptr<const ChangeTick>> history_;
  std::shared_ptr<Pool> pool_;
};

struct SentView {
  uint64_t tick = 0;
  std::vector<view::EntityState> entities;
  std::vector<view::ChunkCoord> chunks;
};

class ClientInterest {
 public:
  static constexpr size_t history = 32;  // views kept per client: an ack older than this means full
  // And at most this many entity states in all (a crowded view is kept fewer ticks): what a client
  // whose acks are late costs the server is bounded (~115 kB), whatever it sees.
  static constexpr size_t history_entities_max = 4096;
  void acknowledge(uint64_t tick) {
    if (tick > acked_tick_) acked_tick_ = tick;
  }
  // The same for an ack straight from the network: only a tick up to the newest view built for
  // this client (a client cannot have a later one). True when it moved the acknowledged tick on.
  bool acknowledge_sent(uint64_t tick) {
    if (sent_.empty() || tick > sent_.back().tick || tick <= acked_tick_) return false;
    acked_tick_ = tick;
    return true;
  }
  [[nodiscard]] const SentView* baseline() const;
  void remember(SentView view);
  [[nodiscard]] uint64_t acked_tick() const { return acked_tick_; }
  [[nodiscard]] size_t views_held() const { return sent_.size(); }
  [[nodiscard]] size_t entities_held() const { return entities_held_; }
  // Snapshots built for this client so far: paces the refresh of farther entities.
  [[nodiscard]] uint64_t built() const { return built_; }
  // Whether the next snapshot would be a full one (no acknowledged view is held).
  [[nodiscard]] bool needs_full() const { return baseline() == nullptr; }
  // The tick of the last full snapshot built (0: none yet).
  [[nodiscard]] uint64_t last_full_tick() const { return last_full_tick_; }
  void built_full(uint64_t tick) { last_full_tick_ = tick; }

 private:
  uint64_t acked_tick_ = 0;
  uint64_t built_ = 0;
  uint64_t last_full_tick_ = 0;
  size_t entities_held_ = 0;
  std::deque<SentView> sent_;
};

// Farther entities are refreshed less often: within near_cells (Chebyshev) of the viewer every
// snapshot, within mid_cells every mid_every-th, beyond that every far_every-th (spread over
// snapshots by entity id). Between refreshes the client's view dead-reckons the entity from its
// baseline, and the server's record of the view does exactly the same, so the AOI checksum holds.
// Entities entering or leaving the view are always sent at once.
struct AoiParams {
  int32_t radius_cells = 24;
  int32_t near_cells = 8;
  int32_t mid_cells = 16;
  uint32_t mid_every = 2;
  uint32_t far_every = 4;
  // A client that has not acknowledged its last full snapshot gets the next one only this many
  // ticks later: resending a large full snapshot every tick to a client that is slow to answer
  // (or whose acks are lost) only makes it slower — the feedback loop of an overloaded client.
  uint32_t full_retry_ticks = 10;
};

// Whether a snapshot for this client is worth building at `tick` (see AoiParams::full_retry_ticks).
[[nodiscard]] bool snapshot_due(const ClientInterest& client, uint64_t tick, const AoiParams& params);

// What a snapshot was, and for a full one why (what a user tuning the AOI history wants to know).
enum class SnapshotKind : uint8_t {
  delta,
  full_first,    // nothing acknowledged yet (a new client, or its first full snapshot was lost)
  full_evicted,  // the acknowledged view is no longer held (ClientInterest::history, or
                 // history_entities_max for a crowded view): the ack came too late
  full_too_old,  // held, but older than the frame's change history (or delta_ticks_max)
};

// Builds the snapshot for `viewer` against its acknowledged view into `out` (whose buffers are
// reused), and remembers what was sent.
SnapshotKind build_client_snapshot(const TickFrame& frame, ClientInterest& client, const ViewerState& viewer,
                                   const AoiParams& params, view::ClientSnapshot& out);
[[nodiscard]] inline view::ClientSnapshot build_client_snapshot(const TickFrame& frame, ClientInterest& client,
                                                                const ViewerState& viewer, const AoiParams& params) {
  view::ClientSnapshot out;
  (void)build_client_snapshot(frame, client, viewer, params, out);
  return out;
}

// ---------------------------------------------------------------------------------------------

template <class Fn>
void InterestIndex::query(int32_t x0, int32_t y0, int32_t x1, int32_t y1, Fn&& fn) const {
  const int32_t bx0 = std::max(0, x0 / bucket_cells);
  const int32_t by0 = std::max(0, y0 / bucket_cells);
  const int32_t bx1 = std::min(buckets_x_ - 1, x1 / bucket_cells);
  const int32_t by1 = std::min(buckets_y_ - 1, y1 / bucket_cells);
  for (int32_t by = by0; by <= by1; ++by) {
    for (int32_t bx = bx0; bx <= bx1; ++bx) {
      const auto b = static_cast<size_t>(by) * static_cast<size_t>(buckets_x_) + static_cast<size_t>(bx);
      for (uint32_t i = start_[b]; i < start_[b + 1]; ++i) {
        const Slot& s = slots_[i];
        if (s.cell_x >= x0 && s.cell_x <= x1 && s.cell_y >= y0 && s.cell_y <= y1) fn(s.rank);
      }
    }
  }
}

}  // namespace strata::server
