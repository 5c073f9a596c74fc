// tests/replay/memory_log_test.cpp — the in-memory SessionLog: its crash model under each fsync
// policy (only synced ticks survive a machine crash, recovery gives the world at the last surviving
// tick, checked against a straight run), the same records as the RocksDB writer, and the faults
// strata-vopr drives (a slow or stuck sync, a failing append, a failing sync, the borrow rule).
#include <gtest/gtest.h>

#include <vector>

#include "log_fixture.h"
#include "replay/memory_log.h"
#include "replay/replayer.h"
#include "schema/log_codec.h"

namespace strata {
namespace {

replay::LogConfig config_for(replay::WalSync sync) {
  replay::LogConfig config;
  config.full_hash_every = 5;
  config.snapshot_every = 10;
  config.wal_sync = sync;
  config.sync_every_ticks = 4;
  return config;
}

// A straight run of the busy scenario: the inputs and each tick's full hash (index = tick).
struct StraightRun {
  std::vector<sim::TickInput> inputs;  // inputs[t - 1] is tick t's
  std::vector<uint64_t> full_hashes;   // full_hashes[t]: the world after tick t
};

StraightRun straight_run(uint64_t seed, uint64_t ticks) {
  StraightRun run;
  sim::Simulation sim(scenario::world_for(seed, 2, 4));
  scenario::ScenarioGenerator generator(test::busy_scenario(seed, 8));
  run.full_hashes.push_back(sim.full_hash());
  for (uint64_t t = 0; t < ticks; ++t) {
    sim::TickInput input;
    generator.next(sim.world(), input);
    sim.step(input);
    run.inputs.push_back(input);
    run.full_hashes.push_back(sim.full_hash());
  }
  return run;
}

// Appends ticks [from + 1, to] of `run` to `log`, as the node does (release, step, append);
// `after_append` is called with each tick appended.
void append_ticks(replay::SessionLog& log, sim::Simulation& sim, const StraightRun& run, uint64_t to,
                  const std::function<void(uint64_t)>& after_append = {}) {
  while (sim.tick() < to) {
    const sim::TickInput& input = run.inputs[sim.tick()];
    log.release_world();
    sim.step(input);
    const replay::Status status = log.append(input, sim);
    ASSERT_TRUE(status.ok()) << status.describe();
    if (after_append) after_append(sim.tick());
  }
}

// Recovers `disk` and checks the world is the straight run's at `tick`, and the log verifies.
void expect_recovers_to(replay::MemoryDisk& disk, const replay::LogConfig& config, const StraightRun& run,
                        uint64_t tick) {
  replay::RecoveredMemory recovered = replay::recover(disk, config);
  ASSERT_TRUE(recovered.log && recovered.sim) << recovered.status.describe();
  EXPECT_EQ(recovered.sim->tick(), tick);
  EXPECT_EQ(recovered.log->last_tick(), tick);
  EXPECT_EQ(recovered.log->durable_tick(), tick);
  EXPECT_EQ(recovered.sim->full_hash(), run.full_hashes[tick]) << "the world at tick " << tick;
  auto source = disk.source();
  const replay::ReplayResult verified = replay::replay(*source, {});
  EXPECT_TRUE(verified.status.ok()) << verified.status.describe();
  EXPECT_EQ(verified.last_tick, tick);
}

struct PolicyCase {
  replay::WalSync sync;
  uint64_t survives_machine_crash;  // of 37 ticks appended (os_flush at tick 20 for `none`)
  uint64_t durable;                 // durable_tick() before the crash
};

// 37 ticks appended; a machine crash keeps what the policy synced, a process crash everything.
TEST(MemoryLog, AMachineCrashKeepsOnlyWhatThePolicySynced) {
  const StraightRun run = straight_run(41, 40);
  const std::vector<PolicyCase> cases = {
      {replay::WalSync::every_tick, 37, 37},
      {replay::WalSync::every_n_ticks, 36, 37},  // every 4 ticks: 4, 8, ... 36
      {replay::WalSync::none, 20, 37},           // the OS wrote back at tick 20, not since
      {replay::WalSync::background, 34, 34},     // the sync trails the appends by 3 ticks
  };
  for (const PolicyCase& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.sync));
    const replay::LogConfig config = config_for(c.sync);
    for (const replay::CrashKind kind : {replay::CrashKind::machine, replay::CrashKind::process}) {
      replay::MemoryDisk disk;
      sim::Simulation sim(scenario::world_for(41, 2, 4));
      replay::Status status;
      auto log = replay::MemorySessionLog::create(disk, sim.world(), config, status);
      ASSERT_TRUE(log) << status.describe();
      log->set_sync_lag(3);
      append_ticks(*log, sim, run, 37, [&](uint64_t tick) {
        if (tick == 20 && c.sync == replay::WalSync::none) disk.os_flush();
        EXPECT_LE(log->durable_tick(), tick);
      });
      EXPECT_EQ(log->last_tick(), 37U);
      EXPECT_EQ(log->durable_tick(), c.durable);
      disk.crash(kind);
      // The crashed writer is detached: it writes nothing more, and its destructor syncs nothing.
      log->release_world();
      EXPECT_EQ(log->append(run.inputs[37], sim).code, replay::Code::io);
      log.reset();
      const uint64_t expected = kind == replay::CrashKind::machine ? c.survives_machine_crash : 37;
      EXPECT_EQ(disk.last_written(), expected);
      if (c.sync == replay::WalSync::every_tick || c.sync == replay::WalSync::background) {
        EXPECT_GE(expected, c.durable) << "a tick reported durable was lost";
      }
      expect_recovers_to(disk, config, run, expected);
    }
  }
}

