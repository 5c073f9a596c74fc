// tests/replay/replay_test.cpp — the session log end to end: record -> export -> import -> verify;
// replay from any snapshot equals replay from tick 0; sync-test and save/load modes; every single
// byte flip of an export file is reported as damage; wrong versions and hostile files are refused
// with a precise status.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "replay/desync.h"
#include "replay/export_file.h"
#include "replay/frames.h"
#include "replay/limits.h"
#include "replay/replayer.h"
#include "tests/replay/log_fixture.h"

namespace strata {
namespace {

using replay::Code;

replay::LogConfig small_config(uint32_t full_every, uint32_t snapshot_every) {
  replay::LogConfig config;
  config.full_hash_every = full_every;
  config.snapshot_every = snapshot_every;
  return config;
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(replay::read_file(path, bytes).ok());
  return bytes;
}

std::vector<std::pair<uint64_t, uint64_t>> hash_stream(replay::LogSource& log, uint64_t from = 0) {
  std::vector<std::pair<uint64_t, uint64_t>> stream;
  replay::ReplayOptions options;
  options.from_tick = from;
  options.on_tick = [&](uint64_t tick, uint64_t quick, std::optional<uint64_t>) { stream.emplace_back(tick, quick); };
  const auto result = replay::replay(log, options);
  EXPECT_TRUE(result.status.ok()) << result.status.describe();
  return stream;
}

RC_GTEST_PROP(SessionLog, RecordExportImportVerify, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  const auto ticks = *rc::gen::inRange<uint64_t>(1, 80);
  const auto players = *rc::gen::inRange<uint32_t>(1, 25);
  const auto full_every = *rc::gen::inRange<uint32_t>(1, 20);
  const auto snapshot_every = *rc::gen::inRange<uint32_t>(1, 40);
  test::TempDir dir;
  const auto recording =
      test::record_scenario(dir.path("log"), seed, players, ticks, small_config(full_every, snapshot_every));

  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  RC_ASSERT(log != nullptr);
  RC_ASSERT(log->last_tick() == ticks);
  RC_ASSERT(replay::export_log(*log, dir.path("log.strata")).ok());
  RC_ASSERT(replay::import_log(dir.path("log.strata"), dir.path("imported")).ok());

  for (const std::string& path : {dir.path("log"), dir.path("log.strata"), dir.path("imported")}) {
    auto source = replay::open_log(path, status);
    RC_ASSERT(source != nullptr);
    const auto result = replay::replay(*source, {});
    RC_ASSERT(result.status.ok());
    RC_ASSERT(result.last_tick == ticks);
    auto final_state = replay::state_at(*source, ticks);
    RC_ASSERT(final_state.status.ok());
    RC_ASSERT(final_state.sim->full_hash() == recording.final_full_hash);
  }
  // Export of the import is byte-identical to the first export.
  auto imported = replay::open_log(dir.path("imported"), status);
  RC_ASSERT(replay::export_log(*imported, dir.path("again.strata")).ok());
  RC_ASSERT(file_bytes(dir.path("again.strata")) == file_bytes(dir.path("log.strata")));
}

RC_GTEST_PROP(SessionLog, ReplayFromAnySnapshotEqualsReplayFromTickZero, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1'000'000);
  const auto ticks = *rc::gen::inRange<uint64_t>(2, 90);
  const auto snapshot_every = *rc::gen::inRange<uint32_t>(1, 30);
  test::TempDir dir;
  test::record_scenario(dir.path("log"), seed, 12, ticks, small_config(7, snapshot_every));
  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  RC_ASSERT(log != nullptr);
  const auto from_zero = hash_stream(*log);
  RC_ASSERT(from_zero.size() == ticks);
  const auto snapshots = log->snapshot_ticks();
  const uint64_t from = *rc::gen::inRange<uint64_t>(0, ticks + 1);
  const uint64_t snap = replay::snapshot_at_or_before(*log, from);
  RC_ASSERT(std::binary_search(snapshots.begin(), snapshots.end(), snap));
  const auto from_snapshot = hash_stream(*log, from);
  RC_ASSERT(from_snapshot.size() == ticks - snap);
  RC_ASSERT(std::equal(from_snapshot.begin(), from_snapshot.end(), from_zero.begin() + static_cast<long>(snap)));
}

TEST(SessionLog, SyncTestAndSaveLoadPassOnAnHonestLog) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 77, 15, 60, small_config(10, 20));
  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log) << status.describe();
  for (auto mode : {replay::ReplayMode::sync_test, replay::ReplayMode::save_load}) {
    replay::ReplayOptions options;
    options.mode = mode;
    options.rollback_ticks = 3;
    const auto result = replay::replay(*log, options);
    EXPECT_TRUE(result.status.ok()) << result.status.describe();
    EXPECT_EQ(result.last_tick, 60U);
  }
}

