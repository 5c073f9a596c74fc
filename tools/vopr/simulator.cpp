// tools/vopr/simulator.cpp — see simulator.h. One class, Vopr, holds the simulated world: the
// node's runtime (its log behind a Store that knows what a crash keeps), the links, the endpoints
// and the invariant counters. Its step() is one 10 ms turn of every party; a tick's faults happen
// in before_tick(), its checks in after_node_tick().
#include "tools/vopr/simulator.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>

#include "net/client.h"
#include "net/limits.h"
#include "net/link_sim.h"
#include "net/random.h"
#include "net/sdk/game_client.h"
#include "net/sdk/observer.h"
#include "net/token.h"
#include "replay/memory_log.h"
#include "replay/replayer.h"
#include "server/clock.h"
#include "server/login.h"
#include "server/memory_bus.h"
#include "server/node.h"
#include "server/node_start.h"
#include "server/region_bus.h"
#include "server/region_link.h"
#include "server/runtime.h"
#include "sim/hash.h"
#include "sim/rng.h"
#include "tools/vopr/addresses.h"
#include "tools/vopr/hostile.h"
#include "tools/vopr/stores.h"

namespace strata::vopr {

namespace {

using server::RegionalNode;

constexpr uint64_t protocol_id = 0x5354524154410002ULL;
constexpr uint32_t token_timeout_s = 5;
constexpr size_t captured_max = 64;            // datagrams of each client kept for the replay attack
constexpr uint32_t observer_player = 50'000;   // the observer's login id
constexpr uint32_t peer_player_base = 60'000;  // the hostile peers' login ids
constexpr uint64_t wall_start_us = 1'700'000'000'000'000ULL;
constexpr uint64_t monotonic_start_us = 1'000'000;

using replay::CrashKind;

// Where the node's session log lives, and what a crash keeps of it: a memory disk (replay/
// memory_log.h) that outlives the node; a process crash keeps every tick written, a machine crash
// only the synced ones. The log it opens is the node's; its fault hooks are reached through log().
class Store {
 public:
  [[nodiscard]] std::unique_ptr<RegionalNode> open(const RegionalNode::Options& options, std::string& error) {
    std::optional<server::MemoryNodeStart> start = server::open_memory_start(options.config, disk_, error);
    if (!start) return nullptr;
    auto node = RegionalNode::create(options, std::move(start->start), error);
    memory_ = node ? start->memory : nullptr;
    return node;
  }
  // The tick recovery must come back to after a crash of `kind` now.
  [[nodiscard]] uint64_t kept_tick(CrashKind kind) const {
    return kind == CrashKind::process ? disk_.last_written() : disk_.last_synced();
  }
  void crash(CrashKind kind) {  // before the node is destroyed (its log is detached)
    disk_.crash(kind);
    memory_ = nullptr;
  }
  void closed() { memory_ = nullptr; }
  [[nodiscard]] replay::MemorySessionLog* log() { return memory_; }
  [[nodiscard]] std::unique_ptr<replay::LogSource> source() const { return disk_.source(); }
  [[nodiscard]] replay::ReplayResult replay(const replay::ReplayOptions& options) const {
    std::unique_ptr<replay::LogSource> source = disk_.source();
    return replay::replay(*source, options);
  }

