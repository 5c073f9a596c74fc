// server/map_history.h — the recent past of a region's map, kept so that the region can hash its
// map as it stood, or would have stood, at a peer's applied vector (issue 15 item 5: divergence
// caught during play, when two regions almost never hold the same vector at a health moment).
//
// Why it works: every map change is a last-writer-wins merge (sim::lww_wins): a local or rule
// write only lands over an older stamp, a remote one only when it wins. So a map is the LWW join of
// the writes applied to it, whatever their order, and the map of a region that applied exactly the
// units (our ticks' batches, other regions' world batches) of a vector V is
//   the map before the first unit we applied that is not in V (the cut), joined with the writes of
//   the units of V we applied after it.
// The cut is taken at a tick boundary (a tick's units are applied together); the map before it is
// the current map with every cell changed since put back to what it held before its first change
// (Effects::changed_before). Only cells written by units outside V can differ from the current map.
// The hash is the map's cell sum (sim::map_cell_sum: one term per cell layer), which the history
// keeps up to date tick by tick (O(changes), and one chunk a tick summed again from the map as a
// check); at V it is that sum with each differing layer's term swapped: no chunk is copied or
// hashed again (a chunk-hash version rehashed nearly every chunk of a 1024 x 1024 map when random
// ticks wrote all over it: 1.5-11 ms a judgment, tests/bench/health_bench.cpp).
//
// What is kept: per tick, the changes (cell layer, what it held before) and the writes with the
// unit each came in (own: the tick; remote: the origin's n-th world batch, whose stream sequence is
// learnt from its RemoteBatchCommand, which may come ticks after its writes under the scheduler's
// cap). The window is bounded by ticks and by entries (map_history_limits); what leaves it becomes
// the base: a vector is judged only when it holds every unit applied before the window (else
// too_old), and only once we applied all of it (else not_yet).
//
// Tick thread only: record() after each step, hash_at() when the link judges a peer's point.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "schema/bus_codec.h"
#include "sim/simulation.h"

namespace strata::server {

namespace map_history_limits {
// Ticks kept at most (a minute at 20 Hz): a peer's point older than the window cannot be judged.
inline constexpr uint64_t window_ticks_max = 1200;
// Writes and changes kept together at most (about 40 bytes each: 10 MB): under a burst of writes
// the window shrinks (the oldest ticks go first, counted) instead of memory growing with the load.
inline constexpr size_t entries_max = size_t{1} << 18;
static_assert(entries_max >= 2 * sim::limits::commands_per_tick_max, "at least one busy tick's writes and changes");
}  // namespace map_history_limits

struct MapHistoryConfig {
  sim::RegionId region{1};
  uint64_t window_ticks = 200;                           // <= window_ticks_max
  size_t entries_max = map_history_limits::entries_max;  // <= map_history_limits::entries_max
};

// A peer's applied vector as the history reads it: the other origins' sequences, and our own
// batches as the tick through which the vector holds them (the link translates our sequence into
// it: it knows which of our ticks each stored sequence is).
struct VectorAt {
  std::vector<schema::BusAppliedSeq> remote;  // origins other than ours, any order
  uint64_t own_through_tick = 0;              // our batches of ticks <= this are in it, no later ones
};

enum class HashAtVerdict : uint8_t {
  hashed,   // map_hash is the map at the vector
  not_yet,  // we have not applied all of the vector yet
  too_old,  // the vector lacks a unit applied before the window: its map is out of reach
};

struct HashAt {
  HashAtVerdict verdict = HashAtVerdict::not_yet;
  uint64_t map_hash = 0;        // sim::map_cell_sum of the map at the vector
  uint64_t cells_reverted = 0;  // cell layers whose value at the vector differs from now
};

struct MapHistoryCounters {
  uint64_t ticks_recorded = 0;
  uint64_t ticks_trimmed_for_size = 0;  // left the window before window_ticks: entries_max was reached
  uint64_t restarts = 0;                // a tick was not recorded: the history began again
  uint64_t sum_mismatches = 0;          // a chunk summed again differed from the sum followed (a step bug)
  uint64_t entries = 0;                 // writes and changes held now
  uint64_t entries_high = 0;            // the most held at once
};

class MapHistory {
 public:
  explicit MapHistory(MapHistoryConfig config);

