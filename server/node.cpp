// server/node.cpp — see node.h.
#include "server/node.h"

#include <filesystem>

#include "replay/replayer.h"
#include "replay/rocks_log.h"
#include "schema/codec.h"
#include "server/login.h"

namespace strata::server {

using namespace strata::sim;

namespace {

replay::LogConfig log_config(const ServerConfig& config) {
  replay::LogConfig log;
  log.full_hash_every = config.full_hash_every_ticks;
  log.snapshot_every = config.snapshot_every_ticks;
  log.wal_sync = config.log_sync_every_tick ? replay::WalSync::every_tick : replay::WalSync::none;
  return log;
}

uint64_t physical_ms(uint64_t now_us) { return now_us / 1000; }

}  // namespace

std::unique_ptr<RegionalNode> RegionalNode::create(const Options& options, std::string& error) {
  replay::Status status;
  std::unique_ptr<Simulation> sim;
  std::unique_ptr<replay::LogWriter> log;
  uint64_t recovered = 0;
  if (std::filesystem::exists(options.log_dir)) {
    // The writer opens first (RocksDB repairs a torn WAL tail to the last intact record), then the
    // world is rebuilt at the last tick, checking every recorded hash on the way.
    auto recovered_log = replay::recover(options.log_dir, log_config(options.config));
    if (!recovered_log.writer || !recovered_log.sim) {
      error = "cannot recover the log in " + options.log_dir + ": " + recovered_log.status.describe();
      return nullptr;
    }
    sim = std::make_unique<Simulation>(std::move(*recovered_log.sim));
    recovered = sim->tick();
    log = std::move(recovered_log.writer);
  } else {
    WorldParams params = options.config.world;
    params.region = RegionId{options.config.region};
    if (const char* problem = validate(params)) {
      error = std::string("world parameters: ") + problem;
      return nullptr;
    }
    sim = std::make_unique<Simulation>(params);
    log = replay::LogWriter::create(options.log_dir, sim->world(), log_config(options.config), status);
  }
  if (!log) {
    error = "cannot open the session log in " + options.log_dir + ": " + status.describe();
    return nullptr;
  }
  auto node = std::unique_ptr<RegionalNode>(new RegionalNode(options, std::move(sim), std::move(log)));
  node->recovered_from_tick_ = recovered;
  // Players of the recovered world have no session: they leave in the first tick.
  for (const Player& p : node->sim_->world().players) {
    const InputVerdict verdict = node->scheduler_.submit_system(LeaveCommand{p.id});
    (void)verdict;
  }
  return node;
}

RegionalNode::RegionalNode(const Options& options, std::unique_ptr<Simulation> sim,
                           std::unique_ptr<replay::LogWriter> log)
    : options_(options),
      net_(options.net),
      hlc_(options.config.hlc_max_offset_ms),
      scheduler_(options.config.inputs, RegionId{options.config.region}, hlc_),
      sim_(std::move(sim)),
      log_(std::move(log)) {
  AoiParams aoi;
  aoi.radius_cells = static_cast<int32_t>(options.config.aoi_radius_cells);
  aoi.near_cells = static_cast<int32_t>(options.config.aoi_near_cells);
  aoi.mid_cells = static_cast<int32_t>(options.config.aoi_mid_cells);
  builders_ = std::make_unique<SnapshotBuilders>(options.snapshot_threads, aoi, outbox_);
  const std::vector<CellChange> none;
  (void)frames_.publish(sim_->world(), none, sim_->quick_hash());  // checksums and mirror of the start
}

RegionalNode::~RegionalNode() {
  builders_.reset();  // joins the builder threads before the outbox they write goes
}

void RegionalNode::receive(net::TransportKind kind, const net::Address& from, std::span<const uint8_t> bytes,
                           uint64_t now_us, net::DatagramSink& sink) {
  net_.receive(kind, from, bytes, now_us, sink);
}

void RegionalNode::handle_events(uint64_t now_us) {
  net::ServerEvent event;
  while (net_.pop_event(event)) {
    const uint64_t client = static_cast<uint64_t>(event.client);
    if (event.kind == net::ServerEvent::Kind::connected) {
      // The token's client id is the player id the login assigned.
      if (client == 0 || client > limits::player_id_max) {
        net_.disconnect(event.client, net::DisconnectReason::kicked, now_us);
        continue;
      }
      const auto player = static_cast<uint32_t>(client);
      const net::UserData* user = net_.client_user_data(event.client);
      if (user != nullptr && (*user)[0] == Login::observer_flag) {
        Session observer;
        observer.player = PlayerId{player};
        observer.observer = true;
        sessions_[client] = std::move(observer);
        continue;
      }
      if (auto it = client_of_player_.find(player); it != client_of_player_.end() && it->second != client) {
        net_.disconnect(net::ClientId{it->second}, net::DisconnectReason::kicked, now_us);  // logged in again
        sessions_.erase(it->second);
        builders_->forget(it->second);
      }
      Session session;
      session.player = PlayerId{player};
      session.epoch = ++epochs_;
      sessions_[client] = std::move(session);
      client_of_player_[player] = client;
      const InputVerdict verdict = scheduler_.submit_system(JoinCommand{PlayerId{player}});
      (void)verdict;
      continue;
    }
    auto it = sessions_.find(client);
    if (it == sessions_.end()) continue;
    const PlayerId player = it->second.player;
    const bool observer = it->second.observer;
    sessions_.erase(it);
    builders_->forget(client);
    if (observer) continue;
    if (auto p = client_of_player_.find(raw(player)); p != client_of_player_.end() && p->second == client) {
      client_of_player_.erase(p);
      scheduler_.forget_player(player);
      const InputVerdict verdict = scheduler_.submit_system(LeaveCommand{player});
      (void)verdict;
    }
  }
}

void RegionalNode::handle_messages(net::ClientId client, Session& session) {
  net::Message message;
  while (net_.pop_message(client, message)) {
    auto decoded = view::decode_message(message.data);
    if (!decoded.message) {
      counters_.messages_refused[static_cast<size_t>(decoded.code)] += 1;
      continue;
    }
    const view::Message& m = *decoded.message;
    if (session.observer) continue;  // observers only listen
    switch (m.kind) {
      case view::MessageKind::inputs:
        for (const view::InputEntry& entry : m.inputs) {
          const InputVerdict verdict =
              scheduler_.submit_player(session.player, entry.seq, entry.tick, entry.command, sim_->tick() + 1);
          (void)verdict;  // counted by the scheduler
        }
        break;
      case view::MessageKind::ack:
        if (m.ack_tick <= sim_->tick()) session.acked_tick = std::max(session.acked_tick, m.ack_tick);
        break;
      case view::MessageKind::checksum_report: counters_.checksum_mismatches += 1; break;
      default: counters_.messages_refused[static_cast<size_t>(view::MessageError::unknown_kind)] += 1; break;
    }
  }
}

bool RegionalNode::tick(uint64_t now_us, bool final_snapshot) {
  handle_events(now_us);
  for (auto& [client, session] : sessions_) handle_messages(net::ClientId{client}, session);
  const uint64_t tick = sim_->tick() + 1;
  scheduler_.build(tick, physical_ms(now_us), input_);
  const Effects& effects = sim_->step(input_);
  if (const replay::Status status = log_->append(input_, *sim_, final_snapshot); !status.ok()) {
    counters_.log_failures += 1;
    return false;
  }
  counters_.ticks += 1;
  counters_.joins += effects.joined.size();
  counters_.leaves += effects.left.size();
  for (const Rejection& r : effects.rejections) counters_.rejected[static_cast<size_t>(r.reason)] += 1;
  send_snapshots(effects);
  send_observer_stream();
  return true;
}

// Observers get the world once (after the tick it was taken at), then every later tick's input and
// quick hash, on the reliable channel: they re-simulate the region in lockstep.
void RegionalNode::send_observer_stream() {
  bool any = false;
  for (const auto& [client, session] : sessions_) any = any || session.observer;
  if (!any) return;
  std::vector<uint8_t> input_bytes;
  schema::encode_tick_input(input_, input_bytes);
  view::encode_observer_tick(sim_->tick(), input_bytes, sim_->quick_hash(), scratch_);
  const std::vector<uint8_t> tick_message = scratch_;
  std::vector<uint8_t> world;
  for (auto& [client, session] : sessions_) {
    if (!session.observer) continue;
    if (!session.observer_started) {
      if (world.empty()) world = schema::encode_snapshot(sim_->world());
      const size_t parts = (world.size() + view::observer_part_bytes_max - 1) / view::observer_part_bytes_max;
      for (size_t i = 0; i < parts; ++i) {
        const size_t begin = i * view::observer_part_bytes_max;
        const size_t size = std::min(view::observer_part_bytes_max, world.size() - begin);
        view::encode_observer_part(static_cast<uint32_t>(i), static_cast<uint32_t>(parts),
                                   std::span(world).subspan(begin, size), scratch_);
        if (net_.send(net::ClientId{client}, net::Channel::reliable_ordered, scratch_) != net::SendResult::ok) {
          counters_.observer_send_failures += 1;
        }
      }
      session.observer_started = true;
      continue;
    }
    if (net_.send(net::ClientId{client}, net::Channel::reliable_ordered, tick_message) != net::SendResult::ok) {
      counters_.observer_send_failures += 1;
    }
  }
}

void RegionalNode::send_snapshots(const Effects& effects) {
  const World& world = sim_->world();
  auto frame = frames_.publish(world, effects.changed_cells, sim_->quick_hash());
  const uint32_t every = std::max<uint32_t>(1, options_.config.tick_rate_hz / options_.config.client_snapshot_rate_hz);
  std::vector<SnapshotJob> jobs;
  jobs.reserve(sessions_.size());
  for (auto& [client, session] : sessions_) {
    if (session.observer || frame->viewer(raw(session.player)) == nullptr) continue;  // not joined (yet)
    if (!session.welcomed) {
      view::Welcome welcome{raw(session.player),    world.tick,        options_.config.tick_rate_hz,
                            options_.config.region, world.params.seed, world.params.chunks_x,
                            world.params.chunks_y};
      view::encode_welcome(welcome, scratch_);
      if (net_.send(net::ClientId{client}, net::Channel::reliable_ordered, scratch_) == net::SendResult::ok) {
        session.welcomed = true;
      }
    }
    if ((world.tick + client) % every != 0) continue;
    jobs.push_back(SnapshotJob{client, session.epoch, raw(session.player), session.acked_tick});
  }
  builders_->publish(std::move(frame), std::move(jobs));
}

void RegionalNode::flush(uint64_t now_us, net::DatagramSink& sink) {
  outbox_.take(ready_);
  for (const BuiltSnapshot& s : ready_) {
    if (net_.send(net::ClientId{s.client}, net::Channel::unreliable_sequenced, s.bytes) == net::SendResult::ok) {
      counters_.snapshots_sent += 1;
      counters_.snapshot_bytes += s.bytes.size();
    } else {
      counters_.snapshots_not_sent += 1;
    }
  }
  net_.update(now_us);
  net_.send_packets(now_us, sink);
}

bool RegionalNode::shutdown(uint64_t now_us, net::DatagramSink& sink) {
  std::vector<uint64_t> clients;
  for (const auto& [client, session] : sessions_) clients.push_back(client);
  for (uint64_t client : clients) net_.disconnect(net::ClientId{client}, net::DisconnectReason::shutdown, now_us);
  net_.send_packets(now_us, sink);
  net_.update(now_us);
  return tick(now_us, true);  // the disconnections become leaves; the log ends on a snapshot
}

}  // namespace strata::server