 private:
  replay::MemoryDisk disk_;
  replay::MemorySessionLog* memory_ = nullptr;  // owned by the node
};

// Real time spent inside the node's calls (a figure for stderr, never part of the run's output).
class NodeTimer {
 public:
  explicit NodeTimer(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~NodeTimer() { total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  NodeTimer(const NodeTimer&) = delete;
  NodeTimer& operator=(const NodeTimer&) = delete;

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
};

struct TickHashes {
  uint64_t quick = 0;
  uint64_t full = 0;
};

class Vopr;

class Sink final : public net::DatagramSink {
 public:
  Sink(Vopr& vopr, net::Address from) : vopr_(vopr), from_(from) {}
  void send_datagram(net::TransportKind, const net::Address& to, std::span<const uint8_t> data) override;

 private:
  Vopr& vopr_;
  net::Address from_;
};

// The node's side of the network, as the runtime sees it (server/runtime.h): receive() hands the
// node what the up link delivers now; what the node writes is held until send() puts it on the
// down link (a crash between the two loses it, as a process that dies before its sendmmsg).
class VoprNetwork final : public server::NetworkPort, public net::DatagramSink {
 public:
  explicit VoprNetwork(Vopr& vopr) : vopr_(vopr) {}
  void receive(RegionalNode& node, uint64_t now_us) override;
  [[nodiscard]] net::DatagramSink& sink() override { return *this; }
  void send(RegionalNode& node, uint64_t now_us) override;
  void send_datagram(net::TransportKind, const net::Address& to, std::span<const uint8_t> data) override {
    held_.push_back(Held{to, std::vector<uint8_t>(data.begin(), data.end())});
  }
  bool drop_sends = false;  // the planned crash falls between this turn's flush and its sends

 private:
  struct Held {
    net::Address to;
    std::vector<uint8_t> data;
  };
  Vopr& vopr_;
  std::vector<Held> held_;
};

struct ClientSlot {
  std::unique_ptr<sdk::GameClient> game;
  std::unique_ptr<Sink> sink;
  uint64_t generation = 0;  // the node incarnation it connected to (0: not connected yet)
  bool away = false;        // left on purpose (churn)
  uint64_t rejoin_at = 0;
  uint64_t partitioned_until = 0;  // vopr tick the partition heals (0: not partitioned)
  uint64_t clock_offset_us = 0;    // its clock's forward jumps
  uint64_t sessions = 0;
  uint64_t session_tick = 0;  // the node's tick when this session connected
  // ... and the previous session's: a session that takes over its player while the player is still
  // in the world (the node had not timed the last one out) continues its inputs' sequence numbers
  // (regions seed 15 with the store group: a partition's reconnect, then a crash).
  uint64_t previous_session_tick = 0;
  // Connected in the grace after a crash under a policy that does not promise the ticks a machine
  // crash loses: the handshake may have been the dead node's, whose in-flight snapshots show ticks
  // the log lost (seed 315 with the store group's churn). Its views newer than the durable tick or
  // of another world are the policy's losses, until its next session.
  bool tainted = false;
  uint32_t reported_seq = 0;  // the newest input a snapshot said was processed ...
  uint64_t reported_by = 0;   // ... by this tick at the latest
  sdk::GameClientStats past;  // of its earlier sessions
  sdk::PredictionStats past_prediction;
  std::vector<std::vector<uint8_t>> captured;  // its last datagrams (ring), for the replay attack
  size_t captured_next = 0;
};

struct ObserverSlot {
  std::unique_ptr<sdk::Observer> observer;
  std::unique_ptr<Sink> sink;
  uint64_t generation = 0;
  uint64_t sessions = 0;
  sdk::ObserverStats past;
};

struct Obligation {  // a client must converge by `deadline`
  size_t client = 0;
  uint64_t from_tick = 0;  // node tick its view must reach
  uint64_t deadline = 0;   // vopr tick
};

enum Inv : size_t {
  inv_assertions,
  inv_client_checksums,
  inv_client_world_hash,
  inv_observer,
  inv_replay,
  inv_recovery,
  inv_durability,
  inv_convergence,
  inv_inputs_logged,
  inv_store_acked,
  inv_store_returns,
  inv_store_versions,
  inv_count
};

// One region of a --regions N run: where it sits in the cluster, the stream every region's bus
// connects to, and the bus's weather.
struct RegionSetup {
  size_t index = 0;  // region index + 1 is its RegionId
  size_t count = 1;
  uint64_t world_seed = 0;  // the cluster's: every region holds the same map
  server::MemoryStream* stream = nullptr;
  const BusPlan* bus = nullptr;
};

class Vopr {
 public:
  // `region`: null for the single node (issue 14's run, unchanged); else one region of a cluster.
  Vopr(const Plan& plan, const RunShape& shape, server::ManualClock& clock, const RegionSetup* region);
  RunResult run();

  // The cluster's driver (run_cluster): the same run as run(), in pieces, the clock advanced by it.
  void begin();
  void turn();  // one 10 ms turn after the clock moved
  RunResult end();
  [[nodiscard]] bool ok() const { return result_.ok; }
  [[nodiscard]] uint64_t ticks() const { return ticks_; }
  [[nodiscard]] const std::string& violation() const { return result_.violation; }
  void set_playing(bool playing) { playing_ = playing; }
  void partition_bus(uint64_t until_tick);
  [[nodiscard]] bool running() const { return runtime_ != nullptr; }
  [[nodiscard]] std::optional<server::RegionLinkStatus> link_status() const {
    return link_ ? std::optional(link_->status()) : std::nullopt;
  }
  [[nodiscard]] uint64_t map_hash() { return sim::map_hash(node().simulation().world()); }
  [[nodiscard]] uint64_t node_tick() { return node().simulation().tick(); }
  // Desyncs the region's link reported since the last call.
  [[nodiscard]] std::vector<std::string> take_desyncs() { return std::exchange(desyncs_, {}); }
  // Figures of the bus side, summed over the region's incarnations.
  struct BusFigures {
    server::BusCounters bus;
    uint64_t health_agree = 0, desyncs = 0, world_batches_published = 0, world_batches_consumed = 0;
    uint64_t remote_writes_consumed = 0, republished = 0, duplicates_dropped = 0, refused = 0, clock_ahead = 0;
    uint64_t partitions = 0, heals = 0;
    uint64_t health_judged_at_vector = 0, health_too_old = 0, health_superseded = 0, health_own_order = 0;
  };
  [[nodiscard]] BusFigures bus_figures() const;
  [[nodiscard]] uint64_t bus_heals() const { return bus_past_.heals; }

  void up(const net::Address& from, const net::Address& to, std::span<const uint8_t> data);
  void down(const net::Address& to, std::span<const uint8_t> data) {
    down_.send(clock_.monotonic_us(), server_address(), to, data);
  }
  // The up link's datagrams due now, to the node (the runtime's receive turn).
  void receive_up(RegionalNode& node, uint64_t now_us);
  void drop_up();  // ... while the node is down

 private:
  [[nodiscard]] uint64_t client_now(const ClientSlot& slot) const { return client_base() + slot.clock_offset_us; }
  [[nodiscard]] uint64_t client_base() const { return clock_.monotonic_us() - monotonic_start_us + wall_start_us; }
  void violate(Inv inv, const std::string& detail);
  void check(Inv inv, bool ok, const std::string& detail) {
    result_.invariants[inv].checks += 1;
    if (!ok) violate(inv, detail);
  }

  RegionalNode::Options node_options() const;
  void open_node();
  void step();
  void before_tick();
  void run_turn(bool tick_due);
  void after_node_tick();
  [[nodiscard]] RegionalNode& node() { return runtime_->node(); }
  void apply(const Fault& fault);
  void apply_client_fault(const Fault& fault, size_t client);
  void apply_log_fault(const Fault& fault);
  void end_faults();
  void apply_log_faults();
  void crash(CrashKind kind, const char* why);
  // The planned crash, when it is due at `phase` (0 before the tick, 1 before the sends, 2 after).
  void crash_if_planned(uint32_t phase) {
    if (pending_crash_ && pending_crash_->phase == phase)
      crash(pending_crash_->amount == 0 ? CrashKind::process : CrashKind::machine, "plan");
  }
  void restart();
  void deliver();  // the down link's datagrams due now, to the clients, the observer and the peers
  void update_clients();
  void connect_client(size_t i);
  void retire_client(ClientSlot& slot);
  void connect_observer();
  void behave(ClientSlot& slot);
  std::optional<net::ConnectToken> mint(uint32_t id, uint64_t now_us, bool observer);
  void check_durability();
  void check_tick();
  void check_inputs_logged(const char* when);
  void check_convergence();
  void check_stores(bool tick_logged);
  void check_final_saves();
  void oblige(size_t client, uint64_t from_tick);
  void finish();
  void stats();

  Plan plan_;
  RunShape shape_;
  RunResult result_;
  server::ManualClock& clock_;
  const RegionSetup* region_;  // null: the single node
  sim::Rng behaviour_;
  net::Key key_{};
  net::LinkSim up_;
  net::LinkSim down_;
  VoprNetwork network_{*this};
  net::DeterministicRandom login_random_;                  // the login's side: token keys and nonces
  std::unique_ptr<net::DeterministicRandom> node_random_;  // the node's, one per incarnation
  Store store_;
  // The node's stores (issue 16): twins that outlive the node, a StorageService per incarnation.
  VoprStores stores_;
  server::PlayerSaves* saves_ = &stores_;
  std::set<uint32_t> present_;                // the players in the node's world after its last tick
  std::unique_ptr<server::Runtime> runtime_;  // owns the node; null while the node is down
  uint64_t generation_ = 1;                   // node incarnations
  uint64_t restart_at_ = 0;                   // vopr tick the node comes back (while down)
  std::optional<Fault> pending_crash_;
  uint64_t next_tick_us_ = monotonic_start_us;
  uint64_t ticks_ = 0;  // vopr ticks so far
  size_t next_fault_ = 0;
  std::vector<TickHashes> hashes_;  // the node's world at each tick of the current timeline
  std::vector<ClientSlot> clients_;
  ObserverSlot observer_;
  HostilePeers hostile_;
  std::vector<Obligation> obligations_;
  uint64_t storms_ = 0;
  uint64_t storm_until_ = 0;
  uint64_t log_slow_until_ = 0;  // vopr ticks: the log faults in force (re-applied to a restarted node's log)
  uint64_t log_slow_lag_ = 0;
  uint64_t log_stuck_until_ = 0;
  // --regions N: this region's bus connection and link (one per node incarnation: a crash loses
  // both; the stream, shared, keeps what reached it).
  std::unique_ptr<server::MemoryBus> bus_;
  std::unique_ptr<server::LogOwnWrites> own_writes_;  // the link's log (outlives link_)
  std::unique_ptr<server::RegionLink> link_;
  bool playing_ = true;                 // the clients build and break (false: the cluster's quiet phase)
  uint64_t bus_partitioned_until_ = 0;  // vopr tick (0: connected)
  std::vector<std::string> desyncs_;
  BusFigures bus_past_;  // of earlier incarnations
  void open_link();
  void close_link();
  // Figures.
  uint64_t crashes_ = 0, machine_crashes_ = 0, log_failures_ = 0, log_faults_ = 0, reconnects_ = 0;
  uint64_t partition_drops_ = 0, down_drops_ = 0;
  uint64_t policy_losses_ = 0, seen_max_ = 0, open_at_end_ = 0;
  // Until then (monotonic us) a handshake that completes may have completed with the dead node:
  // the datagrams it sent still arrive, and under a policy that does not promise its ticks they may
  // show a lost timeline (ClientSlot::tainted).
  uint64_t policy_grace_until_us_ = 0;
  net::DropCounters drops_;  // the netchannel's, summed over the node's incarnations
  void add_drops() {
    const net::DropCounters d = node().net_server().total_drops();
    for (size_t i = 0; i < net::drop_reason_count; ++i) drops_.by_reason[i] += d.by_reason[i];
  }
};

void Sink::send_datagram(net::TransportKind, const net::Address& to, std::span<const uint8_t> data) {
  vopr_.up(from_, to, data);
}
void VoprNetwork::receive(RegionalNode& node, uint64_t now_us) { vopr_.receive_up(node, now_us); }

void VoprNetwork::send(RegionalNode&, uint64_t) {
  if (!drop_sends) {
    for (const Held& h : held_) vopr_.down(h.to, h.data);
  }
  held_.clear();
}

Vopr::Vopr(const Plan& plan, const RunShape& shape, server::ManualClock& clock, const RegionSetup* region)
    : plan_(plan),
      shape_(shape),
      clock_(clock),
      region_(region),
      behaviour_(sim::Rng::seeded(plan.seed, 7)),
      up_(plan.link, sim::mix64(plan.seed + 1)),
      down_(plan.link, sim::mix64(plan.seed + 2)),
      login_random_(sim::mix64(plan.seed + 3)),
      hostile_(
          sim::mix64(plan.seed + 4),
          [this](const net::Address& from, std::span<const uint8_t> data) {
            up_.send(clock_.monotonic_us(), from, server_address(), data);
          },
          [this](size_t client) -> const std::vector<std::vector<uint8_t>>& { return clients_[client].captured; }) {
  key_ = login_random_.key();
  const char* names[inv_count] = {"assertions",    "client_checksums", "client_world_hash", "observer",
                                  "replay",        "recovery",         "durability",        "convergence",
                                  "inputs_logged", "store_acked",      "store_returns",     "store_versions"};
  const char* whats[inv_count] = {"node ticks run with no assertion fired",
                                  "snapshots reconstructed and verified by the SDK (AOI checksum)",
                                  "client views whose world hash equals the node's at that tick",
                                  "observer ticks re-simulated with the node's hash",
                                  "log ticks replayed bit-exact, hashes equal to the run's",
                                  "crashes whose recovered world equals the world at the kept tick",
                                  "client/observer views no newer than the durable log",
                                  "clients converged within the bound after a heal, rejoin or restart",
                                  "inputs reported processed found in the log a crash or the end kept",
                                  "acknowledged saves still in the store, durable_sequence = acknowledged writes",
                                  "joins whose logged save is the state the player left with",
                                  "saves offered again unchanged, new saves versioned above the older"};
  for (size_t i = 0; i < inv_count; ++i) result_.invariants.push_back(Invariant{names[i], 0, whats[i], 0});
  clients_.resize(shape.clients);
  for (size_t i = 0; i < clients_.size(); ++i) clients_[i].sink = std::make_unique<Sink>(*this, client_address(i));
}

void Vopr::violate(Inv inv, const std::string& detail) {
  if (!result_.ok) return;  // the first violation stops the run
  result_.invariants[inv].violations += 1;
  result_.ok = false;
  result_.violation = "invariant=" + result_.invariants[inv].name + " tick=" + std::to_string(ticks_) +
                      " node_tick=" + std::to_string(hashes_.empty() ? 0 : hashes_.size() - 1) + " " + detail;
}

RegionalNode::Options Vopr::node_options() const {
  RegionalNode::Options options;
  options.config.world.seed = region_ ? region_->world_seed : plan_.seed;
  options.config.world.chunks_x = 4;
  options.config.world.chunks_y = 4;
  options.config.world.npc_count = 12;
  options.config.snapshot_every_ticks = 200;
  options.config.full_hash_every_ticks = 20;
  options.config.aoi_radius_cells = 16;
  options.config.log_sync = plan_.log_sync;
  options.net = net::default_server_config();
  // Room for every client, the observer and the hostile peers (a full server is not a fault here).
  options.net.max_clients = std::min(net::clients_max, shape_.clients + 64);
  options.net.protocol_id = protocol_id;
  options.net.public_address = server_address();
  options.net.private_key = key_;
  options.clock = &clock_;
  options.random = node_random_.get();
  options.snapshot_threads = 0;
  options.observer_encode_thread = false;
  options.player_saves = saves_;
  if (region_) {
    // N vertical stripes of chunks, one per region: random ticks and NPCs run in their owner only.
    // No random ticks (they never stop writing: the quiet phase would never drain); the clients'
    // writes are the replicated traffic.
    sim::WorldParams& world = options.config.world;
    const auto n = static_cast<int32_t>(region_->count);
    world.chunks_x = std::max<int32_t>(4, n);
    world.random_ticks_per_chunk = 0;
    world.region_map.mode = sim::Ownership::by_map;
    world.region_map.fallback = sim::RegionId{1};
    for (int32_t r = 0; r < n; ++r) {
      const int32_t x0 = r * world.chunks_x / n;
      const int32_t x1 = (r + 1) * world.chunks_x / n;
      world.region_map.rects.push_back(
          sim::RegionRect{x0, 0, x1 - x0, world.chunks_y, sim::RegionId{static_cast<uint16_t>(r + 1)}});
    }
    options.config.region = static_cast<uint16_t>(region_->index + 1);
    options.link = link_.get();
  }
  return options;
}

void Vopr::open_node() {
  std::string error;
  node_random_ = std::make_unique<net::DeterministicRandom>(sim::mix64(plan_.seed * 31 + generation_));
  if (region_) open_link();
  stores_.open(node_options().config, clock_.wall_us());
  std::unique_ptr<RegionalNode> opened = store_.open(node_options(), error);
  if (!opened) {
    violate(inv_recovery, "the node did not open: " + error);
    stores_.crash(0, false, false);
    close_link();
    return;
  }
  server::RuntimeConfig config = server::runtime_config(node_options().config);
  config.report_interval_us = UINT64_MAX / 2;  // no "tick N" log lines
  runtime_ = std::make_unique<server::Runtime>(config, clock_, std::move(opened), network_, nullptr, nullptr);
  // As main() does: the session's start and the map's baseline before the first tick.
  stores_.start(node().simulation().world());
  runtime_->add_tick_observer(*stores_.service());
  present_.clear();
  for (const sim::Player& p : node().simulation().world().players) present_.insert(sim::raw(p.id));
  if (region_) {
    // As main() does: the link reads back from the log what it does not hold (the recovered
    // ticks after our last stored batch; batches let go during a long partition).
    own_writes_ = std::make_unique<server::LogOwnWrites>([this](replay::Status&) { return store_.source(); });
    link_->use_log(own_writes_.get(), node().recovered_from_tick());
    link_->start(*bus_, node().simulation().world(), clock_.monotonic_us());
    runtime_->attach_bus(server::RuntimeBus{bus_.get(), link_.get(), {}});
  }
  if (hashes_.empty()) hashes_.push_back(TickHashes{node().simulation().quick_hash(), node().simulation().full_hash()});
}

// --- the run ---------------------------------------------------------------------------------

RunResult Vopr::run() {
  begin();
  while (result_.ok && ticks_ < shape_.ticks) step();
  return end();
}

void Vopr::begin() {
  open_node();
  for (size_t i = 0; i < clients_.size(); ++i) {
    connect_client(i);
    oblige(i, 1);
  }
  connect_observer();
}

RunResult Vopr::end() {
  if (result_.ok) finish();
  result_.ticks_run = ticks_;
  result_.simulated_us = clock_.monotonic_us() - monotonic_start_us;
  stats();
  return result_;
}

// One 10 ms turn: the clients hear the node, the plan's faults of a new tick happen, the hostile
// peers send, the runtime takes its turn (receive, tick when due, flush, send), the clients send.
void Vopr::step() {
  clock_.advance(step_us);
  turn();
}

void Vopr::turn() {
  deliver();
  check_durability();
  const bool tick_due = clock_.monotonic_us() >= next_tick_us_;
  if (tick_due) {
    next_tick_us_ += tick_us;
    before_tick();
  }
  hostile_.turn(ticks_, hashes_.size(), tick_us / step_us);
  if (runtime_) {
    run_turn(tick_due);
    stores_.pump();  // the store workers' turn, on this thread
  } else {
    drop_up();  // the node is down: what arrives is lost
  }
  crash_if_planned(2);
  if (tick_due) ticks_ += 1;
  update_clients();
}

void Vopr::before_tick() {
  end_faults();
  stores_.end_faults(ticks_);
  while (next_fault_ < plan_.faults.size() && plan_.faults[next_fault_].tick <= ticks_)
    apply(plan_.faults[next_fault_++]);
  crash_if_planned(0);
  if (!runtime_ && ticks_ >= restart_at_) restart();
}

void Vopr::run_turn(bool tick_due) {
  const uint64_t ticks_before = runtime_->ticks();
  network_.drop_sends = tick_due && pending_crash_ && pending_crash_->phase == 1;
  bool alive = false;
  {
    const NodeTimer timer(result_.node_real_s);
    alive = runtime_->step();
  }
  if (!alive) {  // the log refused a tick: the runtime stopped the node, which is restarted
    network_.drop_sends = false;
    log_failures_ += 1;
    crash(CrashKind::process, "log failure");
    return;
  }
  if (runtime_->ticks() != ticks_before) after_node_tick();
  if (network_.drop_sends) crash_if_planned(1);
  network_.drop_sends = false;
}

void Vopr::after_node_tick() {
  result_.invariants[inv_assertions].checks += 1;
  const sim::Simulation& sim = node().simulation();
  hashes_.resize(sim.tick());
  hashes_.push_back(TickHashes{sim.quick_hash(), sim.full_hash()});
  for (ClientSlot& slot : clients_) behave(slot);
  check_tick();
  check_convergence();
  check_stores(true);
}

void Vopr::apply(const Fault& f) {
  switch (f.kind) {
    case FaultKind::link_storm: {
      net::LinkConfig storm = plan_.link;
      storm.loss = static_cast<double>(f.amount) / 1000.0;
      storm.latency_us += 100'000;
      storm.jitter_us += 50'000;
      storm.duplicate = 0.1;
      up_.set_config(storm);
      down_.set_config(storm);
      storms_ += 1;
      storm_until_ = std::max(storm_until_, ticks_ + f.duration);
      break;
    }
    case FaultKind::partition:
    case FaultKind::leave:
    case FaultKind::client_clock_jump: apply_client_fault(f, static_cast<size_t>(f.target)); break;
    case FaultKind::node_clock_jump: clock_.jump_wall(f.amount * 1000); break;
    case FaultKind::garbage:
    case FaultKind::replay:
    case FaultKind::flood:
    case FaultKind::bad_messages: {
      std::optional<net::ConnectToken> token;
      if (f.kind == FaultKind::flood || f.kind == FaultKind::bad_messages)
        token = mint(peer_player_base + static_cast<uint32_t>(next_fault_), client_base(), false);
      hostile_.start(f, ticks_ + f.duration, std::move(token), client_base());
      break;
    }
    case FaultKind::crash:
      if (runtime_) {
        pending_crash_ = f;
        restart_at_ = ticks_ + f.duration;
      }
      break;
    case FaultKind::log_slow:
    case FaultKind::log_stuck:
    case FaultKind::log_fail: apply_log_fault(f); break;
    case FaultKind::bus_partition: partition_bus(ticks_ + f.duration); break;  // (the cluster's plan)
    case FaultKind::store_outage:
    case FaultKind::store_restart:
      stores_.apply(f, ticks_);
      check_stores(false);
      break;
  }
}

// A partitioned or departed client owes no convergence until it is back (then it owes a new one).
void Vopr::apply_client_fault(const Fault& f, size_t client) {
  ClientSlot& slot = clients_[client];
  switch (f.kind) {
    case FaultKind::partition:
      slot.partitioned_until = std::max(slot.partitioned_until, ticks_ + f.duration);
      std::erase_if(obligations_, [&](const Obligation& o) { return o.client == client; });
      break;
    case FaultKind::leave:
      if (slot.away) break;
      if (slot.game) slot.game->disconnect(client_now(slot));
      slot.away = true;
      slot.rejoin_at = ticks_ + f.duration;
      std::erase_if(obligations_, [&](const Obligation& o) { return o.client == client; });
      break;
    case FaultKind::client_clock_jump:
      slot.clock_offset_us += static_cast<uint64_t>(f.amount) * 1000;
      if (!slot.away && slot.partitioned_until == 0) oblige(client, hashes_.size() - 1);
      break;
    default: break;
  }
}

void Vopr::apply_log_fault(const Fault& f) {
  replay::MemorySessionLog* log = store_.log();
  if (log == nullptr) return;  // the node is down
  log_faults_ += 1;
  if (f.kind == FaultKind::log_slow) {
    log_slow_until_ = std::max(log_slow_until_, ticks_ + f.duration);
    log_slow_lag_ = static_cast<uint64_t>(f.amount);
  } else if (f.kind == FaultKind::log_stuck) {
    log_stuck_until_ = std::max(log_stuck_until_, ticks_ + f.duration);
  } else if (f.amount == 1) {
    log->fail_next_sync();  // every append fails from then on (under background; no effect otherwise)
  } else {
    log->fail_append(log->last_tick() + 1, replay::Status::error(replay::Code::io, "vopr: a failing disk"));
  }
  apply_log_faults();
}

// The disk's weather on the node's log: a background fsync that lags or is held.
void Vopr::apply_log_faults() {
  replay::MemorySessionLog* log = store_.log();
  if (log == nullptr) return;
  log->set_sync_lag(ticks_ < log_slow_until_ ? log_slow_lag_ : 0);
  log->hold_sync(ticks_ < log_stuck_until_);
}

// Faults whose time is up: storms calm, partitions heal, leavers rejoin, hostile peers stop.
void Vopr::end_faults() {
  if ((log_slow_until_ != 0 && ticks_ >= log_slow_until_) || (log_stuck_until_ != 0 && ticks_ >= log_stuck_until_)) {
    if (ticks_ >= log_slow_until_) log_slow_until_ = 0;
    if (ticks_ >= log_stuck_until_) log_stuck_until_ = 0;
    apply_log_faults();
  }
  if (storms_ > 0 && ticks_ >= storm_until_) {
    storms_ = 0;
    up_.set_config(plan_.link);
    down_.set_config(plan_.link);
  }
  for (size_t i = 0; i < clients_.size(); ++i) {
    ClientSlot& slot = clients_[i];
    if (slot.partitioned_until != 0 && ticks_ >= slot.partitioned_until) {
      slot.partitioned_until = 0;
      if (!slot.away) oblige(i, hashes_.size() - 1);
    }
    if (slot.away && ticks_ >= slot.rejoin_at) {
      slot.away = false;
      connect_client(i);
      if (slot.partitioned_until == 0) oblige(i, hashes_.size() - 1);
    }
  }
  hostile_.end(ticks_, client_base());
  if (bus_partitioned_until_ != 0 && ticks_ >= bus_partitioned_until_) {
    bus_partitioned_until_ = 0;
    bus_past_.heals += 1;
    if (bus_) bus_->reconnect(clock_.monotonic_us());
  }
}

// The node dies where the plan says. What survives is the store's business; the invariant is that
// recovery comes back to exactly the kept tick, and (under a policy that promises it for this kind
// of crash) that nothing a client saw is lost.
void Vopr::crash(CrashKind kind, const char* why) {
  pending_crash_.reset();
  if (!runtime_) return;
  crashes_ += 1;
  machine_crashes_ += kind == CrashKind::machine ? 1 : 0;
  const uint64_t kept = store_.kept_tick(kind);
  add_drops();
  store_.crash(kind);
  runtime_.reset();  // without stop(): no shutdown tick, nothing more written
  close_link();      // the process's connection to the stream dies with it
  const bool promised = kind == CrashKind::process || plan_.log_sync == replay::WalSync::every_tick ||
                        plan_.log_sync == replay::WalSync::background;
  // The storage's queues die with the process; leaves after `kept` never happened. Under a policy
  // that does not promise the ticks a machine crash loses, the saves of those ticks may outlive
  // them in the store (the policy's documented risk, like the clients' views).
  stores_.crash(kept, !promised && kept + 1 < hashes_.size(), kind == CrashKind::machine);
  if (promised) check_inputs_logged(why);
  generation_ += 1;  // whoever connects from now on, even while the node is down, talks to the next one
  if (seen_max_ > kept) {
    if (promised) {
      violate(inv_durability, std::string("crash (") + why + "): a client saw tick " + std::to_string(seen_max_) +
                                  " but the log keeps only " + std::to_string(kept));
    } else {
      policy_losses_ += 1;  // the policy's documented risk (a machine crash under none / every_n_ticks)
    }
  }
  if (!promised) policy_grace_until_us_ = clock_.monotonic_us() + 2'000'000;  // beyond any link's delay
  seen_max_ = 0;
  hashes_.resize(kept + 1);
  if (restart_at_ < ticks_) restart_at_ = ticks_;
}

void Vopr::restart() {
  const uint64_t expected = hashes_.size() - 1;
  open_node();
  if (!runtime_) return;
  apply_log_faults();
  const sim::Simulation& sim = node().simulation();
  check(inv_recovery, node().recovered_from_tick() == expected && sim.full_hash() == hashes_[expected].full,
        "recovered tick " + std::to_string(node().recovered_from_tick()) + " (expected " + std::to_string(expected) +
            "), full hash " + std::to_string(sim.full_hash()) + " (expected " + std::to_string(hashes_[expected].full) +
            ")");
  for (Obligation& o : obligations_) {
    o.deadline = std::max(o.deadline, ticks_ + convergence_ticks_max);
    o.from_tick = std::min(o.from_tick, expected);
  }
  for (size_t i = 0; i < clients_.size(); ++i) {
    if (!clients_[i].away && clients_[i].partitioned_until == 0) oblige(i, expected);
  }
}

// --- the region's bus ------------------------------------------------------------------------

void Vopr::open_link() {
  const BusPlan& plan = *region_->bus;
  server::MemoryBusConfig config;
  config.latency_us = plan.latency_us;
  server::MemoryBusFaults faults;
  faults.seed = sim::mix64(plan_.seed * 131 + generation_);
  faults.ack_loss_per_mille = plan.ack_loss_per_mille;
  faults.publish_loss_per_mille = plan.publish_loss_per_mille;
  faults.delivery_loss_per_mille = plan.delivery_loss_per_mille;
  bus_ = std::make_unique<server::MemoryBus>(*region_->stream, config, faults);
  if (bus_partitioned_until_ != 0) bus_->disconnect();  // restarted while cut off: still cut off
  server::RegionLinkConfig link;
  link.region = sim::RegionId{static_cast<uint16_t>(region_->index + 1)};
  for (size_t r = 0; r < region_->count; ++r) link.regions.push_back(sim::RegionId{static_cast<uint16_t>(r + 1)});
  const server::ServerConfig& node_config = node_options().config;
  link.map_cells_x = node_config.world.chunks_x * sim::limits::chunk_size;
  link.map_cells_y = node_config.world.chunks_y * sim::limits::chunk_size;
  link.tick_rate_hz = node_config.tick_rate_hz;
  link.health_every_ms = 100;  // often: the quiet phase sees the vectors meet within a few ticks
  link_ = std::make_unique<server::RegionLink>(std::move(link));
  link_->set_on_desync([this](const server::Desync& d) {
    std::string vector;
    for (const schema::BusAppliedSeq& e : d.applied)
      vector += " " + std::to_string(sim::raw(e.origin)) + ":" + std::to_string(e.seq);
    desyncs_.push_back("region" + std::to_string(region_->index + 1) + " vs region" + std::to_string(sim::raw(d.peer)) +
                       ": our tick " + std::to_string(d.our_tick) + " map hash " + std::to_string(d.our_hash) +
                       ", peer tick " + std::to_string(d.peer_tick) + " map hash " + std::to_string(d.peer_hash) +
                       ", vector" + vector);
  });
}

void Vopr::close_link() {
  if (!link_) return;
  const BusFigures now = bus_figures();
  const BusFigures partitions = bus_past_;
  bus_past_ = now;  // the incarnation's figures become the past ones
  bus_past_.partitions = partitions.partitions;
  bus_past_.heals = partitions.heals;
  bus_->close();
  link_.reset();
  own_writes_.reset();
  bus_.reset();
}

void Vopr::partition_bus(uint64_t until_tick) {
  bus_partitioned_until_ = std::max(bus_partitioned_until_, until_tick);
  bus_past_.partitions += 1;
  if (bus_) bus_->disconnect();
}

Vopr::BusFigures Vopr::bus_figures() const {
  BusFigures f = bus_past_;
  if (!link_) return f;
  const server::RegionLinkStatus s = link_->status();
#define STRATA_VOPR_ADD_BUS(name, help) f.bus.name += s.bus.name;
  STRATA_BUS_COUNTERS(STRATA_VOPR_ADD_BUS)
#undef STRATA_VOPR_ADD_BUS
  f.health_agree += s.counters.health_agree;
  f.desyncs += s.counters.desyncs;
  f.health_judged_at_vector += s.counters.health_judged_at_vector;
  f.health_too_old += s.counters.health_unjudged_too_old;
  f.health_superseded += s.counters.health_unjudged_superseded;
  f.health_own_order += s.counters.health_unjudged_own_order;
  f.world_batches_published += s.counters.world_batches_published;
  f.world_batches_consumed += s.counters.world_batches_consumed;
  f.remote_writes_consumed += s.counters.remote_writes_consumed;
  f.republished += s.counters.world_republished_after_restart;
  f.duplicates_dropped += s.counters.consumed_duplicate;
  f.clock_ahead += s.counters.refused_clock_ahead;
  f.refused += s.counters.refused_wrong_channel + s.counters.world_overflow;
  for (const uint64_t n : s.counters.refused_decode) f.refused += n;
  return f;
}

// --- the network -----------------------------------------------------------------------------

void Vopr::up(const net::Address& from, const net::Address& to, std::span<const uint8_t> data) {
  if (from.ip[1] == 0) {  // a game client: partitions, and what the replay attack may resend
    ClientSlot& slot = clients_[static_cast<size_t>(from.ip[2]) << 8 | from.ip[3]];
    if (slot.partitioned_until != 0) {
      partition_drops_ += 1;
      return;
    }
    if (slot.captured.size() < captured_max) {
      slot.captured.emplace_back(data.begin(), data.end());
    } else {
      slot.captured[slot.captured_next].assign(data.begin(), data.end());
      slot.captured_next = (slot.captured_next + 1) % captured_max;
    }
  }
  up_.send(clock_.monotonic_us(), from, to, data);
}

void Vopr::receive_up(RegionalNode& node, uint64_t now_us) {
  net::SimDatagram d;
  while (up_.receive(clock_.monotonic_us(), d))
    node.receive(net::TransportKind::datagram, d.from, d.data, now_us, network_);
}

void Vopr::drop_up() {
  net::SimDatagram d;
  while (up_.receive(clock_.monotonic_us(), d)) down_drops_ += 1;
}

void Vopr::deliver() {
  const uint64_t now = clock_.monotonic_us();
  net::SimDatagram d;
  while (down_.receive(now, d)) {
    if (d.to.ip[1] == 0) {
      const size_t i = static_cast<size_t>(d.to.ip[2]) << 8 | d.to.ip[3];
      if (i >= clients_.size() || !clients_[i].game) continue;
      if (clients_[i].partitioned_until != 0) {
        partition_drops_ += 1;
        continue;
      }
      ClientSlot& slot = clients_[i];
      slot.game->receive(d.from, d.data, client_now(slot));
      // Tagged when the handshake completes: one begun before a crash may finish with the next node.
      if (slot.generation == 0 && slot.game->state() == net::ClientState::connected) {
        slot.generation = generation_;
        slot.tainted = clock_.monotonic_us() < policy_grace_until_us_;
        slot.previous_session_tick = slot.session_tick;
        slot.session_tick = hashes_.size() - 1;
        slot.reported_seq = 0;
      }
    } else if (d.to.ip[1] == 2) {
      if (observer_.observer && d.to == observer_address(observer_.sessions)) {
        observer_.observer->receive(d.from, d.data, client_base());
        if (observer_.generation == 0 && observer_.observer->state() == net::ClientState::connected)
          observer_.generation = generation_;
      }
    } else if (d.to.ip[1] == 3) {
      hostile_.receive(d.to, d.from, d.data, client_base());
    }
  }
}

std::optional<net::ConnectToken> Vopr::mint(uint32_t id, uint64_t now_us, bool observer) {
  net::ConnectTokenParams params;
  params.protocol_id = protocol_id;
  params.client_id = net::ClientId{id};
  params.expire_seconds = 600;
  params.timeout_seconds = token_timeout_s;
  params.server_addresses = {server_address()};
  if (observer) params.user_data[0] = server::Login::observer_flag;
  return net::mint_connect_token(params, key_, now_us / 1'000'000, login_random_);
}

void Vopr::retire_client(ClientSlot& slot) {
  if (!slot.game) return;
  const sdk::GameClientStats& s = slot.game->stats();
  if (s.checksum_mismatches != 0) {  // a session that ended between two ticks' checks
    violate(inv_client_checksums, "client" + std::to_string(&slot - clients_.data()) + " ended a session with " +
                                      std::to_string(s.checksum_mismatches) + " AOI checksum mismatches");
  }
  slot.past.snapshots_applied += s.snapshots_applied;
  slot.past.checksum_mismatches += s.checksum_mismatches;
  slot.past.snapshots_received += s.snapshots_received;
  slot.past.inputs_submitted += s.inputs_submitted;
  const sdk::PredictionStats& p = slot.game->prediction_stats();
  slot.past_prediction.checked += p.checked;
  slot.past_prediction.exact += p.exact;
  slot.game.reset();
}

void Vopr::connect_client(size_t i) {
  ClientSlot& slot = clients_[i];
  retire_client(slot);
  slot.sessions += 1;
  reconnects_ += slot.sessions > 1 ? 1 : 0;
  slot.game = std::make_unique<sdk::GameClient>(sdk::default_game_client_config());
  slot.generation = 0;  // set when connected
  slot.tainted = false;
  if (auto token = mint(static_cast<uint32_t>(i + 1), client_now(slot), false))
    (void)slot.game->connect(*token, client_now(slot));
}

void Vopr::connect_observer() {
  if (observer_.observer) {
    const sdk::ObserverStats& s = observer_.observer->stats();
    if (s.hash_mismatches != 0 || s.gaps != 0) {
      violate(inv_observer, "an observer session ended with " + std::to_string(s.hash_mismatches) +
                                " hash mismatches and " + std::to_string(s.gaps) + " gaps");
    }
    observer_.past.ticks_verified += s.ticks_verified;
    observer_.past.hash_mismatches += s.hash_mismatches;
    observer_.past.gaps += s.gaps;
  }
  observer_.sessions += 1;
  observer_.generation = 0;
  observer_.observer = std::make_unique<sdk::Observer>();
  observer_.sink = std::make_unique<Sink>(*this, observer_address(observer_.sessions));
  if (auto token = mint(observer_player, client_base(), true)) (void)observer_.observer->connect(*token, client_base());
}

void Vopr::update_clients() {
  for (size_t i = 0; i < clients_.size(); ++i) {
    ClientSlot& slot = clients_[i];
    if (!slot.game) continue;
    const net::ClientState state = slot.game->state();
    if (!slot.away && (state == net::ClientState::disconnected || state == net::ClientState::failed)) {
      connect_client(i);  // a game reconnects with a fresh token from its login
    }
    slot.game->update(client_now(slot));
    slot.game->send_packets(client_now(slot), *slot.sink);
  }
  const net::ClientState state = observer_.observer->state();
  if (state == net::ClientState::disconnected || state == net::ClientState::failed) connect_observer();
  observer_.observer->update(client_base());
  observer_.observer->send_packets(client_base(), *observer_.sink);
  hostile_.update(client_base());
}

// Wander, build, break and chat, as the node test's clients do.
void Vopr::behave(ClientSlot& slot) {
  if (!playing_ || !slot.game || slot.away || !slot.game->welcome() || slot.game->view() == nullptr) return;
  sdk::GameClient& c = *slot.game;
  const uint64_t now = client_now(slot);
  const uint32_t roll = behaviour_.below(100);
  if (roll < 8) {
    c.submit(sim::MoveCommand{{},
                              0,
                              static_cast<sim::Direction>(behaviour_.below(9)),
                              behaviour_.below(4) == 0 ? sim::MoveMode::run : sim::MoveMode::walk},
             now);
  } else if (roll < 11) {
    const view::EntityKey me{view::EntityKind::player, 0, c.welcome()->player};
    for (const view::EntityState& e : c.view()->entities) {
      if (e.key != me) continue;
      const sim::CellPos cell{(e.x >> 8) + static_cast<int32_t>(behaviour_.below(5)) - 2,
                              (e.y >> 8) + static_cast<int32_t>(behaviour_.below(5)) - 2};
      if (roll < 10) {
        c.submit(sim::PlaceCommand{{}, 0, cell, sim::Layer::active, sim::to_underlying(sim::Block::wood_wall), {}},
                 now);
      } else {
        c.submit(sim::BreakCommand{{}, 0, cell, sim::Layer::active, {}}, now);
      }
    }
  } else if (roll == 11) {
    (void)c.say("hello from " + std::to_string(c.welcome()->player));
  }
}

// --- invariants ------------------------------------------------------------------------------

void Vopr::oblige(size_t client, uint64_t from_tick) {
  std::erase_if(obligations_, [&](const Obligation& o) { return o.client == client; });
  obligations_.push_back(Obligation{client, from_tick, ticks_ + convergence_ticks_max});
}

// Nothing derived from a tick reaches anyone before the log holds that tick under its policy:
// checked after every delivery, so a view is compared with the durable tick of the moment it arrived.
void Vopr::check_durability() {
  if (!runtime_) return;
  const uint64_t durable = node().durable_tick();
  for (size_t i = 0; i < clients_.size(); ++i) {
    const ClientSlot& slot = clients_[i];
    if (!slot.game || slot.generation != generation_) continue;
    const sdk::GameClient& game = *slot.game;
    const uint64_t heard = game.chat().empty() ? 0 : game.chat().back().tick;  // a chat line names its tick
    const uint64_t seen = std::max({game.newest_tick(), game.welcome() ? game.welcome()->tick : 0, heard});
    if (seen == 0) continue;
    seen_max_ = std::max(seen_max_, seen);
    if (seen > durable && slot.tainted) {
      policy_losses_ += 1;
      continue;
    }
    check(inv_durability, seen <= durable,
          "client" + std::to_string(i) + " saw tick " + std::to_string(seen) + ", durable " + std::to_string(durable));
  }
  if (observer_.generation == generation_ && observer_.observer->simulation() != nullptr) {
    const uint64_t seen = observer_.observer->simulation()->tick();
    seen_max_ = std::max(seen_max_, seen);
    check(inv_durability, seen <= durable,
          "the observer is at tick " + std::to_string(seen) + ", durable " + std::to_string(durable));
  }
}

// DESIGN.md's promise read literally: an input a snapshot told its client was processed is in the
// log that survives (a crash the fsync policy covers, or the clean stop): a command of that player
// with that sequence, at or before the snapshot's tick and after its session (or, for a takeover,
// the previous one) began.
void Vopr::check_inputs_logged(const char* when) {
  const std::unique_ptr<replay::LogSource> log = store_.source();
  schema::TickRecord record;
  for (size_t i = 0; i < clients_.size(); ++i) {
    const ClientSlot& slot = clients_[i];
    if (slot.generation != generation_ || slot.reported_seq == 0) continue;
    const auto player = static_cast<uint32_t>(i + 1);
    bool found = false;
    const uint64_t since = std::min(slot.session_tick, slot.previous_session_tick);
    for (uint64_t t = std::min(slot.reported_by, log->last_tick()); t > since && !found; --t) {
      if (!log->read_tick(t, record).ok()) break;
      for (const sim::Command& command : record.input.commands) {
        found = found || std::visit(
                             [&](const auto& c) {
                               if constexpr (requires { c.seq; })
                                 return sim::raw(c.player) == player && c.seq == slot.reported_seq;
                               return false;
                             },
                             command);
      }
    }
    check(inv_inputs_logged, found,
          std::string(when) + ": client" + std::to_string(i) + "'s input " + std::to_string(slot.reported_seq) +
              ", reported processed by tick " + std::to_string(slot.reported_by) + ", is not in the log (last tick " +
              std::to_string(log->last_tick()) + ")");
  }
}

void Vopr::check_tick() {
  for (size_t i = 0; i < clients_.size(); ++i) {
    ClientSlot& slot = clients_[i];
    if (!slot.game || slot.generation != generation_ || slot.game->newest_tick() == 0) continue;
    const uint64_t t = slot.game->newest_tick();
    if (slot.game->last_processed_seq() != slot.reported_seq) {
      slot.reported_seq = slot.game->last_processed_seq();
      slot.reported_by = t;
    }
    if (t >= hashes_.size()) continue;
    if (slot.game->last_world_quick_hash() != hashes_[t].quick && slot.tainted) {
      policy_losses_ += 1;  // a view of the lost timeline, from the dead node (see ClientSlot::tainted)
      continue;
    }
    check(inv_client_world_hash, slot.game->last_world_quick_hash() == hashes_[t].quick,
          "client" + std::to_string(i) + " world hash at tick " + std::to_string(t));
    check(inv_client_checksums, slot.game->stats().checksum_mismatches == 0,
          "client" + std::to_string(i) + " counted " + std::to_string(slot.game->stats().checksum_mismatches) +
              " AOI checksum mismatches");
  }
  const sdk::Observer& o = *observer_.observer;
  check(inv_observer, o.stats().hash_mismatches == 0 && o.stats().gaps == 0,
        "observer: " + std::to_string(o.stats().hash_mismatches) + " hash mismatches (first at tick " +
            std::to_string(o.stats().first_mismatch_tick) + "), " + std::to_string(o.stats().gaps) + " gaps");
  if (observer_.generation == generation_ && o.simulation() != nullptr && o.simulation()->tick() < hashes_.size()) {
    const uint64_t t = o.simulation()->tick();
    check(inv_observer, o.simulation()->quick_hash() == hashes_[t].quick,
          "observer world at tick " + std::to_string(t) + " differs from the node's");
  }
}

void Vopr::check_convergence() {
  for (auto it = obligations_.begin(); it != obligations_.end();) {
    const ClientSlot& slot = clients_[it->client];
    const bool converged = slot.game && slot.generation == generation_ &&
                           slot.game->state() == net::ClientState::connected &&
                           slot.game->newest_tick() >= it->from_tick;
    if (converged) {
      result_.invariants[inv_convergence].checks += 1;
      it = obligations_.erase(it);
      continue;
    }
    if (ticks_ >= it->deadline) {
      const net::Client* net = slot.game ? &slot.game->net_client() : nullptr;
      char detail[256];
      std::snprintf(detail, sizeof detail,
                    "client%zu has not reached tick %" PRIu64 " within %" PRIu64 " ticks (newest %" PRIu64
                    ", sessions %" PRIu64 ", net state %d failure %d reason %d)",
                    it->client, it->from_tick, convergence_ticks_max, slot.game ? slot.game->newest_tick() : 0,
                    slot.sessions, net ? static_cast<int>(net->state()) : -1,
                    net ? static_cast<int>(net->failure()) : -1, net ? static_cast<int>(net->disconnect_reason()) : -1);
      violate(inv_convergence, detail);
      return;
    }
    ++it;
  }
}

// Player persistence after a node tick (`tick_logged`: the joins of its log record) or a store fault.
void Vopr::check_stores(bool tick_logged) {
  if (!result_.ok) return;
  if (tick_logged) {
    const uint64_t tick = node().simulation().tick();
    schema::TickRecord record;
    const std::unique_ptr<replay::LogSource> log = store_.source();
    if (!log->read_tick(tick, record).ok()) {
      violate(inv_store_returns, "cannot read tick " + std::to_string(tick) + " from the log");
      return;
    }
    const std::string joins = stores_.check_joins(tick, record, present_, result_.invariants[inv_store_returns].checks);
    if (!joins.empty()) violate(inv_store_returns, joins);
    present_.clear();
    for (const sim::Player& p : node().simulation().world().players) present_.insert(sim::raw(p.id));
  }
  const std::string acked = stores_.check_acked(result_.invariants[inv_store_acked].checks);
  if (!acked.empty()) violate(inv_store_acked, acked);
  const std::string versions = stores_.check_versions(result_.invariants[inv_store_versions].checks);
  if (!versions.empty()) violate(inv_store_versions, versions);
}

// After the clean stop (every player left, the queues flushed): the store holds each player's last
// leave of the surviving timeline.
void Vopr::check_final_saves() {
  uint64_t& checks = result_.invariants[inv_store_returns].checks;
  const std::string problem = stores_.check_final(checks);
  if (!problem.empty()) violate(inv_store_returns, "at the end: " + problem);
  const std::string acked = stores_.check_acked(result_.invariants[inv_store_acked].checks);
  if (!acked.empty()) violate(inv_store_acked, "at the end: " + acked);
}

// The end: a clean stop, and the log replays bit-exact with the run's hashes.
void Vopr::finish() {
  // Obligations whose bound has not passed when the run ends are not violations (a run shorter than
  // its quiet stretch); they are counted. Those past their bound were caught as the run went.
  open_at_end_ = obligations_.size();
  if (!runtime_) restart();
  if (!runtime_) return;
  add_drops();
  const server::RuntimeStop stop = runtime_->stop();  // the shutdown tick; the log is closed cleanly
  runtime_.reset();
  store_.closed();
  stores_.closed();  // at_stop flushed the storage's queues
  check_final_saves();
  if (!stop.final_logged) {
    violate(inv_replay, "the clean stop could not write the log");
    return;
  }
  hashes_.resize(stop.final_tick);
  hashes_.push_back(TickHashes{0, stop.final_hash});  // its full hash (the final tick's snapshot has one)
  check_inputs_logged("the end");
  replay::ReplayOptions options;
  options.prefetch = false;
  uint64_t differing = 0;
  uint64_t first = 0;
  options.on_tick = [&](uint64_t tick, uint64_t quick, std::optional<uint64_t> full) {
    result_.invariants[inv_replay].checks += 1;
    const bool last = tick + 1 == hashes_.size();
    if (tick < hashes_.size() && (last ? full == hashes_[tick].full : hashes_[tick].quick == quick)) return;
    if (differing++ == 0) first = tick;
  };
  const replay::ReplayResult replayed = store_.replay(options);
  if (!replayed.status.ok()) {
    violate(inv_replay, "replay: " + replayed.status.describe() + " " + replayed.which);
  } else if (differing > 0 || replayed.last_tick + 1 != hashes_.size()) {
    violate(inv_replay, std::to_string(differing) + " replayed ticks differ from the run (first " +
                            std::to_string(first) + "), last tick " + std::to_string(replayed.last_tick));
  }
}

void Vopr::stats() {
  sdk::GameClientStats total;
  sdk::PredictionStats prediction;
  for (ClientSlot& slot : clients_) retire_client(slot);
  for (const ClientSlot& slot : clients_) {
    total.snapshots_applied += slot.past.snapshots_applied;
    total.checksum_mismatches += slot.past.checksum_mismatches;
    total.inputs_submitted += slot.past.inputs_submitted;
    prediction.checked += slot.past_prediction.checked;
    prediction.exact += slot.past_prediction.exact;
  }
  result_.invariants[inv_client_checksums].checks = total.snapshots_applied;
  const sdk::ObserverStats& o = observer_.observer->stats();
  result_.invariants[inv_observer].checks = observer_.past.ticks_verified + o.ticks_verified;
  auto add = [&](const char* name, uint64_t value) {
    result_.stats.push_back(std::string(name) + "=" + std::to_string(value));
  };
  add("inputs_submitted", total.inputs_submitted);
  add("prediction_checked", prediction.checked);
  add("prediction_exact", prediction.exact);
  add("client_sessions", reconnects_ + clients_.size());
  add("observer_sessions", observer_.sessions);
  add("crashes", crashes_);
  add("machine_crashes", machine_crashes_);
  add("log_failures", log_failures_);
  add("convergence_open_at_end", open_at_end_);
  add("log_faults", log_faults_);
  add("policy_losses", policy_losses_);
  add("datagrams_up", up_.stats().sent);
  add("datagrams_down", down_.stats().sent);
  add("link_lost", up_.stats().lost + down_.stats().lost);
  add("link_duplicated", up_.stats().duplicated + down_.stats().duplicated);
  add("partition_drops", partition_drops_);
  add("node_down_drops", down_drops_);
  add("hostile_datagrams", hostile_.datagrams());
  add("hostile_messages", hostile_.messages());
  for (std::string& s : stores_.stats()) result_.stats.push_back(std::move(s));
  if (runtime_) add_drops();  // a run stopped by a violation
  std::string& drops = result_.drops;
  drops = "node_drops";
  for (size_t i = 0; i < net::drop_reason_count; ++i) {
    if (drops_.by_reason[i] == 0) continue;
    drops += ' ';
    drops += net::name(static_cast<net::DropReason>(i));
    drops += '=';
    drops += std::to_string(drops_.by_reason[i]);
  }
}

}  // namespace

RunResult run(const Plan& plan, const RunShape& shape) {
  server::ManualClock clock{monotonic_start_us, wall_start_us};
  Vopr vopr(plan, shape, clock, nullptr);
  return vopr.run();
}

// --- regions -----------------------------------------------------------------------------------

namespace {

enum ClusterInv : size_t { cinv_agreement, cinv_drained, cinv_one_map, cinv_count };

// N regions on one clock, one stream. Each region is a whole single-node run (its clients,
// faults and invariants); the cluster adds the bus's faults and the regions' invariants.
class Cluster {
 public:
  Cluster(const ClusterPlan& plan, const RunShape& shape) : plan_(plan), shape_(shape) {
    const char* names[cinv_count] = {"bus_agreement", "region_drained", "region_one_map"};
    const char* whats[cinv_count] = {
        "peer health points at a vector held, with the same map hash (no desync)",
        "quiet phases (after each heal, at the end) in which every link drained within the bound",
        "drained regions whose map hashes are all equal"};
    for (size_t i = 0; i < cinv_count; ++i) result_.invariants.push_back(Invariant{names[i], 0, whats[i], 0});
    setups_.resize(plan.regions.size());
    for (size_t r = 0; r < plan.regions.size(); ++r) {
      setups_[r] = RegionSetup{r, plan.regions.size(), plan.seed, &stream_, &plan_.bus};
      regions_.push_back(std::make_unique<Vopr>(plan_.regions[r], shape, clock_, &setups_[r]));
    }
  }

