// tests/storage/async_port_test.cpp: the asynchronous ports over the in-memory twin with scripted
// outages (stall, error, lost connection, down, restart): writes queue bounded, reads are answered
// from queued writes, nothing acknowledged is lost and nothing is applied twice.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "storage/async_port.h"
#include "storage/cached_players.h"
#include "storage/memory_stores.h"
#include "storage/store_set.h"
#include "storage/store_worker.h"
#include "tests/storage/local_factories.h"

namespace strata::storage {
namespace {

// A twin whose saves also count how many times each (player, version) was written through.
class CountingStores final : public PlayerBackend {
 public:
  explicit CountingStores(MemoryStores& inner) : inner_(inner) {}
  Outcome save(std::span<const PlayerRecord> records) override {
    Outcome outcome = inner_.save(records);
    if (outcome.ok() || outcome.status == StoreStatus::lost_connection) {
      for (const PlayerRecord& record : records) ++writes_[{record.player, record.version}];
    }
    return outcome;
  }
  Result<std::optional<PlayerRecord>> load(PlayerKey player) override { return inner_.load(player); }
  std::map<std::pair<PlayerKey, uint64_t>, int> writes_;

 private:
  MemoryStores& inner_;
};

TEST(AsyncPort, QueuesWhileDownRefusesBeyondTheBoundAndFlushesInOrder) {
  MemoryStores stores;
  auto port = make_player_port(stores, {.writes_queued_max = 8, .reads_queued_max = 4, .batch_max = 3});
  stores.set_down(true);
  for (uint32_t i = 1; i <= 8; ++i) {
    const SubmitResult submitted = port->write({PlayerKey{1}, i, std::to_string(i) + "v"});
    ASSERT_EQ(submitted.status, Submit::queued);
    EXPECT_EQ(submitted.sequence, i);
  }
  EXPECT_EQ(port->write({PlayerKey{1}, 9, "v9"}).status, Submit::full);
  EXPECT_EQ(port->pump(4), 0U);
  EXPECT_TRUE(port->degraded());
  EXPECT_EQ(port->last_error().status, StoreStatus::unavailable);
  EXPECT_EQ(port->durable_sequence(), 0U);
  // A read while down is answered from the newest queued write: the player rejoins with what they left.
  const auto ticket = port->read(PlayerKey{1});
  ASSERT_TRUE(ticket);
  EXPECT_FALSE(port->take(*ticket));
  port->pump();
  auto answer = port->take(*ticket);
  ASSERT_TRUE(answer && answer->ok());
  EXPECT_EQ(answer->value, (PlayerRecord{PlayerKey{1}, 8, "8v"}));
  EXPECT_FALSE(port->take(*ticket));  // once
  stores.set_down(false);
  EXPECT_EQ(port->pump(10), 8U);
  EXPECT_FALSE(port->degraded());
  EXPECT_EQ(port->durable_sequence(), 8U);
  EXPECT_EQ(stores.load(PlayerKey{1}).value, (PlayerRecord{PlayerKey{1}, 8, "8v"}));
  const PortCounters counters = port->counters();
  EXPECT_EQ(counters.writes_refused_full, 1U);
  EXPECT_EQ(counters.writes_applied, 8U);
  EXPECT_EQ(counters.batches_applied, 3U);
  EXPECT_EQ(counters.reads_answered_from_queue, 1U);
  EXPECT_GE(counters.failures_by_status[static_cast<size_t>(StoreStatus::unavailable)], 1U);
}

TEST(AsyncPort, RefusesInvalidWritesAndReadsAtOnce) {
  MemoryStores stores;
  auto port = make_player_port(stores, {.writes_queued_max = 4, .reads_queued_max = 1, .batch_max = 2});
  const SubmitResult refused = port->write({PlayerKey{0}, 1, "x"});
  EXPECT_EQ(refused.status, Submit::refused);
  EXPECT_FALSE(refused.reason.empty());
  EXPECT_FALSE(port->read(PlayerKey{0}));
  EXPECT_TRUE(port->read(PlayerKey{1}));
  EXPECT_FALSE(port->read(PlayerKey{2}));  // the read queue holds one
  EXPECT_EQ(port->counters().writes_refused_invalid, 1U);
  EXPECT_EQ(port->counters().reads_refused_full, 1U);
  EXPECT_EQ(port->counters().reads_refused_invalid, 1U);
}

TEST(AsyncPort, LostAcknowledgementIsRetriedAndAppliesOnce) {
  MemoryStores memory;
  CountingStores stores(memory);
  auto port = make_player_port(stores, {.writes_queued_max = 16, .reads_queued_max = 4, .batch_max = 16});
  ASSERT_EQ(port->write({PlayerKey{7}, 1, "one"}).status, Submit::queued);
  ASSERT_EQ(port->write({PlayerKey{7}, 2, "two"}).status, Submit::queued);
  memory.inject(Fault::lost_connection);
  EXPECT_EQ(port->pump(), 0U);  // applied, but not acknowledged
  EXPECT_EQ(port->durable_sequence(), 0U);
  EXPECT_EQ(port->last_error().status, StoreStatus::lost_connection);
  EXPECT_EQ(port->pump(), 2U);  // the retry
  EXPECT_EQ(port->durable_sequence(), 2U);
  EXPECT_EQ(memory.load(PlayerKey{7}).value, (PlayerRecord{PlayerKey{7}, 2, "two"}));
  EXPECT_EQ(stores.writes_[std::pair(PlayerKey{7}, uint64_t{2})],
            2);  // offered twice, kept once: version 2 is stored once
}

TEST(AsyncPort, PositionsAndNearQueriesGoThroughThePort) {
  MemoryStores stores;
  auto port = make_position_port(stores);
  PositionBatch batch;
  batch.moved = {{PlayerKey{1}, 5, 5}, {PlayerKey{2}, 500, 500}};
  ASSERT_EQ(port->write(batch).status, Submit::queued);
  EXPECT_FALSE(port->read(NearQuery{0, 0, near_radius_max + 1}));
  const auto ticket = port->read(NearQuery{0, 0, 10});
  ASSERT_TRUE(ticket);
  port->pump();
  auto answer = port->take(*ticket);
  ASSERT_TRUE(answer && answer->ok());
  EXPECT_EQ(answer->value, (std::vector<Position>{{PlayerKey{1}, 5, 5}}));
}

// A long outage: the memory queue fills, later writes spill (in order), reads see the newest spilled
// state, and everything reaches the store once it is back.
template <class MakeSpill>
void spill_round_trip(MakeSpill make_spill) {
  MemoryStores stores;
  auto spill = make_spill();
  auto port = make_player_port(stores, {.writes_queued_max = 4, .reads_queued_max = 4, .batch_max = 2});
  port->attach_spill(*spill);
  stores.set_down(true);
  for (uint32_t i = 1; i <= 50; ++i) {
    const SubmitResult submitted = port->write({PlayerKey{1 + i % 3}, i, "state " + std::to_string(i)});
    ASSERT_EQ(submitted.status, Submit::queued);
    ASSERT_EQ(submitted.sequence, i);
  }
  (void)port->pump(4);
  EXPECT_EQ(spill->size(), 46U);
  EXPECT_EQ(port->durable_sequence(), 0U);
  const auto ticket = port->read(PlayerKey{3});
  ASSERT_TRUE(ticket);
  (void)port->pump();
  const auto answer = port->take(*ticket);
  ASSERT_TRUE(answer && answer->ok());
  EXPECT_EQ(answer->value, (PlayerRecord{PlayerKey{3}, 50, "state 50"}));
  stores.set_down(false);
  for (int round = 0; round < 100 && !port->idle(); ++round) (void)port->pump(4);
  ASSERT_TRUE(port->idle());
  EXPECT_EQ(port->durable_sequence(), 50U);
  EXPECT_EQ(stores.load(PlayerKey{1}).value, (PlayerRecord{PlayerKey{1}, 48, "state 48"}));
  EXPECT_EQ(stores.load(PlayerKey{2}).value, (PlayerRecord{PlayerKey{2}, 49, "state 49"}));
  EXPECT_EQ(stores.load(PlayerKey{3}).value, (PlayerRecord{PlayerKey{3}, 50, "state 50"}));
  EXPECT_EQ(port->counters().writes_spilled, 46U);
  EXPECT_EQ(port->counters().spill_lost, 0U);
}

TEST(AsyncPort, SpillsToMemoryWhenTheQueueIsFull) {
  spill_round_trip([] { return std::make_unique<MemorySpill>(100); });
}

TEST(AsyncPort, SpillsToRocksDbWhenTheQueueIsFull) {
  testing::TempDir dir;
  spill_round_trip([&] {
    std::string error;
    auto spill = RocksSpill::open((dir.path() / "spill").string(), 100, error);
    EXPECT_TRUE(spill) << error;
    return spill;
  });
}

TEST(AsyncPort, RefusesWhenTheSpillIsFullToo) {
  MemoryStores stores;
  MemorySpill spill(3);
  auto port = make_player_port(stores, {.writes_queued_max = 2, .reads_queued_max = 4, .batch_max = 2});
  port->attach_spill(spill);
  stores.set_down(true);
  for (uint32_t i = 1; i <= 5; ++i) EXPECT_EQ(port->write({PlayerKey{1}, i, ""}).status, Submit::queued);
  EXPECT_EQ(port->write({PlayerKey{1}, 6, ""}).status, Submit::full);
}

// What spilled survives a crash of the process: a new port over the reopened spill offers it first.
TEST(AsyncPort, SpilledWritesSurviveARestart) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "spill").string();
  MemoryStores stores;
  std::string error;
  {
    auto spill = RocksSpill::open(path, 100, error);
    ASSERT_TRUE(spill) << error;
    auto port = make_player_port(stores, {.writes_queued_max = 2, .reads_queued_max = 4, .batch_max = 2});
    port->attach_spill(*spill);
    stores.set_down(true);
    for (uint32_t i = 1; i <= 10; ++i) ASSERT_EQ(port->write({PlayerKey{i}, 1, "kept"}).status, Submit::queued);
  }  // the process dies: the 2 writes in memory are lost, the 8 spilled are not
  auto spill = RocksSpill::open(path, 100, error);
  ASSERT_TRUE(spill) << error;
  EXPECT_EQ(spill->size(), 8U);
  auto port = make_player_port(stores, {.writes_queued_max = 2, .reads_queued_max = 4, .batch_max = 2});
  port->attach_spill(*spill);
  EXPECT_EQ(port->last_sequence(), 8U);
  stores.set_down(false);
  for (int round = 0; round < 100 && !port->idle(); ++round) (void)port->pump(4);
  EXPECT_EQ(port->durable_sequence(), 8U);
  for (uint32_t i = 3; i <= 10; ++i)
    EXPECT_EQ(stores.load(PlayerKey{i}).value, (PlayerRecord{PlayerKey{i}, 1, "kept"}));
  EXPECT_FALSE(stores.load(PlayerKey{1}).value.has_value());
}

