// tests/storage/conformance.h: the typed conformance suites every store implementation runs, so the
// in-memory twin's model (the one strata-vopr uses) is checked against the real stores.
//
// A factory type F provides `static std::unique_ptr<typename F::Instance> make()` returning a fresh,
// empty, isolated instance (own directory, database or key prefix), and the instance the backends
// of the kinds it implements: players(), maps(), positions(), sessions(). A test binary instantiates
// the suites of the kinds a factory supports:
//   INSTANTIATE_TYPED_TEST_SUITE_P(Memory, PlayerConformance, ::testing::Types<MemoryFactory>);
#pragma once

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "storage/limits.h"
#include "storage/stores.h"

namespace strata::storage::testing {

// Byte strings a hostile client could make a name, a chat line or a blob: quotes, NULs, SQL and
// Redis protocol fragments, invalid UTF-8, long runs.
inline std::vector<std::string> hostile_strings() {
  using namespace std::string_literals;
  return {
      ""s,
      "plain"s,
      "it's \"quoted\" `back`"s,
      "nul\0in\0the\0middle\0"s,
      "'; DROP TABLE players; --"s,
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"s,
      "\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc"s,
      "\\x00\\\\ %s %n {} ${}"s,
      std::string(5000, 'x'),
      std::string(1, '\0'),
  };
}

template <class Backend, class Record>
Outcome save_one(Backend& backend, const Record& record) {
  return backend.save(std::span<const Record>(&record, 1));
}

// --- player state -------------------------------------------------------------------------------

template <class F>
class PlayerConformance : public ::testing::Test {};
TYPED_TEST_SUITE_P(PlayerConformance);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PlayerConformance);  // a store may not hold this kind

TYPED_TEST_P(PlayerConformance, RoundTripOfHostileBytes) {
  auto instance = TypeParam::make();
  PlayerBackend& players = instance->players();
  uint32_t id = 1;
  std::vector<PlayerRecord> saved;
  for (const std::string& bytes : hostile_strings()) saved.push_back({PlayerKey{id++}, 7, bytes});
  saved.push_back({PlayerKey{player_key_max}, 1, std::string(player_state_bytes_max, '\x80')});
  ASSERT_TRUE(players.save(saved).ok());
  for (const PlayerRecord& record : saved) {
    const auto loaded = players.load(record.player);
    ASSERT_TRUE(loaded.ok()) << loaded.outcome.reason;
    ASSERT_TRUE(loaded.value.has_value());
    EXPECT_EQ(*loaded.value, record);
  }
  const auto missing = players.load(PlayerKey{id + 100});
  ASSERT_TRUE(missing.ok()) << missing.outcome.reason;
  EXPECT_FALSE(missing.value.has_value());
}

TYPED_TEST_P(PlayerConformance, NewerVersionWinsAndRetriesApplyOnce) {
  auto instance = TypeParam::make();
  PlayerBackend& players = instance->players();
  const PlayerKey key{42};
  ASSERT_TRUE(save_one(players, PlayerRecord{key, 5, "five"}).ok());
  ASSERT_TRUE(save_one(players, PlayerRecord{key, 4, "four (older)"}).ok());
  ASSERT_TRUE(save_one(players, PlayerRecord{key, 5, "five again (same version)"}).ok());
  EXPECT_EQ(players.load(key).value, (PlayerRecord{key, 5, "five"}));
  const std::vector<PlayerRecord> batch = {{key, 6, "six"}, {PlayerKey{43}, 1, "other"}};
  ASSERT_TRUE(players.save(batch).ok());
  ASSERT_TRUE(players.save(batch).ok());  // a retried batch
  EXPECT_EQ(players.load(key).value, (PlayerRecord{key, 6, "six"}));
  EXPECT_EQ(players.load(PlayerKey{43}).value, (PlayerRecord{PlayerKey{43}, 1, "other"}));
}

