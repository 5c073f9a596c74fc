// tests/server/runtime_test.cpp — the runtime on one thread under a ManualClock: ticks at the
// configured rate of simulated time (and catches up after a stall without a burst), the same ticks
// and world on every run, a client connecting through the step API joins the world, the status and
// metrics are published, and the shutdown sequence logs the final tick, closes the log (the node
// recovers from it at that tick) and runs the stop steps after it.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "net/client.h"
#include "net/random.h"
#include "net/token.h"
#include "server/metrics.h"
#include "server/node_start.h"
#include "server/runtime.h"
#include "server/status.h"
#include "tests/server/direct_network.h"

namespace strata::server {
namespace {

constexpr uint64_t protocol_id = 0x5354524154410003ULL;

using test::client_address;
using test::DirectNetwork;
using test::server_address;
struct TempDir : test::TempDir {
  explicit TempDir(const std::string& name) : test::TempDir("runtime-test", name) {}
};

RegionalNode::Options node_options() {
  RegionalNode::Options options;
  options.config.world.seed = 7;
  options.config.world.chunks_x = 2;
  options.config.world.chunks_y = 2;
  options.config.world.npc_count = 6;
  options.config.log_sync = replay::WalSync::none;
  options.net = net::default_server_config();
  options.net.protocol_id = protocol_id;
  options.net.public_address = server_address();
  options.net.private_key = net::Key{};  // fixed: the run is the same every time
  options.observer_encode_thread = false;
  return options;
}

// A node over a RocksDB log in `log_dir` (recovered if it holds one), on `clock`, drawing from a
// seeded random.
struct NodePorts {
  const Clock& clock;
  net::DeterministicRandom random{7};
};
std::unique_ptr<RegionalNode> open_node(const std::string& log_dir, NodePorts& ports) {
  RegionalNode::Options options = node_options();
  options.clock = &ports.clock;
  options.random = &ports.random;
  std::string error;
  std::optional<NodeStart> start = open_rocks_start(options.config, log_dir, error);
  EXPECT_TRUE(start) << error;
  if (!start) return nullptr;
  auto node = RegionalNode::create(options, std::move(*start), error);
  EXPECT_TRUE(node) << error;
  return node;
}

// Captures what the runtime logs.
struct LogCapture {
  std::ostringstream text;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  LogCapture() {
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_st>(text)));
  }
  ~LogCapture() { spdlog::set_default_logger(previous); }
};