// With a journal the writes in memory survive a crash of the process too: the next run offers
// the journaled ones first, then the spilled ones, in the order they were written; what the store
// applied before the crash is no longer in the journal.
TEST(AsyncPort, JournaledWritesSurviveARestartInOrder) {
  testing::TempDir dir;
  const std::string spill_path = (dir.path() / "spill").string();
  const std::string journal_path = (dir.path() / "journal").string();
  MemoryStores stores;
  CountingStores counting(stores);
  std::string error;
  {
    auto spill = RocksSpill::open(spill_path, 100, error);
    auto journal = RocksSpill::open(journal_path, 100, error);
    ASSERT_TRUE(spill && journal) << error;
    auto port = make_player_port(counting, {.writes_queued_max = 3, .reads_queued_max = 4, .batch_max = 2});
    port->attach_spill(*spill);
    port->attach_journal(*journal);
    ASSERT_EQ(port->write({PlayerKey{1}, 1, "applied"}).status, Submit::queued);
    ASSERT_EQ(port->write({PlayerKey{2}, 1, "applied"}).status, Submit::queued);
    EXPECT_EQ(port->pump(1), 2U);  // one batch: both applied, gone from the journal
    EXPECT_EQ(journal->size(), 0U);
    stores.set_down(true);
    for (uint32_t i = 3; i <= 10; ++i) ASSERT_EQ(port->write({PlayerKey{i}, 1, "kept"}).status, Submit::queued);
    EXPECT_EQ(port->pump(4), 0U);
    EXPECT_EQ(journal->size(), 3U);  // the memory queue
    EXPECT_EQ(spill->size(), 5U);
  }  // the process dies with 8 writes unapplied
  auto spill = RocksSpill::open(spill_path, 100, error);
  auto journal = RocksSpill::open(journal_path, 100, error);
  ASSERT_TRUE(spill && journal) << error;
  auto port = make_player_port(counting, {.writes_queued_max = 3, .reads_queued_max = 4, .batch_max = 2});
  port->attach_spill(*spill);
  port->attach_journal(*journal);
  EXPECT_EQ(port->last_sequence(), 8U);
  EXPECT_EQ(port->durable_sequence(), 0U);
  // Read your writes holds across the restart: the journaled save answers the read.
  const auto ticket = port->read(PlayerKey{3});
  ASSERT_TRUE(ticket);
  (void)port->pump(0);
  auto answer = port->take(*ticket);
  ASSERT_TRUE(answer && answer->ok());
  EXPECT_EQ(answer->value, (PlayerRecord{PlayerKey{3}, 1, "kept"}));
  stores.set_down(false);
  // A lost acknowledgement on the way: the batch applied, is offered again, and applies once.
  stores.inject(Fault::lost_connection);
  for (int round = 0; round < 100 && !port->idle(); ++round) (void)port->pump(4);
  EXPECT_EQ(port->durable_sequence(), 8U);
  EXPECT_EQ(journal->size(), 0U);
  EXPECT_EQ(spill->size(), 0U);
  for (uint32_t i = 1; i <= 10; ++i) {
    EXPECT_EQ(stores.load(PlayerKey{i}).value,
              (PlayerRecord{PlayerKey{i}, 1, i <= 2 ? std::string("applied") : std::string("kept")}));
  }
  EXPECT_EQ(port->counters().spill_lost, 0U);
}

