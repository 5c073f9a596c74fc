// server/map_history.cpp — see map_history.h.
#include "server/map_history.h"

#include <algorithm>

#include "sim/assert.h"
#include "sim/hash.h"

namespace strata::server {

namespace {

// A key: chunk index, cell index in the chunk, layer (so keys sort by chunk, which the hash wants).
constexpr uint64_t layer_bits = 2;
constexpr uint64_t cell_bits = 10;
static_assert(sim::limits::chunk_cells == 1 << cell_bits, "a chunk's cell index in cell_bits");
static_assert(static_cast<uint64_t>(sim::Layer::count) <= 1U << layer_bits, "a layer in layer_bits");

size_t key_chunk(uint64_t key) { return static_cast<size_t>(key >> (cell_bits + layer_bits)); }
size_t key_cell(uint64_t key) { return static_cast<size_t>((key >> layer_bits) & ((1U << cell_bits) - 1)); }
size_t key_layer(uint64_t key) { return static_cast<size_t>(key & ((1U << layer_bits) - 1)); }

sim::CellBefore read_layer(const sim::Chunk& chunk, size_t i, size_t layer) {
  sim::CellBefore out;
  out.stamp = sim::LwwStamp{chunk.stamp_hlc[layer][i], sim::RegionId{chunk.stamp_region[layer][i]}};
  switch (static_cast<sim::Layer>(layer)) {
    case sim::Layer::floor: out.value = {chunk.floor[i], 0}; break;
    case sim::Layer::active: out.value = {chunk.active[i], chunk.active_state[i]}; break;
    case sim::Layer::ceiling: out.value = {chunk.ceiling[i], 0}; break;
    case sim::Layer::count: STRATA_ASSERT(false, "bad layer in a history key", layer);
  }
  return out;
}

sim::CellPos key_pos(const sim::TileMap& map, uint64_t key) {
  const auto chunks_x = static_cast<size_t>(map.chunks_x());
  const size_t chunk = key_chunk(key);
  const size_t i = key_cell(key);
  const auto side = static_cast<size_t>(sim::limits::chunk_size);
  return sim::CellPos{static_cast<int32_t>((chunk % chunks_x) * side + i % side),
                      static_cast<int32_t>((chunk / chunks_x) * side + i / side)};
}

// The key's term in the map's cell sum, for what the layer holds in `v`.
uint64_t term_of(const sim::TileMap& map, uint64_t key, const sim::CellBefore& v) {
  return sim::cell_layer_term(key_pos(map, key), static_cast<sim::Layer>(key_layer(key)), v.value, v.stamp);
}

uint64_t mark_of(const sim::World& world, sim::RegionId origin) {
  for (const sim::BusMark& mark : world.bus_applied) {
    if (mark.origin == origin) return mark.seq;
  }
  return 0;
}

}  // namespace

MapHistory::MapHistory(MapHistoryConfig config) : config_(config) {
  STRATA_REQUIRE(config_.window_ticks >= 1 && config_.window_ticks <= map_history_limits::window_ticks_max,
                 config_.window_ticks);
  STRATA_REQUIRE(config_.entries_max >= 1 && config_.entries_max <= map_history_limits::entries_max,
                 config_.entries_max);
}

uint64_t MapHistory::cell_key(const sim::TileMap& map, sim::CellPos cell, sim::Layer layer) {
  STRATA_ASSERT(map.in_bounds(cell) && sim::enum_valid(layer), cell.x, cell.y);
  return (static_cast<uint64_t>(map.chunk_index(cell)) << (cell_bits + layer_bits)) |
         (static_cast<uint64_t>(sim::TileMap::index_in_chunk(cell)) << layer_bits) | static_cast<uint64_t>(layer);
}

void MapHistory::record(const sim::World& world, const sim::TickInput& input, const sim::Effects& effects) {
  STRATA_ASSERT(effects.changed_cells.size() == effects.changed_before.size(), effects.changed_cells.size(),
                effects.changed_before.size());
  if (started_ && last_tick_ + 1 != world.tick) {
    // A tick went unrecorded (its log append failed, so the link never saw it): start again from
    // this one, as after a restart.
    const MapHistoryCounters counters = counters_;
    *this = MapHistory(config_);
    counters_ = counters;
    counters_.restarts += 1;
  }
  last_tick_ = world.tick;
  const bool first = !started_;
  if (first) {
    started_ = true;
    reset_base(world);
  }
  TickRecord record{world.tick, effects.changed_cells.size(), 0, 0, false};
  for (size_t i = 0; i < effects.changed_cells.size(); ++i) {
    const sim::CellChange& change = effects.changed_cells[i];
    changes_.push_back(Change{cell_key(world.map, change.cell, change.layer), effects.changed_before[i]});
  }
  auto own = [&](const std::vector<sim::BlockWrite>& writes) {
    for (const sim::BlockWrite& w : writes) {
      writes_.push_back(Write{cell_key(world.map, w.cell, w.layer), {w.kind, w.state}, w.stamp, 0});
    }
    record.writes += writes.size();
  };
  own(effects.block_writes);
  own(effects.rule_writes);
  record.own = record.writes > 0;
  tick_units_.clear();
  // Remote writes as applied: those the rules refused (bad values; the link's decoder lets none
  // through) changed nothing and are left out; each belongs to its origin's next batch to end.
  rejected_.clear();
  for (const sim::Rejection& r : effects.rejections) rejected_.push_back(r.command_index);
  std::sort(rejected_.begin(), rejected_.end());
  for (size_t i = 0; i < input.commands.size(); ++i) {
    const sim::Command& command = input.commands[i];
    if (const auto* write = std::get_if<sim::RemoteBlockWriteCommand>(&command)) {
      if (std::binary_search(rejected_.begin(), rejected_.end(), static_cast<uint32_t>(i))) continue;
      const uint16_t id = raw(write->stamp.region);
      const uint64_t batch = origins_[id].closed + 1;
      writes_.push_back(
          Write{cell_key(world.map, write->cell, write->layer), {write->kind, write->state}, write->stamp, batch});
      record.writes += 1;
      auto unit = std::find_if(tick_units_.begin(), tick_units_.end(), [id](const Unit& u) { return u.origin == id; });
      if (unit == tick_units_.end()) {
        tick_units_.push_back(Unit{id, batch});
      } else {
        unit->batch = std::max(unit->batch, batch);
      }
    } else if (const auto* end = std::get_if<sim::RemoteBatchCommand>(&command)) {
      // Even when refused as stale: the writes before it came in that message.
      if (end->origin != config_.region && raw(end->origin) != 0) close_batch(end->origin, end->stream_seq, world.tick);
    }
  }
  record.units = tick_units_.size();
  for (const Unit& unit : tick_units_) units_.push_back(unit);
  ticks_.push_back(record);
  counters_.ticks_recorded += 1;
  follow_sum(world, first);
  counters_.entries = changes_.size() + writes_.size();
  if (first) drop_front();  // what came before is unknown: the first tick is base
  trim();
  counters_.entries = changes_.size() + writes_.size();
  counters_.entries_high = std::max(counters_.entries_high, counters_.entries);
}

// The map's cell sum follows the tick's changes: per cell layer changed, its term before the first
// change out, its term now in (the changes between telescope). One chunk a tick is summed again
// from the map itself: a write the step made without listing it (a bug) is found within a round.
void MapHistory::follow_sum(const sim::World& world, bool first) {
  const sim::TileMap& map = world.map;
  if (first || chunk_sums_.size() != map.chunks().size()) {
    chunk_sums_.resize(map.chunks().size());
    sum_ = sim::map_size_term(map.chunks_x(), map.chunks_y());
    for (size_t c = 0; c < chunk_sums_.size(); ++c) {
      chunk_sums_[c] = sim::chunk_cell_sum(map, c);
      sum_ += chunk_sums_[c];
    }
    return;
  }
  const size_t count = ticks_.back().changes;
  order_.clear();
  for (size_t i = changes_.size() - count; i < changes_.size(); ++i) order_.emplace_back(changes_[i].key, i);
  std::sort(order_.begin(), order_.end());  // by key, then in the order changed
  for (size_t i = 0; i < order_.size(); ++i) {
    if (i > 0 && order_[i].first == order_[i - 1].first) continue;
    const uint64_t key = order_[i].first;
    const uint64_t before = term_of(map, key, changes_[order_[i].second].before);
    const uint64_t now = term_of(map, key, read_layer(map.chunks()[key_chunk(key)], key_cell(key), key_layer(key)));
    sum_ += now - before;
    chunk_sums_[key_chunk(key)] += now - before;
  }
  const size_t c = verify_next_++ % chunk_sums_.size();
  const uint64_t actual = sim::chunk_cell_sum(map, c);
  if (actual != chunk_sums_[c]) {
    counters_.sum_mismatches += 1;
    sum_ += actual - chunk_sums_[c];
    chunk_sums_[c] = actual;
  }
}

void MapHistory::reset_base(const sim::World& world) {
  // Conservative: a vector must hold everything this world applied up to and with its first
  // recorded tick (the marks after it, our batches through it).
  base_own_tick_ = std::max(base_own_tick_, world.tick);
  for (const sim::BusMark& mark : world.bus_applied) {
    Origin& origin = origins_[raw(mark.origin)];
    origin.base_seq = std::max(origin.base_seq, mark.seq);
  }
}

void MapHistory::close_batch(sim::RegionId origin_id, uint64_t seq, uint64_t tick) {
  Origin& origin = origins_[raw(origin_id)];
  origin.closed += 1;
  if (origin.seqs.empty()) origin.first = origin.closed;
  // Ascending (set_limits searches them): the scheduler passes each origin's batches in stream
  // order; a stale one (refused by the rules) only repeated writes applied already.
  if (!origin.seqs.empty()) seq = std::max(seq, origin.seqs.back());
  origin.seqs.push_back(seq);
  origin.closed_at.push_back(tick);
  STRATA_ASSERT(origin.first + origin.seqs.size() == origin.closed + 1, origin.first, origin.seqs.size(),
                origin.closed);
  if (origin.base_open != 0 && origin.base_open <= origin.closed) {
    origin.base_seq = std::max(origin.base_seq, seq);
    origin.base_open = 0;
  }
}

uint64_t MapHistory::batch_seq(const Origin& origin, uint64_t batch) const {
  if (batch < origin.first || batch > origin.closed) return 0;
  return origin.seqs[static_cast<size_t>(batch - origin.first)];
}

void MapHistory::drop_front() {
  STRATA_ASSERT(!ticks_.empty(), "dropping from an empty history");
  const TickRecord record = ticks_.front();
  STRATA_ASSERT(changes_.size() >= record.changes && writes_.size() >= record.writes, record.tick);
  for (size_t i = 0; i < record.writes; ++i) {
    const Write& w = writes_[i];
    if (w.stamp.region == config_.region) {
      base_own_tick_ = std::max(base_own_tick_, record.tick);
      continue;
    }
    Origin& origin = origins_[raw(w.stamp.region)];
    if (const uint64_t seq = batch_seq(origin, w.batch); seq != 0) {
      origin.base_seq = std::max(origin.base_seq, seq);
    } else {
      origin.base_open = std::max(origin.base_open, w.batch);
    }
  }
  changes_.erase(changes_.begin(), changes_.begin() + static_cast<ptrdiff_t>(record.changes));
  writes_.erase(writes_.begin(), writes_.begin() + static_cast<ptrdiff_t>(record.writes));
  units_.erase(units_.begin(), units_.begin() + static_cast<ptrdiff_t>(record.units));
  ticks_.pop_front();
  // A batch that ended before the oldest tick kept has no write in the window any more.
  const uint64_t oldest = ticks_.empty() ? record.tick + 1 : ticks_.front().tick;
  for (auto& [id, origin] : origins_) {
    while (!origin.closed_at.empty() && origin.closed_at.front() < oldest) {
      origin.closed_at.pop_front();
      origin.seqs.pop_front();
      origin.first += 1;
    }
  }
}

void MapHistory::trim() {
  while (!ticks_.empty()) {
    const bool too_long = ticks_.back().tick - ticks_.front().tick + 1 > config_.window_ticks;
    const bool too_big = changes_.size() + writes_.size() > config_.entries_max;
    if (!too_long && !too_big) return;
    if (!too_long) counters_.ticks_trimmed_for_size += 1;
    drop_front();
  }
}

void MapHistory::set_limits(const VectorAt& vector) {
  in_limit_.clear();
  for (const auto& [id, origin] : origins_) {
    uint64_t seq = 0;
    for (const schema::BusAppliedSeq& entry : vector.remote) {
      if (raw(entry.origin) == id) seq = entry.seq;
    }
    // Batches before `first` ended before the window; those kept ascend.
    const auto in = std::upper_bound(origin.seqs.begin(), origin.seqs.end(), seq) - origin.seqs.begin();
    in_limit_.push_back(Unit{id, origin.first - 1 + static_cast<uint64_t>(in)});
  }
}

uint64_t MapHistory::in_limit(uint16_t origin) const {
  for (const Unit& unit : in_limit_) {
    if (unit.origin == origin) return unit.batch;
  }
  STRATA_ASSERT(false, "a remote write of an origin the history does not know", origin);
  return 0;
}

HashAt MapHistory::hash_at(const sim::World& world, const VectorAt& vector) {
  const std::vector<sim::Chunk>& chunks = world.map.chunks();
  STRATA_REQUIRE(chunk_sums_.size() == chunks.size(), chunk_sums_.size(), chunks.size());
  HashAt out;
  // Applied all of it?
  for (const schema::BusAppliedSeq& entry : vector.remote) {
    STRATA_REQUIRE(entry.origin != config_.region, "our own batches go in own_through_tick");
    if (mark_of(world, entry.origin) < entry.seq) return out;
  }
  if (vector.own_through_tick > world.tick) return out;
  // Holds all of the base?
  out.verdict = HashAtVerdict::too_old;
  if (!started_ || base_own_tick_ > vector.own_through_tick) return out;
  for (const auto& [id, origin] : origins_) {
    if (origin.base_open != 0) return out;
    uint64_t seq = 0;
    for (const schema::BusAppliedSeq& entry : vector.remote) {
      if (raw(entry.origin) == id) seq = entry.seq;
    }
    if (origin.base_seq > seq) return out;
  }
  out.verdict = HashAtVerdict::hashed;
  // The cut: the first tick with a write outside the vector (of ours after own_through_tick, or of
  // a batch after the origin's last one in the vector).
  set_limits(vector);
  size_t cut = ticks_.size();
  size_t cut_change = 0;
  size_t cut_write = 0;
  {
    size_t change_at = 0;
    size_t write_at = 0;
    size_t unit_at = 0;
    for (size_t t = 0; t < ticks_.size() && cut == ticks_.size(); ++t) {
      bool out = ticks_[t].own && ticks_[t].tick > vector.own_through_tick;
      for (size_t u = 0; u < ticks_[t].units && !out; ++u) {
        out = units_[unit_at + u].batch > in_limit(units_[unit_at + u].origin);
      }
      if (out) {
        cut = t;
        cut_change = change_at;
        cut_write = write_at;
      }
      change_at += ticks_[t].changes;
      write_at += ticks_[t].writes;
      unit_at += ticks_[t].units;
    }
  }
  if (cut == ticks_.size()) {
    out.map_hash = sum_;
    return out;
  }
  // Each write after the cut, with whether it is in the vector.
  std::vector<uint64_t> keys;
  std::vector<std::pair<size_t, bool>> after;  // (index in writes_, in the vector)
  {
    size_t write_at = cut_write;
    for (size_t t = cut; t < ticks_.size(); ++t) {
      for (size_t i = 0; i < ticks_[t].writes; ++i, ++write_at) {
        const Write& w = writes_[write_at];
        const bool in = w.stamp.region == config_.region ? ticks_[t].tick <= vector.own_through_tick
                                                         : w.batch <= in_limit(raw(w.stamp.region));
        after.emplace_back(write_at, in);
        if (!in) keys.push_back(writes_[write_at].key);
      }
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  // Only the cells written outside the vector can differ from now: each as it was before the cut
  // (before its first change after it, else as now), joined with the vector's writes after it.
  std::vector<sim::CellBefore> at(keys.size());
  std::vector<uint8_t> have(keys.size(), 0);
  for (size_t c = cut_change; c < changes_.size(); ++c) {
    const auto it = std::lower_bound(keys.begin(), keys.end(), changes_[c].key);
    if (it == keys.end() || *it != changes_[c].key) continue;
    const auto k = static_cast<size_t>(it - keys.begin());
    if (have[k] == 0) {
      at[k] = changes_[c].before;
      have[k] = 1;
    }
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    if (have[k] == 0) at[k] = read_layer(chunks[key_chunk(keys[k])], key_cell(keys[k]), key_layer(keys[k]));
  }
  for (const auto& [index, in] : after) {
    if (!in) continue;
    const Write& w = writes_[index];
    const auto it = std::lower_bound(keys.begin(), keys.end(), w.key);
    if (it == keys.end() || *it != w.key) continue;
    sim::CellBefore& held = at[static_cast<size_t>(it - keys.begin())];
    if (sim::lww_wins(held.stamp, held.value, w.stamp, w.value)) held = sim::CellBefore{w.value, w.stamp};
  }
  // The sum with each differing layer's term now swapped for its term at the vector.
  out.map_hash = sum_;
  for (size_t k = 0; k < keys.size(); ++k) {
    const sim::CellBefore now = read_layer(chunks[key_chunk(keys[k])], key_cell(keys[k]), key_layer(keys[k]));
    if (now == at[k]) continue;
    out.cells_reverted += 1;
    out.map_hash += term_of(world.map, keys[k], at[k]) - term_of(world.map, keys[k], now);
  }
  return out;
}

}  // namespace strata::server
