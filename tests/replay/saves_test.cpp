// tests/replay/saves_test.cpp — strata-replay saves (tools/replay/player_saves.h): over two logs in
// the order they ran, a return that carries its last leave's state matches; one that carries another
// state, or none, is a mismatch naming both ticks; a join the rules reject is not compared; each
// player's last leave is kept across logs; a log that does not replay is refused. The CLI exits 9
// on a mismatch and 0 without one.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "replay/replayer.h"
#include "replay/rocks_log.h"
#include "tests/replay/log_fixture.h"
#include "tools/replay/player_saves.h"

namespace strata {
namespace {

using sim::PlayerId;

// Writes a log of the given ticks' commands (tick t runs commands[t - 1]) and keeps the state every
// player left with, as the server's Effects::left_saves give it.
class LogBuilder {
 public:
  explicit LogBuilder(const std::string& dir) : sim_(scenario::world_for(7, 2, 0)) {
    replay::LogConfig config;
    config.full_hash_every = 5;
    config.snapshot_every = 10;
    replay::Status status;
    writer_ = replay::LogWriter::create(dir, sim_.world(), config, status);
    if (!writer_) throw std::runtime_error("create: " + status.describe());
  }
  void tick(std::vector<sim::Command> commands) {
    sim::TickInput input{sim_.tick() + 1, std::move(commands)};
    writer_->release_world();
    const sim::Effects& effects = sim_.step(input);
    for (const auto& [player, save] : effects.left_saves) left_[sim::raw(player)] = save;
    if (replay::Status s = writer_->append(input, sim_); !s.ok()) throw std::runtime_error(s.describe());
  }
  // Every player that can walks east for `ticks` ticks (their positions change between leaves).
  void walk(std::vector<uint32_t> players, int ticks) {
    for (int i = 0; i < ticks; ++i) {
      std::vector<sim::Command> moves;
      for (uint32_t p : players)
        moves.emplace_back(sim::MoveCommand{PlayerId{p}, ++seq_[p], sim::Direction::e, sim::MoveMode::walk});
      tick(std::move(moves));
    }
  }
  [[nodiscard]] sim::PlayerSave left(uint32_t player) const { return left_.at(player); }