TEST(SessionLog, SyncTestCatchesInjectedNondeterminismAtItsTick) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 5, 10, 50, small_config(10, 25));
  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log);
  // A step that differs between the first simulation and a re-simulation of tick 31, as an
  // uninitialised read would: the live run and the log agree, only sync-test can see it.
  replay::ReplayOptions options;
  options.mode = replay::ReplayMode::sync_test;
  options.rollback_ticks = 4;
  options.fault = [](sim::World& world, bool resimulation) {
    if (!resimulation || world.tick != 31) return false;
    world.counters.evictions += 1;
    return true;
  };
  const auto result = replay::replay(*log, options);
  EXPECT_EQ(result.status.code, Code::hash_mismatch) << result.status.describe();
  ASSERT_TRUE(result.status.tick.has_value());
  EXPECT_EQ(*result.status.tick, 31U);
  EXPECT_NE(result.which.find("sync-test"), std::string::npos) << result.which;
  options.mode = replay::ReplayMode::verify;  // plain verification cannot see it
  EXPECT_TRUE(replay::replay(*log, options).status.ok());
}

TEST(SessionLog, VerifyStopsAtTheFirstMismatchWithTickAndWhichHash) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 9, 8, 40, small_config(5, 20), [](sim::World& world) {
    if (world.tick != 17) return false;
    world.counters.random_updates += 1;
    return true;
  });
  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log);
  const auto result = replay::replay(*log, {});
  EXPECT_EQ(result.status.code, Code::hash_mismatch);
  EXPECT_EQ(result.status.tick, 17U);
  EXPECT_EQ(result.which, "quick hash");
  EXPECT_EQ(result.last_tick, 16U);
}

TEST(ExportFile, EverySingleByteFlipIsReportedAsDamage) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 21, 4, 12, small_config(4, 6));
  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log);
  ASSERT_TRUE(replay::export_log(*log, dir.path("x.strata")).ok());
  const auto bytes = file_bytes(dir.path("x.strata"));
  ASSERT_TRUE(replay::read_export_bytes(bytes, status)) << status.describe();
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto damaged = bytes;
    damaged[i] = static_cast<uint8_t>(damaged[i] ^ (1U << (i % 8)));
    auto opened = replay::read_export_bytes(std::move(damaged), status);
    ASSERT_FALSE(opened) << "flip at byte " << i << " accepted";
    ASSERT_NE(status.code, Code::ok);
    ASSERT_TRUE(status.byte_offset.has_value()) << status.describe();
    ASSERT_LE(*status.byte_offset, i) << status.describe();
  }
  // Every truncation too.
  for (size_t n = 0; n < bytes.size(); n += 7) {
    auto cut = std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(n));
    ASSERT_FALSE(replay::read_export_bytes(std::move(cut), status)) << n;
    ASSERT_EQ(status.code, Code::damaged) << status.describe();
  }
}

RC_GTEST_PROP(ExportFile, RandomDamageIsNeverAcceptedNorCrashes, ()) {
  static test::TempDir dir;
  static const std::vector<uint8_t> bytes = [] {
    test::record_scenario(dir.path("log"), 33, 10, 40, small_config(8, 10));
    replay::Status status;
    auto log = replay::open_log(dir.path("log"), status);
    EXPECT_TRUE(replay::export_log(*log, dir.path("x.strata")).ok());
    return file_bytes(dir.path("x.strata"));
  }();
  auto damaged = bytes;
  const size_t at = *rc::gen::inRange<size_t>(0, damaged.size());
  const auto value = *rc::gen::inRange<int>(0, 256);
  RC_PRE(damaged[at] != value);
  damaged[at] = static_cast<uint8_t>(value);
  replay::Status status;
  RC_ASSERT(!replay::read_export_bytes(std::move(damaged), status));
  RC_ASSERT(status.byte_offset.has_value());
}