  ClusterResult run() {
    for (auto& region : regions_) region->begin();
    uint64_t tick = 0;
    uint64_t heals = 0;
    while (ok() && tick < shape_.ticks) {
      tick = turn();
      // After every heal of a partition, the clients pause until the regions are one again.
      const uint64_t healed = heals_so_far();
      if (healed != heals && tick < shape_.ticks) tick = settle(tick, "after a heal");
      heals = healed;
    }
    // The end: the clients stop building for good.
    tick = settle(tick, "at the end");
    // Each region's clean stop and the offline replay of its log (as the single node's end).
    for (auto& region : regions_) {
      result_.regions.push_back(region->end());
      if (!result_.regions.back().ok)
        fail("region" + std::to_string(result_.regions.size()) + " " + result_.regions.back().violation);
    }
    stats();
    result_.ticks_run = tick;
    result_.simulated_us = clock_.monotonic_us() - monotonic_start_us;
    for (const RunResult& r : result_.regions) result_.node_real_s += r.node_real_s;
    return result_;
  }

 private:
  // 5 simulated minutes: a region cut off for a minute while its clients built holds ~1200
  // batches, which it then publishes one round trip each (and 5 s per lost one).
  static constexpr uint64_t drain_ticks_max = 6000;

  [[nodiscard]] uint64_t heals_so_far() const {
    uint64_t heals = 0;
    for (const auto& region : regions_) heals += region->bus_heals();
    return heals;
  }

