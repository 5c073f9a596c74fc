// server/runtime.cpp — see runtime.h.
#include "server/runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "server/limits.h"
#include "server/metrics.h"
#include "server/region_link.h"
#include "server/status.h"
#include "server/threads.h"
#include "sim/assert.h"

namespace strata::server {

RuntimeConfig runtime_config(const ServerConfig& config) {
  RuntimeConfig out;
  out.tick_rate_hz = config.tick_rate_hz;
  out.net_loop_min_us = config.net_loop_min_us;
  out.net_thread_nice = static_cast<int>(config.net_thread_nice);
  return out;
}

Runtime::Runtime(const RuntimeConfig& config, const Clock& clock, std::unique_ptr<RegionalNode> node,
                 NetworkPort& network, Metrics* metrics, Status* status)
    : config_(config),
      clock_(clock),
      node_(std::move(node)),
      network_(network),
      metrics_(metrics),
      status_(status),
      period_us_(1'000'000 / std::max<uint32_t>(config.tick_rate_hz, 1)),
      start_us_(clock.monotonic_us()),
      next_tick_us_(start_us_),
      last_report_us_(start_us_) {
  STRATA_REQUIRE(node_ != nullptr);
  STRATA_REQUIRE(config.tick_rate_hz > 0, config.tick_rate_hz);
}

Runtime::~Runtime() = default;

bool Runtime::stopping() const {
  return stop_.load() || (config_.stop_signal != nullptr && config_.stop_signal->load());
}

bool Runtime::run_for_elapsed(uint64_t monotonic_us) const {
  return config_.run_for_us > 0 && monotonic_us - start_us_ >= config_.run_for_us;
}

RegionalNode& Runtime::node() {
  STRATA_REQUIRE(node_ != nullptr, "the node is closed");
  return *node_;
}

bool Runtime::step() {
  if (stopping() || stopped_) return false;
  const uint64_t now = clock_.monotonic_us();
  if (run_for_elapsed(now)) {
    request_stop();
    return false;
  }
  // The network side runs on monotonic time (timeouts survive a stepped wall clock); the node
  // reads the wall clock for token expiry, and its ticks get the wall reading for the HLC.
  node_->set_wall_clock_us(clock_.wall_us());
  network_.receive(*node_, now);
  if (now >= next_tick_us_ && !tick_once(now)) return false;
  const uint64_t after = clock_.monotonic_us();
  node_->flush(after, network_.sink());
  network_.send(*node_, after);
  pump_bus(after);
  return true;
}

void Runtime::pump_bus(uint64_t now_us) {
  if (bus_.link == nullptr) return;
  bus_.link->pump(*bus_.bus, now_us, node_->durable_tick());
  report_bus(now_us);
}

// The bus's logging listener: a line when the connection changes, and every report interval the
// traffic, the refusals (never one line per refused message: an attacker would fill the log) and
// each peer's lag and agreement.
void Runtime::report_bus(uint64_t now_us) {
  const BusState state = bus_.bus->state();
  if (state != bus_last_state_) {
    if (state == BusState::connected) {
      spdlog::info("bus: connected");
    } else {
      spdlog::warn("bus: {} (world batches wait, nothing is lost)", name(state));
    }
    bus_last_state_ = state;
  }
  if (now_us < bus_next_report_us_) return;
  bus_next_report_us_ = now_us + config_.report_interval_us;
  const RegionLinkStatus s = bus_.link->status();
  uint64_t refused = s.counters.refused_clock_ahead + s.counters.refused_wrong_channel;
  for (const uint64_t n : s.counters.refused_decode) refused += n;
  std::string peers;
  for (const PeerStatus& p : s.peers) {
    peers += fmt::format(" {}:lag={},{}", sim::raw(p.region), p.lag, name(p.agreement));
  }
  spdlog::info(
      "bus: {} batches ({} writes) published, {} held; {} batches ({} writes) consumed, {} duplicate; "
      "{} refused (+{}); {} desyncs; peers{}",
      s.counters.world_batches_published, s.counters.world_writes_published, s.world_held,
      s.counters.world_batches_consumed, s.counters.remote_writes_consumed, s.counters.consumed_duplicate, refused,
      refused - bus_last_refused_, s.counters.desyncs, peers);
  bus_last_refused_ = refused;
}

void Runtime::bus_loop() {
  name_this_thread("strata-bus");
  uint64_t next_maintain = clock_.monotonic_us() + bus_.maintain_every_us;
  while (!stopping()) {
    const uint64_t now = clock_.monotonic_us();
    pump_bus(now);
    if (bus_.maintain && now >= next_maintain) {
      bus_.maintain(now);
      next_maintain = now + bus_.maintain_every_us;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(bus_.pump_every_us));
  }
}

// After the final tick: its batch, and whatever the outbox still holds, to the stream.
void Runtime::drain_bus() {
  if (bus_.link == nullptr) return;
  const uint64_t until = clock_.monotonic_us() + bus_.drain_us;
  while (true) {
    const uint64_t now = clock_.monotonic_us();
    pump_bus(now);
    const RegionLinkStatus status = bus_.link->status();
    if (status.world_held == 0) break;
    if (now >= until) {
      spdlog::warn("stopping: {} world batches not acknowledged by the bus after {} ms", status.world_held,
                   bus_.drain_us / 1000);
      break;
    }
    if (dynamic_cast<const ManualClock*>(&clock_) != nullptr) break;  // simulated time does not pass here
    std::this_thread::sleep_for(std::chrono::microseconds(bus_.pump_every_us));
  }
}

void Runtime::run_until(ManualClock& clock, uint64_t until_us) {
  STRATA_REQUIRE(static_cast<const Clock*>(&clock) == &clock_, "run_until advances the runtime's own clock");
  while (step()) {
    const uint64_t now = clock.monotonic_us();
    if (now >= until_us) break;
    const uint64_t next = std::min(std::max(next_tick_us_, now + 1), until_us);
    clock.advance(next - now);
  }
}

bool Runtime::tick_once(uint64_t monotonic_us) {
  const uint64_t t0 = clock_.monotonic_us();
  const uint64_t cpu0 = clock_.thread_cpu_ns();
  if (!node_->tick(clock_.wall_us())) {
    spdlog::critical("the session log could not be written: stopping (tick {})", node_->simulation().tick() + 1);
    log_failed_.store(true);
    request_stop();
    return false;
  }
  ++ticks_;
  const uint64_t tick_us = clock_.monotonic_us() - t0;
  const uint64_t cpu_ns = clock_.thread_cpu_ns() - cpu0;
  next_tick_us_ += period_us_;
  // After a stall, no burst of ticks to catch up: the next one is a period from now.
  if (monotonic_us > next_tick_us_ + limits::tick_catch_up_periods_max * period_us_)
    next_tick_us_ = monotonic_us + period_us_;
  after_tick(monotonic_us, tick_us, cpu_ns);
  return true;
}

void Runtime::after_tick(uint64_t monotonic_us, uint64_t tick_us, uint64_t cpu_ns) {
  const RegionalNode& node = *node_;
  const auto& world = node.simulation().world();
  const double seconds = static_cast<double>(tick_us) / 1e6;
  tick_stats_.record(static_cast<double>(tick_us) / 1e3, static_cast<double>(cpu_ns) / 1e6, node.last_tick_phases());
  if (metrics_ != nullptr) {
    metrics_->observe_tick(seconds, tick_us > period_us_);
    metrics_->set_tick(world.tick);
    metrics_->set_players(node.sessions());
  }
  if (status_ != nullptr) {
    publish_counters();
    if (world.tick % config_.status_interval_ticks == 0) publish_status();
  }
  for (TickObserver* observer : tick_observers_) observer->after_tick(node);
  if (monotonic_us - last_report_us_ >= config_.report_interval_us) {
    spdlog::info("tick {}: {} sessions, {} players, last tick {:.3f} ms, quick_hash {:016x}", world.tick,
                 node.sessions(), world.players.size(), seconds * 1e3, node.simulation().quick_hash());
    last_report_us_ = monotonic_us;
  }
}

void Runtime::publish_counters() {
  CounterSnapshot counters;
  counters.node = node_->counters();
  counters.deferrals = node_->scheduler().deferrals();
  counters.inputs = node_->scheduler().counters();
  const RegionalNode::NetCounters net = node_->net_counters();
  counters.net = net.handshake;
  counters.drops = net.drops;
  // Read after the node's counters: what was sent was built before, so the JSON's sums add up.
  const SnapshotBuilderCounters builders = node_->snapshot_builders();
  std::lock_guard lock(status_->mutex);
  status_->counters = counters;
  status_->builders = builders;
}

void Runtime::publish_status() {
  const RegionalNode& node = *node_;
  const auto& world = node.simulation().world();
  const auto tick_summary = tick_stats_.summary();
  const RegionalNode::NetStats sessions = node.net_stats();  // copied outside the status lock
  std::vector<std::array<int64_t, 3>> cells;
  cells.reserve(world.players.size());
  for (const sim::Player& p : world.players)
    cells.push_back({static_cast<int64_t>(sim::raw(p.id)), p.pos.x.tile(), p.pos.y.tile()});
  Status& status = *status_;
  std::lock_guard lock(status.mutex);
  if (tick_summary) publish(*tick_summary, status);
  status.ready = true;
  status.tick = world.tick;
  status.quick_hash = node.simulation().quick_hash();
  status.players = world.players.size();
  status.sessions = node.sessions();
  status.durable_tick = node.durable_tick();
  status.net_stats = sessions;
  status.player_cells = std::move(cells);
}

void Runtime::sim_loop() {
  name_this_thread("strata-sim");
  while (!stopping()) {
    const uint64_t now = clock_.monotonic_us();
    if (run_for_elapsed(now)) {
      request_stop();
      break;
    }
    if (now < next_tick_us_) {
      std::this_thread::sleep_for(std::chrono::microseconds(std::min<uint64_t>(next_tick_us_ - now, 5'000)));
      continue;
    }
    if (!tick_once(now)) break;
  }
}

void Runtime::network_loop() {
  // (This thread keeps the process's name, strata-server: renaming it would rename the process.)
  renice_this_thread(config_.net_thread_nice);
  uint64_t turn_start = clock_.monotonic_us();
  while (!stopping()) {
    network_.housekeeping(turn_start, status_);
    if (const uint64_t spent = clock_.monotonic_us() - turn_start; spent < config_.net_loop_min_us)
      std::this_thread::sleep_for(std::chrono::microseconds(config_.net_loop_min_us - spent));
    network_.wait(1'000);
    turn_start = clock_.monotonic_us();
    node_->set_wall_clock_us(clock_.wall_us());  // token expiry; everything else is monotonic
    network_.receive(*node_, turn_start);
    const uint64_t now = clock_.monotonic_us();
    node_->flush(now, network_.sink());
    network_.send(*node_, now);
  }
}

RuntimeStop Runtime::run() {
  STRATA_REQUIRE(!stopped_, "run() after stop()");
  // The sim thread never touches a socket: the node's inbox and outbox are its only contact with
  // the network thread.
  std::thread sim_thread([this] { sim_loop(); });
  std::thread bus_thread;
  if (bus_.link != nullptr) bus_thread = std::thread([this] { bus_loop(); });
  network_loop();
  sim_thread.join();
  if (bus_thread.joinable()) bus_thread.join();
  return stop();
}

RuntimeStop Runtime::stop() {
  if (stopped_) return result_;
  stopped_ = true;
  request_stop();
  RegionalNode& node = *node_;
  spdlog::info("stopping: telling {} clients, closing the session log at tick {}", node.sessions(),
               node.simulation().tick());
  result_.log_failed = log_failed_.load();
  node.set_wall_clock_us(clock_.wall_us());  // the final tick's HLC reads it
  result_.final_logged = node.shutdown(clock_.monotonic_us(), network_.sink());
  if (!result_.final_logged) spdlog::error("the final tick could not be logged");
  network_.send(node, clock_.monotonic_us());
  drain_bus();
  result_.final_tick = node.simulation().tick();
  result_.final_hash = node.simulation().full_hash();
  for (TickObserver* observer : tick_observers_) observer->at_stop(node);
  node_.reset();  // closes the log (flushes RocksDB)
  for (auto& stop_step : stop_steps_) stop_step();
  spdlog::info("strata-server: stopped at tick {}, full_hash {:016x}", result_.final_tick, result_.final_hash);
  return result_;
}

}  // namespace strata::server