  // After every step, in tick order: `effects` of sim.step(input), `world` after it. The first
  // tick recorded (and any tick alone beyond entries_max) only sets the base.
  void record(const sim::World& world, const sim::TickInput& input, const sim::Effects& effects);

  // sim::map_cell_sum of the map at `vector`; `world` as at the last record().
  [[nodiscard]] HashAt hash_at(const sim::World& world, const VectorAt& vector);
  // sim::map_cell_sum of the map as at the last record() (the health points' map hash).
  [[nodiscard]] uint64_t map_sum() const { return sum_; }

  [[nodiscard]] const MapHistoryCounters& counters() const { return counters_; }
  [[nodiscard]] uint64_t first_tick() const { return ticks_.empty() ? 0 : ticks_.front().tick; }

 private:
  struct Change {
    uint64_t key = 0;  // cell_key()
    sim::CellBefore before;
  };
  struct Write {
    uint64_t key = 0;
    sim::CellValue value;
    sim::LwwStamp stamp;  // stamp.region: the origin (ours for our ticks' writes)
    uint64_t batch = 0;   // remote: the origin's batch number (1, 2, ...); ours: unused
  };
  struct TickRecord {
    uint64_t tick = 0;
    size_t changes = 0;  // its entries in changes_ / writes_ / units_, after the earlier ticks'
    size_t writes = 0;
    size_t units = 0;
    bool own = false;  // it has writes of ours
  };
  struct Unit {  // the last batch of an origin with writes in a tick (batches end in order)
    uint16_t origin = 0;
    uint64_t batch = 0;
  };
  struct Origin {
    uint64_t closed = 0;             // batch numbers 1..closed have ended (their RemoteBatchCommand)
    uint64_t first = 1;              // seqs[0] is batch `first`'s stream sequence
    std::deque<uint64_t> seqs;       // of batches first.. closed
    std::deque<uint64_t> closed_at;  // the tick each ended, same index
    uint64_t base_seq = 0;           // a vector needs at least this sequence (batches with writes in the base)
    uint64_t base_open = 0;          // a batch with writes in the base, not ended yet (0: none)
  };

  [[nodiscard]] static uint64_t cell_key(const sim::TileMap& map, sim::CellPos cell, sim::Layer layer);
  void close_batch(sim::RegionId origin, uint64_t seq, uint64_t tick);
  void trim();
  void drop_front();
  void reset_base(const sim::World& world);
  void follow_sum(const sim::World& world, bool first);
  // The last batch of each origin in the vector (scratch: in_limit_), for in_vector().
  void set_limits(const VectorAt& vector);
  [[nodiscard]] uint64_t in_limit(uint16_t origin) const;
  [[nodiscard]] uint64_t batch_seq(const Origin& origin, uint64_t batch) const;  // 0: not ended

  MapHistoryConfig config_;
  std::deque<TickRecord> ticks_;
  std::deque<Change> changes_;
  std::deque<Write> writes_;
  std::deque<Unit> units_;
  std::map<uint16_t, Origin> origins_;
  uint64_t base_own_tick_ = 0;  // a vector needs our batches through this tick
  uint64_t last_tick_ = 0;      // the last tick recorded
  bool started_ = false;
  MapHistoryCounters counters_;
  std::vector<uint32_t> rejected_;                  // scratch: the tick's rejected command indexes
  std::vector<Unit> tick_units_;                    // scratch: the tick's units
  std::vector<Unit> in_limit_;                      // scratch: per origin, its batches up to this one are in the vector
  std::vector<std::pair<uint64_t, size_t>> order_;  // scratch: the tick's changes by key
  uint64_t sum_ = 0;                                // sim::map_cell_sum of the map now
  std::vector<uint64_t> chunk_sums_;                // sim::chunk_cell_sum of each chunk now
  size_t verify_next_ = 0;                          // the chunk summed again next
};

}  // namespace strata::server