TEST(ExportFile, WrongMagicVersionAndNotFoundHaveDistinctCodes) {
  test::TempDir dir;
  replay::Status status;
  EXPECT_FALSE(replay::open_log(dir.path("missing"), status));
  EXPECT_EQ(status.code, Code::not_found);
  test::record_scenario(dir.path("log"), 3, 3, 5, small_config(2, 3));
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(replay::export_log(*log, dir.path("x.strata")).ok());
  auto bytes = file_bytes(dir.path("x.strata"));
  auto wrong_version = bytes;
  wrong_version[8] = 9;
  EXPECT_FALSE(replay::read_export_bytes(wrong_version, status));
  EXPECT_EQ(status.code, Code::unsupported);
  auto wrong_magic = bytes;
  wrong_magic[0] = 'X';
  EXPECT_FALSE(replay::read_export_bytes(wrong_magic, status));
  EXPECT_EQ(status.code, Code::damaged);
  EXPECT_EQ(status.byte_offset, 0U);
  // A header frame claiming rules this build does not implement: rules_version, not damage.
  schema::LogHeader header = log->header();
  header.rules_version = sim::rules_version + 1;
  std::FILE* f = std::fopen(dir.path("rules.strata").c_str(), "wb");
  replay::FrameWriter writer(f, replay::export_magic);
  ASSERT_TRUE(writer.write(header).ok());
  std::fclose(f);
  EXPECT_FALSE(replay::open_log(dir.path("rules.strata"), status));
  EXPECT_EQ(status.code, Code::rules_version) << status.describe();
}

TEST(ExportFile, HostileLengthIsRefusedBeforeAllocating) {
  std::vector<uint8_t> bytes(replay::limits::file_magic_bytes + replay::limits::frame_header_bytes, 0xFF);
  for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>((replay::export_magic >> (8 * i)) & 0xFF);
  bytes[8] = 1;
  bytes[9] = bytes[10] = bytes[11] = 0;
  replay::Status status;
  EXPECT_FALSE(replay::read_export_bytes(bytes, status));
  EXPECT_EQ(status.code, Code::damaged);
  EXPECT_EQ(status.byte_offset, 12U) << status.describe();
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST(SessionLog, ParallelVerifyAgreesWithSequentialAndFindsTheSameMismatch) {
  test::TempDir dir;
  test::record_scenario(dir.path("good"), 13, 10, 90, small_config(5, 10));
  test::record_scenario(dir.path("bad"), 13, 10, 90, small_config(5, 10), [](sim::World& world) {
    if (world.tick < 57) return false;
    world.counters.random_updates += 1;  // from tick 57 on, this "build" differs
    return true;
  });
  replay::Status status;
  auto good = replay::open_log(dir.path("good"), status);
  auto bad = replay::open_log(dir.path("bad"), status);
  ASSERT_TRUE(good && bad);
  const auto sequential = replay::replay(*good, {});
  const auto parallel = replay::verify_parallel(*good, {}, 3);
  ASSERT_TRUE(parallel.status.ok()) << parallel.status.describe();
  EXPECT_EQ(parallel.last_tick, sequential.last_tick);
  EXPECT_EQ(parallel.ticks_replayed, sequential.ticks_replayed);
  const auto failed = replay::verify_parallel(*bad, {}, 3);
  EXPECT_EQ(failed.status.code, replay::Code::hash_mismatch);
  EXPECT_EQ(failed.status.tick, 57U) << failed.status.describe();
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// Damage at rest inside a RocksDB log directory: RocksDB's own checksums (WAL records, SST blocks)
// and the XXH3 of every value must turn it into an error or, where the WAL is cut at the damaged
// record (point-in-time recovery), into a shorter log that still verifies. Never a wrong replay.
TEST(SessionLog, DamagedRocksDbFilesGiveAnErrorOrAVerifiedPrefix) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 61, 8, 60, small_config(5, 20));
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path("log"))) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && (name.ends_with(".log") || name.ends_with(".sst")) && entry.file_size() > 0) {
      files.push_back(entry.path());
    }
  }
  ASSERT_FALSE(files.empty());
  std::mt19937 random(7);
  int errors = 0;
  int prefixes = 0;
  int shorter = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const auto& file = files[static_cast<size_t>(trial) % files.size()];
    std::filesystem::remove_all(dir.path("copy"));
    std::filesystem::copy(dir.path("log"), dir.path("copy"));
    const auto target = std::filesystem::path(dir.path("copy")) / file.filename();
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(replay::read_file(target.string(), bytes).ok());
    const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(random);
    bytes[at] ^= 0x10;
    std::ofstream(target, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    replay::Status status;
    auto log = replay::open_log(dir.path("copy"), status);
    if (!log) {
      errors += 1;
      continue;
    }
    const auto result = replay::replay(*log, {});
    if (!result.status.ok()) {
      EXPECT_NE(result.status.code, replay::Code::ok);
      errors += 1;
    } else {
      EXPECT_LE(log->last_tick(), 60U);
      prefixes += 1;
      if (log->last_tick() < 60) shorter += 1;
    }
  }
  std::printf("rocksdb damage: %d errors, %d verified logs (%d of them shorter)\n", errors, prefixes, shorter);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// The server's mode: periodic snapshots written by a background thread from a copy of the world.