// A recovered log appends on from where the crash left it, and a clean close syncs everything.
TEST(MemoryLog, RecoveryAppendsOnAndACleanCloseSyncsEverything) {
  const StraightRun run = straight_run(43, 40);
  const replay::LogConfig config = config_for(replay::WalSync::none);
  replay::MemoryDisk disk;
  {
    sim::Simulation sim(scenario::world_for(43, 2, 4));
    replay::Status status;
    auto log = replay::MemorySessionLog::create(disk, sim.world(), config, status);
    ASSERT_TRUE(log);
    append_ticks(*log, sim, run, 12);
  }  // a clean close
  disk.crash(replay::CrashKind::machine);
  EXPECT_EQ(disk.last_written(), 12U);
  replay::RecoveredMemory recovered = replay::recover(disk, config);
  ASSERT_TRUE(recovered.log) << recovered.status.describe();
  append_ticks(*recovered.log, *recovered.sim, run, 25);
  disk.crash(replay::CrashKind::machine);  // nothing synced since the recovery
  recovered.log.reset();
  expect_recovers_to(disk, config, run, 12);
}

// Given the same ticks, the RocksDB writer (in the node's mode: background snapshots and full
// hashes) and the memory log hold the same records and snapshots, and both verify.
TEST(MemoryLog, HoldsTheSameRecordsAsTheRocksDbWriter) {
  const StraightRun run = straight_run(47, 64);
  replay::LogConfig config = config_for(replay::WalSync::background);
  config.background_full_hash = true;
  config.background_snapshots = true;
  test::TempDir dir;
  replay::MemoryDisk disk;
  {
    sim::Simulation rocks_sim(scenario::world_for(47, 2, 4));
    sim::Simulation memory_sim(scenario::world_for(47, 2, 4));
    replay::Status status;
    auto rocks = replay::LogWriter::create(dir.path("log"), rocks_sim.world(), config, status);
    ASSERT_TRUE(rocks) << status.describe();
    auto memory = replay::MemorySessionLog::create(disk, memory_sim.world(), config, status);
    ASSERT_TRUE(memory) << status.describe();
    append_ticks(*rocks, rocks_sim, run, 63);
    append_ticks(*memory, memory_sim, run, 63);
    // The last tick a clean stop's: a forced snapshot.
    for (replay::SessionLog* log :
         {static_cast<replay::SessionLog*>(rocks.get()), static_cast<replay::SessionLog*>(memory.get())}) {
      sim::Simulation& sim = log == rocks.get() ? rocks_sim : memory_sim;
      log->release_world();
      sim.step(run.inputs[63]);
      ASSERT_TRUE(log->append(run.inputs[63], sim, true).ok());
      ASSERT_TRUE(log->flush().ok());
    }
  }
  replay::Status status;
  auto rocks = replay::open_rocks_log(dir.path("log"), status);
  ASSERT_TRUE(rocks) << status.describe();
  auto memory = disk.source();
  ASSERT_EQ(rocks->last_tick(), 64U);
  ASSERT_EQ(memory->last_tick(), 64U);
  EXPECT_EQ(rocks->snapshot_ticks(), memory->snapshot_ticks());
  EXPECT_EQ(memory->snapshot_ticks(), (std::vector<uint64_t>{0, 10, 20, 30, 40, 50, 60, 64}));
  for (uint64_t tick = 1; tick <= 64; ++tick) {
    schema::TickRecord record;
    ASSERT_TRUE(rocks->read_tick(tick, record).ok());
    std::vector<uint8_t> bytes;
    schema::encode_tick_record(record, bytes);
    ASSERT_NE(disk.record_bytes(tick), nullptr);
    EXPECT_EQ(bytes, *disk.record_bytes(tick)) << "tick " << tick;
  }
  for (const uint64_t tick : memory->snapshot_ticks()) {
    std::vector<uint8_t> a, b;
    ASSERT_TRUE(rocks->read_snapshot(tick, a).ok());
    ASSERT_TRUE(memory->read_snapshot(tick, b).ok());
    EXPECT_EQ(a, b) << "snapshot " << tick;
  }
  for (replay::LogSource* log : {rocks.get(), memory.get()}) {
    const replay::ReplayResult result = replay::replay(*log, {});
    EXPECT_TRUE(result.status.ok()) << log->kind() << ": " << result.status.describe();
    EXPECT_EQ(result.last_tick, 64U);
  }
}