TYPED_TEST_P(PlayerConformance, RefusesWhatBreaksALimitAndAppliesNothing) {
  auto instance = TypeParam::make();
  PlayerBackend& players = instance->players();
  const std::vector<std::vector<PlayerRecord>> bad = {
      {{PlayerKey{1}, 1, "ok"}, {PlayerKey{2}, 1, std::string(player_state_bytes_max + 1, 'x')}},
      {{PlayerKey{1}, 1, "ok"}, {PlayerKey{0}, 1, "zero id"}},
      {{PlayerKey{1}, 1, "ok"}, {PlayerKey{player_key_max + 1}, 1, "id too large"}},
      {{PlayerKey{1}, 1, "ok"}, {PlayerKey{3}, 0, "version 0"}},
  };
  for (const auto& batch : bad) {
    const Outcome outcome = players.save(batch);
    EXPECT_EQ(outcome.status, StoreStatus::refused);
    EXPECT_FALSE(outcome.reason.empty());
  }
  const auto loaded = players.load(PlayerKey{1});
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded.value.has_value());
  EXPECT_EQ(players.load(PlayerKey{0}).outcome.status, StoreStatus::refused);
}

// Batched writes leave exactly what one-by-one writes leave (and what the model says).
TYPED_TEST_P(PlayerConformance, BatchedEqualsOneByOne) {
  auto batched = TypeParam::make();
  auto single = TypeParam::make();
  uint32_t case_index = 0;  // each case writes its own keys, so cases never see each other's rows
  EXPECT_TRUE(rc::check("batched == one by one == model", [&] {
    const auto ops = *rc::gen::container<std::vector<std::tuple<uint8_t, uint8_t, std::string>>>(rc::gen::tuple(
        rc::gen::inRange<uint8_t>(1, 12), rc::gen::inRange<uint8_t>(1, 8), rc::gen::string<std::string>()));
    const uint32_t offset = ++case_index * 16;
    std::vector<PlayerRecord> records;
    std::map<PlayerKey, PlayerRecord> model;
    for (const auto& [player, version, state] : ops) {
      PlayerRecord record{PlayerKey{offset + player}, version, state};
      records.push_back(record);
      if (record.version > model[record.player].version) model[record.player] = record;
    }
    for (const PlayerRecord& record : records) RC_ASSERT(save_one(single->players(), record).ok());
    const size_t split = *rc::gen::inRange<size_t>(0, records.size() + 1);
    RC_ASSERT(batched->players().save(std::span(records).first(split)).ok());
    RC_ASSERT(batched->players().save(std::span(records).subspan(split)).ok());
    for (uint32_t player = 1; player < 12; ++player) {
      const PlayerKey key{offset + player};
      const auto a = batched->players().load(key);
      const auto b = single->players().load(key);
      RC_ASSERT(a.ok() && b.ok());
      RC_ASSERT(a.value == b.value);
      const auto expected = model.contains(key) ? std::optional(model[key]) : std::nullopt;
      RC_ASSERT(a.value == expected);
    }
  }));
}

REGISTER_TYPED_TEST_SUITE_P(PlayerConformance, RoundTripOfHostileBytes, NewerVersionWinsAndRetriesApplyOnce,
                            RefusesWhatBreaksALimitAndAppliesNothing, BatchedEqualsOneByOne);

// --- maps -----------------------------------------------------------------------------------------

template <class F>
class MapConformance : public ::testing::Test {};
TYPED_TEST_SUITE_P(MapConformance);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MapConformance);  // a store may not hold this kind