// The log must hold the same snapshots, in place, as a synchronous writer's, verify the same, and
// end on the forced snapshot of a clean stop.
TEST(SessionLog, BackgroundSnapshotsGiveTheSameLogAsSynchronousOnes) {
  test::TempDir dir;
  auto config = small_config(5, 10);
  const auto synchronous = test::record_scenario(dir.path("sync"), 73, 10, 64, config);
  config.background_snapshots = true;
  sim::Simulation sim(scenario::world_for(73, 2, 4));
  scenario::ScenarioGenerator generator(test::busy_scenario(73, 10));
  replay::Status status;
  {
    auto writer = replay::LogWriter::create(dir.path("log"), sim.world(), config, status);
    ASSERT_TRUE(writer) << status.describe();
    sim::TickInput input;
    for (uint64_t t = 0; t < 64; ++t) {
      generator.next(sim.world(), input);
      sim.step(input);
      ASSERT_TRUE(writer->append(input, sim, t == 63).ok());  // the last one forced, as a clean stop
    }
    ASSERT_TRUE(writer->flush().ok());
  }
  EXPECT_EQ(sim.full_hash(), synchronous.final_full_hash);
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log) << status.describe();
  EXPECT_EQ(log->snapshot_ticks(), (std::vector<uint64_t>{0, 10, 20, 30, 40, 50, 60, 64}));
  const auto result = replay::replay(*log, {});
  EXPECT_TRUE(result.status.ok()) << result.status.describe();
  EXPECT_EQ(result.last_tick, 64U);
  // Every snapshot restores to the hash the log recorded at its tick.
  replay::ReplayOptions from_snapshot;
  from_snapshot.from_tick = 30;
  const auto seeked = replay::replay(*log, from_snapshot);
  EXPECT_TRUE(seeked.status.ok()) << seeked.status.describe();
}

// Full hashes computed by the background thread (the server's way) give, once the writer is closed,
// the very records a synchronous writer gives: every tick's quick and full hash.
TEST(SessionLog, BackgroundFullHashesGiveTheSameRecordsAsSynchronousOnes) {
  test::TempDir dir;
  auto config = small_config(5, 20);
  (void)test::record_scenario(dir.path("sync"), 77, 10, 65, config);
  config.background_full_hash = true;
  config.background_snapshots = true;
  const auto background = test::record_scenario(dir.path("log"), 77, 10, 65, config);
  // Ticks 1, 5, 10, 15, 25, 30, 35, 45, 50, 55, 65 are due a full hash and no snapshot (20, 40,
  // 60 are: their hash is synchronous). Tick 65's was still running when the recording ended: the
  // writer's destructor settled it and rewrote its record.
  EXPECT_EQ(background.background_full_hashes, 10U);
  replay::Status status;
  replay::HashStream expected, got;
  auto sync_log = replay::open_log(dir.path("sync"), status);
  ASSERT_TRUE(sync_log) << status.describe();
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log) << status.describe();
  ASSERT_TRUE(replay::recorded_hashes(*sync_log, expected).ok());
  ASSERT_TRUE(replay::recorded_hashes(*log, got).ok());
  ASSERT_EQ(got.size(), 65U);
  size_t full = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].tick, expected[i].tick);
    EXPECT_EQ(got[i].quick, expected[i].quick) << "tick " << got[i].tick;
    EXPECT_EQ(got[i].full, expected[i].full) << "tick " << got[i].tick;
    full += got[i].full.has_value() ? 1 : 0;
  }
  EXPECT_EQ(full, 14U);  // 1, every 5th tick up to 65
  const auto result = replay::replay(*log, {});
  EXPECT_TRUE(result.status.ok()) << result.status.describe();
}

