// server/region_link.cpp — see region_link.h.
#include "server/region_link.h"

#include <algorithm>

#include "server/bus_limits.h"
#include "sim/assert.h"
#include "sim/hash.h"

namespace strata::server {

using schema::BusAppliedSeq;
using schema::BusHealth;
using schema::BusPresence;
using schema::BusWorldBatch;

void LatencyHistogram::add(uint64_t us) {
  size_t bucket = 0;
  while (bucket < publish_latency_buckets_us.size() && us > publish_latency_buckets_us[bucket]) ++bucket;
  counts[bucket] += 1;
  sum_us += us;
  count += 1;
}

const char* name(Agreement agreement) {
  switch (agreement) {
    case Agreement::agree: return "agree";
    case Agreement::disagree: return "disagree";
    case Agreement::unknown: break;
  }
  return "unknown";
}

namespace {

RegionLinkCounters& operator+=(RegionLinkCounters& a, const RegionLinkCounters& b) {
#define STRATA_REGION_LINK_ADD(name, help) a.name += b.name;
  STRATA_REGION_LINK_COUNTERS(STRATA_REGION_LINK_ADD)
#undef STRATA_REGION_LINK_ADD
  for (size_t i = 0; i < a.refused_decode.size(); ++i) a.refused_decode[i] += b.refused_decode[i];
  return a;
}

MapHistoryConfig history_config(const RegionLinkConfig& config) {
  const uint64_t window_ms = config.health_window_ms != 0 ? config.health_window_ms : 4 * config.health_every_ms + 2000;
  MapHistoryConfig out;
  out.region = config.region;
  out.window_ticks =
      std::clamp<uint64_t>(window_ms * config.tick_rate_hz / 1000, 1, map_history_limits::window_ticks_max);
  out.entries_max = std::clamp<size_t>(config.history_entries_max, 1, map_history_limits::entries_max);
  return out;
}

BusChannel channel_of(const schema::BusPayload& payload) {
  if (std::holds_alternative<BusWorldBatch>(payload)) return BusChannel::world;
  if (std::holds_alternative<BusPresence>(payload)) return BusChannel::presence;
  return BusChannel::health;
}

}  // namespace

RegionLink::RegionLink(RegionLinkConfig config)
    : config_(std::move(config)),
      history_map_(history_config(config_)),
      // world_parts_max of slack: a tick's parts are pushed whole once there is room for one.
      outbox_(BusOutboxConfig{
          config_.region, std::max<size_t>(config_.world_batches_max, 1) + schema::bus_limits::world_parts_max, 32}) {
  STRATA_REQUIRE(config_.tick_rate_hz > 0 && config_.presence_every_ticks > 0, "rates are positive");
  STRATA_REQUIRE(config_.regions.size() <= sim::limits::regions_max, "regions of a deployment", config_.regions.size());
  health_every_ticks_ = std::max<uint64_t>(1, config_.health_every_ms * config_.tick_rate_hz / 1000);
  std::sort(config_.regions.begin(), config_.regions.end());
  config_.regions.erase(std::unique(config_.regions.begin(), config_.regions.end()), config_.regions.end());
  for (const sim::RegionId region : config_.regions) {
    if (region == config_.region) continue;
    PeerStatus peer_status;
    peer_status.region = region;
    status_.peers.push_back(std::move(peer_status));
  }
  status_.region = config_.region;
}

bool RegionLink::known(sim::RegionId region) const {
  return std::binary_search(config_.regions.begin(), config_.regions.end(), region);
}

// --- tick thread ---------------------------------------------------------------------------------

void RegionLink::on_tick(const sim::Simulation& sim, const sim::TickInput& input, const sim::Effects& effects) {
  const uint64_t tick = sim.tick();
  const sim::World& world = sim.world();
  history_map_.record(world, input, effects);
  TickBatch batch{tick, {}};
  if (!effects.block_writes.empty() || !effects.rule_writes.empty()) {
    batch.writes.reserve(effects.block_writes.size() + effects.rule_writes.size());
    batch.writes.insert(batch.writes.end(), effects.block_writes.begin(), effects.block_writes.end());
    batch.writes.insert(batch.writes.end(), effects.rule_writes.begin(), effects.rule_writes.end());
  }
  std::optional<BusPresence> presence;
  if (tick % config_.presence_every_ticks == 0 && (!world.players.empty() || !effects.npcs_run.empty())) {
    presence.emplace();
    presence->origin = config_.region;
    presence->tick = tick;
    const size_t players = std::min<size_t>(world.players.size(), schema::bus_limits::presence_entries_max);
    for (size_t i = 0; i < players; ++i) {
      const sim::Player& p = world.players[i];
      presence->entries.push_back({false, raw(p.id), p.pos, p.facing});
    }
    for (const sim::NpcId id : effects.npcs_run) {
      if (presence->entries.size() >= schema::bus_limits::presence_entries_max) break;
      const auto it = std::lower_bound(world.npcs.begin(), world.npcs.end(), id,
                                       [](const sim::Npc& n, sim::NpcId key) { return n.id < key; });
      if (it != world.npcs.end() && it->id == id) presence->entries.push_back({true, raw(id), it->pos, it->facing});
    }
  }
  // The map hash of a health point: the map's cell sum, which the map history follows tick by tick
  // (hashing a 1024 x 1024 map, 35 MB, whole every few seconds showed in the tick's p99).
  std::optional<HealthPoint> health;
  if (tick >= next_health_tick_) {
    next_health_tick_ = tick + health_every_ticks_;
    health.emplace();
    health->tick = tick;
    health->map_hash = history_map_.map_sum();
    for (const sim::BusMark& mark : world.bus_applied) health->applied.push_back({mark.origin, mark.seq});
  }
  // The peers' points, each tick (a judgment costs the cells written since its vector).
  std::vector<Judged> judged;
  judge_waiting(world, judged);
  if (health) {
    std::lock_guard lock(status_mutex_);
    status_.history = history_map_.counters();
  }
  std::lock_guard lock(handover_mutex_);
  if (!batch.writes.empty()) handover_.batches.push_back(std::move(batch));
  if (presence) handover_.presence = std::move(presence);
  if (health) handover_.health.push_back(std::move(*health));
  for (Judged& j : judged) handover_.judged.push_back(std::move(j));
  handover_.tick = tick;
}

// Keeps the newest judge_waiting_per_peer points of each peer (points arrive in order per peer).
void RegionLink::keep_newest(std::deque<PeerPoint>& points, uint64_t& dropped) {
  std::map<uint16_t, size_t> kept;
  std::deque<PeerPoint> out;
  for (auto it = points.rbegin(); it != points.rend(); ++it) {
    if (kept[raw(it->peer)]++ < region_link_limits::judge_waiting_per_peer) {
      out.push_front(std::move(*it));
    } else {
      dropped += 1;
    }
  }
  points = std::move(out);
}

// Tick thread: each waiting peer point whose vector we applied all of is hashed at that vector;
// the others wait.
void RegionLink::judge_waiting(const sim::World& world, std::vector<Judged>& judged) {
  {
    std::lock_guard lock(judge_mutex_);
    for (PeerPoint& point : judge_in_) judge_waiting_.push_back(std::move(point));
    judge_in_.clear();
  }
  if (judge_waiting_.empty()) return;
  uint64_t superseded = 0;
  keep_newest(judge_waiting_, superseded);
  std::deque<PeerPoint> still;
  size_t hashed = 0;
  for (PeerPoint& point : judge_waiting_) {
    if (hashed == region_link_limits::judgments_per_tick_max) {
      still.push_back(std::move(point));
      continue;
    }
    const HashAt result = history_map_.hash_at(world, point.vector);
    if (result.verdict == HashAtVerdict::hashed) hashed += 1;
    if (result.verdict == HashAtVerdict::not_yet) {
      still.push_back(std::move(point));
      continue;
    }
    judged.push_back(Judged{std::move(point), result, world.tick});
  }
  judge_waiting_ = std::move(still);
  if (superseded == 0) return;
  std::lock_guard lock(status_mutex_);
  status_.counters.health_unjudged_superseded += superseded;
}

void RegionLink::take_remote(InputScheduler& scheduler, uint64_t physical_ms) {
  {
    // Bounded together with inbound_: what the scheduler refused waits here, and the bus side stops
    // polling while inbound_ is full, so a slow tick holds the rest in the stream.
    std::lock_guard lock(inbound_mutex_);
    while (!inbound_.empty() && tick_inbound_.size() < config_.inbound_messages_max) {
      tick_inbound_.push_back(std::move(inbound_.front()));
      inbound_.pop_front();
    }
  }
  if (tick_inbound_.empty()) return;
  RegionLinkCounters counters;
  std::vector<uint16_t> blocked;  // origins whose message did not fit: their later ones wait too
  std::vector<std::pair<uint16_t, uint64_t>> applied;
  size_t kept = 0;
  // Keeps message i at position kept (<= i). Never a self-move: a vector moved onto itself is left
  // empty by libstdc++, and a held batch would have come back with no writes, its mark alone applied.
  auto keep = [&](size_t i) {
    if (kept != i) tick_inbound_[kept] = std::move(tick_inbound_[i]);
    ++kept;
  };
  for (size_t i = 0; i < tick_inbound_.size(); ++i) {
    Inbound& message = tick_inbound_[i];
    const uint16_t origin = raw(message.origin);
    if (std::find(blocked.begin(), blocked.end(), origin) != blocked.end()) {
      keep(i);
      continue;
    }
    const InputScheduler::RemoteSubmit submit =
        scheduler.submit_remote(message.origin, message.seq, message.commands, message.world_batch, physical_ms);
    switch (submit.verdict) {
      case InputVerdict::accepted:
        if (message.world_batch) {
          counters.world_batches_consumed += 1;
          counters.remote_writes_consumed += message.commands.size();
          applied.emplace_back(origin, message.seq);
        } else {
          counters.presence_consumed += 1;
        }
        break;
      case InputVerdict::clock_ahead:
        // Held, with the origin's later messages, until our clock is near enough (counted once).
        if (!message.held_clock_ahead) counters.refused_clock_ahead += 1;
        message.held_clock_ahead = true;
        blocked.push_back(origin);
        keep(i);
        break;
      case InputVerdict::queue_full:
        if (message.world_batch) {
          counters.scheduler_full += 1;
          blocked.push_back(origin);
          keep(i);
        } else {
          counters.presence_thinned += 1;
        }
        break;
      default: counters.consumed_duplicate += 1; break;
    }
  }
  tick_inbound_.resize(kept);
  std::lock_guard lock(status_mutex_);
  status_.counters += counters;
  tick_held_ = tick_inbound_.size();
  for (const auto& [origin, seq] : applied) {
    if (PeerStatus* p = peer(sim::RegionId{origin})) {
      p->applied_seq = std::max(p->applied_seq, seq);
      p->lag = p->reported_seq > p->applied_seq ? p->reported_seq - p->applied_seq : 0;
    }
  }
}

// --- bus side ------------------------------------------------------------------------------------

void RegionLink::start(Bus& bus, const sim::World& world, uint64_t now_us) {
  for (const sim::RegionId region : config_.regions) {
    if (region == config_.region) continue;
    uint64_t after = 0;
    for (const sim::BusMark& mark : world.bus_applied) {
      if (mark.origin == region) after = mark.seq;
    }
    resume_after_[raw(region)] = after;
    std::lock_guard lock(status_mutex_);
    if (PeerStatus* p = peer(region)) p->applied_seq = after;
  }
  for (const auto& [origin, after] : resume_after_) {
    if (const std::optional<SubscriptionId> id = bus.subscribe({sim::RegionId{origin}, std::nullopt}, after, now_us)) {
      subscriptions_[origin] = *id;
    } else {
      counters_.subscribe_failures += 1;
    }
  }
}

void RegionLink::use_log(OwnWritesSource* source, uint64_t recovered_tick) {
  log_ = source;
  recovered_tick_ = recovered_tick;
}

// Our own last stored batch. Every batch of ours in the stream is of a tick our log held durably,
// so our world holds it: health points name its sequence even when nothing is published again (a
// region restarted idle; without it no peer could ever share our vector). After a restart, every
// recovered tick after it is read from the log: the stream holds a prefix of our batches.
void RegionLink::learn_own_mark(Bus& bus, uint64_t now_us) {
  if (own_mark_known_ || bus.state() != BusState::connected || now_us < next_mark_ask_us_) return;
  next_mark_ask_us_ = now_us + 250'000;
  const std::optional<StoredMark> mark = bus.last_stored({config_.region, BusChannel::world});
  if (!mark) return;
  own_mark_known_ = true;
  own_stored_any_ = mark->seq > 0;
  if (mark->seq > 0) {
    uint64_t& seq = own_seq_by_tick_[0];
    seq = std::max(seq, mark->seq);
    own_pruned_seq_ = std::max(own_pruned_seq_, mark->seq);  // (map history: a vector needs them)
  }
  if (log_ == nullptr || recovered_tick_ == 0) return;
  // From the stored batch's own tick: a tick split in parts may miss its last parts (the stream
  // acks the stored ones as duplicates). An id that does not parse: from the log's start.
  const uint64_t from = mark->seq == 0 || !mark->id ? 1 : std::max<uint64_t>(mark->id->tick, 1);
  if (from > recovered_tick_ && mark->seq > 0) {
    // A batch of ours newer than our log: the log lost a tick it had made durable, or another
    // process publishes as this region. Our next ticks reuse its ids, and the stream drops them.
    counters_.own_ids_ahead += 1;
    return;
  }
  log_from_ = from;
  log_to_ = recovered_tick_;
}

// Our batches to the outbox, oldest first, one message at a time (one world message in flight
// keeps the stream's order of our batches our tick order): when the outbox is empty, the ready
// batches after the last one pushed (the log's range first, then the waiting durable ones) go out
// merged into one message, as many consecutive ticks as fit one message's writes. The message
// carries the last tick it holds: its id is "<region>:<last tick>", and a restart reads our log
// again after it. Caught up, that is one tick per message; after a cut,
// hundreds: catching up takes round trips per message, not per tick. Beyond world_batches_max
// waiting, the oldest durable batches are let go: the log holds them, and they are read again.
void RegionLink::push_own_batches(uint64_t now_us, uint64_t durable_tick) {
  if (log_ != nullptr && from_log_.empty() && log_from_ <= log_to_ && now_us >= next_log_read_us_) {
    // A bounded amount of re-simulation per pump.
    OwnWritesRead read = log_->read(log_from_, log_to_, config_.log_ticks_per_pump);
    // (Before the log's start: lost only if the stream held batches of ours before them; else they
    // are a seeded world's ticks, never ours to publish.)
    if (read.first_held > log_from_ && own_stored_any_) counters_.log_ticks_lost += read.first_held - log_from_;
    counters_.world_read_from_log += read.ticks.size();
    if (log_from_ <= recovered_tick_) counters_.world_republished_after_restart += read.ticks.size();
    for (auto& [tick, writes] : read.ticks) from_log_.push_back(TickBatch{tick, std::move(writes)});
    if (!read.error.empty()) {
      counters_.log_read_errors += 1;
      last_log_error_ = std::move(read.error);
      next_log_read_us_ = now_us + 1'000'000;
    }
    if (read.next > log_from_) log_from_ = read.next;
    if (log_from_ > log_to_) {
      log_from_ = 1;
      log_to_ = 0;
    }
  }
  if (outbox_.world_held() == 0) {
    // The log's batches come before the waiting ones: those are later ticks.
    const bool logged = !from_log_.empty() || log_from_ <= log_to_;
    std::deque<TickBatch>& source = logged ? from_log_ : waiting_durable_;
    TickBatch span;
    uint64_t first = 0;
    while (!source.empty() && source.front().tick <= durable_tick) {
      TickBatch& next = source.front();
      if (first != 0 && span.writes.size() + next.writes.size() > schema::bus_limits::writes_per_batch_max) break;
      if (first == 0) {
        first = next.tick;
        span = std::move(next);
      } else {
        span.writes.insert(span.writes.end(), next.writes.begin(), next.writes.end());
        span.tick = next.tick;
        counters_.world_ticks_merged += 1;
      }
      source.pop_front();
    }
    if (first != 0) {
      // Our health points inside the message are dropped: a point's vector names the sequence of a
      // message ending at or before its tick, and none does. (Catching up, the next one counts.)
      std::erase_if(health_waiting_, [&](const HealthPoint& point) {
        const bool inside = point.tick >= first && point.tick < span.tick;
        counters_.health_skipped += inside ? 1 : 0;
        return inside;
      });
      outbox_first_tick_ = first;
      std::vector<TickBatch> one;
      one.push_back(std::move(span));
      encode_batches(one, now_us);
    }
  }
  while (waiting_durable_.size() > config_.world_batches_max && waiting_durable_.front().tick <= durable_tick) {
    if (log_ == nullptr) {
      counters_.world_overflow += 1;  // no log to read it from again: peers may diverge
    } else {
      if (log_from_ > log_to_) log_from_ = waiting_durable_.front().tick;
      log_to_ = waiting_durable_.front().tick;
      counters_.world_let_go += 1;
    }
    waiting_durable_.pop_front();
  }
}

// The first tick of ours not in the outbox yet (UINT64_MAX: none waits).
uint64_t RegionLink::first_unpushed_tick() const {
  uint64_t first = UINT64_MAX;
  if (!from_log_.empty()) first = from_log_.front().tick;
  if (log_from_ <= log_to_) first = std::min(first, log_from_);
  if (first == UINT64_MAX && !waiting_durable_.empty()) first = waiting_durable_.front().tick;
  return first;
}

void RegionLink::encode_batches(std::vector<TickBatch>& batches, uint64_t now_us) {
  for (TickBatch& batch : batches) {
    const size_t per_part = schema::bus_limits::writes_per_batch_max;
    const size_t parts = (batch.writes.size() + per_part - 1) / per_part;
    if (parts > 0) {
      // A message may hold several ticks (catching up): its id names the last, outbox_first_tick_ the first.
      OwnTick& own = own_ticks_[batch.tick];
      own.seqs.assign(parts, 0);
      own.first_tick = std::min(outbox_first_tick_ != 0 ? outbox_first_tick_ : batch.tick, batch.tick);
    }
    for (size_t part = 0; part < parts; ++part) {
      BusWorldBatch message;
      message.origin = config_.region;
      message.tick = batch.tick;
      message.part = static_cast<uint32_t>(part);
      message.parts = static_cast<uint32_t>(parts);
      const size_t begin = part * per_part;
      const size_t end = std::min(batch.writes.size(), begin + per_part);
      message.writes.assign(batch.writes.begin() + static_cast<ptrdiff_t>(begin),
                            batch.writes.begin() + static_cast<ptrdiff_t>(end));
      std::vector<uint8_t> payload;
      schema::encode_bus_payload(message, config_.encode, payload);
      const size_t bytes = payload.size();
      if (outbox_.push_world(batch.tick, message.part, std::move(payload)) == OutboxVerdict::full) {
        counters_.world_overflow += 1;
        continue;
      }
      pushed_us_[{batch.tick, message.part}] = now_us;
      counters_.world_batches_published += 1;
      counters_.world_writes_published += end - begin;
      counters_.world_bytes_published += bytes;
    }
  }
  batches.clear();
}

void RegionLink::pump(Bus& bus, uint64_t now_us, uint64_t durable_tick) {
  {
    std::lock_guard lock(handover_mutex_);
    std::swap(handover_, bus_handover_);
  }
  for (TickBatch& batch : bus_handover_.batches) waiting_durable_.push_back(std::move(batch));
  for (HealthPoint& point : bus_handover_.health) health_waiting_.push_back(std::move(point));
  std::optional<BusPresence> presence = std::move(bus_handover_.presence);
  std::vector<Judged> judged = std::move(bus_handover_.judged);
  last_handover_tick_ = std::max(last_handover_tick_, bus_handover_.tick);
  bus_handover_ = Handover{};
  for (const Judged& j : judged) settle(j);

  // Subscriptions the bus refused before (closed or full): again.
  for (const auto& [origin, after] : resume_after_) {
    if (subscriptions_.contains(origin)) continue;
    if (const std::optional<SubscriptionId> id = bus.subscribe({sim::RegionId{origin}, std::nullopt}, after, now_us)) {
      subscriptions_[origin] = *id;
    }
  }

  // Our durable ticks' batches to the outbox, in tick order, once we know what the stream holds.
  learn_own_mark(bus, now_us);
  if (own_mark_known_) push_own_batches(now_us, durable_tick);
  if (presence && presence->tick <= durable_tick) {
    std::vector<uint8_t> payload;
    schema::encode_bus_payload(*presence, config_.encode, payload);
    outbox_.offer_sample(BusChannel::presence, presence->tick, std::move(payload));
    counters_.presence_published += 1;
  }
  publish_health(now_us);
  outbox_.pump(bus, now_us);

  size_t room = 0;
  {
    std::lock_guard lock(inbound_mutex_);
    room = config_.inbound_messages_max > inbound_.size() ? config_.inbound_messages_max - inbound_.size() : 0;
  }
  poll_.clear();
  bus.poll(now_us, std::min(room, config_.deliveries_per_pump), poll_);
  outbox_.on_acks(poll_.acks);
  for (const PublishAck& ack : poll_.acks) {
    if (ack.id.origin != config_.region || ack.id.channel != BusChannel::world || ack.kind == AckKind::failed) continue;
    uint64_t& seq = own_seq_by_tick_[ack.id.tick];
    seq = std::max(seq, ack.stream_seq);
    if (const auto own = own_ticks_.find(ack.id.tick);
        own != own_ticks_.end() && ack.id.part < own->second.seqs.size()) {
      own->second.seqs[ack.id.part] = ack.stream_seq;
    }
    if (const auto it = pushed_us_.find({ack.id.tick, ack.id.part}); it != pushed_us_.end()) {
      latency_.add(now_us >= it->second ? now_us - it->second : 0);
      pushed_us_.erase(it);
    }
  }
  if (own_mark_known_ && outbox_.world_held() == 0) {  // acked: the next message now, not a pump later
    push_own_batches(now_us, durable_tick);
    outbox_.pump(bus, now_us);
  }
  for (const Delivery& delivery : poll_.deliveries) consume(delivery, now_us);
  publish_health(now_us);  // the acks may have completed a waiting point
  translate_waiting();     // and placed our sequence in a peer's point
  // Our oldest ticks' batches, beyond what a point could still need: folded into one sequence.
  while (!own_ticks_.empty() &&
         (own_ticks_.size() > region_link_limits::own_ticks_max ||
          own_ticks_.begin()->first + 2 * map_history_limits::window_ticks_max < last_handover_tick_)) {
    for (const uint64_t seq : own_ticks_.begin()->second.seqs) own_pruned_seq_ = std::max(own_pruned_seq_, seq);
    own_ticks_.erase(own_ticks_.begin());
  }

  std::vector<Desync> desyncs = std::move(desyncs_);
  desyncs_.clear();
  {
    std::lock_guard lock(status_mutex_);
    status_.bus_state = bus.state();
    status_.bus = bus.counters();
    status_.outbox = outbox_.counters();
    status_.publish_latency = latency_;
    status_.world_held =
        outbox_.world_held() + waiting_durable_.size() + (log_to_ >= log_from_ ? log_to_ - log_from_ + 1 : 0);
    status_.own_mark_known = own_mark_known_;
    if (!last_log_error_.empty()) status_.last_log_error = last_log_error_;
    std::lock_guard inbound_lock(inbound_mutex_);
    status_.inbound_waiting = inbound_.size() + tick_held_;
    status_.counters += counters_;  // (the tick thread adds its own in take_remote)
    counters_ = RegionLinkCounters{};
  }
  if (on_desync_) {
    for (const Desync& desync : desyncs) on_desync_(desync);
  }
}

// A health point goes out once every batch of ours up to its tick is in the stream: its vector
// then names our own last batch's sequence, and a peer at the same vector holds the same events.
void RegionLink::publish_health(uint64_t now_us) {
  (void)now_us;
  while (!health_waiting_.empty()) {
    const HealthPoint& point = health_waiting_.front();
    if (!own_mark_known_) return;
    const bool ours_waiting = first_unpushed_tick() <= point.tick;
    const bool ours_held = outbox_.world_held() > 0 && outbox_first_tick_ <= point.tick;
    if (ours_waiting || ours_held) return;
    std::vector<BusAppliedSeq> full = full_vector(point);
    BusHealth health{config_.region, point.tick, full, point.map_hash};
    std::vector<uint8_t> payload;
    schema::encode_bus_payload(health, config_.encode, payload);
    outbox_.offer_sample(BusChannel::health, point.tick, std::move(payload));
    counters_.health_published += 1;
    {
      std::lock_guard lock(status_mutex_);
      status_.tick = point.tick;
      status_.map_hash = point.map_hash;
      status_.applied = full;
      for (const BusAppliedSeq& entry : full) {
        if (entry.origin == config_.region) status_.own_acked_seq = entry.seq;
      }
      // (A peer's point at this vector that came before it went to the tick thread, which judges
      // it from the map history.)
    }
    history_.emplace_back(point, std::move(full));
    while (history_.size() > config_.health_history) history_.pop_front();
    // Our sequences of ticks before this point are no longer needed, but the last one is.
    while (own_seq_by_tick_.size() > 1 && std::next(own_seq_by_tick_.begin())->first <= point.tick) {
      own_seq_by_tick_.erase(own_seq_by_tick_.begin());
    }
    health_waiting_.pop_front();
  }
}

std::vector<BusAppliedSeq> RegionLink::full_vector(const HealthPoint& point) const {
  std::vector<BusAppliedSeq> full = point.applied;
  uint64_t own = 0;
  for (const auto& [tick, seq] : own_seq_by_tick_) {
    if (tick <= point.tick) own = std::max(own, seq);
  }
  if (own > 0) full.push_back({config_.region, own});
  std::sort(full.begin(), full.end(),
            [](const BusAppliedSeq& a, const BusAppliedSeq& b) { return a.origin < b.origin; });
  return full;
}

PeerStatus* RegionLink::peer(sim::RegionId region) {
  for (PeerStatus& p : status_.peers) {
    if (p.region == region) return &p;
  }
  return nullptr;
}

void RegionLink::consume(const Delivery& delivery, uint64_t now_us) {
  const sim::RegionId origin = delivery.subject.origin;
  if (!known(origin) || origin == config_.region) {
    counters_.refused_decode[static_cast<size_t>(schema::BusDecodeError::unknown_region)] += 1;
    return;
  }
  counters_.bytes_consumed += delivery.payload.size();
  {
    std::lock_guard lock(status_mutex_);
    if (PeerStatus* p = peer(origin)) {
      p->last_seq = std::max(p->last_seq, delivery.stream_seq);
      p->last_heard_us = now_us;
    }
  }
  const schema::BusDecodeContext context{origin, config_.regions, config_.map_cells_x, config_.map_cells_y};
  schema::BusPayload payload;
  const schema::BusDecodeResult decoded = schema::decode_bus_payload(delivery.payload, context, payload);
  if (!decoded.ok()) {
    counters_.refused_decode[static_cast<size_t>(decoded.code)] += 1;
    return;
  }
  if (channel_of(payload) != delivery.subject.channel) {
    counters_.refused_wrong_channel += 1;
    return;
  }
  counters_.messages_consumed += 1;
  if (const auto* health = std::get_if<BusHealth>(&payload)) {
    counters_.health_consumed += 1;
    on_peer_health(*health, now_us);
    return;
  }
  if (delivery.stream_seq <= resume_after_[raw(origin)]) {
    counters_.consumed_duplicate += 1;  // our world holds it already (a consumer repeating itself)
    return;
  }
  Inbound message{origin, delivery.stream_seq, false, false, {}};
  if (const auto* batch = std::get_if<BusWorldBatch>(&payload)) {
    message.world_batch = true;
    message.commands.reserve(batch->writes.size());
    for (const sim::BlockWrite& w : batch->writes) {
      message.commands.push_back(sim::RemoteBlockWriteCommand{w.cell, w.layer, w.kind, w.state, w.stamp});
    }
  } else {
    const auto& presence = std::get<BusPresence>(payload);
    message.commands.reserve(presence.entries.size());
    for (const schema::BusPresenceEntry& e : presence.entries) {
      if (e.npc) {
        message.commands.push_back(sim::RemoteNpcCommand{origin, sim::NpcId{e.id}, e.pos, e.facing});
      } else {
        message.commands.push_back(sim::RemotePresenceCommand{origin, sim::PlayerId{e.id}, e.pos, e.facing});
      }
    }
  }
  std::lock_guard lock(inbound_mutex_);
  inbound_.push_back(std::move(message));
}

void RegionLink::on_peer_health(const BusHealth& health, uint64_t now_us) {
  (void)now_us;
  std::lock_guard lock(status_mutex_);
  PeerStatus* p = peer(health.origin);
  if (p == nullptr || (p->health_known && health.tick < p->health_tick)) return;  // older (redelivered): ignored
  p->health_known = true;
  p->health_tick = health.tick;
  p->health_map_hash = health.map_hash;
  p->health_applied = health.applied;
  for (const BusAppliedSeq& entry : health.applied) {
    if (entry.origin == health.origin) p->reported_seq = entry.seq;
  }
  p->lag = p->reported_seq > p->applied_seq ? p->reported_seq - p->applied_seq : 0;
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->second == health.applied) {
      compare(*p, it->first, it->second);
      return;
    }
  }
  // No point of ours at that vector: judged at it from the map history, once our sequence in it is
  // placed (translate_waiting) and our world applied all of it (the tick thread).
  PeerPoint point{health.origin, health.tick, health.map_hash, health.applied, {}};
  for (const BusAppliedSeq& entry : health.applied) {
    if (entry.origin != config_.region) point.vector.remote.push_back(entry);
  }
  translate_waiting_.push_back(std::move(point));
}

