// strata-server — the regional node. For now (issue 2) it ticks a generated world at a fixed rate on
// one thread and logs the tick rate and the state checksums; the network, the session log and the
// stores arrive with later issues. Stops cleanly on SIGINT/SIGTERM.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <thread>

#include "sim/simulation.h"

namespace {
std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-server: the authoritative regional node"};
  strata::sim::WorldParams params;
  uint32_t tick_rate_hz = 20;
  uint64_t full_hash_every = 100;
  double run_seconds = 0;
  uint16_t region = 1;
  app.add_option("--seed", params.seed, "world seed");
  app.add_option("--chunks-x", params.chunks_x, "map width in 32-cell chunks")->check(CLI::Range(1, 64));
  app.add_option("--chunks-y", params.chunks_y, "map height in 32-cell chunks")->check(CLI::Range(1, 64));
  app.add_option("--npcs", params.npc_count, "NPCs created with the world")->check(CLI::Range(0U, 16384U));
  app.add_option("--region", region, "this region's id (1..65535)")->check(CLI::Range(1, 65535));
  app.add_option("--tick-rate", tick_rate_hz, "ticks per second")->check(CLI::Range(1U, 1000U));
  app.add_option("--full-hash-every", full_hash_every, "full checksum period in ticks")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1000000}));
  app.add_option("--run-for", run_seconds, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  CLI11_PARSE(app, argc, argv);
  params.region = strata::sim::RegionId{region};
  if (const char* problem = strata::sim::validate(params)) {
    spdlog::error("invalid world parameters: {}", problem);
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  auto sim = std::make_unique<strata::sim::Simulation>(params);
  spdlog::info(
      "strata-server: region {}, map {}x{} cells, seed {}, {} NPCs, {} Hz; logging to stderr; embedded store: none yet",
      region, sim->world().map.width(), sim->world().map.height(), params.seed, sim->world().npcs.size(), tick_rate_hz);
  const auto period = std::chrono::nanoseconds(1'000'000'000LL / tick_rate_hz);
  const auto start = std::chrono::steady_clock::now();
  auto next_tick = start;
  auto last_report = start;
  uint64_t ticks_since_report = 0;
  double busy_seconds = 0;
  strata::sim::TickInput input;
  while (!stop_requested.load()) {
    if (run_seconds > 0 && std::chrono::steady_clock::now() - start >= std::chrono::duration<double>(run_seconds))
      break;
    std::this_thread::sleep_until(next_tick);
    next_tick += period;
    const auto t0 = std::chrono::steady_clock::now();
    input.tick = sim->tick() + 1;
    sim->step(input);
    const uint64_t quick = sim->quick_hash();
    const bool full = sim->tick() == 1 || sim->tick() % full_hash_every == 0;
    const uint64_t full_value = full ? sim->full_hash() : 0;
    busy_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++ticks_since_report;
    if (full) spdlog::info("tick {} full_hash {:016x} quick_hash {:016x}", sim->tick(), full_value, quick);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report >= std::chrono::seconds(5)) {
      const double elapsed = std::chrono::duration<double>(now - last_report).count();
      spdlog::info("tick {}: {:.1f} ticks/s, mean tick {:.3f} ms, quick_hash {:016x}", sim->tick(),
                   static_cast<double>(ticks_since_report) / elapsed,
                   1000.0 * busy_seconds / static_cast<double>(ticks_since_report), quick);
      last_report = now;
      ticks_since_report = 0;
      busy_seconds = 0;
    }
  }
  spdlog::info("strata-server: stopped at tick {}, full_hash {:016x}", sim->tick(), sim->full_hash());
  return 0;
}