// A save whose cache fill failed (Redis out as the player left) must not be shadowed by the older
// save the cache still holds: the player's loads go to the cold store until a fill succeeds.
TEST(CachedPlayers, AFailedFillNeverServesAnOlderSave) {
  MemoryStores cold;
  MemoryStores cache;
  CachedPlayers players(cache, cold);
  const PlayerRecord first{PlayerKey{7}, 1, "first"};
  const PlayerRecord second{PlayerKey{7}, 2, "second"};
  ASSERT_TRUE(players.save(std::span(&first, 1)).ok());
  EXPECT_EQ(players.load(PlayerKey{7}).value, first);  // a hit
  EXPECT_EQ(players.counters().hits, 1U);
  cache.inject(Fault::error);  // the fill after the durable save fails: the save still succeeds
  ASSERT_TRUE(players.save(std::span(&second, 1)).ok());
  EXPECT_EQ(players.counters().cache_failures, 1U);
  EXPECT_EQ(cache.get(PlayerKey{7}).value, first);      // the cache holds the older save
  EXPECT_EQ(players.load(PlayerKey{7}).value, second);  // skipped, from the cold store, and refilled
  EXPECT_EQ(players.counters().stale_skips, 1U);
  EXPECT_EQ(cache.get(PlayerKey{7}).value, second);
  EXPECT_EQ(players.load(PlayerKey{7}).value, second);  // a hit again
  EXPECT_EQ(players.counters().hits, 2U);
  EXPECT_EQ(players.counters().stale_skips, 1U);
}