TYPED_TEST_P(MapConformance, ChangedChunksAccumulateNewerWins) {
  auto instance = TypeParam::make();
  MapBackend& maps = instance->maps();
  const MapId map{3};
  EXPECT_FALSE(maps.load(map).value.has_value());
  MapRecord first{
      map, 1, 0xabcdef0123456789ULL, {{-1, -1, 1, std::string("a\0b", 3)}, {0, 0, 1, "zero"}, {5, -7, 1, ""}}};
  ASSERT_TRUE(save_one(maps, first).ok());
  MapRecord second{map, 2, 0x1111, {{0, 0, 2, "zero v2"}, {5, -7, 1, "stale (same version)"}, {9, 9, 1, "new"}}};
  ASSERT_TRUE(save_one(maps, second).ok());
  ASSERT_TRUE(save_one(maps, second).ok());  // retried
  MapRecord older{map, 1, 0x2222, {{-1, -1, 0 + 1, "older"}}};
  ASSERT_TRUE(save_one(maps, older).ok());
  const auto loaded = maps.load(map);
  ASSERT_TRUE(loaded.ok()) << loaded.outcome.reason;
  ASSERT_TRUE(loaded.value.has_value());
  const MapRecord expected{
      map, 2, 0x1111, {{-1, -1, 1, std::string("a\0b", 3)}, {0, 0, 2, "zero v2"}, {5, -7, 1, ""}, {9, 9, 1, "new"}}};
  EXPECT_EQ(*loaded.value, expected);
  EXPECT_FALSE(maps.load(MapId{4}).value.has_value());
}

TYPED_TEST_P(MapConformance, RefusesOversizedChunks) {
  auto instance = TypeParam::make();
  MapRecord bad{MapId{1}, 1, 0, {{0, 0, 1, std::string(chunk_bytes_max + 1, 'x')}}};
  EXPECT_EQ(save_one(instance->maps(), bad).status, StoreStatus::refused);
  MapRecord many{MapId{1}, 1, 0, std::vector<ChunkRecord>(chunks_per_save_max + 1, ChunkRecord{0, 0, 1, ""})};
  EXPECT_EQ(save_one(instance->maps(), many).status, StoreStatus::refused);
  EXPECT_FALSE(instance->maps().load(MapId{1}).value.has_value());
}

REGISTER_TYPED_TEST_SUITE_P(MapConformance, ChangedChunksAccumulateNewerWins, RefusesOversizedChunks);

// --- positions --------------------------------------------------------------------------------------

template <class F>
class PositionConformance : public ::testing::Test {};
TYPED_TEST_SUITE_P(PositionConformance);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PositionConformance);  // a store may not hold this kind

TYPED_TEST_P(PositionConformance, MovesAndLeaves) {
  auto instance = TypeParam::make();
  PositionBackend& positions = instance->positions();
  PositionBatch batch;
  batch.moved = {{PlayerKey{1}, 0, 0}, {PlayerKey{2}, -64, -1}, {PlayerKey{3}, 63, 64}, {PlayerKey{1}, 10, 0}};
  ASSERT_TRUE(positions.update(std::span(&batch, 1)).ok());
  auto all = positions.near({0, 0, 200});
  ASSERT_TRUE(all.ok()) << all.outcome.reason;
  EXPECT_EQ(all.value, (std::vector<Position>{{PlayerKey{1}, 10, 0}, {PlayerKey{2}, -64, -1}, {PlayerKey{3}, 63, 64}}));
  PositionBatch leave;
  leave.gone = {PlayerKey{2}, PlayerKey{77}};
  ASSERT_TRUE(positions.update(std::span(&leave, 1)).ok());
  EXPECT_EQ(positions.near({0, 0, 200}).value, (std::vector<Position>{{PlayerKey{1}, 10, 0}, {PlayerKey{3}, 63, 64}}));
  // The circle's edge is inside: 6^2 + 8^2 = 10^2.
  EXPECT_EQ(positions.near({4, -8, 10}).value, (std::vector<Position>{{PlayerKey{1}, 10, 0}}));
  EXPECT_TRUE(positions.near({4, -8, 9}).value.empty());
  EXPECT_EQ(positions.near({0, 0, near_radius_max + 1}).outcome.status, StoreStatus::refused);
  PositionBatch far;
  far.moved = {{PlayerKey{5}, position_coord_abs_max + 1, 0}};
  EXPECT_EQ(positions.update(std::span(&far, 1)).status, StoreStatus::refused);
}

