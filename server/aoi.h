// server/aoi.h — interest management: what each client sees and the delta snapshot it is sent.
//  - InterestIndex: a uniform grid over players, NPCs and ghosts, rebuilt once per tick (counting
//    sort, no per-entity allocation), queried per client.
//  - ChunkChecksums: per-chunk content checksums, recomputed only for chunks a tick changed.
//  - MapChangeLog: the cells changed in each of the last `history` ticks.
//  - ClientInterest: per client, the views recently sent (a ring) and the one it acknowledged.
// A client's view: every entity within `radius` cells (Chebyshev) of it, except entities standing
// under a roof when the viewer is not (indoors is hidden from outside); and every chunk the square
// touches. Building reads the world only, so it can run on worker threads while the sim waits for
// the next tick.
#pragma once

#include <cstdint>
#include <deque>
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

 private:
  std::vector<uint64_t> checksums_;
  std::vector<uint8_t> dirty_;
};

// Changes are kept grouped by chunk, so a client looks up only the few chunks it sees rather than
// filtering every change in the world (random ticks alone change thousands of cells a tick).
class MapChangeLog {
 public:
  explicit MapChangeLog(size_t history_ticks) : history_(history_ticks) {}
  void record(const sim::World& world, const std::vector<sim::CellChange>& changes);
  // Whether ticks after `after` are all still held.
  [[nodiscard]] bool covers(uint64_t after) const { return ticks_.empty() || after + 1 >= ticks_.front().tick; }
  // Appends the changes in chunk `chunk_index` of the ticks after `after`.
  void changes_in(size_t chunk_index, uint64_t after, std::vector<sim::CellChange>& out) const;

 private:
  struct Tick {
    uint64_t tick = 0;
    std::vector<std::pair<uint32_t, sim::CellChange>> changes;  // (chunk index, change), sorted by chunk
  };
  size_t history_;
  std::deque<Tick> ticks_;
};

struct SentView {
  uint64_t tick = 0;
  std::vector<view::EntityState> entities;
  std::vector<view::ChunkCoord> chunks;
};

class ClientInterest {
 public:
  static constexpr size_t history = 32;  // views kept per client: an ack older than this means full
  void acknowledge(uint64_t tick) {
    if (tick > acked_tick_) acked_tick_ = tick;
  }
  [[nodiscard]] const SentView* baseline() const;
  void remember(SentView view);
  [[nodiscard]] uint64_t acked_tick() const { return acked_tick_; }

 private:
  uint64_t acked_tick_ = 0;
  std::deque<SentView> sent_;
};

struct AoiParams {
  int32_t radius_cells = 24;
};

// Builds the snapshot for `viewer` (who must be in the world) against its acknowledged view, and
// remembers what was sent.
[[nodiscard]] view::ClientSnapshot build_client_snapshot(const sim::World& world, const InterestIndex& index,
                                                         const ChunkChecksums& checksums, const MapChangeLog& changes,
                                                         ClientInterest& client, const sim::Player& viewer,
                                                         const AoiParams& params, uint64_t world_quick_hash);

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