// The embedded default: every port on RocksDB under one data dir, driven by its pumps.
TEST(StoreSet, EmbeddedDefaultNeedsNoService) {
  testing::TempDir dir;
  std::string error;
  StoreSetConfig config;
  config.data_dir = (dir.path() / "data").string();
  config.sync = false;
  auto set = StoreSet::open(config, error);
  ASSERT_TRUE(set) << error;
  ASSERT_EQ(set->players().write({PlayerKey{4}, 1, "p"}).status, Submit::queued);
  ASSERT_EQ(set->maps().write({MapId{1}, 1, 9, {{0, 0, 1, "c"}}}).status, Submit::queued);
  PositionBatch moved;
  moved.moved = {{PlayerKey{4}, 3, 4}};
  ASSERT_EQ(set->positions().write(moved).status, Submit::queued);
  ASSERT_EQ(set->sessions().write({SessionId{2}, 1, "r", 1, 0, "log"}).status, Submit::queued);
  for (auto& pump : set->pumps()) (void)pump();
  const auto player = set->players().read(PlayerKey{4});
  const auto map = set->maps().read(MapId{1});
  const auto near = set->positions().read(NearQuery{0, 0, 5});
  const auto session = set->sessions().read(SessionId{2});
  ASSERT_TRUE(player && map && near && session);
  for (auto& pump : set->pumps()) (void)pump();
  EXPECT_EQ(set->players().take(*player)->value, (PlayerRecord{PlayerKey{4}, 1, "p"}));
  EXPECT_EQ(set->maps().take(*map)->value, (MapRecord{MapId{1}, 1, 9, {{0, 0, 1, "c"}}}));
  EXPECT_EQ(set->positions().take(*near)->value, (std::vector<Position>{{PlayerKey{4}, 3, 4}}));
  EXPECT_EQ(set->sessions().take(*session)->value, (SessionRecord{SessionId{2}, 1, "r", 1, 0, "log"}));
  EXPECT_FALSE(set->degraded());
}