// The background sync on the caller's schedule: held, it lets durable_tick() stand still (up to
// the lag bound, where an append "waits" and counts a stall); completed, it catches up.
TEST(MemoryLog, AHeldSyncHoldsDurableTickUntilReleasedOrTheLagBound) {
  const StraightRun run = straight_run(53, 80);
  replay::LogConfig config = config_for(replay::WalSync::background);
  config.sync_lag_ticks_max = 10;
  replay::MemoryDisk disk;
  sim::Simulation sim(scenario::world_for(53, 2, 4));
  replay::Status status;
  auto log = replay::MemorySessionLog::create(disk, sim.world(), config, status);
  ASSERT_TRUE(log);
  append_ticks(*log, sim, run, 5);
  EXPECT_EQ(log->durable_tick(), 5U);  // lag 0: synced within each append
  log->hold_sync(true);
  append_ticks(*log, sim, run, 15);
  EXPECT_EQ(log->durable_tick(), 5U);
  EXPECT_EQ(log->stalls(), 0U);
  append_ticks(*log, sim, run, 16);  // 11 ticks behind: the append waits for the disk
  EXPECT_EQ(log->durable_tick(), 16U);
  EXPECT_EQ(log->stalls(), 1U);
  append_ticks(*log, sim, run, 20);
  EXPECT_EQ(log->durable_tick(), 16U);
  log->complete_sync();
  EXPECT_EQ(log->durable_tick(), 20U);
  log->hold_sync(false);
  log->set_sync_lag(2);
  append_ticks(*log, sim, run, 24);
  EXPECT_EQ(log->durable_tick(), 22U);
  disk.crash(replay::CrashKind::machine);
  log.reset();
  expect_recovers_to(disk, config, run, 22);
}

// A failing append (the tick is refused, nothing written) and a failing fsync (every later append
// fails, durable_tick() stands) are what the caller asks for, on the tick it chooses.
TEST(MemoryLog, InjectedFailuresFailTheChosenAppend) {
  const StraightRun run = straight_run(59, 30);
  replay::MemoryDisk disk;
  sim::Simulation sim(scenario::world_for(59, 2, 4));
  replay::Status status;
  auto log = replay::MemorySessionLog::create(disk, sim.world(), config_for(replay::WalSync::background), status);
  ASSERT_TRUE(log);
  log->fail_append(8, replay::Status::error(replay::Code::io, "disk full"));
  append_ticks(*log, sim, run, 7);
  log->release_world();
  sim.step(run.inputs[7]);
  EXPECT_EQ(log->append(run.inputs[7], sim).code, replay::Code::io);
  EXPECT_EQ(log->last_tick(), 7U);
  EXPECT_EQ(disk.last_written(), 7U);
  EXPECT_TRUE(log->append(run.inputs[7], sim).ok());  // once: the retry is written
  EXPECT_EQ(log->durable_tick(), 8U);
  log->set_sync_lag(1);
  log->fail_next_sync();
  append_ticks(*log, sim, run, 10);  // tick 9's sync fails inside tick 10's append
  EXPECT_EQ(log->durable_tick(), 8U);
  log->release_world();
  sim.step(run.inputs[10]);
  EXPECT_EQ(log->append(run.inputs[10], sim).code, replay::Code::io);
  EXPECT_EQ(log->durable_tick(), 8U);
}

// The borrow rule of the port: an append before release_world() is refused, then may be retried.
TEST(MemoryLog, AnAppendWhileTheWorldIsBorrowedIsRefused) {
  const StraightRun run = straight_run(61, 5);
  replay::MemoryDisk disk;
  sim::Simulation sim(scenario::world_for(61, 2, 4));
  replay::Status status;
  auto log = replay::MemorySessionLog::create(disk, sim.world(), config_for(replay::WalSync::none), status);
  ASSERT_TRUE(log);
  append_ticks(*log, sim, run, 2);
  sim.step(run.inputs[2]);  // without release_world()
  EXPECT_EQ(log->append(run.inputs[2], sim).code, replay::Code::invalid_argument);
  EXPECT_TRUE(log->append(run.inputs[2], sim).ok());
}

}  // namespace
}  // namespace strata