// The near query equals a brute-force answer over random positions and radii.
TYPED_TEST_P(PositionConformance, NearEqualsBruteForce) {
  auto instance = TypeParam::make();
  PositionBackend& positions = instance->positions();
  std::vector<PlayerKey> present;
  EXPECT_TRUE(rc::check("near == brute force", [&] {
    PositionBatch leave;  // everyone of the last case leaves first (a batch applies moved before gone)
    leave.gone = present;
    PositionBatch batch;
    // Around the origin, or near a corner of the coordinate range (far from the equator for GEO).
    const int32_t far = position_coord_abs_max - 1500;
    const int32_t origin_x = *rc::gen::element(0, far, -far);
    const int32_t origin_y = *rc::gen::element(0, far, -far);
    const auto count = *rc::gen::inRange<uint32_t>(0, 60);
    std::map<PlayerKey, Position> truth;
    for (uint32_t i = 0; i < count; ++i) {
      const PlayerKey player{*rc::gen::inRange<uint32_t>(1, 200)};
      const Position position{player, origin_x + *rc::gen::inRange<int32_t>(-300, 300),
                              origin_y + *rc::gen::inRange<int32_t>(-300, 300)};
      batch.moved.push_back(position);
      truth[player] = position;
    }
    const PositionBatch batches[] = {leave, batch};
    RC_ASSERT(positions.update(batches).ok());
    present.clear();
    for (const auto& [player, position] : truth) present.push_back(player);
    for (int q = 0; q < 4; ++q) {
      const NearQuery query{origin_x + *rc::gen::inRange<int32_t>(-400, 400),
                            origin_y + *rc::gen::inRange<int32_t>(-400, 400), *rc::gen::inRange<uint32_t>(0, 400)};
      std::vector<Position> expected;
      for (const auto& [player, position] : truth) {
        const int64_t dx = position.x - query.x;
        const int64_t dy = position.y - query.y;
        if (dx * dx + dy * dy <= int64_t{query.r} * query.r) expected.push_back(position);
      }
      const auto answer = positions.near(query);
      RC_ASSERT(answer.ok());
      RC_ASSERT(answer.value == expected);
    }
  }));
}

REGISTER_TYPED_TEST_SUITE_P(PositionConformance, MovesAndLeaves, NearEqualsBruteForce);

// --- sessions ---------------------------------------------------------------------------------------

template <class F>
class SessionConformance : public ::testing::Test {};
TYPED_TEST_SUITE_P(SessionConformance);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SessionConformance);  // a store may not hold this kind

TYPED_TEST_P(SessionConformance, RoundTripOfHostileStringsNewerWins) {
  auto instance = TypeParam::make();
  SessionBackend& sessions = instance->sessions();
  uint64_t id = 1;
  for (const std::string& text : hostile_strings()) {
    SessionRecord record{
        SessionId{id++}, 1, text.substr(0, region_bytes_max), 100, 0, text.substr(0, log_location_bytes_max)};
    ASSERT_TRUE(save_one(sessions, record).ok());
    const auto loaded = sessions.load(record.session);
    ASSERT_TRUE(loaded.ok()) << loaded.outcome.reason;
    EXPECT_EQ(loaded.value, record);
  }
  SessionRecord ended{SessionId{1}, 2, "eu-west", 100, 5000, "/data/logs/1"};
  ASSERT_TRUE(save_one(sessions, ended).ok());
  SessionRecord stale{SessionId{1}, 1, "stale", 1, 1, "stale"};
  ASSERT_TRUE(save_one(sessions, stale).ok());
  EXPECT_EQ(sessions.load(SessionId{1}).value, ended);
  EXPECT_FALSE(sessions.load(SessionId{999}).value.has_value());
}

TYPED_TEST_P(SessionConformance, RefusesLongStringsWithAReason) {
  auto instance = TypeParam::make();
  SessionBackend& sessions = instance->sessions();
  const SessionRecord long_region{SessionId{1}, 1, std::string(5000, 'r'), 0, 0, ""};
  const Outcome outcome = save_one(sessions, long_region);
  EXPECT_EQ(outcome.status, StoreStatus::refused);
  EXPECT_NE(outcome.reason.find("region"), std::string::npos) << outcome.reason;
  const SessionRecord long_location{SessionId{1}, 1, "", 0, 0, std::string(log_location_bytes_max + 1, 'l')};
  EXPECT_EQ(save_one(sessions, long_location).status, StoreStatus::refused);
  EXPECT_FALSE(sessions.load(SessionId{1}).value.has_value());
}