 private:
  sim::Simulation sim_;
  std::unique_ptr<replay::LogWriter> writer_;
  std::map<uint32_t, sim::PlayerSave> left_;
  std::map<uint32_t, uint32_t> seq_;
};

sim::Command join(uint32_t player, std::optional<sim::PlayerSave> save = std::nullopt) {
  return sim::JoinCommand{PlayerId{player}, save};
}
sim::Command leave(uint32_t player) { return sim::LeaveCommand{PlayerId{player}}; }

// Log a: players 1, 2, 3 join fresh and walk; 1 and 2 leave; 1 comes back with its state, 2 with
// another stamina; 3 joins again while in the world (rejected); 1 leaves and comes back fresh;
// everyone leaves at the end (a shutdown). Log b (a fresh server): 1 and 3 come back with their
// states, 4 joins for the first time.
struct TwoRuns {
  test::TempDir dir;
  std::string a = dir.path("a");
  std::string b = dir.path("b");
  sim::PlayerSave p1_last;
  TwoRuns() {
    LogBuilder first(a);
    first.tick({join(1), join(2), join(3)});
    first.walk({1, 2, 3}, 8);
    first.tick({leave(1), leave(2)});
    first.walk({3}, 3);
    sim::PlayerSave other = first.left(2);
    other.stamina = static_cast<uint16_t>(other.stamina - 1);
    first.tick({join(1, first.left(1)), join(2, other)});
    first.tick({join(3)});
    first.walk({1, 2, 3}, 2);
    first.tick({leave(1)});
    first.tick({join(1)});
    first.walk({1, 2, 3}, 2);
    first.tick({leave(1), leave(2), leave(3)});
    p1_last = first.left(1);
    LogBuilder second(b);
    second.tick({join(1, first.left(1)), join(3, first.left(3)), join(4)});
    second.walk({1, 3, 4}, 2);
  }
};

TEST(Saves, ReturnsMatchTheirLastLeaveAcrossLogs) {
  TwoRuns runs;
  tools::SavesReport report;
  replay::Status status;
  auto a = replay::open_log(runs.a, status);
  ASSERT_TRUE(a) << status.describe();
  ASSERT_TRUE(tools::scan_player_saves(*a, 0, report).ok());
  auto b = replay::open_log(runs.b, status);
  ASSERT_TRUE(b) << status.describe();
  ASSERT_TRUE(tools::scan_player_saves(*b, 1, report).ok());

  EXPECT_EQ(report.logs, 2U);
  EXPECT_EQ(report.leaves, 6U);
  EXPECT_EQ(report.joins, 9U);
  EXPECT_EQ(report.joins_rejected, 1U);
  EXPECT_EQ(report.first_joins, 4U);  // 1, 2, 3 in a; 4 in b
  EXPECT_EQ(report.first_joins_saved, 0U);
  EXPECT_EQ(report.returns_matched, 3U);  // 1 in a, 1 and 3 in b
  ASSERT_EQ(report.mismatches.size(), 2U);
  const tools::ReturnMismatch& other = report.mismatches[0];
  EXPECT_EQ(sim::raw(other.player), 2U);
  EXPECT_EQ(other.log, 0U);
  EXPECT_EQ(other.tick, 14U);
  EXPECT_EQ(other.left_tick, 10U);
  ASSERT_TRUE(other.brought.has_value());
  EXPECT_EQ(other.brought->stamina + 1, other.left.stamina);
  const tools::ReturnMismatch& fresh = report.mismatches[1];
  EXPECT_EQ(sim::raw(fresh.player), 1U);
  EXPECT_EQ(fresh.tick, 19U);
  EXPECT_EQ(fresh.left_tick, 18U);
  EXPECT_FALSE(fresh.brought.has_value());

  ASSERT_EQ(report.last.size(), 3U);  // 4 never left
  const tools::LastLeave& p1 = report.last.at(1);
  EXPECT_EQ(p1.log, 0U);
  EXPECT_EQ(p1.tick, 22U);
  EXPECT_EQ(p1.save, runs.p1_last);
  EXPECT_TRUE(p1.in_world);
  EXPECT_EQ(p1.returns, 3U);
  EXPECT_FALSE(report.last.at(2).in_world);
  EXPECT_EQ(report.last.at(2).returns, 1U);
  EXPECT_EQ(report.in_world_at_end, (std::vector<uint32_t>{1, 3, 4}));
}

// The scan replays the log: a log whose recorded hashes this build does not reproduce is refused at
// that tick (its leaves' states would not be the ones the server saved).
TEST(Saves, ALogThatDoesNotReplayIsRefusedAtItsTick) {
  test::TempDir dir;
  replay::LogConfig config;
  config.full_hash_every = 5;
  config.snapshot_every = 100;
  test::record_scenario(dir.path("faulty"), 3, 6, 30, config, [](sim::World& world) {
    if (world.tick != 12) return false;
    world.counters.evictions += 1;
    return true;
  });
  replay::Status status;
  auto log = replay::open_log(dir.path("faulty"), status);
  ASSERT_TRUE(log) << status.describe();
  tools::SavesReport report;
  const replay::Status scanned = tools::scan_player_saves(*log, 0, report);
  EXPECT_EQ(scanned.code, replay::Code::hash_mismatch);
  EXPECT_EQ(scanned.tick, std::optional<uint64_t>(12));
}

int run(const std::string& command) {
  const int status = std::system((command + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Saves, CliExitsNineOnAMismatchAndWritesEveryPlayersLastLeave) {
  TwoRuns runs;
  const std::string bin = STRATA_REPLAY_BIN;
  const std::string players = runs.dir.path("players.txt");
  EXPECT_EQ(run(bin + " saves " + runs.a + " " + runs.b + " --players " + players), 9);
  std::ifstream in(players);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_EQ(lines[0].rfind("player=1 log=0 tick=22 in_world=1 returns=3 " + tools::describe(runs.p1_last), 0), 0U)
      << lines[0];
  // --events: every applied join and leave (9 and 6), in log order; the first is a fresh join.
  const std::string events = runs.dir.path("events.txt");
  EXPECT_EQ(run(bin + " saves " + runs.a + " " + runs.b + " --events " + events), 9);
  std::ifstream event_lines(events);
  std::vector<std::string> all;
  while (std::getline(event_lines, line)) all.push_back(line);
  ASSERT_EQ(all.size(), 15U);
  EXPECT_EQ(all[0], "log=0 tick=1 player=1 join fresh");
  EXPECT_EQ(all[13].rfind("log=1 tick=1 player=3 join x=", 0), 0U) << all[13];
  EXPECT_EQ(all.back(), "log=1 tick=1 player=4 join fresh");
  // Log b alone: its joins with saves are first joins (their leaves are in no log given).
  EXPECT_EQ(run(bin + " saves " + runs.b), 0);
  EXPECT_EQ(run(bin + " saves " + runs.dir.path("missing")), 2);
}

}  // namespace
}  // namespace strata
