// tests/server/storage_service_test.cpp: the storage service over the embedded stores (no service
// needed), pumped on the test's thread: the near route's parsing and answers, live positions every M
// ticks (moved and gone), the session catalog's start and end, the map's changed chunks saved and
// loaded into a fresh world with the same map, stored chunks that must be refused, the Prometheus
// text (checked by promtool), and the storage.* configuration keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "server/config.h"
#include "server/map_chunks.h"
#include "server/player_saves.h"
#include "server/storage_service.h"
#include "sim/hash.h"
#include "sim/simulation.h"

#ifndef STRATA_PROMTOOL
#define STRATA_PROMTOOL ""
#endif

namespace strata::server {
namespace {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("strata-storage-service-test-" + std::to_string(::getpid()) + "-" + name)) {
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

StorageService::Options embedded_options(const TempDir& dir) {
  StorageService::Options options;
  options.stores.data_dir = dir.path.string();
  options.stores.sync = false;
  options.positions_every_ticks = 5;
  options.worker_threads = false;
  options.log_location = "/logs/here";
  options.session = storage::SessionId{77};
  return options;
}

std::unique_ptr<StorageService> open_or_fail(const StorageService::Options& options) {
  std::string error;
  auto service = StorageService::open(options, error);
  EXPECT_TRUE(service) << error;
  return service;
}

sim::WorldParams small_params() {
  sim::WorldParams params;
  params.seed = 5;
  params.chunks_x = 3;
  params.chunks_y = 2;
  params.npc_count = 0;
  return params;
}

sim::Player player_at(uint32_t id, int32_t x, int32_t y) {
  sim::Player p;
  p.id = sim::PlayerId{id};
  p.pos = {sim::Fixed::from_tiles(x), sim::Fixed::from_tiles(y)};
  return p;
}

// The answer of a near query made through the StorageView, after pumping.
struct Answer {
  std::optional<HttpResponse> response;
};
Answer ask_near(StorageService& service, const std::string& query) {
  auto answer = std::make_shared<Answer>();
  service.near(query, [answer](HttpResponse response) { answer->response = std::move(response); });
  for (int i = 0; i < 10 && !answer->response; ++i) service.pump();
  return *answer;
}

TEST(NearQuery, ParsesValidQueriesAndRefusesEverythingElseWithAReason) {
  NearRequest ok = parse_near_query("x=-10&y=20&r=5");
  ASSERT_TRUE(ok.query) << ok.error;
  EXPECT_EQ(ok.query->x, -10);
  EXPECT_EQ(ok.query->y, 20);
  EXPECT_EQ(ok.query->r, 5U);
  ok = parse_near_query("r=1024&y=0&x=4194304");  // any order; the bounds themselves
  ASSERT_TRUE(ok.query) << ok.error;
  const std::pair<const char*, const char*> refused[] = {
      {"", "missing parameter x"},
      {"x=1&y=2", "missing parameter r"},
      {"x=1&y=2&r=1025", "r must be an integer in [0, 1024]"},
      {"x=1&y=2&r=-1", "r must be an integer"},
      {"x=4194305&y=2&r=1", "x must be an integer"},
      {"x=1&y=-4194305&r=1", "y must be an integer"},
      {"x=1&y=2&r=1&x=3", "given twice"},
      {"x=1&y=2&r=1&z=3", "got a parameter 'z=3'"},
      {"x=1&y=2&r", "got a parameter 'r'"},
      {"x=1.5&y=2&r=1", "x must be an integer"},
      {"x=%31&y=2&r=1", "x must be an integer"},
      {"x=99999999999999999999999&y=2&r=1", "x must be an integer"},
      {"x=+1&y=2&r=1", "x must be an integer"},
      {"x=&y=2&r=1", "x must be an integer"},
      {"&&&", "got a parameter ''"},
  };
  for (const auto& [query, reason] : refused) {
    const NearRequest request = parse_near_query(query);
    EXPECT_FALSE(request.query) << query;
    EXPECT_NE(request.error.find(reason), std::string::npos) << query << " -> " << request.error;
  }
  const std::string hostile(5000, '&');
  EXPECT_FALSE(parse_near_query(hostile + "x=1").query);
}

TEST(NearQuery, AnswersListAtMostTheBoundAndSayTheyAreTruncated) {
  std::vector<storage::Position> players;
  for (uint32_t i = 1; i <= storage_limits::near_answer_players_max + 5; ++i)
    players.push_back({storage::PlayerKey{i}, static_cast<int32_t>(i), -1});
  const std::string json = near_json({0, 0, 9}, players);
  EXPECT_NE(json.find("\"count\":1005,\"truncated\":true"), std::string::npos);
  EXPECT_NE(json.find("{\"player\":1000,\"x\":1000,\"y\":-1}"), std::string::npos);
  EXPECT_EQ(json.find("\"player\":1001"), std::string::npos);
  players.resize(2);
  EXPECT_EQ(near_json({1, 2, 3}, players),
            "{\"x\":1,\"y\":2,\"r\":3,\"count\":2,\"truncated\":false,\"players\":[{\"player\":1,\"x\":1,\"y\":-1},"
            "{\"player\":2,\"x\":2,\"y\":-1}]}\n");
}

// Positions go out every M ticks, as the players that moved and the ones gone; the near route
// answers from the store once the port is pumped.
TEST(StorageService, PositionsEveryMTicksAppearInNearQueries) {
  TempDir dir("positions");
  auto service = open_or_fail(embedded_options(dir));
  ASSERT_TRUE(service);
  sim::World world = sim::Simulation(small_params()).world();
  service->start(world);
  world.players = {player_at(1, 10, 10), player_at(2, 12, 10), player_at(3, 50, 50)};
  world.tick = 1;
  service->observe(world);  // not a multiple of M = 5: nothing written
  EXPECT_EQ(service->counters().position_batches, 0U);
  EXPECT_EQ(service->stores().positions().last_sequence(), 0U);
  world.tick = 5;
  service->observe(world);
  EXPECT_EQ(service->counters().position_batches, 1U);
  EXPECT_EQ(service->counters().positions_moved, 3U);
  Answer answer = ask_near(*service, "x=10&y=10&r=2");
  ASSERT_TRUE(answer.response);
  EXPECT_EQ(answer.response->status, 200);
  EXPECT_NE(answer.response->body.find("\"count\":2"), std::string::npos) << answer.response->body;
  EXPECT_NE(answer.response->body.find("{\"player\":2,\"x\":12,\"y\":10}"), std::string::npos);
  // Player 1 walks away, player 2 leaves, player 3 stands still: one moved, one gone.
  world.players = {player_at(1, 40, 48), player_at(3, 50, 50)};
  world.tick = 9;
  service->observe(world);
  EXPECT_EQ(service->counters().position_batches, 1U);
  world.tick = 10;
  service->observe(world);
  EXPECT_EQ(service->counters().position_batches, 2U);
  EXPECT_EQ(service->counters().positions_moved, 4U);
  EXPECT_EQ(service->counters().positions_gone, 1U);
  answer = ask_near(*service, "x=10&y=10&r=100");
  ASSERT_TRUE(answer.response);
  EXPECT_EQ(
      answer.response->body,
      "{\"x\":10,\"y\":10,\"r\":100,\"count\":2,\"truncated\":false,\"players\":[{\"player\":1,\"x\":40,\"y\":48},"
      "{\"player\":3,\"x\":50,\"y\":50}]}\n");
  // Nobody moved: no batch.
  world.tick = 15;
  service->observe(world);
  EXPECT_EQ(service->counters().position_batches, 2U);
  // A bad query is answered 400 at once, without the store.
  answer = ask_near(*service, "x=1&y=1&r=5000");
  ASSERT_TRUE(answer.response);
  EXPECT_EQ(answer.response->status, 400);
  EXPECT_EQ(service->counters().near_bad_request, 1U);
  EXPECT_EQ(service->counters().near_answered, 2U);
}

// A recovered world's players (in the store from the run that crashed) are gone in the first batch;
// every position_refresh_batches batches everyone is sent again, moved or not.
TEST(StorageService, RecoveredPlayersAreGoneAndEveryoneIsRefreshedPeriodically) {
  TempDir dir("refresh");
  auto service = open_or_fail(embedded_options(dir));
  ASSERT_TRUE(service);
  sim::World world = sim::Simulation(small_params()).world();
  world.tick = 500;
  world.players = {player_at(8, 1, 1), player_at(9, 2, 2)};
  service->start(world);
  world.players = {player_at(9, 2, 2)};  // 8 left in the first tick; 9 joined again and stands still
  world.tick = 505;
  service->observe(world);
  EXPECT_EQ(service->counters().positions_gone, 1U);
  EXPECT_EQ(service->counters().positions_moved, 0U);
  for (size_t batch = 2; batch < storage_limits::position_refresh_batches; ++batch) {
    world.tick += 5;
    service->observe(world);
  }
  EXPECT_EQ(service->counters().position_batches, 1U);  // nobody moved
  world.tick += 5;
  service->observe(world);
  EXPECT_EQ(service->counters().position_batches, 2U);  // the refresh
  EXPECT_EQ(service->counters().positions_moved, 1U);
}

// After a crash the recovered players' leaves win over what the crashed run saved, even when the
// wall clock stepped back between the runs (a lower high half of the version): start() reads their
// stored versions first (strata-vopr --faults all, seed 21: a 33 s step back, then a crash).
TEST(StorageService, RecoveredPlayersLeavesWinAfterTheClockSteppedBack) {
  TempDir dir("clock-back");
  sim::Player player = player_at(3, 4, 4);
  sim::PlayerSave crashed_run = sim::save_of(player);
  crashed_run.stamina = 11;  // what the crashed run saved at its tick 100 (the log lost it)
  {
    StorageService::Options options = embedded_options(dir);
    options.version_epoch_s = 1'700'000'000;
    auto service = open_or_fail(options);
    ASSERT_TRUE(service);
    const std::pair<sim::PlayerId, sim::PlayerSave> saves[] = {{player.id, crashed_run}};
    service->left(100, saves);
    ASSERT_TRUE(service->flush(std::chrono::milliseconds(5000)));
  }  // the process dies
  StorageService::Options options = embedded_options(dir);
  options.version_epoch_s = 1'700'000'000 - 33;
  auto service = open_or_fail(options);
  ASSERT_TRUE(service);
  sim::World world = sim::Simulation(small_params()).world();
  world.tick = 90;  // the log kept tick 90: the player is in the recovered world
  world.players = {player};
  service->start(world);
  const sim::PlayerSave recovered = sim::save_of(player);
  const std::pair<sim::PlayerId, sim::PlayerSave> saves[] = {{player.id, recovered}};
  service->left(91, saves);  // the recovered world's first tick: everyone leaves
  ASSERT_TRUE(service->flush(std::chrono::milliseconds(5000)));
  ASSERT_TRUE(service->request(player.id));
  std::optional<sim::PlayerSave> loaded;
  for (int i = 0; i < 10 && service->poll(player.id, loaded) == PlayerSaves::Poll::waiting; ++i) service->pump();
  EXPECT_EQ(loaded, recovered);
}

// Near queries waiting for the store are bounded: beyond the bound the answer is 503 at once, and
// close_queries answers every waiting one (the HTTP listener may then stop).
TEST(StorageService, NearQueriesWaitingAreBoundedAndClosedAtStop) {
  TempDir dir("near-bound");
  auto service = open_or_fail(embedded_options(dir));
  ASSERT_TRUE(service);
  std::vector<std::shared_ptr<Answer>> answers;
  for (size_t i = 0; i < storage_limits::near_queries_waiting_max + 3; ++i) {
    auto answer = std::make_shared<Answer>();
    service->near("x=0&y=0&r=1", [answer](HttpResponse response) { answer->response = std::move(response); });
    answers.push_back(answer);
  }
  size_t busy = 0;
  for (const auto& answer : answers) busy += answer->response && answer->response->status == 503 ? 1 : 0;
  EXPECT_EQ(busy, 3U);
  EXPECT_EQ(service->counters().near_busy, 3U);
  service->close_queries();
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer->response);
    EXPECT_EQ(answer->response->status, 503);
  }
}

