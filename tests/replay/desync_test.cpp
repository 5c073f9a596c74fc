// tests/replay/desync_test.cpp — the desync finder: an injected nondeterminism is pinned to its tick
// and field; bundles round-trip through a file and refuse damage; hash streams parse strictly; the
// CLIs' exit codes are distinct per failure.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sys/wait.h>

#include <cinttypes>
#include <fstream>
#include <sstream>

#include "replay/desync.h"
#include "replay/export_file.h"
#include "replay/frames.h"
#include "replay/limits.h"
#include "replay/replayer.h"
#include "schema/codec.h"
#include "tests/replay/log_fixture.h"

namespace strata {
namespace {

using replay::Code;

constexpr uint64_t fault_tick = 23;

replay::LogConfig config(uint32_t full_every, uint32_t snapshot_every) {
  replay::LogConfig c;
  c.full_hash_every = full_every;
  c.snapshot_every = snapshot_every;
  return c;
}

// A clean log and the same scenario recorded by a "build" whose step at fault_tick leaves one
// field different (snapshots every tick, so its state at every tick is in the log).
struct TwoLogs {
  test::TempDir dir;
  std::string a = dir.path("a");
  std::string b = dir.path("b");
  TwoLogs() {
    test::record_scenario(a, 41, 12, 40, config(8, 10));
    test::record_scenario(b, 41, 12, 40, config(8, 1), [](sim::World& world) {
      if (world.tick != fault_tick) return false;
      world.counters.evictions += 1;
      return true;
    });
  }
};

TEST(Desync, PinsInjectedNondeterminismToItsTickAndField) {
  TwoLogs logs;
  replay::Status status;
  auto a = replay::open_log(logs.a, status);
  auto b = replay::open_log(logs.b, status);
  ASSERT_TRUE(a && b);
  replay::HashStream ha;
  replay::HashStream hb;
  ASSERT_TRUE(replay::recorded_hashes(*a, ha).ok());
  ASSERT_TRUE(replay::recorded_hashes(*b, hb).ok());
  const auto d = replay::first_divergence(ha, hb);
  ASSERT_TRUE(d.found);
  EXPECT_EQ(d.tick, fault_tick);
  EXPECT_EQ(d.which, "quick hash");

  replay::DesyncBundle bundle;
  ASSERT_TRUE(replay::collect(*a, *b, d.tick, bundle).ok());
  ASSERT_EQ(bundle.sides[0].states.size(), 2U);
  const auto before = sim::diff_worlds(bundle.sides[0].states[0], bundle.sides[1].states[0]);
  EXPECT_EQ(before.total, 0U);
  const auto at = sim::diff_worlds(bundle.sides[0].states[1], bundle.sides[1].states[1]);
  ASSERT_EQ(at.total, 1U);
  EXPECT_EQ(at.lines[0], "counters.evictions: 0 != 1");
  EXPECT_TRUE(bundle.sides[0].reproducible);
  // B's states are its own snapshots (one every tick), although this build does not reproduce B.
  EXPECT_EQ(bundle.sides[1].sources, std::vector<replay::StateSource>(2, replay::StateSource::recorded));
  EXPECT_FALSE(bundle.later_tick);

  // The bundle carries all of it to another machine.
  ASSERT_TRUE(replay::write_bundle(logs.dir.path("bundle"), bundle).ok());
  replay::DesyncBundle read;
  ASSERT_TRUE(replay::read_bundle(logs.dir.path("bundle"), read).ok());
  const std::string report = replay::explain(read);
  EXPECT_NE(report.find("first divergent tick: 23"), std::string::npos) << report;
  EXPECT_NE(report.find("counters.evictions: 0 != 1"), std::string::npos) << report;
  EXPECT_EQ(report, replay::explain(bundle));
}

// Log B from a "build" this one does not reproduce, with a snapshot only every 10 ticks: its state
// at the divergent tick can only be recomputed by this build, which says so, and the report adds
// the recorded snapshots after the divergence, where the other build's difference is visible.
TEST(Desync, SaysWhichStatesAreRecomputedAndComparesTheNextRecordedSnapshots) {
  test::TempDir dir;
  test::record_scenario(dir.path("a"), 41, 12, 40, config(8, 10));
  test::record_scenario(dir.path("b"), 41, 12, 40, config(8, 10), [](sim::World& world) {
    if (world.tick != fault_tick) return false;
    world.counters.evictions += 1;
    return true;
  });
  replay::Status status;
  auto a = replay::open_log(dir.path("a"), status);
  auto b = replay::open_log(dir.path("b"), status);
  ASSERT_TRUE(a && b);
  replay::DesyncBundle bundle;
  ASSERT_TRUE(replay::collect(*a, *b, fault_tick, bundle).ok());
  using replay::StateSource;
  EXPECT_TRUE(bundle.sides[0].reproducible);
  EXPECT_EQ(bundle.sides[0].sources,
            (std::vector{StateSource::replayed, StateSource::replayed, StateSource::recorded}));
  EXPECT_FALSE(bundle.sides[1].reproducible);
  EXPECT_EQ(bundle.sides[1].sources,
            (std::vector{StateSource::replayed, StateSource::recomputed, StateSource::recorded}));
  EXPECT_EQ(bundle.sides[1].replay_mismatch, fault_tick);
  ASSERT_EQ(bundle.later_tick, 30U);
  // Recomputed, B's state at the divergence is this build's: no difference shows there...
  EXPECT_EQ(sim::diff_worlds(bundle.sides[0].states[1], bundle.sides[1].states[1]).total, 0U);
  // ...the recorded snapshots at 30 hold what B's build computed.
  const auto later = sim::diff_worlds(bundle.sides[0].states[2], bundle.sides[1].states[2]);
  ASSERT_EQ(later.total, 1U);
  EXPECT_EQ(later.lines[0], "counters.evictions: 0 != 1");
  const std::string report = replay::explain(bundle);
  EXPECT_NE(report.find("B at tick 23: RECOMPUTED by this build"), std::string::npos) << report;
  EXPECT_NE(report.find("this build does not reproduce log B's recorded hashes (from tick 23)"), std::string::npos)
      << report;
  EXPECT_NE(report.find("A at tick 30: recorded"), std::string::npos) << report;
  EXPECT_NE(report.find("later, at the recorded snapshot (tick 30): 1 field difference(s)"), std::string::npos)
      << report;
  // The provenance travels with the bundle.
  ASSERT_TRUE(replay::write_bundle(dir.path("bundle"), bundle).ok());
  replay::DesyncBundle read;
  ASSERT_TRUE(replay::read_bundle(dir.path("bundle"), read).ok());
  EXPECT_EQ(read.sides[1].sources, bundle.sides[1].sources);
  EXPECT_EQ(read.later_tick, bundle.later_tick);
  EXPECT_EQ(replay::explain(read), report);
}

// A version-1 bundle (no provenance frame) still reads, and says its sources are unknown.
TEST(Desync, VersionOneBundlesReadWithUnknownSources) {
  TwoLogs logs;
  replay::Status status;
  auto a = replay::open_log(logs.a, status);
  auto b = replay::open_log(logs.b, status);
  replay::DesyncBundle bundle;
  ASSERT_TRUE(replay::collect(*a, *b, fault_tick, bundle).ok());
  ASSERT_FALSE(bundle.later_tick);
  std::FILE* f = std::fopen(logs.dir.path("v1").c_str(), "wb");
  replay::FrameWriter writer(f, replay::bundle_magic, 1);
  uint64_t snapshots = 0;
  uint64_t ticks = 0;
  for (uint8_t side = 0; side < 2; ++side) {
    ASSERT_TRUE(writer.write(schema::BundleSection{side, bundle.tick}).ok());
    ASSERT_TRUE(writer.write(*bundle.sides[side].header).ok());
    for (const sim::World& world : bundle.sides[side].states) {
      ASSERT_TRUE(writer.write(schema::SnapshotBytes{schema::encode_snapshot(world)}).ok());
      snapshots += 1;
    }
    for (const auto& record : bundle.sides[side].inputs) {
      ASSERT_TRUE(writer.write(record).ok());
      ticks += 1;
    }
  }
  ASSERT_TRUE(writer.write(schema::ExportEnd{ticks, snapshots, bundle.tick}).ok());
  std::fclose(f);
  replay::DesyncBundle read;
  ASSERT_TRUE(replay::read_bundle(logs.dir.path("v1"), read).ok())
      << replay::read_bundle(logs.dir.path("v1"), read).describe();
  EXPECT_EQ(read.sides[0].sources, std::vector<replay::StateSource>(2, replay::StateSource::unknown));
  EXPECT_NE(replay::explain(read).find("source not recorded (version-1 bundle)"), std::string::npos);
  EXPECT_NE(replay::explain(read).find("counters.evictions: 0 != 1"), std::string::npos);
}

TEST(Desync, BundleDamageIsReportedNeverAccepted) {
  TwoLogs logs;
  replay::Status status;
  auto a = replay::open_log(logs.a, status);
  auto b = replay::open_log(logs.b, status);
  replay::DesyncBundle bundle;
  ASSERT_TRUE(replay::collect(*a, *b, fault_tick, bundle).ok());
  ASSERT_TRUE(replay::write_bundle(logs.dir.path("bundle"), bundle).ok());
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(replay::read_file(logs.dir.path("bundle"), bytes).ok());
  for (size_t i = 0; i < bytes.size(); i += 13) {
    auto damaged = bytes;
    damaged[i] = static_cast<uint8_t>(damaged[i] ^ 0x20U);
    replay::DesyncBundle out;
    const auto s = replay::read_bundle_bytes(std::move(damaged), out);
    ASSERT_FALSE(s.ok()) << "flip at " << i;
    ASSERT_TRUE(s.byte_offset.has_value()) << s.describe();
  }
  replay::DesyncBundle out;
  EXPECT_FALSE(replay::read_bundle_bytes(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1), out).ok());
}

RC_GTEST_PROP(Desync, FirstDivergenceFindsTheExactTick, ()) {
  const auto length = *rc::gen::inRange<uint64_t>(1, 3000);
  const auto full_every = *rc::gen::inRange<uint64_t>(1, 200);
  const bool diverge = *rc::gen::arbitrary<bool>();
  const auto at = *rc::gen::inRange<uint64_t>(1, length + 1);
  replay::HashStream a;
  replay::HashStream b;
  for (uint64_t t = 1; t <= length; ++t) {
    replay::HashEntry e{t, t * 0x9E3779B97F4A7C15ULL, std::nullopt};
    if (t == 1 || t % full_every == 0) e.full = ~e.quick;
    a.push_back(e);
    if (diverge && t >= at) {
      e.quick ^= 1;  // once diverged, state stays diverged
      if (e.full) *e.full ^= 1;
    }
    b.push_back(e);
  }
  const auto d = replay::first_divergence(a, b);
  RC_ASSERT(d.found == diverge);
  if (diverge) RC_ASSERT(d.tick == at);
}

TEST(HashStream, ParsesTheReplayFormatAndRefusesGarbageWithTheLine) {
  test::TempDir dir;
  const auto write = [&](const std::string& text) {
    std::ofstream(dir.path("h")) << text;
    replay::HashStream s;
    return std::make_pair(replay::read_hash_stream(dir.path("h"), s), s);
  };
  auto [ok, stream] = write("1 00000000000000aa 00000000000000bb\n2 00000000000000cc\n");
  ASSERT_TRUE(ok.ok()) << ok.describe();
  ASSERT_EQ(stream.size(), 2U);
  EXPECT_EQ(stream[0].full, 0xbbU);
  EXPECT_FALSE(stream[1].full.has_value());
  for (const char* bad :
       {"1 zz\n", "x 00\n", "1 00\n3 00\n", "1\n", "1 00000000000000000 \n",
        "1 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
        "00 00 00 00 00 00 00 00 00 00 00\n"}) {
    const auto [status, s] = write(bad);
    EXPECT_EQ(status.code, Code::damaged) << bad;
    EXPECT_NE(status.message.find("line"), std::string::npos) << status.describe();
  }
}

// A stream of one endless line: read_hash_stream must refuse it after the line limit, having
// taken no more than that from it (the old reader buffered the whole line first).
class EndlessLine : public std::streambuf {
 public:
  size_t taken = 0;