  // A quiet phase: the clients stop building; the regions keep ticking (their planned faults go
  // on) until every link is drained, then their maps must be one. Returns the tick it ended at.
  uint64_t settle(uint64_t tick, const char* when) {
    for (auto& region : regions_) region->set_playing(false);
    const uint64_t start = tick;
    while (ok() && !drained()) {
      if (tick - start >= drain_ticks_max) {
        violate(cinv_drained, std::string(when) + ": the links did not drain within " +
                                  std::to_string(drain_ticks_max) + " ticks: " + why_);
        break;
      }
      tick = turn();
    }
    drain_ticks_ += tick - start;
    drain_ticks_max_seen_ = std::max(drain_ticks_max_seen_, tick - start);
    if (ok()) {
      result_.invariants[cinv_drained].checks += 1;
      check_one_map(when);
    }
    for (auto& region : regions_) region->set_playing(true);
    return tick;
  }

  [[nodiscard]] bool ok() const { return result_.ok; }
  void fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.violation = what;
  }
  void violate(ClusterInv inv, const std::string& detail) {
    if (!result_.ok) return;
    result_.invariants[inv].violations += 1;
    fail("invariant=" + result_.invariants[inv].name + " tick=" + std::to_string(regions_[0]->ticks()) + " " + detail);
  }

