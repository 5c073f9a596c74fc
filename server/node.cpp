// server/node.cpp — see node.h.
#include "server/node.h"

#include <algorithm>
#include <cstddef>

#include "schema/codec.h"
#include "server/login.h"
#include "server/player_saves.h"
#include "server/region_link.h"
#include "sim/assert.h"

namespace strata::server {

using namespace strata::sim;

namespace {

uint64_t physical_ms(uint64_t now_us) { return now_us / 1000; }

// Times consecutive phases on the node's Clock: end(p) charges the time since the last end() to p
// (CPU: the thread's CPU time; wall: the monotonic reading, microsecond resolution). The phases a
// tick leaves early (a log failure) keep 0.
class PhaseClock {
 public:
  PhaseClock(const Clock& clock, TickPhaseTimes& times)
      : clock_(clock), times_(times), cpu_(clock.thread_cpu_ns()), wall_(wall_ns()) {
    times_ = TickPhaseTimes{};
  }
  void end(TickPhase phase) {
    const uint64_t cpu = clock_.thread_cpu_ns();
    const uint64_t wall = wall_ns();
    times_.cpu_ns[static_cast<size_t>(phase)] = cpu - cpu_;
    times_.wall_ns[static_cast<size_t>(phase)] = wall - wall_;
    cpu_ = cpu;
    wall_ = wall;
  }

