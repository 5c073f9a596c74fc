// tests/server/node_test.cpp — the regional node end to end on simulated time: a real session log
// (RocksDB in a temp dir), the real netchannel, and SDK clients over seeded lossy links. Clients
// wander and build; every snapshot must reconstruct to the server's AOI checksum, every client's
// inputs must be processed, and the log must then replay bit-exact — also across a restart.
#include <gtest/gtest.h>
#include <cstddef>

#include <algorithm>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "net/link_sim.h"
#include "net/sdk/game_client.h"
#include "net/sdk/observer.h"
#include "net/token.h"
#include "replay/memory_log.h"
#include "replay/replayer.h"
#include "replay/rocks_log.h"
#include "server/login.h"
#include "server/node.h"
#include "server/node_start.h"
#include "sim/rng.h"

namespace strata::server {
namespace {

constexpr uint64_t protocol_id = 0x5354524154410002ULL;
constexpr uint64_t start_us = 1'700'000'000'000'000ULL;

net::Address server_address() { return net::make_ipv4(10, 1, 1, 1, 40000); }
net::Address client_address(size_t i) {
  return net::make_ipv4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 5000);
}

class LinkSink : public net::DatagramSink {
 public:
  LinkSink(net::LinkSim& link, net::Address from, const uint64_t& now) : link_(link), from_(from), now_(now) {}
  void send_datagram(net::TransportKind, const net::Address& to, std::span<const uint8_t> data) override {
    link_.send(now_, from_, to, data);
    // FNV-1a over (to, data): what was sent, in order, in one number.
    const auto mix = [&](uint8_t b) { digest_ = (digest_ ^ b) * 0x100000001b3ULL; };
    for (uint8_t b : to.ip) mix(b);
    mix(static_cast<uint8_t>(to.port));
    mix(static_cast<uint8_t>(to.port >> 8));
    for (uint8_t b : data) mix(b);
    datagrams_ += 1;
  }
  [[nodiscard]] uint64_t digest() const { return digest_; }
  [[nodiscard]] uint64_t datagrams() const { return datagrams_; }