  // One 10 ms turn of every region; the bus's faults at tick boundaries. Returns the tick count.
  uint64_t turn() {
    clock_.advance(step_us);
    const uint64_t tick = regions_[0]->ticks();
    while (next_fault_ < plan_.bus.faults.size() && plan_.bus.faults[next_fault_].tick <= tick) {
      const Fault& f = plan_.bus.faults[next_fault_++];
      regions_[static_cast<size_t>(f.target)]->partition_bus(f.tick + f.duration);
    }
    for (size_t r = 0; r < regions_.size() && ok(); ++r) {
      regions_[r]->turn();
      for (const std::string& d : regions_[r]->take_desyncs()) violate(cinv_agreement, d);
      if (!regions_[r]->ok()) fail("region" + std::to_string(r + 1) + " " + regions_[r]->violation());
    }
    return regions_[0]->ticks();
  }

  static std::string text(const std::vector<schema::BusAppliedSeq>& vector) {
    std::string out;
    for (const schema::BusAppliedSeq& e : vector)
      out += " " + std::to_string(sim::raw(e.origin)) + ":" + std::to_string(e.seq);
    return out;
  }

  // Every region up, its link holding nothing, and every peer's latest health point at our own
  // latest vector, agreeing, with all its batches applied here.
  bool drained() {
    for (size_t r = 0; r < regions_.size(); ++r) {
      const std::string who = "region" + std::to_string(r + 1) + ": ";
      const std::optional<server::RegionLinkStatus> s = regions_[r]->link_status();
      if (!regions_[r]->running() || !s) {
        why_ = who + "down";
        return false;
      }
      if (s->bus_state != server::BusState::connected || s->world_held != 0 || s->inbound_waiting != 0) {
        why_ = who + "bus state " + std::to_string(static_cast<int>(s->bus_state)) + ", world batches held " +
               std::to_string(s->world_held) + " (outbox pushed " + std::to_string(s->outbox.world_pushed) +
               " published " + std::to_string(s->outbox.world_published) + " acked " +
               std::to_string(s->outbox.world_acked) + " republished " + std::to_string(s->outbox.world_republished) +
               "; bus publishes " + std::to_string(s->bus.publishes) + " resends " + std::to_string(s->bus.resends) +
               " acks stored " + std::to_string(s->bus.acks_stored) + " duplicate " +
               std::to_string(s->bus.acks_duplicate) + " failed " + std::to_string(s->bus.acks_failed) +
               " refused pending_full " + std::to_string(s->bus.publish_refused_pending_full) + " buffer_full " +
               std::to_string(s->bus.publish_refused_buffer_full) + "), inbound " + std::to_string(s->inbound_waiting);
        return false;
      }
      for (const server::PeerStatus& p : s->peers) {
        if (p.applied_seq != p.reported_seq || p.health_applied != s->applied ||
            p.agreement != server::Agreement::agree) {
          why_ = who + "peer region" + std::to_string(sim::raw(p.region)) + " applied " +
                 std::to_string(p.applied_seq) + " of " + std::to_string(p.reported_seq) + ", vectors " +
                 (p.health_applied == s->applied
                      ? "equal"
                      : "differ (ours" + text(s->applied) + ", its" + text(p.health_applied) + ")") +
                 ", agreement " + server::name(p.agreement);
          return false;
        }
      }
    }
    return true;
  }

