// tests/server/storage_runtime_test.cpp: the storage service as the runtime's TickObserver, on one
// thread under a ManualClock: a client joins through the runtime's steps, its position reaches the
// store every M ticks (the near query finds it where the world has it), and the shutdown's tick
// ends the session record and takes the position away, before the node closes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "net/client.h"
#include "net/random.h"
#include "net/token.h"
#include "server/node_start.h"
#include "server/runtime.h"
#include "server/storage_service.h"
#include "tests/server/direct_network.h"

namespace strata::server {
namespace {

constexpr uint64_t protocol_id = 0x5354524154410005ULL;

using test::client_address;
using test::DirectNetwork;
using test::server_address;
struct TempDir : test::TempDir {
  explicit TempDir(const std::string& name) : test::TempDir("storage-runtime-test", name) {}
};

std::string near_body(StorageService& service, const std::string& query) {
  auto body = std::make_shared<std::string>();
  service.near(query, [body](HttpResponse response) { *body = std::to_string(response.status) + " " + response.body; });
  for (int i = 0; i < 10 && body->empty(); ++i) service.pump();
  return *body;
}

TEST(StorageRuntime, PositionsFollowTheTicksAndTheShutdownEndsTheSession) {
  TempDir dir("join");
  ManualClock clock;
  net::DeterministicRandom random{7};
  RegionalNode::Options options;
  options.config.world.seed = 7;
  options.config.world.chunks_x = 2;
  options.config.world.chunks_y = 2;
  options.config.log_sync = replay::WalSync::none;
  options.net = net::default_server_config();
  options.net.protocol_id = protocol_id;
  options.net.public_address = server_address();
  options.net.private_key = net::Key{};
  options.observer_encode_thread = false;
  options.clock = &clock;
  options.random = &random;
  std::string error;
  StorageService::Options storage_options;
  storage_options.stores.data_dir = (dir.path / "data").string();
  storage_options.stores.sync = false;
  storage_options.positions_every_ticks = 10;
  storage_options.worker_threads = false;
  storage_options.session = storage::SessionId{5};
  auto storage = StorageService::open(storage_options, error);
  ASSERT_TRUE(storage) << error;
  std::optional<NodeStart> start =
      open_start_with_storage(options.config, (dir.path / "log").string(), *storage, error);
  ASSERT_TRUE(start) << error;
  auto node = RegionalNode::create(options, std::move(*start), error);
  ASSERT_TRUE(node) << error;
  storage->start(node->simulation().world());
  DirectNetwork network;
  Runtime runtime(RuntimeConfig{}, clock, std::move(node), network, nullptr, nullptr);
  runtime.add_tick_observer(*storage);

  net::ConnectTokenParams params;
  params.protocol_id = protocol_id;
  params.client_id = net::ClientId{42};
  params.server_addresses = {server_address()};
  net::DeterministicRandom token_random(8);
  auto token = net::mint_connect_token(params, net::Key{}, clock.wall_us() / 1'000'000, token_random);
  ASSERT_TRUE(token);
  net::Client client(net::default_client_config());
  ASSERT_TRUE(client.connect(*token, clock.wall_us()));
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(runtime.step());
    for (const auto& [from, data] : network.to_client.datagrams) client.receive(from, data, clock.wall_us());
    network.to_client.datagrams.clear();
    client.update(clock.wall_us());
    client.send_packets(clock.wall_us(), network.to_node);
    clock.advance(5'000);
  }
  ASSERT_EQ(runtime.node().simulation().world().players.size(), 1U);
  const sim::Player& player = runtime.node().simulation().world().players[0];
  const int32_t x = player.pos.x.tile(), y = player.pos.y.tile();
  EXPECT_EQ(storage->counters().position_batches, 1U);  // joined (and stood) before tick 40's batch
  const std::string at = "x=" + std::to_string(x) + "&y=" + std::to_string(y) + "&r=0";
  EXPECT_EQ(near_body(*storage, at), "200 {\"x\":" + std::to_string(x) + ",\"y\":" + std::to_string(y) +
                                         ",\"r\":0,\"count\":1,\"truncated\":false,\"players\":[{\"player\":42,\"x\":" +
                                         std::to_string(x) + ",\"y\":" + std::to_string(y) + "}]}\n");

  const RuntimeStop stop = runtime.stop();
  ASSERT_TRUE(stop.final_logged);
  EXPECT_EQ(storage->counters().positions_gone, 1U);
  EXPECT_NE(near_body(*storage, at).find("\"count\":0"), std::string::npos);
  auto ticket = storage->stores().sessions().read(storage::SessionId{5});
  ASSERT_TRUE(ticket);
  storage->pump();
  auto session = storage->stores().sessions().take(*ticket);
  ASSERT_TRUE(session && session->ok() && session->value);
  EXPECT_EQ(session->value->start_tick, 0U);
  EXPECT_EQ(session->value->end_tick, stop.final_tick);
}

}  // namespace
}  // namespace strata::server
