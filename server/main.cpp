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

#include <fstream>
#include <sstream>

#include "server/config.h"
#include "sim/simulation.h"

namespace {
std::atomic<bool> stop_requested{false};
void on_signal(int) { stop_requested.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-server: the authoritative regional node"};
  std::string config_path;
  std::vector<std::string> overrides;
  double run_seconds = 0;
  bool list_keys = false;
  app.add_option("-c,--config", config_path, "YAML configuration file (optional; every key also STRATA_<KEY>)");
  app.add_option("--set", overrides, "override one key: path=value (repeatable), e.g. --set world.seed=7");
  app.add_option("--run-for", run_seconds, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  app.add_flag("--list-keys", list_keys, "print every configuration key with its environment name and default");
  CLI11_PARSE(app, argc, argv);
  if (list_keys) {
    for (const std::string& line : strata::server::describe_config_keys()) std::printf("%s\n", line.c_str());
    return 0;
  }
  std::string yaml;
  if (!config_path.empty()) {
    std::ifstream file(config_path);
    if (!file) {
      spdlog::error("cannot read the configuration file {}", config_path);
      return 2;
    }
    std::stringstream text;
    text << file.rdbuf();
    yaml = text.str();
  }
  strata::server::ServerConfig config;
  auto errors = strata::server::load_config(config, yaml, config_path.empty() ? "(no file)" : config_path,
                                            strata::server::strata_environment());
  for (const std::string& assignment : overrides) {
    auto more = strata::server::apply_override(config, assignment);
    errors.insert(errors.end(), more.begin(), more.end());
  }
  auto invalid = strata::server::validate_config(config);
  errors.insert(errors.end(), invalid.begin(), invalid.end());
  if (!errors.empty()) {
    for (const auto& e : errors) spdlog::error("config: {}", e.message);
    return 2;
  }
  strata::sim::WorldParams params = config.world;
  params.region = strata::sim::RegionId{config.region};
  const uint16_t region = config.region;
  const uint32_t tick_rate_hz = config.tick_rate_hz;
  const uint64_t full_hash_every = config.full_hash_every_ticks;
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
