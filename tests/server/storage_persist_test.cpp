// tests/server/storage_persist_test.cpp: players keep what they own (issue 16 item 1), through the
// real node and runtime on one thread under a ManualClock, the storage service over the embedded
// stores pumped by the test's loop:
//   - a joining player's join waits for its save; a player the store does not know starts fresh;
//     the state it leaves with is saved; a returning player continues from its save (position,
//     facing, stamina, health, inventory), also after the server stops and starts again on its log;
//   - after a crash, the recovered world's players are saved with the state the log has;
//   - a load that does not answer within join_wait_ticks: the join goes ahead with the last known
//     state (counted), and the late answer is dropped;
//   - a client that leaves while its join waits: no join, no leave, the load cancelled;
//   - a join the saves say may not go unloaded (holds across regions) is refused after its wait.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "net/client.h"
#include "net/random.h"
#include "net/token.h"
#include "server/node_start.h"
#include "server/player_saves.h"
#include "server/runtime.h"
#include "server/storage_service.h"
#include "tests/server/direct_network.h"

namespace strata::server {
namespace {

constexpr uint64_t protocol_id = 0x5354524154410006ULL;

using test::client_address;
using test::DirectNetwork;
using test::server_address;
struct TempDir : test::TempDir {
  explicit TempDir(const std::string& name) : test::TempDir("storage-persist-test", name) {}
};

// The storage's PlayerSaves, except that a join whose save was not loaded is refused (what the
// storage says with holds across regions, when another region may hold the player).
struct RefusingSaves final : PlayerSaves {
  PlayerSaves* inner = nullptr;
  bool request(sim::PlayerId p) override { return inner->request(p); }
  Poll poll(sim::PlayerId p, std::optional<sim::PlayerSave>& save) override { return inner->poll(p, save); }
  void cancel(sim::PlayerId p) override { inner->cancel(p); }
  std::optional<sim::PlayerSave> last_known(sim::PlayerId p) override { return inner->last_known(p); }
  void left(uint64_t tick, std::span<const std::pair<sim::PlayerId, sim::PlayerSave>> saves) override {
    inner->left(tick, saves);
  }
  bool may_join_unloaded(sim::PlayerId) override { return false; }
};

// A server: the storage service (embedded, pumped here), a node on its log, the runtime.
struct Server {
  ManualClock& clock;
  net::DeterministicRandom random{7};
  DirectNetwork network;
  std::unique_ptr<StorageService> storage;
  std::unique_ptr<Runtime> runtime;
  bool pump_storage = true;
  RefusingSaves refusing;