TEST(Runtime, TicksAtTheConfiguredRateOfSimulatedTime) {
  TempDir dir("rate");
  ManualClock clock;
  NodePorts ports{clock};
  DirectNetwork network;
  RuntimeConfig config;
  config.tick_rate_hz = 20;
  Runtime runtime(config, clock, open_node(dir.path.string(), ports), network, nullptr, nullptr);
  const uint64_t start = clock.monotonic_us();
  runtime.run_until(clock, start + 10'000'000);  // 10 s: a tick at 0, 50 ms, ..., 9.95 s, and 10 s
  EXPECT_EQ(runtime.ticks(), 201U);
  EXPECT_EQ(runtime.node().simulation().tick(), 201U);
  EXPECT_EQ(runtime.next_tick_us(), start + 201 * 50'000);
  // Every step received, flushed and sent, and nothing but a tick moved the clock.
  EXPECT_EQ(network.receives, network.sends);
  EXPECT_EQ(network.receives, 201U);
  // A stall (the host paused us for 2 s): one tick, then the period again, not 40 ticks at once.
  clock.advance(2'000'000);
  EXPECT_TRUE(runtime.step());
  EXPECT_EQ(runtime.ticks(), 202U);
  EXPECT_TRUE(runtime.step());
  EXPECT_EQ(runtime.ticks(), 202U) << "no burst after a stall";
  EXPECT_EQ(runtime.next_tick_us(), clock.monotonic_us() + 50'000);
  const uint64_t before = runtime.ticks();
  runtime.run_until(clock, clock.monotonic_us() + 1'000'000);
  EXPECT_EQ(runtime.ticks() - before, 20U);
  const RuntimeStop stop = runtime.stop();
  EXPECT_TRUE(stop.final_logged);
  EXPECT_EQ(stop.exit_code(), 0);
}

TEST(Runtime, RunForStopsAtItsSimulatedDeadline) {
  TempDir dir("run_for");
  ManualClock clock;
  NodePorts ports{clock};
  DirectNetwork network;
  RuntimeConfig config;
  config.tick_rate_hz = 10;
  config.run_for_us = 3'000'000;
  Runtime runtime(config, clock, open_node(dir.path.string(), ports), network, nullptr, nullptr);
  runtime.run_until(clock, clock.monotonic_us() + 60'000'000);
  EXPECT_TRUE(runtime.stopping());
  EXPECT_EQ(runtime.ticks(), 30U);  // 0, 100 ms, ..., 2.9 s
  EXPECT_FALSE(runtime.step());
}

TEST(Runtime, SameTicksAndWorldOnEveryRun) {
  uint64_t hashes[2] = {};
  for (uint64_t& hash : hashes) {
    TempDir dir("same");
    ManualClock clock;
    NodePorts ports{clock};
    DirectNetwork network;
    Runtime runtime(RuntimeConfig{}, clock, open_node(dir.path.string(), ports), network, nullptr, nullptr);
    runtime.run_until(clock, clock.monotonic_us() + 5'000'000);
    hash = runtime.stop().final_hash;
  }
  EXPECT_EQ(hashes[0], hashes[1]);
}

TEST(Runtime, AClientJoinsAndTheShutdownLogsTheFinalTick) {
  TempDir dir("client");
  ManualClock clock;
  NodePorts ports{clock};
  DirectNetwork network;
  std::string error;
  auto metrics = Metrics::create(default_metrics_config(), error);
  ASSERT_TRUE(metrics) << error;
  Status status;
  LogCapture log;
  Runtime runtime(RuntimeConfig{}, clock, open_node(dir.path.string(), ports), network, metrics.get(), &status);
  std::vector<std::string> stopped;
  runtime.add_stop_step([&] { stopped.push_back("login"); });
  runtime.add_stop_step([&] { stopped.push_back("http"); });

  net::ConnectTokenParams params;
  params.protocol_id = protocol_id;
  params.client_id = net::ClientId{42};
  params.server_addresses = {server_address()};
  net::DeterministicRandom token_random(8);
  auto token = net::mint_connect_token(params, net::Key{}, clock.wall_us() / 1'000'000, token_random);
  ASSERT_TRUE(token);
  net::Client client(net::default_client_config());
  ASSERT_TRUE(client.connect(*token, clock.wall_us()));
  // The vopr's loop: the runtime's step, then the client's, 5 ms apart.
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(runtime.step());
    for (const auto& [from, data] : network.to_client.datagrams) client.receive(from, data, clock.wall_us());
    network.to_client.datagrams.clear();
    client.update(clock.wall_us());
    client.send_packets(clock.wall_us(), network.to_node);
    clock.advance(5'000);
  }
  ASSERT_EQ(client.state(), net::ClientState::connected);
  EXPECT_EQ(runtime.node().sessions(), 1U);
  EXPECT_EQ(runtime.node().simulation().world().players.size(), 1U);
  EXPECT_EQ(runtime.ticks(), 40U);  // 2 s at 20 Hz
  {
    std::lock_guard lock(status.mutex);
    EXPECT_TRUE(status.ready);
    EXPECT_EQ(status.tick, 40U);  // published every 10 ticks
    EXPECT_EQ(status.sessions, 1U);
    EXPECT_EQ(status.counters.node.joins, 1U);
    EXPECT_EQ(status.counters.node.ticks, 40U);  // published every tick
    EXPECT_GT(status.counters.net.datagrams_received, 0U);
  }
  const std::string text = metrics->render();
  EXPECT_NE(text.find("strata_tick 40\n"), std::string::npos) << text;
  EXPECT_NE(text.find("strata_players_connected 1\n"), std::string::npos);

  const RuntimeStop stop = runtime.stop();
  EXPECT_TRUE(stop.final_logged);
  EXPECT_FALSE(stop.log_failed);
  EXPECT_EQ(stop.final_tick, 41U);  // the shutdown's tick, in which the player leaves
  EXPECT_EQ(stopped, (std::vector<std::string>{"login", "http"}));
  EXPECT_EQ(runtime.stop().final_tick, 41U) << "stop() is once";
  const std::string logged = log.text.str();
  EXPECT_NE(logged.find("stopping: telling 1 clients, closing the session log at tick 40"), std::string::npos)
      << logged;
  EXPECT_NE(logged.find("stopped at tick 41, full_hash"), std::string::npos) << logged;
  // The client was told.
  for (const auto& [from, data] : network.to_client.datagrams) client.receive(from, data, clock.wall_us());
  EXPECT_EQ(client.state(), net::ClientState::disconnected);
  // The log was closed at the final tick: a node opened on it recovers there, with the same world.
  NodePorts recovered_ports{clock};
  auto recovered = open_node(dir.path.string(), recovered_ports);
  ASSERT_TRUE(recovered);
  EXPECT_EQ(recovered->recovered_from_tick(), stop.final_tick);
  EXPECT_EQ(recovered->simulation().full_hash(), stop.final_hash);
}

// The real-time driver (a sim thread and the network loop on this one) runs the same shutdown
// sequence; asked to stop before it starts, it runs no tick but the shutdown's.
TEST(Runtime, RealTimeDriverStopsWhenSignalledAndShutsDown) {
  TempDir dir("real_time");
  SystemClock clock;
  NodePorts ports{clock};
  DirectNetwork network;
  std::atomic<bool> stop_signal{true};
  RuntimeConfig config;
  config.stop_signal = &stop_signal;
  Runtime runtime(config, clock, open_node(dir.path.string(), ports), network, nullptr, nullptr);
  const RuntimeStop stop = runtime.run();
  EXPECT_EQ(runtime.ticks(), 0U);
  EXPECT_TRUE(stop.final_logged);
  EXPECT_EQ(stop.final_tick, 1U);
  EXPECT_EQ(stop.exit_code(), 0);
}

// With run_for, it stops by itself (how many ticks it ran depends on the host: not checked).
TEST(Runtime, RealTimeDriverStopsAfterRunFor) {
  TempDir dir("real_time_run_for");
  SystemClock clock;
  NodePorts ports{clock};
  DirectNetwork network;
  RuntimeConfig config;
  config.run_for_us = 200'000;
  Runtime runtime(config, clock, open_node(dir.path.string(), ports), network, nullptr, nullptr);
  const RuntimeStop stop = runtime.run();
  EXPECT_TRUE(runtime.stopping());
  EXPECT_EQ(stop.final_tick, runtime.ticks() + 1);
  EXPECT_TRUE(stop.final_logged);
  EXPECT_EQ(stop.exit_code(), 0);
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

// A region's world parameters are fixed for its log's life: a restart whose configuration changed
// the region map (or the seed, the map size, the region) is refused with what changed, and the
// unchanged configuration still recovers.
TEST(NodeStart, ARestartWithAnotherRegionMapOrSeedIsRefused) {
  TempDir dir("strata-node-start-params");
  ServerConfig config = node_options().config;
  config.world.region_map.mode = sim::Ownership::by_map;
  config.world.region_map.fallback = sim::RegionId{1};
  config.world.region_map.rects = {sim::RegionRect{0, 0, 1, 2, sim::RegionId{2}}};
  std::string error;
  {
    std::optional<NodeStart> start = open_rocks_start(config, dir.path.string(), error);
    ASSERT_TRUE(start) << error;
  }
  ServerConfig moved = config;
  moved.world.region_map.rects[0].region = sim::RegionId{3};
  EXPECT_FALSE(open_rocks_start(moved, dir.path.string(), error));
  EXPECT_NE(error.find("world.region_map"), std::string::npos) << error;
  ServerConfig reseeded = config;
  reseeded.world.seed += 1;
  EXPECT_FALSE(open_rocks_start(reseeded, dir.path.string(), error));
  EXPECT_NE(error.find("world.seed"), std::string::npos) << error;
  std::optional<NodeStart> again = open_rocks_start(config, dir.path.string(), error);
  EXPECT_TRUE(again) << error;
}

}  // namespace
}  // namespace strata::server