// The session catalog: the start record at start(), the end tick at stop(); every position is
// gone at stop.
TEST(StorageService, SessionCatalogHoldsStartAndEnd) {
  TempDir dir("session");
  auto service = open_or_fail(embedded_options(dir));
  ASSERT_TRUE(service);
  sim::World world = sim::Simulation(small_params()).world();
  world.tick = 40;
  world.players = {player_at(4, 3, 3)};
  service->start(world);
  ASSERT_TRUE(service->flush(std::chrono::seconds(5)));
  auto read_session = [&] {
    auto ticket = service->stores().sessions().read(storage::SessionId{77});
    EXPECT_TRUE(ticket);
    service->pump();
    auto answer = service->stores().sessions().take(*ticket);
    EXPECT_TRUE(answer && answer->ok());
    return answer->value;
  };
  std::optional<storage::SessionRecord> record = read_session();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->version, 1U);
  EXPECT_EQ(record->start_tick, 40U);
  EXPECT_EQ(record->end_tick, 0U);
  EXPECT_EQ(record->region, "1");
  EXPECT_EQ(record->log_location, "/logs/here");
  world.tick = 45;
  service->observe(world);
  world.tick = 90;
  service->stop(world);
  record = read_session();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->version, 2U);
  EXPECT_EQ(record->start_tick, 40U);
  EXPECT_EQ(record->end_tick, 90U);
  EXPECT_EQ(service->counters().positions_gone, 1U);
  const Answer answer = ask_near(*service, "x=3&y=3&r=10");
  ASSERT_TRUE(answer.response);
  EXPECT_NE(answer.response->body.find("\"count\":0"), std::string::npos) << answer.response->body;
}