  Server(ManualClock& c, const TempDir& dir, uint32_t join_wait_ticks = 40, uint64_t epoch_s = 0,
         bool refuse_unloaded = false)
      : clock(c) {
    std::string error;
    StorageService::Options storage_options;
    storage_options.stores.data_dir = (dir.path / "stores").string();
    storage_options.stores.sync = false;
    storage_options.worker_threads = false;
    storage_options.players_every_ticks = 1000;
    storage_options.version_epoch_s = epoch_s;
    storage = StorageService::open(storage_options, error);
    EXPECT_TRUE(storage) << error;
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
    refusing.inner = storage.get();
    options.player_saves = refuse_unloaded ? static_cast<PlayerSaves*>(&refusing) : storage.get();
    options.join_wait_ticks = join_wait_ticks;
    std::optional<NodeStart> start = open_rocks_start(options.config, (dir.path / "log").string(), error);
    EXPECT_TRUE(start) << error;
    auto node = RegionalNode::create(options, std::move(*start), error);
    EXPECT_TRUE(node) << error;
    storage->start(node->simulation().world());
    runtime = std::make_unique<Runtime>(RuntimeConfig{}, clock, std::move(node), network, nullptr, nullptr);
    runtime->add_tick_observer(*storage);
  }
  // Steps the runtime (and the client) for `steps` turns of 5 ms.
  void run(net::Client* client, int steps) {
    for (int i = 0; i < steps; ++i) {
      ASSERT_TRUE(runtime->step());
      if (pump_storage) storage->pump();
      if (client != nullptr) {
        for (const auto& [from, data] : network.to_client.datagrams) client->receive(from, data, clock.wall_us());
        network.to_client.datagrams.clear();
        client->update(clock.wall_us());
        client->send_packets(clock.wall_us(), network.to_node);
      } else {
        network.to_client.datagrams.clear();
      }
      clock.advance(5'000);
    }
  }
  [[nodiscard]] const sim::Player* player(uint32_t id) const {
    for (const sim::Player& p : runtime->node().simulation().world().players)
      if (sim::raw(p.id) == id) return &p;
    return nullptr;
  }
  [[nodiscard]] std::optional<storage::PlayerRecord> stored(uint32_t id) {
    auto ticket = storage->stores().players().read(storage::PlayerKey{id});
    EXPECT_TRUE(ticket);
    storage->pump();
    auto answer = storage->stores().players().take(*ticket);
    EXPECT_TRUE(answer && answer->ok());
    return answer && answer->ok() ? answer->value : std::nullopt;
  }
};

std::unique_ptr<net::Client> connect(ManualClock& clock, uint64_t client_id, uint64_t seed) {
  net::ConnectTokenParams params;
  params.protocol_id = protocol_id;
  params.client_id = net::ClientId{client_id};
  params.server_addresses = {server_address()};
  net::DeterministicRandom token_random(seed);
  auto token = net::mint_connect_token(params, net::Key{}, clock.wall_us() / 1'000'000, token_random);
  EXPECT_TRUE(token);
  auto client = std::make_unique<net::Client>(net::default_client_config());
  EXPECT_TRUE(client->connect(*token, clock.wall_us()));
  return client;
}

TEST(PlayerPersistence, AReturningPlayerContinuesFromItsSaveAcrossARestart) {
  TempDir dir("return");
  ManualClock clock;
  sim::PlayerSave what_it_had;
  {
    Server server(clock, dir);
    auto client = connect(clock, 42, 1);
    server.run(client.get(), 400);
    const sim::Player* p = server.player(42);
    ASSERT_NE(p, nullptr) << "joined";
    EXPECT_EQ(server.storage->counters().player_loads_none, 1U);  // unknown: a fresh start
    EXPECT_EQ(server.runtime->node().counters().joins_waited, 1U);
    const sim::PlayerSave fresh = sim::save_of(*p);
    client->disconnect(net::DisconnectReason::requested, clock.wall_us());
    server.run(client.get(), 100);
    ASSERT_EQ(server.player(42), nullptr) << "left";
    EXPECT_EQ(server.storage->counters().player_saves_left, 1U);
    std::optional<storage::PlayerRecord> record = server.stored(42);
    ASSERT_TRUE(record);
    EXPECT_GT(record->version, 0U);
    EXPECT_EQ(decode_player_save(record->state), fresh);
    const uint64_t gathered_version = record->version + 1000;
    // What it gathered and where it walked meanwhile (as another region would have saved it).
    what_it_had = fresh;
    what_it_had.pos.x += sim::Fixed::from_tiles(2);
    what_it_had.facing = sim::Direction::e;
    // (stamina and health as they were: they recover over the ticks it stands; the codec test
    // carries every field)
    what_it_had.inventory[static_cast<size_t>(sim::Item::wood)] = 17;
    what_it_had.inventory[static_cast<size_t>(sim::Item::stone)] = 4;
    ASSERT_EQ(server.storage->stores()
                  .players()
                  .write({storage::PlayerKey{42}, gathered_version, encode_player_save(what_it_had)})
                  .status,
              storage::Submit::queued);
    auto again = connect(clock, 42, 2);
    server.run(again.get(), 400);
    p = server.player(42);
    ASSERT_NE(p, nullptr) << "joined again";
    EXPECT_EQ(sim::save_of(*p), what_it_had);
    EXPECT_EQ(server.storage->counters().player_loads_found, 1U);
    const RuntimeStop stop = server.runtime->stop();  // the shutdown's tick: it leaves, saved
    ASSERT_TRUE(stop.final_logged);
    record = server.stored(42);
    ASSERT_TRUE(record);
    EXPECT_EQ(record->version, gathered_version + 1);  // above the version it loaded (and its tick)
    EXPECT_EQ(decode_player_save(record->state), what_it_had);
  }
  // A restart on the same log and stores: it comes back with what it had.
  Server server(clock, dir);
  auto client = connect(clock, 42, 3);
  server.run(client.get(), 400);
  const sim::Player* p = server.player(42);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(sim::save_of(*p), what_it_had);
  EXPECT_EQ(server.runtime->stop().exit_code(), 0);
}

// A crash (the runtime gone without its shutdown, the storage's queue with it): the restarted node
// recovers the world from its log, the players in it leave in its first tick, and each is saved
// with the state the log has, under the new session's version (above anything the crashed run
// wrote).
TEST(PlayerPersistence, AfterACrashTheRecoveredPlayersAreSavedWithWhatTheLogSays) {
  TempDir dir("crash");
  ManualClock clock;
  sim::PlayerSave in_the_log;
  {
    Server server(clock, dir, 40, 1);
    auto client = connect(clock, 42, 1);
    server.run(client.get(), 400);
    const sim::Player* p = server.player(42);
    ASSERT_NE(p, nullptr);
    in_the_log = sim::save_of(*p);
    server.runtime.reset();  // no stop(): no final tick, no shutdown saves
  }
  Server server(clock, dir, 40, 2);
  server.run(nullptr, 100);
  EXPECT_EQ(server.player(42), nullptr);
  EXPECT_EQ(server.storage->counters().player_saves_left, 1U);
  const std::optional<storage::PlayerRecord> record = server.stored(42);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->version >> 32, 2U);
  EXPECT_EQ(decode_player_save(record->state), in_the_log);
  EXPECT_EQ(server.runtime->stop().exit_code(), 0);
}

TEST(PlayerPersistence, ALoadThatDoesNotAnswerJoinsWithTheLastKnownStateAfterItsWait) {
  TempDir dir("timeout");
  ManualClock clock;
  Server server(clock, dir, 10);
  server.pump_storage = false;  // the store never answers
  auto client = connect(clock, 7, 1);
  server.run(client.get(), 400);
  ASSERT_NE(server.player(7), nullptr) << "joined after its wait";
  EXPECT_EQ(server.runtime->node().counters().joins_waited, 1U);
  EXPECT_EQ(server.runtime->node().counters().join_load_timeouts, 1U);
  EXPECT_EQ(server.storage->counters().player_loads_cancelled, 1U);
  server.pump_storage = true;
  server.run(client.get(), 20);  // the late answer is taken and dropped
  EXPECT_EQ(server.storage->stores().players().counters().reads_waiting, 0U);
  EXPECT_EQ(server.runtime->stop().exit_code(), 0);
}

// With holds across regions, a join whose save did not load in time is refused: the client is
// disconnected (refused, it may try again), the player neither joins nor leaves.
TEST(PlayerPersistence, AJoinThatMayNotGoUnloadedIsRefusedAfterItsWait) {
  TempDir dir("refused");
  ManualClock clock;
  Server server(clock, dir, 10, 0, true);
  server.pump_storage = false;  // the store never answers
  auto client = connect(clock, 8, 1);
  server.run(client.get(), 400);
  EXPECT_EQ(server.player(8), nullptr);
  EXPECT_EQ(server.runtime->node().counters().join_load_timeouts, 1U);
  EXPECT_EQ(server.runtime->node().counters().joins_refused_unloaded, 1U);
  EXPECT_EQ(server.runtime->node().counters().joins, 0U);
  EXPECT_EQ(server.runtime->node().counters().leaves, 0U);
  EXPECT_EQ(client->state(), net::ClientState::disconnected);
  EXPECT_EQ(client->disconnect_reason(), net::DisconnectReason::refused);
  server.pump_storage = true;
  server.run(nullptr, 20);
  EXPECT_EQ(server.storage->stores().players().counters().reads_waiting, 0U);
  EXPECT_EQ(server.runtime->stop().exit_code(), 0);
}

TEST(PlayerPersistence, AClientThatLeavesWhileItsJoinWaitsNeitherJoinsNorLeaves) {
  TempDir dir("abandon");
  ManualClock clock;
  Server server(clock, dir, 100'000);
  server.pump_storage = false;
  auto client = connect(clock, 9, 1);
  server.run(client.get(), 200);
  ASSERT_EQ(server.player(9), nullptr) << "still waiting";
  client->disconnect(net::DisconnectReason::requested, clock.wall_us());
  server.run(client.get(), 100);
  EXPECT_EQ(server.runtime->node().counters().join_waits_abandoned, 1U);
  EXPECT_EQ(server.runtime->node().counters().joins, 0U);
  EXPECT_EQ(server.runtime->node().counters().leaves, 0U);
  EXPECT_EQ(server.storage->counters().player_loads_cancelled, 1U);
  EXPECT_EQ(server.runtime->stop().exit_code(), 0);
}

}  // namespace
}  // namespace strata::server
