// tests/replay/crash_writer.cpp — the child of the crash test: appends a seeded scenario to the log
// at DIR (creating it, or reopening it after the previous child was killed), printing each tick
// after its group commit returned, until it has appended TICKS more ticks.
//   replay_crash_writer DIR SEED TICKS
// On reopen it regenerates the scenario from tick 0 and checks every regenerated tick's quick hash
// against the log before appending, so it also exercises recovery.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "replay/rocks_log.h"
#include "sim/simulation.h"
#include "tests/replay/log_fixture.h"
#include "tools/scenario/scenario.h"

namespace {

void report(uint64_t tick) {
  char line[32];
  const int n = std::snprintf(line, sizeof(line), "%" PRIu64 "\n", tick);
  if (::write(STDOUT_FILENO, line, static_cast<size_t>(n)) != n) std::_Exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  if (argc != 4) return 2;
  const std::string dir = argv[1];
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  const uint64_t more = std::strtoull(argv[3], nullptr, 10);
  replay::LogConfig config;
  config.full_hash_every = 10;
  config.snapshot_every = 50;
  sim::Simulation sim(scenario::world_for(seed, 2, 4));
  scenario::ScenarioGenerator generator(test::busy_scenario(seed, 10));
  replay::Status status;
  std::unique_ptr<replay::LogWriter> writer;
  if (std::filesystem::exists(dir)) {
    writer = replay::LogWriter::open(dir, config, status);
  } else {
    writer = replay::LogWriter::create(dir, sim.world(), config, status);
  }
  if (!writer) {
    std::fprintf(stderr, "crash_writer: %s\n", status.describe().c_str());
    return 1;
  }
  auto log = replay::open_rocks_log(dir, status);  // read-only view to check the regenerated prefix
  sim::TickInput input;
  schema::TickRecord record;
  for (uint64_t t = 1; t <= writer->last_tick(); ++t) {
    generator.next(sim.world(), input);
    sim.step(input);
    if (!log || !log->read_tick(t, record).ok() || record.quick_hash != sim.quick_hash()) {
      std::fprintf(stderr, "crash_writer: recovered prefix differs at tick %" PRIu64 "\n", t);
      return 1;
    }
  }
  log.reset();
  const uint64_t end = writer->last_tick() + more;
  while (writer->last_tick() < end) {
    generator.next(sim.world(), input);
    sim.step(input);
    if (status = writer->append(input, sim); !status.ok()) {
      std::fprintf(stderr, "crash_writer: %s\n", status.describe().c_str());
      return 1;
    }
    report(input.tick);
  }
  return 0;
}