REGISTER_TYPED_TEST_SUITE_P(SessionConformance, RoundTripOfHostileStringsNewerWins, RefusesLongStringsWithAReason);

// --- holds of players across regions (PlayerHolds in stores.h) ------------------------------------
// The factory's instance gives two regions over one shared player store: region(1), region(2) (each
// a PlayerBackend and PlayerHolds), and expire(), after which every lease taken so far ran out (the
// twin moves its clock; MariaDB sleeps past the lease, its own clock deciding).

template <class F>
class HoldsConformance : public ::testing::Test {};
TYPED_TEST_SUITE_P(HoldsConformance);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HoldsConformance);  // a store may not hold players

inline PlayerRecord leave_save(uint32_t player, uint64_t version, std::string state) {
  return {PlayerKey{player}, version, std::move(state), true, 0};
}

// The handoff: a region's load claims, another region's load is answered "held" until the holder's
// leave save releases, then it gets that save.
TYPED_TEST_P(HoldsConformance, ALoadClaimsAndTheLeaveSaveHandsOver) {
  auto instance = TypeParam::make();
  PlayerBackend& a = instance->region(1);
  PlayerBackend& b = instance->region(2);
  EXPECT_TRUE(a.holds_players());
  Result<std::optional<PlayerRecord>> first = a.load(PlayerKey{5});  // unknown: claimed, no save
  ASSERT_TRUE(first.ok()) << first.outcome.reason;
  EXPECT_FALSE(first.value);
  Result<std::optional<PlayerRecord>> held = b.load(PlayerKey{5});
  ASSERT_TRUE(held.ok()) << held.outcome.reason;
  ASSERT_TRUE(held.value);
  EXPECT_EQ(held.value->held_by, 1);
  ASSERT_TRUE(save_one(a, PlayerRecord{PlayerKey{5}, 10, "in a"}).ok());  // a periodic save keeps the hold
  EXPECT_EQ(b.load(PlayerKey{5}).value->held_by, 1);
  ASSERT_TRUE(save_one(a, leave_save(5, 11, "left a")).ok());
  Result<std::optional<PlayerRecord>> handed = b.load(PlayerKey{5});
  ASSERT_TRUE(handed.ok() && handed.value) << handed.outcome.reason;
  EXPECT_EQ(handed.value->held_by, 0);
  EXPECT_EQ(handed.value->version, 11U);
  EXPECT_EQ(handed.value->state, "left a");
  EXPECT_EQ(a.load(PlayerKey{5}).value->held_by, 2);  // now b holds the player
}

// A save of a region that does not hold the player is dropped; the holder's saves are not.
TYPED_TEST_P(HoldsConformance, ASaveOfANonHolderIsFenced) {
  auto instance = TypeParam::make();
  PlayerBackend& a = instance->region(1);
  PlayerBackend& b = instance->region(2);
  ASSERT_TRUE(save_one(a, PlayerRecord{PlayerKey{7}, 3, "a's"}).ok());  // a save takes the hold too
  ASSERT_TRUE(save_one(b, PlayerRecord{PlayerKey{7}, 99, "b's, fenced"}).ok());
  ASSERT_TRUE(save_one(b, leave_save(7, 100, "b's leave, fenced")).ok());
  EXPECT_EQ(b.load(PlayerKey{7}).value->held_by, 1);  // b's leave save released nothing
  Result<std::optional<PlayerRecord>> mine = a.load(PlayerKey{7});
  ASSERT_TRUE(mine.ok() && mine.value);
  EXPECT_EQ(mine.value->version, 3U);
  EXPECT_EQ(mine.value->state, "a's");
}