// A writer whose caller stepped without release_world(): the append is refused, the tick whose hash was
// running keeps no full hash (it may be of the later world), nothing else is lost, and the same
// append then goes through.
TEST(SessionLog, AnAppendWithoutSettleIsRefusedAndTheUnsureHashDropped) {
  test::TempDir dir;
  auto config = small_config(5, 20);
  config.background_full_hash = true;
  sim::Simulation sim(scenario::world_for(79, 2, 4));
  scenario::ScenarioGenerator generator(test::busy_scenario(79, 10));
  replay::Status status;
  {
    auto writer = replay::LogWriter::create(dir.path("log"), sim.world(), config, status);
    ASSERT_TRUE(writer) << status.describe();
    sim::TickInput input;
    for (uint64_t t = 1; t <= 12; ++t) {
      generator.next(sim.world(), input);
      if (t != 6) writer->release_world();  // tick 5's hash is not waited for before tick 6's step
      sim.step(input);
      const replay::Status appended = writer->append(input, sim);
      if (t == 6) {
        EXPECT_EQ(appended.code, replay::Code::invalid_argument);
        EXPECT_NE(appended.message.find("tick 5"), std::string::npos) << appended.describe();
        EXPECT_EQ(writer->last_tick(), 5U);
        ASSERT_TRUE(writer->append(input, sim).ok());  // retried
      } else {
        ASSERT_TRUE(appended.ok()) << appended.describe();
      }
    }
  }
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log) << status.describe();
  replay::HashStream hashes;
  ASSERT_TRUE(replay::recorded_hashes(*log, hashes).ok());
  ASSERT_EQ(hashes.size(), 12U);
  EXPECT_TRUE(hashes[0].full.has_value());   // tick 1: synchronous
  EXPECT_FALSE(hashes[4].full.has_value());  // tick 5: dropped
  EXPECT_TRUE(hashes[9].full.has_value());   // tick 10: background, settled
  const auto result = replay::replay(*log, {});
  EXPECT_TRUE(result.status.ok()) << result.status.describe();
  EXPECT_EQ(result.last_tick, 12U);
}

