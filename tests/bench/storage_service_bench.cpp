// tests/bench/storage_service_bench.cpp: strata-bench-storage-service, what the storage service
// costs the tick thread (server/storage_service.h): StorageService::observe at a positions tick,
// with N players of whom a share moved (copy, difference with the last batch, one queue write),
// over the embedded store with the worker threads running (the workers' cost is theirs, not the
// tick's). Prints, never asserts. Usage: strata-bench-storage-service [players (2000)] [moved %(100)]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "server/storage_service.h"
#include "sim/simulation.h"

int main(int argc, char** argv) {
  using namespace strata;
  const uint32_t players = argc > 1 ? static_cast<uint32_t>(std::atoi(argv[1])) : 2000;
  const uint32_t moved_percent = argc > 2 ? static_cast<uint32_t>(std::atoi(argv[2])) : 100;
  const auto dir = std::filesystem::temp_directory_path() / ("strata-bench-storage-" + std::to_string(::getpid()));
  server::StorageService::Options options;
  options.stores.data_dir = dir.string();
  options.stores.sync = false;
  options.positions_every_ticks = 1;
  std::string error;
  auto service = server::StorageService::open(options, error);
  if (!service) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  sim::WorldParams params;
  params.chunks_x = 64;
  params.chunks_y = 64;
  sim::World world = sim::Simulation(params).world();
  for (uint32_t id = 1; id <= players; ++id) {
    sim::Player p;
    p.id = sim::PlayerId{id};
    p.pos = {sim::Fixed::from_tiles(static_cast<int32_t>(id % 2000)),
             sim::Fixed::from_tiles(static_cast<int32_t>(id / 2000))};
    world.players.push_back(p);
  }
  service->start(world);
  constexpr int rounds = 400;
  std::vector<double> us;
  for (int round = 1; round <= rounds; ++round) {
    world.tick = static_cast<uint64_t>(round);
    for (uint32_t i = 0; i < players; ++i) {
      if ((i * 7919U + static_cast<uint32_t>(round)) % 100 < moved_percent)
        world.players[i].pos.x += sim::Fixed::from_tiles(1);
    }
    const auto t0 = std::chrono::steady_clock::now();
    service->observe(world);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (round % 20 == 0) (void)service->flush(std::chrono::seconds(10));  // keep the queue from filling
  }
  std::sort(us.begin(), us.end());
  std::printf(
      "storage observe (tick thread), %u players, %u%% moved per batch: median %.1f us, p99 %.1f us, max %.1f us; "
      "batches %llu queued, %llu refused\n",
      players, moved_percent, us[us.size() / 2], us[us.size() * 99 / 100], us.back(),
      static_cast<unsigned long long>(service->counters().position_batches),
      static_cast<unsigned long long>(service->counters().position_batches_refused));
  service.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
