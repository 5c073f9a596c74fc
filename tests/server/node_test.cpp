// tests/server/node_test.cpp — the regional node end to end on simulated time: a real session log
// (RocksDB in a temp dir), the real netchannel, and SDK clients over seeded lossy links. Clients
// wander and build; every snapshot must reconstruct to the server's AOI checksum, every client's
// inputs must be processed, and the log must then replay bit-exact — also across a restart.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <functional>

#include "net/link_sim.h"
#include "net/sdk/game_client.h"
#include "net/token.h"
#include "replay/replayer.h"
#include "replay/rocks_log.h"
#include "server/node.h"
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
  }

 private:
  net::LinkSim& link_;
  net::Address from_;
  const uint64_t& now_;
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
  Cluster(const std::string& log_dir, const net::LinkConfig& link, uint64_t seed)
      : up_(link, seed), down_(link, seed * 7 + 1), node_sink_(down_, server_address(), now_) {
    private_key_ = net::random_key();
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
    options.net = net::default_server_config();
    options.net.protocol_id = protocol_id;
    options.net.public_address = server_address();
    options.net.private_key = private_key_;
    options.log_dir = log_dir;
    std::string error;
    node_ = RegionalNode::create(options, error);
    ASSERT_TRUE(node_) << error;
  }
  void close_node() { node_.reset(); }
  bool shutdown_node() { return node_->shutdown(now_ += 50'000, node_sink_); }
  void add_clients(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const size_t index = clients_.size();
      net::ConnectTokenParams params;
      params.protocol_id = protocol_id;
      params.client_id = net::ClientId{index + 1};
      params.expire_seconds = 600;
      params.timeout_seconds = 10;
      params.server_addresses = {server_address()};
      auto token = net::mint_connect_token(params, private_key_, now_ / 1'000'000);
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
      net::SimDatagram d;
      while (up_.receive(now_, d)) node_->receive(net::TransportKind::datagram, d.from, d.data, now_, node_sink_);
      while (down_.receive(now_, d)) {
        const size_t index = static_cast<size_t>(d.to.ip[2]) << 8 | d.to.ip[3];
        if (index < clients_.size()) clients_[index]->receive(d.from, d.data, now_);
        if (index >= raw_base && index - raw_base < raw_.size()) raw_[index - raw_base]->receive(d.from, d.data, now_);
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
    auto token = net::mint_connect_token(params, private_key_, now_ / 1'000'000);
    raw_.push_back(std::make_unique<net::Client>(net::default_client_config()));
    raw_sinks_.push_back(std::make_unique<LinkSink>(up_, client_address(raw_base + raw_.size() - 1), now_));
    EXPECT_TRUE(raw_.back()->connect(*token, now_));
    return *raw_.back();
  }
  std::function<void(uint64_t tick)> on_tick;
  bool behaving = true;  // clients wander, build and break
  RegionalNode& node() { return *node_; }
  sdk::GameClient& client(size_t i) { return *clients_[i]; }
  size_t size() const { return clients_.size(); }

 private:
  uint64_t now_ = start_us;
  uint64_t next_tick_ = start_us;
  net::Key private_key_{};
  net::LinkSim up_;
  net::LinkSim down_;
  LinkSink node_sink_;
  std::unique_ptr<RegionalNode> node_;
  std::vector<std::unique_ptr<sdk::GameClient>> clients_;
  std::vector<std::unique_ptr<LinkSink>> sinks_;
  static constexpr size_t raw_base = 1000;
  std::vector<std::unique_ptr<net::Client>> raw_;
  std::vector<std::unique_ptr<LinkSink>> raw_sinks_;
};

replay::ReplayResult verify_log(const std::string& dir) {
  replay::Status status;
  auto log = replay::open_rocks_log(dir, status);
  EXPECT_TRUE(log) << status.describe();
  if (!log) return {};
  return replay::replay(*log, replay::ReplayOptions{});
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

}  // namespace
}  // namespace strata::server