TEST(SessionLog, RecoverRebuildsTheWorldAndAppendingContinuesTheSameRun) {
  test::TempDir dir;
  const auto config = small_config(5, 15);
  const auto uninterrupted = test::record_scenario(dir.path("whole"), 71, 10, 80, config);
  // First part, then the writer "dies" (dropped without any shutdown step).
  sim::Simulation sim(scenario::world_for(71, 2, 4));
  scenario::ScenarioGenerator generator(test::busy_scenario(71, 10));
  replay::Status status;
  std::vector<sim::TickInput> inputs(80);
  {
    auto writer = replay::LogWriter::create(dir.path("log"), sim.world(), config, status);
    ASSERT_TRUE(writer) << status.describe();
    for (uint64_t t = 0; t < 37; ++t) {
      generator.next(sim.world(), inputs[t]);
      sim.step(inputs[t]);
      ASSERT_TRUE(writer->append(inputs[t], sim).ok());
    }
  }
  auto recovered = replay::recover(dir.path("log"), config);
  ASSERT_TRUE(recovered.status.ok()) << recovered.status.describe();
  ASSERT_EQ(recovered.writer->last_tick(), 37U);
  EXPECT_EQ(recovered.sim->full_hash(), sim.full_hash());
  for (uint64_t t = 37; t < 80; ++t) {
    generator.next(recovered.sim->world(), inputs[t]);
    recovered.sim->step(inputs[t]);
    ASSERT_TRUE(recovered.writer->append(inputs[t], *recovered.sim).ok());
  }
  EXPECT_EQ(recovered.sim->full_hash(), uninterrupted.final_full_hash);
  recovered.writer.reset();
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(log);
  const auto result = replay::replay(*log, {});
  EXPECT_TRUE(result.status.ok()) << result.status.describe();
  EXPECT_EQ(result.last_tick, 80U);
  EXPECT_EQ(replay::recover(dir.path("nothing"), config).status.code, replay::Code::not_found);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

std::vector<uint8_t> record_bytes(const schema::TickRecord& record) {
  std::vector<uint8_t> bytes;
  schema::encode_tick_record(record, bytes);
  return bytes;
}

// An export file is streamed from disk (an index, not the records, in memory): every record read
// at random, sequentially through readers, or by a prefetching replay equals the RocksDB log's.
TEST(ExportFile, StreamedReadsEqualTheLogInAnyOrder) {
  test::TempDir dir;
  // 200 ticks: past the reader's index step (64) and the prefetch queue (64); a snapshot frame
  // between records every 7 ticks.
  test::record_scenario(dir.path("log"), 41, 9, 200, small_config(5, 7));
  replay::Status status;
  auto rocks = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(rocks) << status.describe();
  ASSERT_TRUE(replay::export_log(*rocks, dir.path("x.strata")).ok());
  auto file = replay::open_log(dir.path("x.strata"), status);
  ASSERT_TRUE(file) << status.describe();
  ASSERT_EQ(file->kind(), "export file");
  ASSERT_EQ(file->snapshot_ticks(), rocks->snapshot_ticks());
  std::vector<uint64_t> ticks;
  for (uint64_t t = 1; t <= 200; ++t) ticks.push_back(t);
  std::shuffle(ticks.begin(), ticks.end(), std::mt19937(5));
  ticks.insert(ticks.end(), {1, 2, 3, 64, 65, 66, 128, 129, 200});  // and some in sequence
  schema::TickRecord a;
  schema::TickRecord b;
  for (uint64_t t : ticks) {
    ASSERT_TRUE(rocks->read_tick(t, a).ok());
    ASSERT_TRUE(file->read_tick(t, b).ok()) << t;
    ASSERT_EQ(record_bytes(a), record_bytes(b)) << "tick " << t;
  }
  for (auto [first, last] : {std::pair<uint64_t, uint64_t>{1, 200}, {63, 130}, {7, 8}, {200, 200}}) {
    auto ra = rocks->read_ticks(first, last);
    auto rb = file->read_ticks(first, last);
    for (uint64_t t = first; t <= last; ++t) {
      ASSERT_TRUE(ra->next(a).ok());
      ASSERT_TRUE(rb->next(b).ok()) << t;
      ASSERT_EQ(a.input.tick, t);
      ASSERT_EQ(record_bytes(a), record_bytes(b)) << "tick " << t;
    }
    EXPECT_EQ(ra->next(a).code, Code::invalid_argument);
    EXPECT_EQ(rb->next(b).code, Code::invalid_argument);
  }
  std::vector<uint8_t> sa;
  std::vector<uint8_t> sb;
  for (uint64_t t : rocks->snapshot_ticks()) {
    ASSERT_TRUE(rocks->read_snapshot(t, sa).ok());
    ASSERT_TRUE(file->read_snapshot(t, sb).ok());
    ASSERT_EQ(sa, sb) << "snapshot " << t;
  }
  // The prefetching replay (default) and the plain one give the same hash stream.
  const auto prefetched = hash_stream(*file);
  std::vector<std::pair<uint64_t, uint64_t>> plain;
  replay::ReplayOptions options;
  options.prefetch = false;
  options.on_tick = [&](uint64_t tick, uint64_t quick, std::optional<uint64_t>) { plain.emplace_back(tick, quick); };
  ASSERT_TRUE(replay::replay(*rocks, options).status.ok());
  EXPECT_EQ(prefetched, plain);
  EXPECT_EQ(prefetched.size(), 200U);
}

// The same damage found in memory and on disk, at the same byte offset and tick.
TEST(ExportFile, DamageOnDiskIsReportedLikeDamageInMemory) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 43, 6, 90, small_config(5, 20));
  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(replay::export_log(*log, dir.path("x.strata")).ok());
  const auto bytes = file_bytes(dir.path("x.strata"));
  std::mt19937 random(11);
  for (int trial = 0; trial < 25; ++trial) {
    auto damaged = bytes;
    const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(random);
    damaged[at] ^= 0x04;
    const std::string path = dir.path("damaged.strata");
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(damaged.data()), static_cast<std::streamsize>(damaged.size()));
    replay::Status on_disk;
    replay::Status in_memory;
    ASSERT_FALSE(replay::open_log(path, on_disk)) << "flip at " << at;
    ASSERT_FALSE(replay::read_export_bytes(std::move(damaged), in_memory));
    EXPECT_EQ(on_disk.code, in_memory.code) << on_disk.describe();
    EXPECT_EQ(on_disk.byte_offset, in_memory.byte_offset) << on_disk.describe();
    EXPECT_EQ(on_disk.tick, in_memory.tick) << on_disk.describe();
    ASSERT_TRUE(on_disk.byte_offset.has_value());
    EXPECT_LE(*on_disk.byte_offset, at);
  }
}