// Bus side: our sequence in each waiting point, as the tick through which it holds our batches.
void RegionLink::translate_waiting() {
  if (translate_waiting_.empty()) return;
  uint64_t superseded = 0;
  keep_newest(translate_waiting_, superseded);
  counters_.health_unjudged_superseded += superseded;
  std::vector<PeerPoint> ready;
  std::deque<PeerPoint> still;
  for (PeerPoint& point : translate_waiting_) {
    uint64_t own = 0;
    for (const BusAppliedSeq& entry : point.applied) {
      if (entry.origin == config_.region) own = entry.seq;
    }
    switch (own_through(own, point.vector.own_through_tick)) {
      case OwnThrough::ok: ready.push_back(std::move(point)); break;
      case OwnThrough::wait: still.push_back(std::move(point)); break;
      case OwnThrough::too_old: counters_.health_unjudged_too_old += 1; break;
      case OwnThrough::out_of_order: counters_.health_unjudged_own_order += 1; break;
    }
  }
  translate_waiting_ = std::move(still);
  if (ready.empty()) return;
  std::lock_guard lock(judge_mutex_);
  for (PeerPoint& point : ready) judge_in_.push_back(std::move(point));
}

// Which of our ticks a vector holding our batches through stream sequence `seq` holds: every tick
// of ours whose parts are all at or below it, none above (a stream stores one connection's
// publishes in order, but a resend after a lost ack can come after later ones). `through` is the
// tick before our first batch it lacks (else the last tick we heard of).
RegionLink::OwnThrough RegionLink::own_through(uint64_t seq, uint64_t& through) const {
  if (seq < own_pruned_seq_) return OwnThrough::too_old;
  through = last_handover_tick_;
  if (const uint64_t first = first_unpushed_tick(); first != UINT64_MAX) through = std::min(through, first - 1);
  uint64_t in_max = own_pruned_seq_;  // the largest sequence of ours known in it
  bool out_acked = false;             // a tick before has parts stored above seq
  bool out_unacked = false;           // a tick before has parts not acked yet
  for (const auto& [tick, own] : own_ticks_) {
    bool in = false, out = false, unacked = false;
    for (const uint64_t part_seq : own.seqs) {
      if (part_seq == 0) {
        unacked = true;
      } else if (part_seq <= seq) {
        in = true;
        in_max = std::max(in_max, part_seq);
      } else {
        out = true;
      }
    }
    if (in && out) return OwnThrough::out_of_order;  // the peer holds part of that tick
    if (in) {
      if (unacked || out_unacked) return OwnThrough::wait;  // those may be in too: their acks will say
      if (out_acked) return OwnThrough::out_of_order;
      continue;
    }
    if (!out_acked && !out_unacked) through = std::min(through, std::min(own.first_tick, tick) - 1);
    (out ? out_acked : out_unacked) = true;
  }
  // A sequence of ours we have no ack for yet: a batch of ours stored, its ack still coming.
  if (seq > in_max) return OwnThrough::wait;
  return OwnThrough::ok;
}

