// tests/replay/crash_test.cpp — a child process appends to a log and is SIGKILLed at random moments
// (creation, recovery, mid-append); after each kill the log reopens as a clean prefix that verifies
// and holds every tick the child saw committed (it may lose only the tick in flight).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "replay/replayer.h"
#include "replay/rocks_log.h"
#include "tests/replay/log_fixture.h"

extern char** environ;

namespace strata {
namespace {

struct Child {
  pid_t pid = -1;
  int out = -1;  // read end of the child's stdout
};

Child spawn_writer(const std::string& dir, uint64_t seed, uint64_t ticks) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const std::string seed_text = std::to_string(seed);
  const std::string ticks_text = std::to_string(ticks);
  std::string bin = STRATA_CRASH_WRITER_BIN;
  char* args[] = {bin.data(), const_cast<char*>(dir.c_str()), const_cast<char*>(seed_text.c_str()),
                  const_cast<char*>(ticks_text.c_str()), nullptr};
  Child child;
  EXPECT_EQ(posix_spawn(&child.pid, bin.c_str(), &actions, nullptr, args, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  child.out = fds[0];
  return child;
}

// Blocks until the child reported its first committed tick (or exited); keeps what it read.
void wait_first_tick(int fd, std::string& text) {
  char buffer[256];
  while (text.find('\n') == std::string::npos) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) return;
    text.append(buffer, static_cast<size_t>(n));
  }
}

// Last tick the child reported as committed (0 when none).
uint64_t drain(int fd, std::string text) {
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  uint64_t last = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // a partial line: the write was in flight
    last = std::stoull(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return last;
}

TEST(Crash, SigkilledWriterLeavesACleanPrefixThatVerifies) {
  test::TempDir dir;
  const std::string log_dir = dir.path("log");
  std::mt19937 random(20261124);
  uint64_t committed = 0;  // highest tick any child reported committed
  int kills = 0;
  for (int round = 0; round < 24; ++round) {
    Child child = spawn_writer(log_dir, 7, 1'000'000);  // never finishes: always killed
    // Every third round kills at any moment (creation, recovery, appending); the others once the
    // child is appending, so slow builds (sanitizers) still crash mid-log.
    std::string head;
    if (round % 3 != 0) wait_first_tick(child.out, head);
    const int max_ms = round % 3 == 0 ? 120 : 25;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, max_ms)(random)));
    ::kill(child.pid, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child.pid, &wstatus, 0), child.pid);
    const uint64_t reported = drain(child.out, std::move(head));
    if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) kills += 1;
    if (WIFEXITED(wstatus)) {
      ASSERT_EQ(WEXITSTATUS(wstatus), 0) << "child failed on its own in round " << round;
    }
    committed = std::max(committed, reported);

    if (!std::filesystem::exists(log_dir)) {
      ASSERT_EQ(committed, 0U) << "log vanished after ticks were committed";
      continue;
    }
    replay::Status status;
    auto log = replay::open_rocks_log(log_dir, status);
    ASSERT_TRUE(log) << "round " << round << ": " << status.describe();
    // Every committed tick is there; at most the one in flight beyond it.
    ASSERT_GE(log->last_tick(), committed) << "round " << round;
    ASSERT_LE(log->last_tick(), committed + 1) << "round " << round;
    committed = log->last_tick();
    const auto result = replay::replay(*log, {});
    ASSERT_TRUE(result.status.ok()) << "round " << round << ": " << result.status.describe();
    ASSERT_EQ(result.last_tick, log->last_tick());
  }
  std::printf("crash test: %d kills, log reopened clean each time, %llu ticks at the end\n", kills,
              static_cast<unsigned long long>(committed));
  EXPECT_GE(kills, 20);
  EXPECT_GT(committed, 0U);
}

}  // namespace
}  // namespace strata
