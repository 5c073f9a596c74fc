// tests/bench/log_bench.cpp — what the session log's fsync policy costs the tick thread (issue 13,
// "durability stated and measured"): replay/append/sync:P/players:N appends one tick of N turning
// players per iteration to a RocksDB log in a temp folder under policy P (0 none, 1 every tick on
// the appending thread, 2 background: a log thread fsyncs after each commit). The time is the
// append call alone (the tick thread's share); `durable_ms` is, for background, the mean time from
// append's return until the log thread reports the tick durable, measured after each timed append.
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <thread>

#include "replay/rocks_log.h"
#include "sim/simulation.h"

namespace {

using namespace strata;

void BM_LogAppend(benchmark::State& state) {
  const auto sync = static_cast<replay::WalSync>(state.range(0) == 0   ? replay::WalSync::none
                                                 : state.range(0) == 1 ? replay::WalSync::every_tick
                                                                       : replay::WalSync::background);
  const auto players = static_cast<uint32_t>(state.range(1));
  sim::WorldParams params;
  params.seed = 7;
  params.chunks_x = 16;
  params.chunks_y = 16;
  sim::Simulation sim(params);
  sim::TickInput input;
  input.tick = 1;
  for (uint32_t i = 1; i <= players; ++i) input.commands.emplace_back(sim::JoinCommand{sim::PlayerId{i}});
  (void)sim.step(input);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("strata-log-bench-" + std::to_string(::getpid()) + "-" + std::to_string(state.range(0)));
  std::filesystem::remove_all(dir);
  replay::LogConfig config;
  config.wal_sync = sync;
  config.snapshot_every = 1'000'000;  // the tick records alone
  config.full_hash_every = 1'000'000;
  replay::Status status;
  auto log = replay::LogWriter::create(dir.string(), sim.world(), config, status);
  if (!log) {
    state.SkipWithError(status.describe().c_str());
    return;
  }
  double durable_s = 0;
  uint64_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    input.tick = sim.tick() + 1;
    input.commands.clear();
    for (uint32_t i = 0; i < players / 20; ++i) {  // 5% of the players turn
      const uint32_t id = 1 + static_cast<uint32_t>((round * 7 + i * 13) % players);
      input.commands.emplace_back(sim::MoveCommand{sim::PlayerId{id}, static_cast<uint32_t>(round),
                                                   static_cast<sim::Direction>(1 + (id + round) % 8),
                                                   sim::MoveMode::walk});
    }
    ++round;
    (void)sim.step(input);
    state.ResumeTiming();
    if (!log->append(input, sim).ok()) {
      state.SkipWithError("append failed");
      break;
    }
    state.PauseTiming();
    const auto t0 = std::chrono::steady_clock::now();
    while (log->durable_tick() < input.tick) std::this_thread::yield();
    durable_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.ResumeTiming();
  }
  state.counters["durable_ms"] = 1e3 * durable_s / static_cast<double>(std::max<uint64_t>(round, 1));
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_LogAppend)
    ->Name("replay/append")
    ->ArgNames({"sync", "players"})
    ->ArgsProduct({{0, 1, 2}, {1000, 5000}})
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(400);

}  // namespace