// The threaded driver: the node's thread only queues; the worker applies.
TEST(StoreWorker, DrainsPortsOnItsThread) {
  MemoryStores stores;
  auto port = make_player_port(stores);
  uint64_t last = 0;
  {
    StoreWorker worker({[&port] { return port->pump(4); }}, std::chrono::milliseconds(1));
    for (uint32_t i = 1; i <= 100; ++i) last = port->write({PlayerKey{i}, 1, "x"}).sequence;
    worker.wake();
    while (port->durable_sequence() < last) std::this_thread::yield();
  }
  EXPECT_EQ(stores.players().size(), 100U);
}

// Any script of faults and restarts (of a store that keeps what it committed): after the store
// heals and the port drains, the store holds exactly the newest version of every player written,
// every acknowledged write was in the store when it was acknowledged, and reads always see the
// newest acknowledged-or-queued state.
// (With or without a spill behind the memory queue.)
RC_GTEST_PROP(AsyncPort, NothingAcknowledgedIsLostUnderFaults, ()) {
  MemoryStores stores;
  const auto queued_max = *rc::gen::inRange<size_t>(4, 40);
  const auto batch_max = *rc::gen::inRange<size_t>(1, queued_max + 1);
  auto port =
      make_player_port(stores, {.writes_queued_max = queued_max, .reads_queued_max = 8, .batch_max = batch_max});
  std::map<PlayerKey, PlayerRecord> accepted;  // newest accepted write per player
  std::map<uint64_t, PlayerRecord> by_sequence;
  std::map<PlayerKey, uint64_t> next_version;
  const auto steps = *rc::gen::inRange(20, 300);
  for (int step = 0; step < steps; ++step) {
    switch (*rc::gen::inRange(0, 8)) {
      case 0:
      case 1:
      case 2: {
        const PlayerKey player{*rc::gen::inRange<uint32_t>(1, 6)};
        const PlayerRecord record{player, ++next_version[player], *rc::gen::string<std::string>()};
        const SubmitResult submitted = port->write(record);
        RC_ASSERT(submitted.status != Submit::refused);
        if (submitted.status == Submit::queued) {
          accepted[player] = record;
          by_sequence[submitted.sequence] = record;
        }
        break;
      }
      case 3: stores.inject(*rc::gen::element(Fault::stall, Fault::error, Fault::lost_connection)); break;
      case 4: stores.set_down(*rc::gen::arbitrary<bool>()); break;
      case 5: stores.restart(RestartLoses::nothing); break;
      case 6: {
        const PlayerKey player{*rc::gen::inRange<uint32_t>(1, 6)};
        const auto ticket = port->read(player);
        port->pump(*rc::gen::inRange<size_t>(0, 3));
        if (!ticket) break;
        const auto answer = port->take(*ticket);
        RC_ASSERT(answer.has_value());
        if (answer->ok()) {
          const auto expected = accepted.contains(player) ? std::optional(accepted[player]) : std::nullopt;
          RC_ASSERT(answer->value == expected);
        }
        break;
      }
      default: port->pump(*rc::gen::inRange<size_t>(1, 4)); break;
    }
    // Every acknowledged write is in the store (at its version or a newer one).
    const uint64_t durable = port->durable_sequence();
    for (auto it = by_sequence.begin(); it != by_sequence.end() && it->first <= durable; ++it) {
      const auto stored = stores.players().find(it->second.player);
      RC_ASSERT(stored != stores.players().end());
      RC_ASSERT(stored->second.version >= it->second.version);
    }
  }
  stores.set_down(false);
  stores.restart(RestartLoses::nothing);
  for (int round = 0; round < 1000 && !port->idle(); ++round) port->pump(8);
  RC_ASSERT(port->idle());
  RC_ASSERT(port->durable_sequence() == port->last_sequence());
  RC_ASSERT(stores.players() == accepted);
}

}  // namespace
}  // namespace strata::storage