// A file cut short after it was opened (checked): the replay's reads, made on the prefetching
// thread, report the damage at its tick, after verifying every tick before it.
TEST(ExportFile, FileCutAfterOpeningIsReportedByThePrefetchingReplay) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 47, 6, 150, small_config(5, 1000));
  replay::Status status;
  auto log = replay::open_log(dir.path("log"), status);
  ASSERT_TRUE(replay::export_log(*log, dir.path("x.strata")).ok());
  auto file = replay::open_log(dir.path("x.strata"), status);
  ASSERT_TRUE(file) << status.describe();
  const auto size = std::filesystem::file_size(dir.path("x.strata"));
  std::filesystem::resize_file(dir.path("x.strata"), size / 2);
  const auto result = replay::replay(*file, {});
  EXPECT_EQ(result.status.code, Code::damaged) << result.status.describe();
  ASSERT_TRUE(result.status.tick.has_value());
  EXPECT_EQ(result.last_tick + 1, *result.status.tick);
  EXPECT_GT(result.last_tick, 10U);
  EXPECT_LT(result.last_tick, 150U);
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

// Removes the snapshot list the writer keeps in the meta column family (all of it, or its last
// entry), as a log written before the list existed, or continued by such a writer, would be.
void drop_snapshot_index(const std::string& dir, bool only_last) {
  rocksdb::ColumnFamilyOptions cf;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, cf}, {"meta", cf}, {"ticks", cf}, {"snapshots", cf}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
  for (it->Seek("snapshot/"); it->Valid() && it->key().starts_with("snapshot/"); it->Next()) {
    keys.push_back(it->key().ToString());
  }
  it.reset();
  ASSERT_GT(keys.size(), 1U);
  if (only_last) keys.erase(keys.begin(), keys.end() - 1);
  for (const std::string& key : keys) ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), handles[1], key).ok());
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), handles).ok());
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

TEST(SessionLog, SnapshotTicksComeFromTheListOrFromAScanOfOlderLogs) {
  test::TempDir dir;
  test::record_scenario(dir.path("log"), 51, 6, 50, small_config(5, 7));
  replay::Status status;
  std::vector<uint64_t> expected;
  for (uint64_t t = 0; t <= 50; t += 7) expected.push_back(t);
  {
    auto log = replay::open_log(dir.path("log"), status);
    ASSERT_TRUE(log) << status.describe();
    EXPECT_EQ(log->snapshot_ticks(), expected);
  }
  for (bool only_last : {true, false}) {
    drop_snapshot_index(dir.path("log"), only_last);
    auto log = replay::open_log(dir.path("log"), status);
    ASSERT_TRUE(log) << status.describe();
    EXPECT_EQ(log->snapshot_ticks(), expected) << (only_last ? "last entry dropped" : "list dropped");
    EXPECT_TRUE(replay::replay(*log, {}).status.ok());
  }
}

}  // namespace
}  // namespace strata