// Only the newest save changes the hold: a periodic save overtaken by the leave save (or a retry of
// an older batch) neither takes the player back nor rolls the state back.
TYPED_TEST_P(HoldsConformance, AnOlderSaveNeverChangesTheHold) {
  auto instance = TypeParam::make();
  PlayerBackend& a = instance->region(1);
  PlayerBackend& b = instance->region(2);
  ASSERT_TRUE(a.load(PlayerKey{9}).ok());
  ASSERT_TRUE(save_one(a, leave_save(9, 20, "left")).ok());
  ASSERT_TRUE(save_one(a, PlayerRecord{PlayerKey{9}, 19, "periodic, overtaken"}).ok());
  Result<std::optional<PlayerRecord>> handed = b.load(PlayerKey{9});
  ASSERT_TRUE(handed.ok() && handed.value);
  EXPECT_EQ(handed.value->held_by, 0);
  EXPECT_EQ(handed.value->state, "left");
  // A retried leave batch of a (same version) after b claimed: fenced, b keeps the player.
  ASSERT_TRUE(save_one(a, leave_save(9, 20, "left")).ok());
  EXPECT_EQ(a.load(PlayerKey{9}).value->held_by, 2);
}

// A crashed holder: its lease runs out and another region claims the player with the last save.
TYPED_TEST_P(HoldsConformance, ACrashedHoldersLeaseRunsOut) {
  auto instance = TypeParam::make();
  PlayerBackend& a = instance->region(1);
  PlayerBackend& b = instance->region(2);
  ASSERT_TRUE(save_one(a, PlayerRecord{PlayerKey{11}, 4, "last durable"}).ok());
  EXPECT_EQ(b.load(PlayerKey{11}).value->held_by, 1);
  instance->expire();
  Result<std::optional<PlayerRecord>> taken = b.load(PlayerKey{11});
  ASSERT_TRUE(taken.ok() && taken.value) << taken.outcome.reason;
  EXPECT_EQ(taken.value->held_by, 0);
  EXPECT_EQ(taken.value->state, "last durable");
  // The crashed region's late save (it was only slow) is fenced now.
  ASSERT_TRUE(save_one(a, PlayerRecord{PlayerKey{11}, 5, "late"}).ok());
  EXPECT_EQ(a.load(PlayerKey{11}).value->held_by, 2);
}

// renew() brings back a lease that ran out while nobody claimed the player; restart() releases a
// region's players except those it keeps.
TYPED_TEST_P(HoldsConformance, RenewAndRestart) {
  auto instance = TypeParam::make();
  PlayerBackend& a = instance->region(1);
  PlayerBackend& b = instance->region(2);
  ASSERT_TRUE(a.load(PlayerKey{20}).ok());
  ASSERT_TRUE(a.load(PlayerKey{21}).ok());
  ASSERT_TRUE(a.load(PlayerKey{22}).ok());
  ASSERT_TRUE(save_one(a, leave_save(22, 1, "gone")).ok());
  instance->expire();
  ASSERT_TRUE(instance->holds(1).renew().ok());
  EXPECT_EQ(b.load(PlayerKey{20}).value->held_by, 1);
  const std::vector<PlayerKey> keep = {PlayerKey{21}};
  ASSERT_TRUE(instance->holds(1).restart(keep).ok());
  Result<std::optional<PlayerRecord>> released = b.load(PlayerKey{20});
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(released.value);  // claimed by b: it had no save
  EXPECT_EQ(b.load(PlayerKey{21}).value->held_by, 1);
  Result<std::optional<PlayerRecord>> left = b.load(PlayerKey{22});  // renew did not revive a release
  ASSERT_TRUE(left.ok() && left.value);
  EXPECT_EQ(left.value->held_by, 0);
  EXPECT_EQ(left.value->state, "gone");
}

REGISTER_TYPED_TEST_SUITE_P(HoldsConformance, ALoadClaimsAndTheLeaveSaveHandsOver, ASaveOfANonHolderIsFenced,
                            AnOlderSaveNeverChangesTheHold, ACrashedHoldersLeaseRunsOut, RenewAndRestart);

}  // namespace strata::storage::testing
