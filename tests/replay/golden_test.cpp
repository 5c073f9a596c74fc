// tests/replay/golden_test.cpp — the golden logs under tests/data/ replay to their committed hash
// streams and final full hashes (tests/data/golden.txt). The determinism gate runs the same check
// with every build flavour through `strata-replay hashes`.
#include <gtest/gtest.h>

#include <cinttypes>
#include <fstream>
#include <sstream>

#include "replay/log_source.h"
#include "replay/replayer.h"

namespace strata {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Golden {
  std::string name;
  uint64_t final_tick = 0;
  uint64_t final_full_hash = 0;
};

std::vector<Golden> goldens() {
  std::vector<Golden> out;
  std::istringstream table(read_text(std::string(STRATA_DATA_DIR) + "/golden.txt"));
  std::string line;
  while (std::getline(table, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Golden g;
    std::string skip;
    std::string hash;
    fields >> g.name;
    for (int i = 0; i < 9; ++i) fields >> skip;
    fields >> g.final_tick >> hash;
    g.final_full_hash = std::stoull(hash, nullptr, 16);
    out.push_back(g);
  }
  return out;
}

TEST(Golden, LogsReplayToTheirCommittedHashStreams) {
  const auto all = goldens();
  ASSERT_GE(all.size(), 3U);
  for (const Golden& g : all) {
    const std::string base = std::string(STRATA_DATA_DIR) + "/golden_" + g.name;
    replay::Status status;
    auto log = replay::open_log(base + ".strata", status);
    ASSERT_TRUE(log) << g.name << ": " << status.describe();
    std::string stream;
    replay::ReplayOptions options;
    options.on_tick = [&](uint64_t tick, uint64_t quick, std::optional<uint64_t> full) {
      char line[64];
      if (full) {
        std::snprintf(line, sizeof(line), "%" PRIu64 " %016" PRIx64 " %016" PRIx64 "\n", tick, quick, *full);
      } else {
        std::snprintf(line, sizeof(line), "%" PRIu64 " %016" PRIx64 "\n", tick, quick);
      }
      stream += line;
    };
    const auto result = replay::replay(*log, options);
    ASSERT_TRUE(result.status.ok()) << g.name << ": " << result.status.describe();
    EXPECT_EQ(result.last_tick, g.final_tick) << g.name;
    EXPECT_EQ(stream, read_text(base + ".hashes")) << g.name;
    auto final_state = replay::state_at(*log, g.final_tick);
    ASSERT_TRUE(final_state.status.ok()) << g.name;
    EXPECT_EQ(final_state.sim->full_hash(), g.final_full_hash) << g.name;
  }
}

}  // namespace
}  // namespace strata