 private:
  net::LinkSim& link_;
  net::Address from_;
  const uint64_t& now_;
  uint64_t digest_ = 0xcbf29ce484222325ULL;
  uint64_t datagrams_ = 0;
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("strata-node-test-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

class Cluster {
 public:
  // The log is fsynced when the OS decides unless `configure` asks for another policy (background
  // fsyncs would make what reaches the clients depend on the disk's timing).
  // An empty `log_dir` puts the log on the cluster's memory disk (replay/memory_log.h) instead of
  // RocksDB. `before_sync` runs before each fsync of the log thread (replay::LogConfig::before_sync).
  Cluster(const std::string& log_dir, const net::LinkConfig& link, uint64_t seed,
          std::function<void(RegionalNode::Options&)> configure = {}, std::function<void()> before_sync = {})
      : up_(link, seed),
        down_(link, seed * 7 + 1),
        node_sink_(down_, server_address(), now_),
        node_random_(seed),
        token_random_(seed + 1),
        configure_(std::move(configure)),
        before_sync_(std::move(before_sync)) {
    private_key_ = token_random_.key();
    open_node(log_dir);
  }
  void open_node(const std::string& log_dir) {
    RegionalNode::Options options;
    options.config.world.seed = 99;
    options.config.world.chunks_x = 4;
    options.config.world.chunks_y = 4;
    options.config.world.npc_count = 12;
    options.config.snapshot_every_ticks = 100;
    options.config.full_hash_every_ticks = 20;
    options.config.aoi_radius_cells = 16;
    options.config.log_sync = replay::WalSync::none;
    options.net = net::default_server_config();
    options.net.protocol_id = protocol_id;
    options.net.public_address = server_address();
    options.net.private_key = private_key_;
    options.clock = &clock_;
    options.random = &node_random_;
    options.observer_encode_thread = false;  // deterministic unless a test asks for the thread
    if (configure_) configure_(options);
    std::string error;
    if (log_dir.empty()) {
      std::optional<MemoryNodeStart> start = open_memory_start(options.config, disk_, error);
      ASSERT_TRUE(start) << error;
      memory_log_ = start->memory;
      node_ = RegionalNode::create(options, std::move(start->start), error);
    } else {
      std::optional<NodeStart> start = open_rocks_start(options.config, log_dir, error, before_sync_);
      ASSERT_TRUE(start) << error;
      node_ = RegionalNode::create(options, std::move(*start), error);
    }
    ASSERT_TRUE(node_) << error;
  }
  void close_node() { node_.reset(); }
  bool shutdown_node() {
    clock_.advance(50'000);
    return node_->shutdown(now_ += 50'000, node_sink_);
  }
  void add_clients(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const size_t index = clients_.size();
      net::ConnectTokenParams params;
      params.protocol_id = protocol_id;
      params.client_id = net::ClientId{index + 1};
      params.expire_seconds = 600;
      params.timeout_seconds = 10;
      params.server_addresses = {server_address()};
      auto token = net::mint_connect_token(params, private_key_, now_ / 1'000'000, token_random_);
      ASSERT_TRUE(token);
      clients_.push_back(std::make_unique<sdk::GameClient>(sdk::default_game_client_config()));
      sinks_.push_back(std::make_unique<LinkSink>(up_, client_address(index), now_));
      ASSERT_TRUE(clients_.back()->connect(*token, now_));
    }
  }
  // Advances simulated time by 5 ms steps; the node ticks every 50 ms (20 Hz).
  void run(uint64_t duration_us, sim::Rng& rng) {
    const uint64_t end = now_ + duration_us;
    while (now_ < end) {
      now_ += 5'000;
      clock_.advance(5'000);
      net::SimDatagram d;
      while (up_.receive(now_, d)) node_->receive(net::TransportKind::datagram, d.from, d.data, now_, node_sink_);
      while (down_.receive(now_, d)) {
        const size_t index = static_cast<size_t>(d.to.ip[2]) << 8 | d.to.ip[3];
        if (index < clients_.size()) clients_[index]->receive(d.from, d.data, now_);
        if (index >= raw_base && index - raw_base < raw_.size()) raw_[index - raw_base]->receive(d.from, d.data, now_);
        if (index >= observer_base && index - observer_base < observers_.size() &&
            observers_[index - observer_base].reading) {
          observers_[index - observer_base].observer->receive(d.from, d.data, now_);
        }
      }
      if (now_ >= next_tick_) {
        next_tick_ = now_ + 50'000;
        ASSERT_TRUE(node_->tick(now_));
        if (behaving) {
          for (auto& c : clients_) behave(*c, rng);
        }
        if (on_tick) on_tick(node_->simulation().tick());
      }
      for (size_t i = 0; i < raw_.size(); ++i) {
        raw_[i]->update(now_);
        raw_[i]->send_packets(now_, *raw_sinks_[i]);
      }
      for (ObserverSlot& o : observers_) {
        o.observer->update(now_);
        o.observer->send_packets(now_, *o.sink);  // keepalives (and acks, while it reads)
      }
      node_->flush(now_, node_sink_);
      for (size_t i = 0; i < clients_.size(); ++i) {
        clients_[i]->update(now_);
        clients_[i]->send_packets(now_, *sinks_[i]);
      }
    }
  }
  void behave(sdk::GameClient& c, sim::Rng& rng) {
    if (!c.welcome() || c.view() == nullptr) return;
    const uint32_t roll = rng.below(100);
    if (roll < 8) {
      c.submit(sim::MoveCommand{{},
                                0,
                                static_cast<sim::Direction>(rng.below(9)),
                                rng.below(4) == 0 ? sim::MoveMode::run : sim::MoveMode::walk},
               now_);
    } else if (roll < 11) {
      // Build or break next to where the view says we are.
      const view::EntityKey me{view::EntityKind::player, 0, c.welcome()->player};
      for (const view::EntityState& e : c.view()->entities) {
        if (e.key != me) continue;
        const sim::CellPos cell{(e.x >> 8) + static_cast<int32_t>(rng.below(5)) - 2,
                                (e.y >> 8) + static_cast<int32_t>(rng.below(5)) - 2};
        if (roll < 10) {
          c.submit(sim::PlaceCommand{{}, 0, cell, sim::Layer::active, sim::to_underlying(sim::Block::wood_wall), {}},
                   now_);
        } else {
          c.submit(sim::BreakCommand{{}, 0, cell, sim::Layer::active, {}}, now_);
        }
      }
    }
  }
  // A client speaking the netchannel directly, to send whatever it likes.
  net::Client& add_raw_client(uint32_t player) {
    net::ConnectTokenParams params;
    params.protocol_id = protocol_id;
    params.client_id = net::ClientId{player};
    params.expire_seconds = 600;
    params.server_addresses = {server_address()};
    auto token = net::mint_connect_token(params, private_key_, now_ / 1'000'000, token_random_);
    raw_.push_back(std::make_unique<net::Client>(net::default_client_config()));
    raw_sinks_.push_back(std::make_unique<LinkSink>(up_, client_address(raw_base + raw_.size() - 1), now_));
    EXPECT_TRUE(raw_.back()->connect(*token, now_));
    return *raw_.back();
  }
  // An observer (token user data says so); `reading` false stops delivering to it: a client that
  // stops reading but stays alive (its keepalives go on).
  sdk::Observer& add_observer(uint32_t id) {
    net::ConnectTokenParams params;
    params.protocol_id = protocol_id;
    params.client_id = net::ClientId{id};
    params.expire_seconds = 600;
    params.timeout_seconds = 10;
    params.server_addresses = {server_address()};
    params.user_data[0] = Login::observer_flag;
    auto token = net::mint_connect_token(params, private_key_, now_ / 1'000'000, token_random_);
    EXPECT_TRUE(token);
    ObserverSlot slot;
    slot.observer = std::make_unique<sdk::Observer>();
    slot.sink = std::make_unique<LinkSink>(up_, client_address(observer_base + observers_.size()), now_);
    EXPECT_TRUE(slot.observer->connect(*token, now_));
    observers_.push_back(std::move(slot));
    return *observers_.back().observer;
  }
  void set_observer_reading(size_t i, bool reading) { observers_[i].reading = reading; }
  uint64_t now() const { return now_; }
  std::function<void(uint64_t tick)> on_tick;
  bool behaving = true;  // clients wander, build and break
  RegionalNode& node() { return *node_; }
  replay::MemoryDisk& disk() { return disk_; }
  // The node's memory log (its fault injection and sync schedule), when it has one.
  replay::MemorySessionLog* memory_log() { return memory_log_; }
  [[nodiscard]] uint64_t sent_digest() const { return node_sink_.digest(); }
  [[nodiscard]] uint64_t sent_datagrams() const { return node_sink_.datagrams(); }
  sdk::GameClient& client(size_t i) { return *clients_[i]; }
  size_t size() const { return clients_.size(); }

 private:
  uint64_t now_ = start_us;
  uint64_t next_tick_ = start_us;
  net::Key private_key_{};
  net::LinkSim up_;
  net::LinkSim down_;
  LinkSink node_sink_;
  ManualClock clock_{start_us, start_us};  // moves with now_
  net::DeterministicRandom node_random_;
  net::DeterministicRandom token_random_;  // the login's side: keys and tokens
  replay::MemoryDisk disk_;                // the log's, when the cluster has no log directory
  replay::MemorySessionLog* memory_log_ = nullptr;
  std::unique_ptr<RegionalNode> node_;
  std::vector<std::unique_ptr<sdk::GameClient>> clients_;
  std::vector<std::unique_ptr<LinkSink>> sinks_;
  static constexpr size_t raw_base = 1000;
  std::vector<std::unique_ptr<net::Client>> raw_;
  std::vector<std::unique_ptr<LinkSink>> raw_sinks_;
  struct ObserverSlot {
    std::unique_ptr<sdk::Observer> observer;
    std::unique_ptr<LinkSink> sink;
    bool reading = true;
  };
  static constexpr size_t observer_base = 2000;
  std::vector<ObserverSlot> observers_;
  std::function<void(RegionalNode::Options&)> configure_;
  std::function<void()> before_sync_;
};

replay::ReplayResult verify_log(const std::string& dir) {
  replay::Status status;
  auto log = replay::open_rocks_log(dir, status);
  EXPECT_TRUE(log) << status.describe();
  if (!log) return {};
  return replay::replay(*log, replay::ReplayOptions{});
}

// DESIGN.md's invariant under log.sync = background: nothing derived from tick T (snapshots, the
// welcome, processed-input acks) reaches a client before the log thread has fsynced T. The test
// holds the log thread before an fsync: while it is held, no client may see a newer tick; once
// released, everything held back arrives and the clients play on.
TEST(Node, BackgroundSyncSendsNothingOfATickTheDiskDoesNotHold) {
  TempDir dir;
  std::mutex mutex;
  std::condition_variable cv;
  bool hold = false;
  bool holding = false;
  auto before_sync = [&] {
    std::unique_lock lock(mutex);
    if (!hold) return;
    holding = true;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    holding = false;
  };
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster(
      dir.path.string(), link, 3,
      [&](RegionalNode::Options& options) { options.config.log_sync = replay::WalSync::background; }, before_sync);
  cluster.add_clients(6);
  sim::Rng rng = sim::Rng::seeded(2, 2);
  cluster.run(3'000'000, rng);  // 60 ticks: welcomed and playing
  auto newest_seen = [&] {
    uint64_t newest = 0;
    for (size_t i = 0; i < cluster.size(); ++i) {
      if (const view::ClientView* v = cluster.client(i).view()) newest = std::max(newest, v->tick);
    }
    return newest;
  };
  ASSERT_GT(newest_seen(), 0U);
  // The disk first catches up: held with a lag already near the writer's bound (40 ticks, a slow
  // fsync on a busy machine), the appends below would wait for a sync this thread holds, forever.
  for (int i = 0; i < 1000 && cluster.node().durable_tick() < cluster.node().simulation().tick(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  {
    std::unique_lock lock(mutex);
    hold = true;
  }
  cluster.run(200'000, rng);  // the next fsync starts and is held
  uint64_t held_at = 0;
  {
    std::unique_lock lock(mutex);
    const bool reached = cv.wait_for(lock, std::chrono::seconds(10), [&] { return holding; });
    if (!reached) hold = false;  // (a failed test must not leave the log thread held: its join would hang)
    ASSERT_TRUE(reached);
    held_at = cluster.node().durable_tick();
  }
  const uint64_t tick_before = cluster.node().simulation().tick();
  cluster.run(1'000'000, rng);  // 20 more ticks (below the writer's lag bound of 40)
  EXPECT_GE(cluster.node().simulation().tick(), tick_before + 19);
  EXPECT_EQ(cluster.node().durable_tick(), held_at) << "the log thread is held";
  EXPECT_LE(newest_seen(), held_at) << "a client saw a tick the disk does not hold";
  {
    std::unique_lock lock(mutex);
    hold = false;
  }
  cv.notify_all();
  const uint64_t deadline_ticks = cluster.node().simulation().tick();
  for (int i = 0; i < 200 && cluster.node().durable_tick() < deadline_ticks; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  cluster.run(500'000, rng);
  EXPECT_GT(newest_seen(), held_at + 19) << "what was held back was sent once durable";
  for (size_t i = 0; i < cluster.size(); ++i) EXPECT_EQ(cluster.client(i).stats().checksum_mismatches, 0U) << i;
}

TEST(Node, ClientsOverLossyLinksReconstructEverySnapshotAndTheLogReplaysAcrossARestart) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 30'000;
  link.jitter_us = 10'000;
  link.loss = 0.05;
  link.duplicate = 0.02;
  Cluster cluster(dir.path.string(), link, 7);
  cluster.add_clients(40);
  sim::Rng rng = sim::Rng::seeded(1, 1);
  cluster.run(30'000'000, rng);  // 30 s of simulated time, 600 ticks

  const NodeCounters& counters = cluster.node().counters();
  EXPECT_EQ(counters.checksum_mismatches, 0U);
  EXPECT_EQ(cluster.node().sessions(), 40U);
  EXPECT_EQ(cluster.node().simulation().world().players.size(), 40U);
  for (size_t i = 0; i < cluster.size(); ++i) {
    const sdk::GameClientStats& s = cluster.client(i).stats();
    EXPECT_TRUE(cluster.client(i).welcome().has_value()) << i;
    EXPECT_EQ(s.checksum_mismatches, 0U) << i;
    EXPECT_GT(s.snapshots_applied, 400U) << i;
    EXPECT_GT(cluster.client(i).last_processed_seq(), 10U) << i;
  }
  uint64_t bytes = 0;
  uint64_t applied = 0;
  uint64_t full = 0;
  for (size_t i = 0; i < cluster.size(); ++i) {
    bytes += cluster.client(i).stats().snapshot_bytes;
    applied += cluster.client(i).stats().snapshots_applied;
    full += cluster.client(i).stats().full_snapshots;
  }
  std::printf("node: %zu clients, 600 ticks, %llu snapshots applied (%llu full), %.0f snapshot bytes/s per client\n",
              cluster.size(), static_cast<unsigned long long>(applied), static_cast<unsigned long long>(full),
              static_cast<double>(bytes) / static_cast<double>(cluster.size()) / 30.0);
  // Prediction: every tick a client predicted and a snapshot later confirmed is compared.
  sdk::PredictionStats prediction;
  for (size_t i = 0; i < cluster.size(); ++i) {
    const sdk::PredictionStats& p = cluster.client(i).prediction_stats();
    prediction.checked += p.checked;
    prediction.exact += p.exact;
    prediction.error_sum += p.error_sum;
    prediction.error_max = std::max(prediction.error_max, p.error_max);
    prediction.corrections += p.corrections;
    EXPECT_GT(p.checked, 200U) << i;
  }
  std::printf(
      "prediction: %llu ticks checked, %.2f%% exact, mean error %.2f, max error %d (1/256 tile), %llu corrections\n",
      static_cast<unsigned long long>(prediction.checked),
      100.0 * static_cast<double>(prediction.exact) / static_cast<double>(prediction.checked),
      static_cast<double>(prediction.error_sum) / static_cast<double>(prediction.checked), prediction.error_max,
      static_cast<unsigned long long>(prediction.corrections));
  // The documented tolerance (net/sdk/game_client.h): exact unless a move landed at another tick
  // than meant; never more than four ticks of running off.
  EXPECT_GE(static_cast<double>(prediction.exact), 0.98 * static_cast<double>(prediction.checked));
  EXPECT_LE(prediction.error_max, 4 * sim::limits::run_speed);
  const auto& verdicts = cluster.node().scheduler().counters();
  EXPECT_GT(verdicts[static_cast<size_t>(InputVerdict::accepted)], 400U);
  EXPECT_GT(verdicts[static_cast<size_t>(InputVerdict::duplicate)], 0U) << "inputs are resent until processed";
  const uint64_t ticks_before = cluster.node().simulation().tick();
  const uint64_t hash_before = cluster.node().simulation().full_hash();

  // A graceful stop: one last tick in which every player leaves, ending the log on a snapshot.
  ASSERT_TRUE(cluster.shutdown_node());
  EXPECT_TRUE(cluster.node().simulation().world().players.empty());
  const uint64_t stopped_at = cluster.node().simulation().tick();
  EXPECT_EQ(stopped_at, ticks_before + 1);
  const uint64_t stopped_hash = cluster.node().simulation().full_hash();
  cluster.close_node();
  {
    replay::Status status;
    auto log = replay::open_rocks_log(dir.path.string(), status);
    ASSERT_TRUE(log) << status.describe();
    ASSERT_FALSE(log->snapshot_ticks().empty());
    EXPECT_EQ(log->snapshot_ticks().back(), stopped_at) << "the last record of a clean stop is a full snapshot";
  }
  const auto before = verify_log(dir.path.string());
  ASSERT_TRUE(before.status.ok()) << before.status.describe();
  EXPECT_EQ(before.last_tick, stopped_at);
  cluster.open_node(dir.path.string());
  EXPECT_EQ(cluster.node().recovered_from_tick(), stopped_at);
  EXPECT_EQ(cluster.node().simulation().full_hash(), stopped_hash);
  EXPECT_NE(stopped_hash, hash_before);
  ASSERT_TRUE(cluster.node().tick(0 + 1'700'000'100'000'000ULL));
  EXPECT_TRUE(cluster.node().simulation().world().players.empty());
  cluster.close_node();
  const auto after = verify_log(dir.path.string());
  ASSERT_TRUE(after.status.ok()) << after.status.describe();
  EXPECT_EQ(after.last_tick, stopped_at + 1);
}

TEST(Node, HostileClientIsRefusedWithCountersAndOthersAreUnaffected) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 20'000;
  Cluster cluster(dir.path.string(), link, 11);
  cluster.add_clients(20);
  net::Client& hostile = cluster.add_raw_client(500);
  sim::Rng rng = sim::Rng::seeded(3, 3);
  uint32_t seq = 1;
  cluster.on_tick = [&](uint64_t tick) {
    if (hostile.state() != net::ClientState::connected || tick < 20) return;
    std::vector<uint8_t> bytes;
    // Garbage and unknown message kinds.
    bytes.assign(40 + rng.below(200), 0);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng.below(256));
    (void)hostile.send(net::Channel::unreliable_sequenced, bytes);
    bytes = {77, 1, 2, 3};
    (void)hostile.send(net::Channel::reliable_ordered, bytes);
    // Commands a player may not send, far-future and stale ticks, out of reach, unowned items.
    std::vector<view::InputEntry> inputs;
    inputs.push_back({seq++, tick + 1, sim::JoinCommand{sim::PlayerId{7}}});
    inputs.push_back({seq++, tick + 5000, sim::MoveCommand{{}, 0, sim::Direction::e, sim::MoveMode::run}});
    inputs.push_back(
        {seq++, tick > 100 ? tick - 100 : 1, sim::MoveCommand{{}, 0, sim::Direction::w, sim::MoveMode::walk}});
    inputs.push_back(
        {seq++, tick + 1,
         sim::PlaceCommand{{}, 0, {1, 1}, sim::Layer::active, sim::to_underlying(sim::Block::stone_wall), {}}});
    inputs.push_back(
        {seq++, tick + 1,
         sim::PlaceCommand{{}, 0, {64, 65}, sim::Layer::active, sim::to_underlying(sim::Block::chest), {}}});
    view::encode_inputs(inputs, bytes);
    (void)hostile.send(net::Channel::unreliable_sequenced, bytes);
    (void)hostile.send(net::Channel::unreliable_sequenced, bytes);  // duplicates
    // A flood: far more inputs than a player may have pending or apply per tick.
    for (int burst = 0; burst < 4; ++burst) {
      inputs.clear();
      for (size_t i = 0; i < view::input_batch_max; ++i)
        inputs.push_back({seq++, tick + 1, sim::InteractCommand{{}, 0, {64, 64}, {}}});
      view::encode_inputs(inputs, bytes);
      (void)hostile.send(net::Channel::unreliable_sequenced, bytes);
    }
  };
  cluster.run(15'000'000, rng);

  const NodeCounters& c = cluster.node().counters();
  const auto& v = cluster.node().scheduler().counters();
  auto verdict = [&](InputVerdict x) { return v[static_cast<size_t>(x)]; };
  auto rejected = [&](sim::RejectReason r) { return c.rejected[static_cast<size_t>(r)]; };
  auto refused = [&](view::MessageError e) { return c.messages_refused[static_cast<size_t>(e)]; };
  EXPECT_GT(refused(view::MessageError::malformed) + refused(view::MessageError::unknown_kind) +
                refused(view::MessageError::wrong_direction) + refused(view::MessageError::too_large),
            100U);
  EXPECT_GT(verdict(InputVerdict::not_player), 100U);
  EXPECT_GT(verdict(InputVerdict::too_early), 100U);
  EXPECT_GT(verdict(InputVerdict::late), 100U);
  EXPECT_GT(verdict(InputVerdict::queue_full) + verdict(InputVerdict::duplicate), 100U);
  EXPECT_GT(rejected(sim::RejectReason::out_of_reach), 50U);
  EXPECT_GT(rejected(sim::RejectReason::no_item) + rejected(sim::RejectReason::out_of_reach), 100U);
  // The flood waits in the scheduler (at most what the sim applies per player per tick): the sim
  // never sees a 9th command of a player in a tick.
  EXPECT_GT(cluster.node().scheduler().deferrals().player_cap, 100U);
  EXPECT_EQ(rejected(sim::RejectReason::too_many_commands), 0U);
  for (size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.client(i).stats().checksum_mismatches, 0U) << i;
    EXPECT_GT(cluster.client(i).stats().snapshots_applied, 250U) << i;
    EXPECT_GT(cluster.client(i).last_processed_seq(), 0U) << i;
  }
  EXPECT_EQ(cluster.node().sessions(), 21U) << "the hostile client is refused message by message, not crashed";
  EXPECT_EQ(c.tick_commands_refused, 0U);
  cluster.close_node();
  const auto replayed = verify_log(dir.path.string());
  EXPECT_TRUE(replayed.status.ok()) << replayed.status.describe();
}

// Chat is relayed to the players around the speaker (echo included), rate limited per speaker,
// and hostile lines (not UTF-8, control characters, too long) are refused with a counter.
TEST(Node, ChatReachesThePlayersAroundTheSpeakerAndFloodsAreLimited) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster(dir.path.string(), link, 3);
  cluster.behaving = false;  // players stay where they joined: who is near is known
  cluster.add_clients(16);
  sim::Rng rng = sim::Rng::seeded(2, 2);
  cluster.run(2'000'000, rng);
  const sim::World& world = cluster.node().simulation().world();
  ASSERT_EQ(world.players.size(), 16U);
  ASSERT_TRUE(cluster.client(0).say("hello from one ✓"));
  EXPECT_FALSE(cluster.client(0).say("bad\nline")) << "the SDK refuses what the server would";
  EXPECT_FALSE(cluster.client(0).say(std::string(view::chat_text_bytes_max + 1, 'a')));
  cluster.run(500'000, rng);
  const sim::Player& speaker = world.players[0];
  ASSERT_EQ(sim::raw(speaker.id), 1U);
  size_t near = 0;
  for (size_t i = 0; i < cluster.size(); ++i) {
    const sim::Player& p = world.players[i];
    const bool in_range = std::max(std::abs(p.pos.x.tile() - speaker.pos.x.tile()),
                                   std::abs(p.pos.y.tile() - speaker.pos.y.tile())) <= 16;
    near += in_range ? 1 : 0;
    const auto& heard = cluster.client(i).chat();
    const bool got = std::any_of(heard.begin(), heard.end(),
                                 [](const view::ChatLine& l) { return l.from == 1 && l.text == "hello from one ✓"; });
    EXPECT_EQ(got, in_range) << "client " << i << " at " << p.pos.x.tile() << "," << p.pos.y.tile();
  }
  EXPECT_GE(near, 2U) << "the spawn square puts some players near each other";
  EXPECT_LT(near, 16U) << "and some out of earshot";
  // A flood: 8 lines at once from one speaker; a burst of 3 is allowed (the first line above was
  // long enough ago to have been paid back).
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(cluster.client(1).say("spam " + std::to_string(i)));
  // Hostile bytes from a client of its own.
  net::Client& hostile = cluster.add_raw_client(600);
  cluster.run(1'000'000, rng);
  std::vector<uint8_t> bytes;
  view::encode_chat_send("bell\x07", bytes);
  ASSERT_EQ(hostile.send(net::Channel::reliable_ordered, bytes), net::SendResult::ok);
  view::encode_chat_send("\xc3\x28 not utf-8", bytes);
  ASSERT_EQ(hostile.send(net::Channel::reliable_ordered, bytes), net::SendResult::ok);
  view::encode_chat_send(std::string(300, 'x'), bytes);
  ASSERT_EQ(hostile.send(net::Channel::reliable_ordered, bytes), net::SendResult::ok);
  cluster.run(1'000'000, rng);
  const NodeCounters c = cluster.node().counters();
  EXPECT_EQ(c.chat_relayed, 1U + 3U);
  EXPECT_EQ(c.chat_rate_limited, 5U);
  EXPECT_EQ(c.messages_refused[static_cast<size_t>(view::MessageError::bad_chat)], 3U);
  uint64_t heard = 0;
  for (size_t i = 0; i < cluster.size(); ++i) heard += cluster.client(i).stats().chat_received;
  EXPECT_EQ(c.chat_deliveries, heard);
  EXPECT_EQ(cluster.node().sessions(), 17U) << "the hostile client stays connected";
}

// Mismatch reports are an alarm: one client counts at most once per interval, the rest refused.
TEST(Node, MismatchReportsCountOncePerClientPerInterval) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster(dir.path.string(), link, 5);
  cluster.behaving = false;
  cluster.add_clients(2);
  net::Client& liar = cluster.add_raw_client(700);
  sim::Rng rng = sim::Rng::seeded(4, 4);
  cluster.run(1'000'000, rng);
  ASSERT_EQ(liar.state(), net::ClientState::connected);
  std::vector<uint8_t> bytes;
  view::encode_checksum_report(view::ChecksumReport{1, 2, 3}, bytes);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(liar.send(net::Channel::reliable_ordered, bytes), net::SendResult::ok);
  cluster.run(1'000'000, rng);
  NodeCounters c = cluster.node().counters();
  EXPECT_EQ(c.checksum_mismatches, 1U);
  EXPECT_EQ(c.checksum_reports_refused, 49U);
  // After the interval (100 ticks = 5 s) one more counts.
  cluster.run(5'500'000, rng);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(liar.send(net::Channel::reliable_ordered, bytes), net::SendResult::ok);
  cluster.run(1'000'000, rng);
  c = cluster.node().counters();
  EXPECT_EQ(c.checksum_mismatches, 2U);
  EXPECT_EQ(c.checksum_reports_refused, 58U);
}

// A server -> client kind sent by a client is refused unread with its own reason (once it cost
// the network thread megabytes), and the client stays connected.
TEST(Node, ServerKindsAndOversizedMessagesFromAClientAreRefusedWithTheirReasons) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster(dir.path.string(), link, 6);
  cluster.behaving = false;
  cluster.add_clients(1);
  net::Client& hostile = cluster.add_raw_client(710);
  sim::Rng rng = sim::Rng::seeded(5, 5);
  cluster.run(1'000'000, rng);
  std::vector<uint8_t> fat(1, static_cast<uint8_t>(view::MessageKind::observer_tick));
  for (int i = 0; i < 8000; ++i) fat.insert(fat.end(), {0x00, 0xff});  // 16 kB of zero runs: 16 MiB unpacked
  ASSERT_EQ(hostile.send(net::Channel::reliable_ordered, fat), net::SendResult::ok);
  std::vector<uint8_t> big(1, static_cast<uint8_t>(view::MessageKind::inputs));
  for (int i = 0; i < 4000; ++i) big.insert(big.end(), {0x00, 0xff});
  ASSERT_EQ(hostile.send(net::Channel::reliable_ordered, big), net::SendResult::ok);
  cluster.run(1'000'000, rng);
  const NodeCounters c = cluster.node().counters();
  EXPECT_EQ(c.messages_refused[static_cast<size_t>(view::MessageError::wrong_direction)], 1U);
  EXPECT_EQ(c.messages_refused[static_cast<size_t>(view::MessageError::too_large)], 1U);
  EXPECT_EQ(hostile.state(), net::ClientState::connected);
}

// A player hidden indoors (under a roof) is not named by its chat to hearers outside, who do not
// see it in their snapshots either (the same rule); it hears those outside, and its own echo.
TEST(Node, ChatFromAPlayerHiddenIndoorsIsNotDeliveredToHearersOutside) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster(dir.path.string(), link, 3);
  cluster.behaving = false;
  cluster.add_clients(16);
  sim::Rng rng = sim::Rng::seeded(2, 2);
  cluster.run(2'000'000, rng);
  const sim::World& world = cluster.node().simulation().world();
  ASSERT_EQ(world.players.size(), 16U);
  const sim::Player& speaker = world.players[0];
  const sim::CellPos cell{speaker.pos.x.tile(), speaker.pos.y.tile()};
  cluster.client(0).submit(
      sim::PlaceCommand{{}, 0, cell, sim::Layer::ceiling, sim::to_underlying(sim::Ceiling::thatch_roof), {}},
      cluster.now());
  cluster.run(1'000'000, rng);
  ASSERT_NE(world.map.ceiling(cell), sim::Ceiling::none) << "the speaker built a roof over itself";
  ASSERT_TRUE(cluster.client(0).say("nobody outside knows I am here"));
  cluster.run(1'000'000, rng);
  size_t near_outside = 0;
  for (size_t i = 1; i < cluster.size(); ++i) {
    const sim::Player& p = world.players[i];
    const bool in_range = std::max(std::abs(p.pos.x.tile() - cell.x), std::abs(p.pos.y.tile() - cell.y)) <= 16;
    const bool outside = world.map.ceiling(sim::CellPos{p.pos.x.tile(), p.pos.y.tile()}) == sim::Ceiling::none;
    ASSERT_TRUE(outside) << i;
    near_outside += in_range ? 1 : 0;
    for (const view::ChatLine& line : cluster.client(i).chat()) EXPECT_NE(line.from, 1U) << "client " << i;
  }
  ASSERT_GE(near_outside, 1U) << "someone outside was within earshot";
  const auto& echo = cluster.client(0).chat();
  EXPECT_TRUE(std::any_of(echo.begin(), echo.end(), [](const view::ChatLine& l) { return l.from == 1; }));
  NodeCounters c = cluster.node().counters();
  EXPECT_EQ(c.chat_withheld, near_outside);
  // A player outside speaks: the hidden one hears it (indoors sees out).
  size_t outside_speaker = 0;
  for (size_t i = 1; i < cluster.size(); ++i) {
    const sim::Player& p = world.players[i];
    if (std::max(std::abs(p.pos.x.tile() - cell.x), std::abs(p.pos.y.tile() - cell.y)) <= 16) outside_speaker = i;
  }
  ASSERT_TRUE(cluster.client(outside_speaker).say("anyone?"));
  cluster.run(1'000'000, rng);
  const uint32_t from = sim::raw(world.players[outside_speaker].id);
  EXPECT_TRUE(std::any_of(echo.begin(), echo.end(), [&](const view::ChatLine& l) { return l.from == from; }));
}

// Chat deliveries per tick are bounded: the lines left wait for the next tick, in order, and every
// line still reaches its hearers.
TEST(Node, ChatDeliveriesPerTickAreBoundedAndTheRestWaits) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 10'000;
  constexpr size_t budget = 6;
  Cluster cluster(dir.path.string(), link, 3,
                  [](RegionalNode::Options& options) { options.chat_deliveries_per_tick = budget; });
  cluster.behaving = false;
  cluster.add_clients(16);
  sim::Rng rng = sim::Rng::seeded(2, 2);
  cluster.run(2'000'000, rng);
  uint64_t last_deliveries = cluster.node().counters().chat_deliveries;
  uint64_t most_in_a_tick = 0;
  cluster.on_tick = [&](uint64_t) {
    const uint64_t now = cluster.node().counters().chat_deliveries;
    most_in_a_tick = std::max(most_in_a_tick, now - last_deliveries);
    last_deliveries = now;
  };
  for (size_t i = 0; i < cluster.size(); ++i) {
    for (int k = 0; k < 3; ++k) ASSERT_TRUE(cluster.client(i).say("line " + std::to_string(k)));
  }
  cluster.run(5'000'000, rng);
  const NodeCounters c = cluster.node().counters();
  EXPECT_EQ(c.chat_relayed, 48U) << "every line went out in the end";
  EXPECT_GT(c.chat_deferred, 0U);
  EXPECT_LE(most_in_a_tick, budget + 16) << "the budget, plus at most one line's hearers";
  uint64_t heard = 0;
  for (size_t i = 0; i < cluster.size(); ++i) heard += cluster.client(i).stats().chat_received;
  EXPECT_EQ(c.chat_deliveries, heard);
  // Each hearer got one speaker's lines in the order said.
  for (size_t i = 0; i < cluster.size(); ++i) {
    std::map<uint32_t, int> next;
    for (const view::ChatLine& line : cluster.client(i).chat()) {
      EXPECT_EQ(line.text, "line " + std::to_string(next[line.from]++)) << i;
    }
  }
}

// Observers: at most observers_max; each starts from a world encoded off the tick thread (here on
// the encoder's thread) and then verifies every tick's hash; one more is refused with server_full.
TEST(Node, ObserversAreCappedAndStartFromAWorldEncodedOffTheTickThread) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster(dir.path.string(), link, 9, [](RegionalNode::Options& options) {
    options.observers_max = 2;
    options.observer_encode_thread = true;
  });
  cluster.add_clients(8);
  sim::Rng rng = sim::Rng::seeded(6, 6);
  // The starting world is encoded on a real thread while the cluster runs on simulated time, which
  // on a loaded machine can outrun it by seconds: the run goes on in short steps, with real time
  // left to the encoder, until the observer has verified its first tick (or a generous bound).
  const auto run_until_started = [&](sdk::Observer& observer) {
    for (int i = 0; i < 2000 && observer.stats().ticks_verified == 0; ++i) {
      cluster.run(50'000, rng);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  cluster.run(1'000'000, rng);
  sdk::Observer& first = cluster.add_observer(900);
  run_until_started(first);
  cluster.run(1'000'000, rng);
  sdk::Observer& second = cluster.add_observer(901);
  run_until_started(second);
  cluster.run(500'000, rng);
  sdk::Observer& third = cluster.add_observer(902);
  cluster.run(4'000'000, rng);
  for (sdk::Observer* o : {&first, &second}) {
    EXPECT_EQ(o->state(), net::ClientState::connected);
    EXPECT_GT(o->stats().ticks_verified, 60U) << o->last_error();
    EXPECT_EQ(o->stats().hash_mismatches, 0U);
    EXPECT_EQ(o->stats().gaps, 0U);
  }
  EXPECT_NE(third.state(), net::ClientState::connected);
  EXPECT_EQ(third.stats().ticks_verified, 0U);
  const NodeCounters c = cluster.node().counters();
  EXPECT_EQ(c.observers_refused, 1U);
  // The second observer either joined the encoding in flight (simulated time runs far faster than
  // the encoder's thread) or had its own: at most one encoding per observer let in.
  EXPECT_GE(c.observer_world_encodings, 1U);
  EXPECT_LE(c.observer_world_encodings, 2U);
  EXPECT_EQ(cluster.node().sessions(), 10U);
}

// An observer that stops reading (but stays alive) fills its netchannel window, then its queue;
// beyond observer_backlog_bytes_max it is disconnected: the server's memory for it is bounded.
TEST(Node, AnObserverThatStopsReadingIsDroppedWhenItsBacklogPassesTheBound) {
  TempDir dir;
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster(dir.path.string(), link, 10, [](RegionalNode::Options& options) {
    options.observer_backlog_bytes_max = 4096;
    options.net.connection.reliable_window = net::fragment_count_max;  // the smallest window: fills soon
  });
  cluster.add_clients(4);
  sim::Rng rng = sim::Rng::seeded(7, 7);
  sdk::Observer& observer = cluster.add_observer(950);
  cluster.run(2'000'000, rng);
  ASSERT_GT(observer.stats().ticks_verified, 10U);
  const size_t before = cluster.node().sessions();
  cluster.set_observer_reading(0, false);
  cluster.run(30'000'000, rng);
  const NodeCounters c = cluster.node().counters();
  EXPECT_EQ(c.observers_dropped_slow, 1U);
  EXPECT_EQ(cluster.node().sessions(), before - 1);
  for (size_t i = 0; i < cluster.size(); ++i) EXPECT_EQ(cluster.client(i).stats().checksum_mismatches, 0U);
}

// The whole node through its ports: a MemorySessionLog, a ManualClock and a DeterministicRandom,
// one thread, no builder or encoder threads; players and an observer. Two runs with the same seed
// send the same datagrams,
// byte for byte (a run with another seed does not: the digest sees what is sent), and the memory
// log replays bit-exact.
TEST(Node, OverItsPortsTheSameSeedSendsTheSameBytes) {
  struct Outcome {
    uint64_t digest = 0;
    uint64_t datagrams = 0;
    uint64_t ticks = 0;
    uint64_t full_hash = 0;
  };
  auto run = [](uint64_t seed) {
    net::LinkConfig link;
    link.latency_us = 20'000;
    link.jitter_us = 10'000;
    link.loss = 0.05;
    link.duplicate = 0.02;
    Cluster cluster("", link, seed);
    cluster.add_clients(12);
    sdk::Observer& observer = cluster.add_observer(900);  // the observer stream and its world encoding too
    sim::Rng rng = sim::Rng::seeded(seed, 3);
    cluster.run(4'000'000, rng);
    EXPECT_GT(cluster.node().counters().snapshots_sent, 500U);
    EXPECT_GT(observer.stats().ticks_verified, 20U);
    auto source = cluster.disk().source();
    const replay::ReplayResult verified = replay::replay(*source, {});
    EXPECT_TRUE(verified.status.ok()) << verified.status.describe();
    EXPECT_EQ(verified.last_tick, cluster.node().simulation().tick());
    return Outcome{cluster.sent_digest(), cluster.sent_datagrams(), cluster.node().simulation().tick(),
                   cluster.node().simulation().full_hash()};
  };
  const Outcome first = run(21);
  const Outcome second = run(21);
  const Outcome other = run(22);
  EXPECT_EQ(first.datagrams, second.datagrams);
  EXPECT_EQ(first.digest, second.digest);
  EXPECT_EQ(first.full_hash, second.full_hash);
  EXPECT_EQ(first.ticks, 80U);
  EXPECT_NE(first.digest, other.digest);
}

// A node over a memory log whose background fsync trails the ticks, crashed (power loss): the
// restarted node recovers exactly the world of the last durable tick (the log replayed to it), and
// nothing of a later tick had been sent.
TEST(Node, RecoversTheLastDurableTickAfterAMachineCrashOfItsMemoryLog) {
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster("", link, 31,
                  [](RegionalNode::Options& options) { options.config.log_sync = replay::WalSync::background; });
  cluster.memory_log()->set_sync_lag(4);
  cluster.add_clients(6);
  sim::Rng rng = sim::Rng::seeded(31, 1);
  uint64_t newest_seen = 0;
  cluster.run(3'000'000, rng);
  for (size_t i = 0; i < cluster.size(); ++i) newest_seen = std::max(newest_seen, cluster.client(i).newest_tick());
  const uint64_t last = cluster.node().simulation().tick();
  const uint64_t durable = cluster.node().durable_tick();
  EXPECT_EQ(durable, last - 4);
  EXPECT_LE(newest_seen, durable) << "a client saw a tick the disk did not hold";
  // The world at the durable tick, replayed from the log before the crash.
  uint64_t expected_hash = 0;
  {
    auto source = cluster.disk().source();
    replay::StateAt at = replay::state_at(*source, durable);
    ASSERT_TRUE(at.sim) << at.status.describe();
    expected_hash = at.sim->full_hash();
  }
  cluster.disk().crash(replay::CrashKind::machine);
  cluster.close_node();
  cluster.open_node("");
  EXPECT_EQ(cluster.node().recovered_from_tick(), durable);
  EXPECT_EQ(cluster.node().simulation().tick(), durable);
  EXPECT_EQ(cluster.node().simulation().full_hash(), expected_hash);
  cluster.behaving = false;
  cluster.run(1'000'000, rng);  // ticks on from there: the players of the lost session leave
  EXPECT_EQ(cluster.node().simulation().world().players.size(), 0U);
  auto source = cluster.disk().source();
  const replay::ReplayResult verified = replay::replay(*source, {});
  EXPECT_TRUE(verified.status.ok()) << verified.status.describe();
}

// The same invariant as BackgroundSyncSendsNothingOfATickTheDiskDoesNotHold, on a memory log whose
// sync the test holds (no threads: deterministic): while held no client sees a tick the disk does
// not hold; once it completes, what was held back is sent and the clients play on.
TEST(Node, AHeldMemoryLogSyncHoldsBackEverySendOfLaterTicks) {
  net::LinkConfig link;
  link.latency_us = 10'000;
  Cluster cluster("", link, 3,
                  [](RegionalNode::Options& options) { options.config.log_sync = replay::WalSync::background; });
  cluster.add_clients(6);
  sim::Rng rng = sim::Rng::seeded(2, 2);
  cluster.run(3'000'000, rng);
  auto newest_seen = [&] {
    uint64_t newest = 0;
    for (size_t i = 0; i < cluster.size(); ++i) newest = std::max(newest, cluster.client(i).newest_tick());
    return newest;
  };
  ASSERT_GT(newest_seen(), 0U);
  cluster.memory_log()->hold_sync(true);
  const uint64_t held_at = cluster.node().durable_tick();
  cluster.run(1'000'000, rng);  // 20 ticks, below the lag bound (40)
  EXPECT_GE(cluster.node().simulation().tick(), held_at + 20);
  EXPECT_EQ(cluster.node().durable_tick(), held_at);
  EXPECT_LE(newest_seen(), held_at) << "a client saw a tick the disk does not hold";
  EXPECT_EQ(cluster.memory_log()->stalls(), 0U);
  cluster.memory_log()->complete_sync();
  cluster.memory_log()->hold_sync(false);
  cluster.run(500'000, rng);
  EXPECT_GT(newest_seen(), held_at + 19) << "what was held back was sent once durable";
}

// A log store that fails an append: the tick reports it (the node must stop), the failure is
// counted, and nothing of that tick becomes durable.
TEST(Node, AFailingLogAppendStopsTheTick) {
  net::LinkConfig link;
  Cluster cluster("", link, 4);
  cluster.add_clients(2);
  sim::Rng rng = sim::Rng::seeded(4, 4);
  cluster.run(1'000'000, rng);
  const uint64_t tick = cluster.node().simulation().tick();
  cluster.memory_log()->fail_append(tick + 1, replay::Status::error(replay::Code::io, "disk full"));
  EXPECT_FALSE(cluster.node().tick(cluster.now() + 50'000));
  EXPECT_EQ(cluster.node().counters().log_failures, 1U);
  EXPECT_EQ(cluster.node().durable_tick(), tick);
  EXPECT_EQ(cluster.disk().last_written(), tick);
}

}  // namespace
}  // namespace strata::server