// Bus side: the tick thread's verdict on a peer's point.
void RegionLink::settle(const Judged& judged) {
  if (judged.result.verdict != HashAtVerdict::hashed) {
    counters_.health_unjudged_too_old += 1;
    return;
  }
  counters_.health_judged_at_vector += 1;
  counters_.judge_cells_reverted += judged.result.cells_reverted;
  const PeerPoint& point = judged.point;
  std::lock_guard lock(status_mutex_);
  PeerStatus* p = peer(point.peer);
  if (point.map_hash == judged.result.map_hash) {
    counters_.health_agree += 1;
    if (p != nullptr && p->health_tick == point.tick) p->agreement = Agreement::agree;
    return;
  }
  counters_.desyncs += 1;
  if (p != nullptr) p->agreement = Agreement::disagree;
  desyncs_.push_back(
      Desync{point.peer, point.applied, judged.our_tick, judged.result.map_hash, point.tick, point.map_hash, true});
}

// Called with status_mutex_ held: one of our points and the peer's last one share a vector.
void RegionLink::compare(PeerStatus& peer_status, const HealthPoint& ours, const std::vector<BusAppliedSeq>& vector) {
  if (peer_status.health_map_hash == ours.map_hash) {
    peer_status.agreement = Agreement::agree;
    counters_.health_agree += 1;
    return;
  }
  peer_status.agreement = Agreement::disagree;
  counters_.desyncs += 1;
  desyncs_.push_back(Desync{peer_status.region, vector, ours.tick, ours.map_hash, peer_status.health_tick,
                            peer_status.health_map_hash});
}

RegionLinkStatus RegionLink::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

}  // namespace strata::server