 protected:
  int_type underflow() override {
    return taken > (size_t{1} << 30) ? traits_type::eof() : traits_type::to_int_type('7');
  }
  int_type uflow() override {
    taken += 1;
    return underflow();
  }
};

TEST(HashStream, RefusesAnEndlessLineWithoutReadingIt) {
  EndlessLine source;
  std::istream in(&source);
  replay::HashStream s;
  const replay::Status status = replay::read_hash_stream(in, "endless", s);
  EXPECT_EQ(status.code, Code::damaged);
  EXPECT_NE(status.message.find("endless line 1: line longer than"), std::string::npos) << status.describe();
  EXPECT_LE(source.taken, replay::limits::hash_stream_line_bytes_max + 1);
  EXPECT_TRUE(s.empty());
}

TEST(HashStream, AcceptsCrLfAndRefusesNul) {
  std::istringstream crlf("5 00000000000000aa\r\n6 00000000000000ab 0000000000000001\r\n");
  replay::HashStream s;
  const replay::Status ok = replay::read_hash_stream(crlf, "crlf", s);
  ASSERT_TRUE(ok.ok()) << ok.describe();
  ASSERT_EQ(s.size(), 2U);
  EXPECT_EQ(s[1].tick, 6U);
  EXPECT_EQ(s[1].full, 1U);
  static constexpr char with_nul[] = "5 00000000000000aa\n6 00\0 1\n";
  std::istringstream nul(std::string(with_nul, sizeof(with_nul) - 1));
  const replay::Status refused = replay::read_hash_stream(nul, "nul", s);
  EXPECT_EQ(refused.code, Code::damaged);
  EXPECT_NE(refused.message.find("nul line 2: NUL byte"), std::string::npos) << refused.describe();
}

int run(const std::string& command) {
  const int status = std::system((command + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Cli, ExitCodesAreDistinctPerFailure) {
  TwoLogs logs;
  const std::string replay_bin = STRATA_REPLAY_BIN;
  const std::string desync_bin = STRATA_DESYNC_BIN;
  EXPECT_EQ(run(replay_bin + " verify " + logs.a), 0);
  EXPECT_EQ(run(replay_bin + " verify " + logs.dir.path("missing")), 2);
  EXPECT_EQ(run(replay_bin + " export " + logs.a + " " + logs.dir.path("a.strata")), 0);
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(replay::read_file(logs.dir.path("a.strata"), bytes).ok());
  bytes[bytes.size() / 2] ^= 0x40;
  std::ofstream(logs.dir.path("damaged.strata"), std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  EXPECT_EQ(run(replay_bin + " verify " + logs.dir.path("damaged.strata")), 3);
  // Log b's recorded hashes disagree with what this build computes from its inputs.
  EXPECT_EQ(run(replay_bin + " verify " + logs.b), 6);
  EXPECT_EQ(run(replay_bin + " sync-test " + logs.a), 0);
  EXPECT_EQ(run(replay_bin + " heavy " + logs.a), 0);
  EXPECT_EQ(run(replay_bin + " state " + logs.a + " --tick 10 --field counters"), 0);
  EXPECT_EQ(run(replay_bin + " state " + logs.a + " --tick 9999"), 8);
  // A header claiming rules this build does not implement.
  replay::Status status;
  auto a = replay::open_log(logs.a, status);
  schema::LogHeader header = a->header();
  header.rules_version = sim::rules_version + 1;
  std::FILE* f = std::fopen(logs.dir.path("rules.strata").c_str(), "wb");
  replay::FrameWriter writer(f, replay::export_magic);
  ASSERT_TRUE(writer.write(header).ok());
  std::fclose(f);
  EXPECT_EQ(run(replay_bin + " info " + logs.dir.path("rules.strata")), 4);

  EXPECT_EQ(run(desync_bin + " compare " + logs.a + " " + logs.a), 0);
  EXPECT_EQ(run(desync_bin + " compare " + logs.a + " " + logs.b + " --bundle " + logs.dir.path("bundle")), 6);
  EXPECT_EQ(run(desync_bin + " explain " + logs.dir.path("bundle")), 0);
  EXPECT_EQ(run(replay_bin + " hashes " + logs.a + " --out " + logs.dir.path("a.hashes")), 0);
  EXPECT_EQ(run(desync_bin + " compare " + logs.dir.path("a.hashes") + " " + logs.b), 6);
  EXPECT_EQ(run(desync_bin + " compare " + logs.dir.path("a.hashes") + " " + logs.a), 0);
}

}  // namespace
}  // namespace strata