  void check_one_map(const char* when) {
    result_.invariants[cinv_one_map].checks += 1;
    const uint64_t first = regions_[0]->map_hash();
    std::string hashes;
    bool same = true;
    for (size_t r = 0; r < regions_.size(); ++r) {
      const uint64_t h = regions_[r]->map_hash();
      same = same && h == first;
      hashes +=
          " region" + std::to_string(r + 1) + "=" + std::to_string(h) + "@" + std::to_string(regions_[r]->node_tick());
    }
    if (!same) violate(cinv_one_map, std::string(when) + ": map hashes differ:" + hashes);
  }

  void stats() {
    Vopr::BusFigures total;
    for (const auto& region : regions_) {
      const Vopr::BusFigures f = region->bus_figures();
#define STRATA_VOPR_ADD_BUS(name, help) total.bus.name += f.bus.name;
      STRATA_BUS_COUNTERS(STRATA_VOPR_ADD_BUS)
#undef STRATA_VOPR_ADD_BUS
      total.health_agree += f.health_agree;
      total.desyncs += f.desyncs;
      total.health_judged_at_vector += f.health_judged_at_vector;
      total.health_too_old += f.health_too_old;
      total.health_superseded += f.health_superseded;
      total.health_own_order += f.health_own_order;
      total.world_batches_published += f.world_batches_published;
      total.world_batches_consumed += f.world_batches_consumed;
      total.remote_writes_consumed += f.remote_writes_consumed;
      total.republished += f.republished;
      total.duplicates_dropped += f.duplicates_dropped;
      total.refused += f.refused;
      total.clock_ahead += f.clock_ahead;
      total.partitions += f.partitions;
      total.heals += f.heals;
    }
    result_.invariants[cinv_agreement].checks = total.health_agree;
    auto add = [&](const char* name, uint64_t value) {
      result_.stats.push_back(std::string(name) + "=" + std::to_string(value));
    };
    add("stream_messages", stream_.last_seq());
    add("world_batches_published", total.world_batches_published);
    add("world_batches_applied", total.world_batches_consumed);
    add("remote_writes_applied", total.remote_writes_consumed);
    add("republished_after_restart", total.republished);
    add("consumed_duplicates", total.duplicates_dropped);
    add("refused", total.refused);
    add("refused_clock_ahead", total.clock_ahead);
    add("bus_partitions", total.partitions);
    add("bus_heals", total.heals);
    add("health_judged_at_vector", total.health_judged_at_vector);  // during play: no equal vector of ours
    add("health_unjudged_too_old", total.health_too_old);
    add("health_unjudged_superseded", total.health_superseded);
    add("health_unjudged_own_order", total.health_own_order);
    add("bus_resends", total.bus.resends);
    add("acks_duplicate", total.bus.acks_duplicate);
    add("acks_failed", total.bus.acks_failed);
    add("consumer_resets", total.bus.consumer_resets);
    add("quiet_ticks", drain_ticks_);
    add("quiet_ticks_max", drain_ticks_max_seen_);
  }

  ClusterPlan plan_;
  RunShape shape_;
  ClusterResult result_;
  server::ManualClock clock_{monotonic_start_us, wall_start_us};
  server::MemoryStream stream_;
  std::vector<RegionSetup> setups_;
  std::vector<std::unique_ptr<Vopr>> regions_;
  size_t next_fault_ = 0;
  uint64_t drain_ticks_ = 0;  // in quiet phases, all of them
  uint64_t drain_ticks_max_seen_ = 0;
  std::string why_;
};

}  // namespace

ClusterResult run_cluster(const ClusterPlan& plan, const RunShape& shape) {
  Cluster cluster(plan, shape);
  return cluster.run();
}

}  // namespace strata::vopr