 private:
  [[nodiscard]] uint64_t wall_ns() const { return clock_.monotonic_us() * 1000; }
  const Clock& clock_;
  TickPhaseTimes& times_;
  uint64_t cpu_;
  uint64_t wall_;
};

}  // namespace

const char* name(TickPhase phase) {
  switch (phase) {
    case TickPhase::inbox: return "inbox";
    case TickPhase::schedule: return "schedule";
    case TickPhase::step: return "step";
    case TickPhase::log: return "log";
    case TickPhase::frame: return "frame";
    case TickPhase::snapshots: return "snapshots";
    case TickPhase::relay: return "relay";
    case TickPhase::count: break;
  }
  return "invalid";
}

std::unique_ptr<RegionalNode> RegionalNode::create(const Options& options, NodeStart start, std::string& error) {
  if (options.clock == nullptr || options.random == nullptr) {
    error = "the node needs a clock and a random source";
    return nullptr;
  }
  if (!start.log || !start.sim) {
    error = "the node needs a session log and a world";
    return nullptr;
  }
  if (start.sim->tick() != start.log->last_tick() || start.sim->world().params != start.log->header().params) {
    error = "the world (tick " + std::to_string(start.sim->tick()) + ") is not the log's (last tick " +
            std::to_string(start.log->last_tick()) + ")";
    return nullptr;
  }
  const uint64_t recovered = start.sim->tick();
  auto node = std::unique_ptr<RegionalNode>(new RegionalNode(options, std::move(start.sim), std::move(start.log)));
  node->recovered_from_tick_ = recovered;
  // Players of the recovered world have no session: they leave in the first tick.
  for (const Player& p : node->sim_->world().players) {
    const InputVerdict verdict = node->scheduler_.submit_system(LeaveCommand{p.id});
    (void)verdict;
  }
  return node;
}

RegionalNode::RegionalNode(const Options& options, std::unique_ptr<Simulation> sim,
                           std::unique_ptr<replay::SessionLog> log)
    : options_(options),
      net_(options.net, *options.random),
      hlc_(options.config.hlc_max_offset_ms),
      scheduler_(options.config.inputs, RegionId{options.config.region}, hlc_),
      sim_(std::move(sim)),
      log_(std::move(log)),
      observer_encoder_(options.observer_encode_thread) {
  AoiParams aoi;
  aoi.radius_cells = static_cast<int32_t>(options.config.aoi_radius_cells);
  aoi.near_cells = static_cast<int32_t>(options.config.aoi_near_cells);
  aoi.mid_cells = static_cast<int32_t>(options.config.aoi_mid_cells);
  builders_ = std::make_unique<SnapshotBuilders>(options.snapshot_threads, options.snapshot_threads_nice, aoi, outbox_,
                                                 *options.clock);
  const std::vector<CellChange> none;
  (void)frames_.publish(sim_->world(), none, sim_->quick_hash());  // checksums and mirror of the start
  // A recovered world's applied batches: their repeats (a consumer resumed before them) are duplicates.
  for (const sim::BusMark& mark : sim_->world().bus_applied)
    scheduler_.restore_applied_stream_seq(mark.origin, mark.seq);
  // The HLC resumes above every stamp the map holds (ours and the other regions'): a write after a
  // restart outranks what it overwrites even if the wall clock went back meanwhile.
  uint64_t newest = 0;
  for (const sim::Chunk& chunk : sim_->world().map.chunks()) {
    for (const auto& layer : chunk.stamp_hlc) newest = std::max(newest, *std::max_element(layer.begin(), layer.end()));
  }
  hlc_.restore(newest);
}

RegionalNode::~RegionalNode() {
  builders_.reset();  // joins the builder threads before the outbox they write goes
}

void RegionalNode::receive(net::TransportKind kind, const net::Address& from, std::span<const uint8_t> bytes,
                           uint64_t now_us, net::DatagramSink& sink) {
  net_.receive(kind, from, bytes, now_us, sink);
}

// Network side: events and messages out of the netchannel into the inbox, in one short critical
// section; the sim thread swaps the inbox out at its next tick.
void RegionalNode::pump_inbound() {
  Inbound& staged = io_inbound_;
  staged.events.clear();
  staged.messages.clear();
  staged.inputs.clear();
  net::ServerEvent event;
  while (net_.pop_event(event)) {
    const uint64_t client = static_cast<uint64_t>(event.client);
    InboundEvent in{event, false};
    if (event.kind == net::ServerEvent::Kind::connected) {
      const net::UserData* user = net_.client_user_data(event.client);
      in.observer = user != nullptr && (*user)[0] == Login::observer_flag;
      SessionInfo info;
      info.client = client;
      info.observer = in.observer;
      info.address = event.address;
      info.transport = event.transport;
      info.connected_us = io_wall_us_.value_or(io_now_us_);
      io_clients_.push_back(info);
    } else {
      std::erase_if(io_clients_, [&](const SessionInfo& c) { return c.client == client; });
      io_observer_queues_.erase(client);  // its stream's buffers go with it
    }
    staged.events.push_back(in);
  }
  // Decoded here, off the sim thread (at 5000 clients, ~10000 messages a tick were 2-3 ms of it);
  // client kinds only, each within its own budget (a server kind is refused unread).
  net::Message message;
  net::ClientId from{};
  while (net_.pop_any_message(from, message)) {
    ClientMessage& m = staged.messages.emplace_back();
    m.client = static_cast<uint64_t>(from);
    auto decoded = view::decode_client_message(message.data);
    if (!decoded.message) {
      m.error = decoded.code;
      continue;
    }
    view::Message& body = *decoded.message;
    m.kind = body.kind;
    m.ack_tick = body.ack_tick;
    if (body.kind == view::MessageKind::ack) io_acks_.emplace_back(m.client, body.ack_tick);
    m.inputs_begin = static_cast<uint32_t>(staged.inputs.size());
    m.inputs_count = static_cast<uint32_t>(body.inputs.size());
    staged.inputs.insert(staged.inputs.end(), body.inputs.begin(), body.inputs.end());
    if (body.kind == view::MessageKind::chat_send) m.chat = std::move(body.chat.text);
  }
  if (!io_acks_.empty()) {  // to the builders at once, besides the sim thread's bookkeeping below
    builders_->post_acks(io_acks_);
    io_acks_.clear();
  }
  if (staged.events.empty() && staged.messages.empty()) return;
  std::lock_guard lock(inbox_mutex_);
  inbox_.events.insert(inbox_.events.end(), staged.events.begin(), staged.events.end());
  const auto offset = static_cast<uint32_t>(inbox_.inputs.size());
  for (ClientMessage& m : staged.messages) {
    if (inbox_.messages.size() >= limits::inbox_messages_max) {
      io_counters_.inbox_overflow.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    m.inputs_begin += offset;
    inbox_.messages.push_back(std::move(m));
  }
  inbox_.inputs.insert(inbox_.inputs.end(), staged.inputs.begin(), staged.inputs.end());
}

// Network side: what the sim thread asked to send or close, then the built snapshots. DESIGN.md's
// invariant: nothing derived from tick T leaves the node before T's record is in the log under the
// configured fsync policy; with log.sync = background the log thread's fsync trails the tick, so
// what is about a tick the disk does not hold yet waits here (in order) for a later turn.
void RegionalNode::pump_outbound(uint64_t now_us) {
  {
    std::lock_guard lock(outbound_mutex_);
    if (io_outbound_.empty()) {
      std::swap(io_outbound_, outbound_);  // the usual case: nothing held back
    } else {
      io_outbound_.append(outbound_);
    }
  }
  const uint64_t durable = log_->durable_tick();
  for (const auto& [client, reason] : io_outbound_.disconnects) net_.disconnect(net::ClientId{client}, reason, now_us);
  io_outbound_.disconnects.clear();
  size_t sent = 0;
  for (; sent < io_outbound_.reliable.size() && io_outbound_.reliable[sent].tick <= durable; ++sent) {
    const Outbound::Reliable& m = io_outbound_.reliable[sent];
    const std::span<const uint8_t> bytes(io_outbound_.bytes.data() + m.offset, m.size);
    if (net_.send(net::ClientId{m.client}, net::Channel::reliable_ordered, bytes) != net::SendResult::ok)
      io_counters_.reliable_send_failures.fetch_add(1, std::memory_order_relaxed);
  }
  if (sent == io_outbound_.reliable.size()) {
    io_outbound_.reliable.clear();
    io_outbound_.bytes.clear();
  } else if (sent > 0) {  // keep the rest, moved to the front
    const size_t first = io_outbound_.reliable[sent].offset;
    io_outbound_.reliable.erase(io_outbound_.reliable.begin(),
                                io_outbound_.reliable.begin() + static_cast<ptrdiff_t>(sent));
    for (Outbound::Reliable& m : io_outbound_.reliable) m.offset -= first;
    io_outbound_.bytes.erase(io_outbound_.bytes.begin(), io_outbound_.bytes.begin() + static_cast<ptrdiff_t>(first));
  }
  for (Outbound::Observed& o : io_outbound_.observed) {
    ObserverQueue& queue = io_observer_queues_[o.client];
    if (!o.start_part) queue.backlog_bytes += o.message->size();
    queue.messages.push_back(std::move(o));
  }
  io_outbound_.observed.clear();
  if (io_outbound_.reliable.empty()) io_outbound_.reset();  // (gives back an oversized buffer)
  drain_observers(now_us, durable);
  outbox_.take(ready_);
  // Held snapshots are older than the ones just taken: they go first.
  if (!held_.empty()) {
    ready_.insert(ready_.begin(), std::make_move_iterator(held_.begin()), std::make_move_iterator(held_.end()));
    held_.clear();
  }
  // Bounded: the log writer stalls the tick when the disk lags by more than sync_lag_ticks_max,
  // and past capacity_max the oldest held snapshot is dropped (a newer one of its client follows).
  const size_t drop = ready_.size() > SnapshotOutbox::capacity_max ? ready_.size() - SnapshotOutbox::capacity_max : 0;
  io_counters_.snapshots_not_sent.fetch_add(drop, std::memory_order_relaxed);
  for (size_t i = 0; i < drop; ++i) ready_[i].bytes.clear();
  for (BuiltSnapshot& s : std::span(ready_).subspan(drop)) {
    if (s.tick > durable) {
      held_.push_back(std::move(s));
      s.bytes.clear();
      continue;
    }
    if (net_.send(net::ClientId{s.client}, net::Channel::unreliable_sequenced, s.bytes) == net::SendResult::ok) {
      io_counters_.snapshots_sent.fetch_add(1, std::memory_order_relaxed);
      io_counters_.snapshot_bytes.fetch_add(s.bytes.size(), std::memory_order_relaxed);
    } else {
      io_counters_.snapshots_not_sent.fetch_add(1, std::memory_order_relaxed);
    }
  }
  outbox_.recycle(ready_);  // the netchannel copied them: their buffers go back to the builders
}

// Network side: each observer's queue into the netchannel while its reliable window takes them (a
// message is refused whole when it does not fit: it is tried again at the next flush). An observer
// whose tick messages queued beyond observer_backlog_bytes_max does not keep up: disconnected.
void RegionalNode::drain_observers(uint64_t now_us, uint64_t durable_tick) {
  for (auto it = io_observer_queues_.begin(); it != io_observer_queues_.end();) {
    ObserverQueue& queue = it->second;
    const net::ClientId client{it->first};
    bool gone = false;
    while (!queue.messages.empty()) {
      const Outbound::Observed& front = queue.messages.front();
      if (front.tick > durable_tick) break;  // the log does not hold that tick yet
      const net::SendResult sent = net_.send(client, net::Channel::reliable_ordered, *front.message);
      if (sent == net::SendResult::queue_full) break;
      if (sent != net::SendResult::ok) {
        io_counters_.reliable_send_failures.fetch_add(1, std::memory_order_relaxed);
        gone = true;  // not connected (any more), or a message the channel refuses: the stream is broken
        break;
      }
      if (!front.start_part) queue.backlog_bytes -= front.message->size();
      queue.messages.pop_front();
    }
    if (!gone && queue.backlog_bytes > options_.observer_backlog_bytes_max) {
      io_counters_.observers_dropped_slow.fetch_add(1, std::memory_order_relaxed);
      net_.disconnect(client, net::DisconnectReason::kicked, now_us);
      gone = true;
    }
    it = gone ? io_observer_queues_.erase(it) : std::next(it);
  }
}

void RegionalNode::publish_net_stats() {
  NetStats stats;
  stats.handshake = net_.handshake_counters();
  stats.drops = net_.total_drops();
  stats.sessions = io_clients_;
  for (SessionInfo& info : stats.sessions) {
    if (const net::ConnectionStats* c = net_.client_stats(net::ClientId{info.client})) info.stats = *c;
  }
  std::lock_guard lock(net_stats_mutex_);
  net_stats_ = std::move(stats);
}

RegionalNode::NetStats RegionalNode::net_stats() const {
  std::lock_guard lock(net_stats_mutex_);
  return net_stats_;
}

RegionalNode::NetCounters RegionalNode::net_counters() const {
  std::lock_guard lock(net_stats_mutex_);
  return NetCounters{net_stats_.handshake, net_stats_.drops};
}

uint64_t RegionalNode::durable_tick() const { return log_->durable_tick(); }

NodeCounters RegionalNode::counters() const {
  NodeCounters c = counters_;
  c.snapshots_sent = io_counters_.snapshots_sent.load(std::memory_order_relaxed);
  c.snapshot_bytes = io_counters_.snapshot_bytes.load(std::memory_order_relaxed);
  c.snapshots_not_sent = io_counters_.snapshots_not_sent.load(std::memory_order_relaxed);
  c.reliable_send_failures = io_counters_.reliable_send_failures.load(std::memory_order_relaxed);
  c.inbox_overflow = io_counters_.inbox_overflow.load(std::memory_order_relaxed);
  c.observers_dropped_slow += io_counters_.observers_dropped_slow.load(std::memory_order_relaxed);
  return c;
}

// Keeps the buffers' capacity for the next tick up to a bound (an observer's starting world passes
// through once; its tens of MB are not kept).
void RegionalNode::Outbound::reset() {
  constexpr size_t bytes_kept_max = size_t{1} << 20;
  disconnects.clear();
  reliable.clear();
  observed.clear();
  bytes.clear();
  if (bytes.capacity() > bytes_kept_max) std::vector<uint8_t>().swap(bytes);
}

void RegionalNode::Outbound::append(Outbound& later) {
  disconnects.insert(disconnects.end(), later.disconnects.begin(), later.disconnects.end());
  const size_t offset = bytes.size();
  for (const Reliable& m : later.reliable) reliable.push_back({m.client, m.tick, offset + m.offset, m.size});
  bytes.insert(bytes.end(), later.bytes.begin(), later.bytes.end());
  for (Observed& o : later.observed) observed.push_back(std::move(o));
  later.reset();
}

void RegionalNode::send_reliable(uint64_t client, std::span<const uint8_t> bytes) {
  sim_outbound_.reliable.push_back({client, sim_->tick(), sim_outbound_.bytes.size(), bytes.size()});
  sim_outbound_.bytes.insert(sim_outbound_.bytes.end(), bytes.begin(), bytes.end());
}

RegionalNode::Session* RegionalNode::find_session(uint64_t client) {
  auto it = session_slot_.find(client);
  return it == session_slot_.end() ? nullptr : &sessions_[it->second];
}

RegionalNode::Session& RegionalNode::add_session(uint64_t client) {
  auto [it, added] = session_slot_.try_emplace(client, 0);
  if (added) {
    if (free_slots_.empty()) {
      it->second = static_cast<uint32_t>(sessions_.size());
      sessions_.emplace_back();
    } else {
      it->second = free_slots_.back();
      free_slots_.pop_back();
    }
  }
  Session& session = sessions_[it->second];
  session = Session{};
  session.client = client;
  return session;
}

void RegionalNode::erase_session(uint64_t client) {
  auto it = session_slot_.find(client);
  if (it == session_slot_.end()) return;
  sessions_[it->second] = Session{};  // client 0: free
  free_slots_.push_back(it->second);
  session_slot_.erase(it);
}

void RegionalNode::handle_events(const std::vector<InboundEvent>& events) {
  for (const InboundEvent& in : events) {
    const net::ServerEvent& event = in.event;
    const uint64_t client = static_cast<uint64_t>(event.client);
    if (event.kind == net::ServerEvent::Kind::connected) {
      // The token's client id is the player id the login assigned.
      if (client == 0 || client > sim::limits::player_id_max) {
        sim_outbound_.disconnects.emplace_back(client, net::DisconnectReason::kicked);
        continue;
      }
      const auto player = static_cast<uint32_t>(client);
      if (in.observer) {
        Session& observer = add_session(client);
        observer.player = PlayerId{player};
        observer.epoch = ++epochs_;
        observer.observer = true;
        observer_clients_.insert(client);
        continue;
      }
      if (auto it = client_of_player_.find(player); it != client_of_player_.end() && it->second != client) {
        sim_outbound_.disconnects.emplace_back(it->second, net::DisconnectReason::kicked);  // logged in again
        erase_session(it->second);
        observer_clients_.erase(it->second);
        builders_->forget(it->second);
      }
      Session& session = add_session(client);
      session.player = PlayerId{player};
      session.epoch = ++epochs_;
      observer_clients_.erase(client);
      client_of_player_[player] = client;
      begin_join(PlayerId{player});
      continue;
    }
    const Session* session = find_session(client);
    if (session == nullptr) continue;
    const PlayerId player = session->player;
    const bool observer = session->observer;
    erase_session(client);
    observer_clients_.erase(client);
    builders_->forget(client);
    if (observer) continue;
    if (auto p = client_of_player_.find(raw(player)); p != client_of_player_.end() && p->second == client) {
      client_of_player_.erase(p);
      scheduler_.forget_player(player);
      if (waiting_joins_.erase(raw(player)) > 0) {  // never joined: nothing to leave
        options_.player_saves->cancel(player);
        counters_.join_waits_abandoned += 1;
        continue;
      }
      const InputVerdict verdict = scheduler_.submit_system(LeaveCommand{player});
      (void)verdict;
    }
  }
}

void RegionalNode::begin_join(PlayerId player) {
  PlayerSaves* saves = options_.player_saves;
  const auto& players = sim_->world().players;
  const auto at = std::lower_bound(players.begin(), players.end(), player,
                                   [](const sim::Player& p, PlayerId id) { return raw(p.id) < raw(id); });
  const bool in_world = at != players.end() && at->id == player;
  // A takeover of a player in the world, or no persistence: the join goes at once (as before).
  if (saves == nullptr || in_world || waiting_joins_.contains(raw(player))) {
    if (!waiting_joins_.contains(raw(player))) (void)scheduler_.submit_system(JoinCommand{player});
    return;
  }
  if (!saves->request(player)) {
    counters_.join_loads_refused += 1;
    if (!saves->may_join_unloaded(player)) {
      refuse_join(player);
      return;
    }
    (void)scheduler_.submit_system(JoinCommand{player, saves->last_known(player)});
    return;
  }
  counters_.joins_waited += 1;
  waiting_joins_[raw(player)] = sim_->tick() + 1 + options_.join_wait_ticks;
}

void RegionalNode::release_joins(uint64_t tick) {
  PlayerSaves* saves = options_.player_saves;
  for (auto it = waiting_joins_.begin(); it != waiting_joins_.end();) {
    const PlayerId player{it->first};
    std::optional<sim::PlayerSave> save;
    if (saves->poll(player, save) == PlayerSaves::Poll::answered) {
      (void)scheduler_.submit_system(JoinCommand{player, save});
    } else if (tick >= it->second) {
      counters_.join_load_timeouts += 1;
      saves->cancel(player);
      if (saves->may_join_unloaded(player)) {
        (void)scheduler_.submit_system(JoinCommand{player, saves->last_known(player)});
      } else {
        refuse_join(player);
      }
    } else {
      ++it;
      continue;
    }
    it = waiting_joins_.erase(it);
  }
}

// A join the node will not make (PlayerSaves::may_join_unloaded): the client goes, with no join and
// so no leave; its disconnection event later finds no session.
void RegionalNode::refuse_join(PlayerId player) {
  counters_.joins_refused_unloaded += 1;
  auto it = client_of_player_.find(raw(player));
  if (it == client_of_player_.end()) return;
  const uint64_t client = it->second;
  client_of_player_.erase(it);
  scheduler_.forget_player(player);
  sim_outbound_.disconnects.emplace_back(client, net::DisconnectReason::refused);
  erase_session(client);
  builders_->forget(client);
}

void RegionalNode::handle_message(Session& session, const ClientMessage& m, std::span<const view::InputEntry> inputs) {
  if (m.error != view::MessageError::none) {
    counters_.messages_refused[static_cast<size_t>(m.error)] += 1;
    return;
  }
  if (session.observer) return;  // observers only listen
  switch (m.kind) {
    case view::MessageKind::inputs:
      for (const view::InputEntry& entry : inputs.subspan(m.inputs_begin, m.inputs_count)) {
        const InputVerdict verdict =
            scheduler_.submit_player(session.player, entry.seq, entry.tick, entry.command, sim_->tick() + 1);
        (void)verdict;  // counted by the scheduler
      }
      break;
    case view::MessageKind::ack:
      if (m.ack_tick <= sim_->tick()) session.acked_tick = std::max(session.acked_tick, m.ack_tick);
      break;
    case view::MessageKind::checksum_report: {
      const uint64_t now = sim_->tick() + 1;
      if (session.mismatch_report_tick != 0 &&
          now < session.mismatch_report_tick + limits::mismatch_report_interval_ticks) {
        counters_.checksum_reports_refused += 1;
        break;
      }
      session.mismatch_report_tick = now;
      counters_.checksum_mismatches += 1;
      break;
    }
    case view::MessageKind::chat_send: {
      // GCRA: the line is allowed when it is at most chat_burst intervals ahead of its schedule.
      const uint64_t now = sim_->tick() + 1;
      const uint64_t tat = std::max(session.chat_tat, now);
      if (tat - now >= limits::chat_interval_ticks * limits::chat_burst ||
          chat_pending_.size() >= limits::chat_lines_per_tick_max) {
        counters_.chat_rate_limited += 1;
        break;
      }
      session.chat_tat = tat + limits::chat_interval_ticks;
      chat_pending_.push_back(view::ChatLine{raw(session.player), 0, m.chat});
      break;
    }
    default: counters_.messages_refused[static_cast<size_t>(view::MessageError::unknown_kind)] += 1; break;
  }
}

bool RegionalNode::tick(uint64_t now_us, bool final_snapshot) {
  PhaseClock clock(*options_.clock, phases_);
  {
    std::lock_guard lock(inbox_mutex_);
    std::swap(inbox_, sim_inbox_);
  }
  handle_events(sim_inbox_.events);
  for (const ClientMessage& m : sim_inbox_.messages) {
    if (Session* session = find_session(m.client)) handle_message(*session, m, sim_inbox_.inputs);
  }
  sim_inbox_.events.clear();
  sim_inbox_.messages.clear();
  sim_inbox_.inputs.clear();
  const uint64_t tick = sim_->tick() + 1;
  release_joins(tick);
  clock.end(TickPhase::inbox);
  if (options_.link != nullptr) options_.link->take_remote(scheduler_, physical_ms(now_us));
  scheduler_.build(tick, physical_ms(now_us), input_);
  if (input_.commands.size() > sim::limits::commands_per_tick_max) {
    // Unreachable while the scheduler's parts hold (input_scheduler.h): a record the log could not
    // decode would stop every replay and recovery at this tick, so the excess is refused instead.
    counters_.tick_commands_refused += input_.commands.size() - sim::limits::commands_per_tick_max;
    input_.commands.resize(sim::limits::commands_per_tick_max);
  }
  clock.end(TickPhase::schedule);
  log_->release_world();  // the log is done with the world the last append was given: it may change
  const Effects& effects = sim_->step(input_);
  last_effects_ = &effects;
  clock.end(TickPhase::step);
  if (const replay::Status status = log_->append(input_, *sim_, final_snapshot); !status.ok()) {
    counters_.log_failures += 1;
    return false;
  }
  if (options_.link != nullptr) options_.link->on_tick(*sim_, input_, effects);
  if (options_.after_tick) options_.after_tick(*sim_);
  // Handed over once the log has the tick: a save is never of a tick the log refused.
  if (options_.player_saves != nullptr && !effects.left_saves.empty())
    options_.player_saves->left(tick, effects.left_saves);
  clock.end(TickPhase::log);
  counters_.ticks += 1;
  counters_.joins += effects.joined.size();
  counters_.leaves += effects.left.size();
  for (const Rejection& r : effects.rejections) counters_.rejected[static_cast<size_t>(r.reason)] += 1;
  auto frame = frames_.publish(sim_->world(), effects.changed_cells, sim_->quick_hash());
  clock.end(TickPhase::frame);
  send_snapshots(frame);  // welcomes first: a line said this tick reaches only welcomed players
  clock.end(TickPhase::snapshots);
  send_observer_stream();
  relay_chat(*frame);
  {
    std::lock_guard lock(outbound_mutex_);
    outbound_.append(sim_outbound_);
  }
  clock.end(TickPhase::relay);
  return true;
}

// Observers get the world once (after the tick it was taken at), then every later tick's input and
// quick hash, on the reliable channel: they re-simulate the region in lockstep. The world is encoded
// off the tick thread (WorldEncoder); while it is, the tick messages since its tick are kept for
// the observers waiting for it (bounded: beyond observer_backlog_bytes_max they are dropped).
void RegionalNode::send_observer_stream() {
  if (observer_clients_.empty() && !observer_encoder_.busy()) return;  // (not a walk over every session)
  std::vector<uint8_t> input_bytes;
  schema::encode_tick_input(input_, input_bytes);
  auto tick_message = std::make_shared<std::vector<uint8_t>>();
  view::encode_observer_tick(sim_->tick(), input_bytes, sim_->quick_hash(), *tick_message);
  if (std::optional<EncodedWorld> world = observer_encoder_.poll()) {
    if (!observer_backlog_lost_) finish_observer_start(*world);
    observer_backlog_lost_ = false;  // a lost backlog's world is delivered to nobody
  }
  for (const uint64_t client : observer_clients_) {
    if (find_session(client)->observer_started) send_observed(client, tick_message, false);
  }
  if (observer_encoder_.busy() && !observer_backlog_lost_) {
    observer_backlog_bytes_ += tick_message->size();
    observer_backlog_.push_back(std::move(tick_message));
    if (observer_backlog_bytes_ > options_.observer_backlog_bytes_max) {
      // The encoding takes longer than the bound allows: the waiting observers are dropped, and
      // that world, once encoded, is delivered to nobody (later observers wait for the next one).
      for (const uint64_t client : std::vector<uint64_t>(observer_clients_.begin(), observer_clients_.end())) {
        Session& session = *find_session(client);
        if (session.observer_waiting) drop_observer(session, net::DisconnectReason::kicked);
      }
      observer_backlog_.clear();
      observer_backlog_bytes_ = 0;
      observer_backlog_lost_ = true;
    }
  }
  start_observers();
}

// New observers: beyond observers_max they are refused; the others wait for the world being
// encoded (its tick's backlog is theirs too), or make it be encoded from this tick's world.
void RegionalNode::start_observers() {
  size_t active = 0;
  for (const uint64_t client : observer_clients_) {
    const Session& session = *find_session(client);
    active += session.observer_started || session.observer_waiting ? 1 : 0;
  }
  bool waiting = false;
  for (const uint64_t client : std::vector<uint64_t>(observer_clients_.begin(), observer_clients_.end())) {
    Session& session = *find_session(client);
    if (session.observer_started || session.observer_waiting) continue;
    if (active >= options_.observers_max) {
      counters_.observers_refused += 1;
      drop_observer(session, net::DisconnectReason::server_full);
      continue;
    }
    active += 1;
    if (observer_backlog_lost_) continue;  // waits for the next encoding
    session.observer_waiting = true;
    waiting = true;
  }
  if (waiting && !observer_encoder_.busy()) {
    STRATA_ASSERT(observer_backlog_.empty(), "a backlog without a world being encoded");
    observer_encoder_.start(sim_->world());
    counters_.observer_world_encodings += 1;
  }
}

void RegionalNode::finish_observer_start(const EncodedWorld& world) {
  for (const uint64_t client : observer_clients_) {
    Session& session = *find_session(client);
    if (!session.observer_waiting) continue;
    for (const SharedMessage& part : world.parts) send_observed(client, part, true);
    for (const SharedMessage& message : observer_backlog_) send_observed(client, message, false);
    session.observer_waiting = false;
    session.observer_started = true;
  }
  observer_backlog_.clear();
  observer_backlog_bytes_ = 0;
}

// Disconnects an observer; its session goes now (the disconnection event finds none).
void RegionalNode::drop_observer(Session& session, net::DisconnectReason reason) {
  const uint64_t client = session.client;
  if (reason == net::DisconnectReason::kicked) counters_.observers_dropped_slow += 1;
  sim_outbound_.disconnects.emplace_back(client, reason);
  erase_session(client);
  observer_clients_.erase(client);
}

void RegionalNode::send_observed(uint64_t client, const SharedMessage& message, bool start_part) {
  sim_outbound_.observed.push_back(Outbound::Observed{client, message, start_part, sim_->tick()});
}

// Each line goes to every player within the AOI radius (Chebyshev, cells) of the speaker, the
// speaker included (its echo), who can see the speaker (hears()), on the reliable channel: the
// frame's interest index finds them. At most options_.chat_deliveries_per_tick a tick (plus one line's
// hearers); the lines left wait for the next tick, in order. Chat is not simulation: not logged.
void RegionalNode::relay_chat(const TickFrame& frame) {
  if (chat_pending_.empty()) return;
  const auto r = static_cast<int32_t>(options_.config.aoi_radius_cells);
  size_t deliveries = 0;
  size_t relayed = 0;
  for (; relayed < chat_pending_.size() && deliveries < options_.chat_deliveries_per_tick; ++relayed) {
    view::ChatLine& line = chat_pending_[relayed];
    const ViewerState* speaker = frame.viewer(line.from);
    if (speaker == nullptr) continue;  // left in the meantime
    line.tick = frame.tick;
    view::encode_chat(line, scratch_);
    counters_.chat_relayed += 1;
    frame.index.query(speaker->cell_x - r, speaker->cell_y - r, speaker->cell_x + r, speaker->cell_y + r,
                      [&](uint32_t rank) {
                        const view::EntityKey& key = frame.index.entity(rank).key;
                        if (key.kind != view::EntityKind::player) return;
                        auto client = client_of_player_.find(key.id);  // players only: no observers
                        if (client == client_of_player_.end()) return;
                        const Session* session = find_session(client->second);
                        if (session == nullptr || !session->welcomed) return;
                        if (key.id != speaker->id && !hears(*speaker, frame.index, rank)) {
                          counters_.chat_withheld += 1;
                          return;
                        }
                        send_reliable(client->second, scratch_);
                        counters_.chat_deliveries += 1;
                        deliveries += 1;
                      });
  }
  counters_.chat_deferred += chat_pending_.size() - relayed;
  chat_pending_.erase(chat_pending_.begin(), chat_pending_.begin() + static_cast<ptrdiff_t>(relayed));
}

// The snapshots' rule (aoi.cpp): an entity under a roof is hidden from a viewer who is not.
bool RegionalNode::hears(const ViewerState& speaker, const InterestIndex& index, uint32_t hearer_rank) {
  return !speaker.indoors || index.indoors(hearer_rank);
}

void RegionalNode::send_snapshots(std::shared_ptr<const TickFrame> frame) {
  const World& world = sim_->world();
  const uint32_t every = std::max<uint32_t>(1, options_.config.tick_rate_hz / options_.config.client_snapshot_rate_hz);
  std::vector<SnapshotJob> jobs;
  jobs.reserve(session_slot_.size());
  for (Session& session : sessions_) {
    const uint64_t client = session.client;
    if (client == 0 || session.observer || frame->viewer(raw(session.player)) == nullptr) continue;  // not joined (yet)
    if (!session.welcomed) {
      view::Welcome welcome{raw(session.player),    world.tick,        options_.config.tick_rate_hz,
                            options_.config.region, world.params.seed, world.params.chunks_x,
                            world.params.chunks_y};
      view::encode_welcome(welcome, scratch_);
      send_reliable(client, scratch_);
      session.welcomed = true;
    }
    if ((world.tick + client) % every != 0) continue;
    jobs.push_back(SnapshotJob{client, session.epoch, raw(session.player), session.acked_tick});
  }
  builders_->publish(std::move(frame), std::move(jobs));
}

void RegionalNode::flush(uint64_t now_us, net::DatagramSink& sink) {
  io_now_us_ = now_us;
  pump_outbound(now_us);
  net_.update(now_us);
  pump_inbound();
  net_.send_packets(now_us, sink);
  if (now_us >= next_stats_us_) {
    publish_net_stats();
    next_stats_us_ = now_us + 100'000;
  }
}

bool RegionalNode::shutdown(uint64_t now_us, net::DatagramSink& sink) {
  pump_outbound(now_us);
  for (const SessionInfo& c : std::vector<SessionInfo>(io_clients_))
    net_.disconnect(net::ClientId{c.client}, net::DisconnectReason::shutdown, now_us);
  net_.send_packets(now_us, sink);
  net_.update(now_us);
  pump_inbound();
  // The disconnections become leaves; the log ends on a snapshot. The tick's HLC reads the wall clock.
  const bool logged = tick(io_wall_us_.value_or(now_us), true);
  publish_net_stats();
  return logged;
}

}  // namespace strata::server