// A world whose map differs from the generated terrain in a few chunks (walls, roofs, stamps).
sim::World changed_world() {
  sim::World world = sim::Simulation(small_params()).world();
  const sim::LwwStamp stamp{123456789, sim::RegionId{3}};
  world.map.set({5, 6}, sim::Layer::ceiling, {static_cast<uint8_t>(sim::Ceiling::stone_roof), 0}, stamp);
  world.map.set({70, 40}, sim::Layer::active, {static_cast<uint8_t>(sim::Block::stone_wall), 0}, stamp);
  world.map.set({71, 40}, sim::Layer::floor, {static_cast<uint8_t>(sim::Floor::farmland), 0}, stamp);
  world.tick = 300;
  return world;
}

// Only changed chunks are saved; a fresh service over the same store builds a world with the same
// map (chunk bytes, map hash, and the full hash of the world); a second save with nothing changed
// sends nothing.
TEST(StorageService, MapSavedAsChangedChunksLoadsIntoAFreshWorld) {
  TempDir dir("map");
  sim::World world = changed_world();
  {
    auto service = open_or_fail(embedded_options(dir));
    ASSERT_TRUE(service);
    service->start(world);
    ASSERT_TRUE(service->save_map(world));
    ASSERT_TRUE(service->flush(std::chrono::seconds(5)));
    EXPECT_FALSE(service->save_map(world));  // nothing changed since
    EXPECT_EQ(service->counters().map_saves, 1U);
  }
  auto service = open_or_fail(embedded_options(dir));
  ASSERT_TRUE(service);
  auto ticket = service->stores().maps().read(storage::MapId{1});
  ASSERT_TRUE(ticket);
  service->pump();
  auto stored = service->stores().maps().take(*ticket);
  ASSERT_TRUE(stored && stored->ok() && stored->value);
  EXPECT_EQ(stored->value->chunks.size(), 2U);  // (0, 0) and (2, 1)
  EXPECT_EQ(stored->value->version, 300U);
  std::string error;
  std::optional<sim::World> loaded = service->load_map_world(small_params(), std::chrono::seconds(5), error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(sim::map_hash(*loaded), sim::map_hash(world));
  for (size_t i = 0; i < world.map.chunks().size(); ++i)
    EXPECT_EQ(encode_chunk(loaded->map.chunks()[i]), encode_chunk(world.map.chunks()[i])) << "chunk " << i;
  loaded->tick = world.tick;
  EXPECT_EQ(sim::full_hash(*loaded), sim::full_hash(world));
  // The baseline at start is the stored map: a save after a restart sends only what changed since.
  service->start(*loaded);
  EXPECT_FALSE(service->save_map(*loaded));
  loaded->map.set({1, 1}, sim::Layer::ceiling, {static_cast<uint8_t>(sim::Ceiling::thatch_roof), 0}, {9, {}});
  loaded->tick = 400;
  ASSERT_TRUE(service->save_map(*loaded));
  ASSERT_TRUE(service->flush(std::chrono::seconds(5)));
  std::optional<sim::World> again = service->load_map_world(small_params(), std::chrono::seconds(5), error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(sim::map_hash(*again), sim::map_hash(*loaded));
}

// The map's changed chunks are saved every map_every_ticks (issue 16: a SIGKILLed node loses at most
// one period of the map store's copy): the chunks the ticks wrote are copied at the period's tick
// and saved by the worker (here: pump()); a node killed after it (no stop, no final save) leaves a
// store that loads into that tick's map. A restarted node whose world differs from the store (its
// log went further than the last save) saves those chunks in its first period, unwritten or not.
TEST(StorageService, MapChunksAreSavedPeriodicallySoAKillLosesAtMostAPeriod) {
  TempDir dir("map-periodic");
  StorageService::Options options = embedded_options(dir);
  options.map_every_ticks = 10;
  sim::World world = sim::Simulation(small_params()).world();
  const sim::LwwStamp stamp{77, sim::RegionId{1}};
  const sim::CellChange wall{{70, 40}, sim::Layer::active};  // chunk (2, 1)
  const sim::CellChange roof{{5, 6}, sim::Layer::ceiling};   // chunk (0, 0)
  sim::World at_ten;
  {
    auto service = open_or_fail(options);
    ASSERT_TRUE(service);
    service->start(world);
    for (uint64_t tick = 1; tick <= 15; ++tick) {
      world.tick = tick;
      std::vector<sim::CellChange> changed;
      if (tick == 5) {
        world.map.set(wall.cell, wall.layer, {static_cast<uint8_t>(sim::Block::stone_wall), 0}, stamp);
        changed.push_back(wall);
      }
      if (tick == 12) {
        world.map.set(roof.cell, roof.layer, {static_cast<uint8_t>(sim::Ceiling::stone_roof), 0}, stamp);
        changed.push_back(roof);
      }
      service->observe(world, changed);
      if (tick == 10) at_ten = world;
      service->pump();
    }
    EXPECT_EQ(service->counters().map_saves_periodic, 1U);  // tick 10; tick 20 never came
    // Killed: no stop(), so no final map save.
  }
  auto service = open_or_fail(options);
  ASSERT_TRUE(service);
  auto ticket = service->stores().maps().read(storage::MapId{1});
  ASSERT_TRUE(ticket);
  service->pump();
  auto stored = service->stores().maps().take(*ticket);
  ASSERT_TRUE(stored && stored->ok() && stored->value);
  ASSERT_EQ(stored->value->chunks.size(), 1U);  // only the chunk written before tick 10
  EXPECT_EQ(stored->value->chunks[0].cx, 2);
  EXPECT_EQ(stored->value->chunks[0].cy, 1);
  EXPECT_EQ(stored->value->version, 10U);
  std::string error;
  std::optional<sim::World> loaded = service->load_map_world(small_params(), std::chrono::seconds(5), error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_EQ(sim::map_hash(*loaded), sim::map_hash(at_ten));
  EXPECT_NE(sim::map_hash(*loaded), sim::map_hash(world));
  // The node restarts on its log (the world of tick 15): the roof is saved in its first period.
  service->start(world);
  for (uint64_t tick = 16; tick <= 20; ++tick) {
    world.tick = tick;
    service->observe(world);
  }
  ASSERT_TRUE(service->flush(std::chrono::seconds(5)));
  EXPECT_EQ(service->counters().map_saves_periodic, 1U);
  std::optional<sim::World> again = service->load_map_world(small_params(), std::chrono::seconds(5), error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(sim::map_hash(*again), sim::map_hash(world));
  // Nothing written since: the next period saves nothing.
  for (uint64_t tick = 21; tick <= 30; ++tick) {
    world.tick = tick;
    service->observe(world);
  }
  ASSERT_TRUE(service->flush(std::chrono::seconds(5)));
  EXPECT_EQ(service->counters().map_saves_periodic, 1U);
}

TEST(MapChunks, StoredChunksThatDoNotFitAreRefusedWithAReason) {
  const sim::World world = changed_world();
  ChunkHashes baseline = generated_chunk_hashes(world.params);
  std::optional<storage::MapRecord> record = map_save(storage::MapId{1}, world, 7, baseline);
  ASSERT_TRUE(record);
  std::string error;
  ASSERT_TRUE(world_with_stored_map(world.params, *record, error)) << error;
  auto refused = [&](storage::MapRecord bad, const std::string& reason) {
    std::string why;
    EXPECT_FALSE(world_with_stored_map(world.params, bad, why));
    EXPECT_NE(why.find(reason), std::string::npos) << why;
  };
  storage::MapRecord bad = *record;
  bad.chunks[0].bytes.pop_back();
  refused(bad, "not a chunk's");
  bad = *record;
  bad.chunks[0].cx = 3;
  refused(bad, "lies outside");
  bad = *record;
  bad.chunks[0].bytes[0] = static_cast<char>(200);  // floor kind 200
  refused(bad, "bad floor kind");
  bad = *record;
  bad.chunks.pop_back();
  refused(bad, "a save is missing chunks");
  sim::WorldParams other = world.params;
  other.chunks_x = 2;
  std::string why;
  EXPECT_FALSE(world_with_stored_map(other, *record, why));
}

// A player's save as the store keeps it: every field round-trips; a save of fewer item kinds
// decodes with the rest at zero; anything else is refused.
TEST(PlayerSaveCodec, RoundTripsAndRefusesWhatIsNotASave) {
  sim::PlayerSave save;
  save.pos = {sim::Fixed::from_raw(-123456), sim::Fixed::from_raw(987654)};
  save.facing = sim::Direction::nw;
  save.stamina = 65535;
  save.health = 7;
  for (size_t i = 0; i < sim::item_count; ++i) save.inventory[i] = static_cast<uint16_t>(1000 + i);
  const std::string bytes = encode_player_save(save);
  EXPECT_EQ(bytes.size(), 15U + 2 * sim::item_count);
  EXPECT_EQ(decode_player_save(bytes), save);
  std::string fewer = bytes.substr(0, 14) + std::string(1, 2) + bytes.substr(15, 4);
  std::optional<sim::PlayerSave> older = decode_player_save(fewer);
  ASSERT_TRUE(older);
  EXPECT_EQ(older->inventory[0], 1000);
  EXPECT_EQ(older->inventory[1], 1001);
  EXPECT_EQ(older->inventory[2], 0);
  EXPECT_FALSE(decode_player_save(""));
  EXPECT_FALSE(decode_player_save(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(decode_player_save(bytes + "x"));
  std::string other_format = bytes;
  other_format[0] = 2;
  EXPECT_FALSE(decode_player_save(other_format));
  std::string too_many = bytes;
  too_many[14] = static_cast<char>(sim::item_count + 1);
  EXPECT_FALSE(decode_player_save(too_many + "zz"));
}

TEST(StorageService, PrometheusTextIsValidAndNamesEveryPort) {
  TempDir dir("metrics");
  auto service = open_or_fail(embedded_options(dir));
  ASSERT_TRUE(service);
  const std::string text = service->prometheus();
  EXPECT_NE(text.find("strata_storage_degraded 0\n"), std::string::npos);
  for (const char* port : {"players", "maps", "positions", "sessions"}) {
    EXPECT_NE(text.find(std::string("strata_storage_queue_depth{port=\"") + port + "\",queue=\"writes\"}"),
              std::string::npos)
        << port;
  }
  EXPECT_NE(text.find("strata_storage_cache_total{event=\"hit\"} 0"), std::string::npos);
  EXPECT_NE(text.find("strata_storage_near_queries_total{outcome=\"busy\"} 0"), std::string::npos);
  const std::string promtool = STRATA_PROMTOOL;
  ASSERT_FALSE(promtool.empty()) << "promtool (Debian package prometheus) is needed to check the metrics";
  TempDir out("metrics-out");
  std::filesystem::create_directories(out.path);
  const std::string file = (out.path / "metrics.txt").string();
  std::ofstream(file) << text;
  const std::string command = promtool + " check metrics < " + file + " > " + file + ".out 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream report(file + ".out");
  const std::string said((std::istreambuf_iterator<char>(report)), {});
  EXPECT_EQ(rc, 0) << said;
}

TEST(StorageConfig, KeysAreReadAndCheckedAndTheOptionsFollowThem) {
  ServerConfig config;
  for (const char* assignment :
       {"storage.redis.host=127.0.0.1", "storage.redis.port=6390", "storage.mariadb.host=db", "storage.mariadb.user=u",
        "storage.positions_every_ticks=7", "world.load_map_from_store=true", "storage.redis.index=grid",
        "storage.players_every_ticks=99", "storage.join_wait_ticks=5", "storage.map_every_ticks=50",
        "storage.mariadb.lease_s=9"}) {
    EXPECT_TRUE(apply_override(config, assignment).empty()) << assignment;
  }
  EXPECT_TRUE(validate_config(config).empty());
  TempDir dir("config");
  std::filesystem::create_directories(dir.path);
  const std::string password_file = (dir.path / "password").string();
  std::ofstream(password_file) << "s3cret\n";
  ASSERT_TRUE(apply_override(config, "storage.mariadb.password_file=" + password_file).empty());
  std::string error;
  std::optional<StorageService::Options> options = StorageService::options_from(config, 1'000'000'000, error);
  ASSERT_TRUE(options) << error;
  ASSERT_TRUE(options->stores.redis && options->stores.mariadb);
  EXPECT_EQ(options->stores.redis->port, 6390);
  EXPECT_EQ(options->stores.redis->prefix, "strata:1:");
  EXPECT_EQ(options->stores.redis->index, storage::PositionIndex::grid);
  EXPECT_EQ(options->stores.mariadb->password, "s3cret");
  EXPECT_EQ(options->positions_every_ticks, 7U);
  EXPECT_EQ(options->players_every_ticks, 99U);
  EXPECT_EQ(options->map_every_ticks, 50U);
  EXPECT_EQ(options->stores.mariadb->region, 1);  // MariaDB is global: players are held by region
  EXPECT_EQ(options->stores.mariadb->lease, std::chrono::seconds(9));
  EXPECT_EQ(options->version_epoch_s, 1000U);  // the session's start, in seconds
  EXPECT_EQ(config.storage.join_wait_ticks, 5U);
  EXPECT_TRUE(config.storage.load_map_from_store);
  EXPECT_EQ(static_cast<uint64_t>(options->session), (uint64_t{1} << 48) | 1'000'000U);
  ASSERT_TRUE(apply_override(config, "storage.mariadb.password_file=/no/such/file").empty());
  EXPECT_FALSE(StorageService::options_from(config, 0, error));
  EXPECT_NE(error.find("/no/such/file"), std::string::npos);

  ServerConfig bad;
  EXPECT_FALSE(apply_override(bad, "storage.positions_every_ticks=0").empty());
  EXPECT_FALSE(apply_override(bad, "storage.sync=maybe").empty());
  ASSERT_TRUE(apply_override(bad, "storage.redis.index=rtree").empty());
  ASSERT_TRUE(apply_override(bad, "storage.mariadb.database=x`; DROP").empty());
  ASSERT_TRUE(apply_override(bad, "storage.mariadb.password=a").empty());
  ASSERT_TRUE(apply_override(bad, "storage.mariadb.password_file=b").empty());
  ASSERT_TRUE(apply_override(bad, "storage.mariadb.host=db").empty());
  std::string all;
  for (const ConfigError& e : validate_config(bad)) all += e.message + "\n";
  for (const char* reason :
       {"storage.redis.index", "storage.mariadb.database", "set one, not both", "storage.mariadb.user is needed"}) {
    EXPECT_NE(all.find(reason), std::string::npos) << reason << " in " << all;
  }
  // The environment names the keys like every other (the password need not be on a command line).
  ServerConfig from_env;
  EXPECT_TRUE(load_config(from_env, "", "test", {{"STRATA_STORAGE_MARIADB_PASSWORD", "pw"}}).empty());
  EXPECT_EQ(from_env.storage.mariadb_password, "pw");
}

}  // namespace
}  // namespace strata::server
