// tests/replay/log_fixture.h — records seeded scenarios into session logs for the replay tests, and
// gives each test its own temporary directory.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "replay/rocks_log.h"
#include "sim/simulation.h"
#include "tools/scenario/scenario.h"

namespace strata::test {

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("strata-replay-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline scenario::ScenarioConfig busy_scenario(uint64_t seed, uint32_t players) {
  scenario::ScenarioConfig config;
  config.seed = seed;
  config.players = players;
  config.join_ramp_ticks = 10;
  config.build_per_mille = 60;
  config.break_per_mille = 40;
  config.interact_per_mille = 30;
  config.leave_per_mille = 4;
  config.remote_regions = 2;
  config.remote_writes_per_tick = 1;
  config.remote_presence_per_tick = 2;
  config.hostile_per_mille = 20;
  return config;
}

struct Recording {
  uint64_t final_full_hash = 0;
  uint64_t last_tick = 0;
  uint64_t background_full_hashes = 0;  // settled before the writer closed (config.background_full_hash)
};

// Records `ticks` ticks of a busy scenario into a new log at `dir`. `fault`, when set, may change
// the world after a step (modelling a nondeterministic build); the log then records the changed
// world's hashes and snapshots.
inline Recording record_scenario(const std::string& dir, uint64_t seed, uint32_t players, uint64_t ticks,
                                 const replay::LogConfig& config,
                                 const std::function<bool(sim::World&)>& fault = nullptr) {
  sim::Simulation sim(scenario::world_for(seed, 2, 4));
  scenario::ScenarioGenerator generator(busy_scenario(seed, players));
  replay::Status status;
  auto writer = replay::LogWriter::create(dir, sim.world(), config, status);
  if (!writer) throw std::runtime_error("create: " + status.describe());
  sim::TickInput input;
  for (uint64_t t = 0; t < ticks; ++t) {
    generator.next(sim.world(), input);
    writer->release_world();  // the server's order (a no-op unless config.background_full_hash)
    sim.step(input);
    if (fault) {
      sim::World world = sim.world();
      if (fault(world)) sim = *sim::Simulation::from_world(std::move(world));
    }
    status = writer->append(input, sim);
    if (!status.ok()) throw std::runtime_error("append: " + status.describe());
  }
  return Recording{sim.full_hash(), sim.tick(), writer->background_full_hashes()};
}

}  // namespace strata::test
