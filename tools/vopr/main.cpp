// tools/vopr/main.cpp — strata-vopr: the regional node under simulated time and seeded faults, in
// the manner of TigerBeetle's VOPR and FoundationDB's simulation (issue 14 item 5). One seed names
// a whole run: it is printed with the fault schedule it drew before the run starts (so an
// assertion that aborts the process leaves them on the terminal), then the invariants and their
// counts; the same seed prints the same bytes on stdout. The speed goes to stderr (it is the one
// figure that depends on the machine).
//
//   strata-vopr [--seed S] [--ticks N] [--clients C] [--faults LIST] [--regions R] [--count K | --forever]
//
// --regions R > 1 runs R regions replicating through the JetStream twin (simulator.h, run_cluster):
// the plan of each region, the bus's, each region's invariants, then the cluster's.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "sim/rng.h"
#include "tools/vopr/schedule.h"
#include "tools/vopr/simulator.h"

namespace {

using namespace strata::vopr;

void print_plan(const Plan& plan, const RunShape& shape) {
  const strata::net::LinkConfig& l = plan.link;
  std::printf("seed=%" PRIu64 " ticks=%" PRIu64 " clients=%zu faults=%s node_clock_jump_ms=%" PRIu64 " log_sync=%s\n",
              plan.seed, shape.ticks, shape.clients, describe(shape.faults).c_str(), shape.node_clock_jump_ms_max,
              name(plan.log_sync));
  std::printf("link latency_us=%" PRIu64 " jitter_us=%" PRIu64 " loss=%.3f duplicate=%.3f reorder=%.3f\n", l.latency_us,
              l.jitter_us, l.loss, l.duplicate, l.reorder);
  for (const Fault& f : plan.faults) std::printf("%s\n", describe(f).c_str());
  std::printf("faults_drawn=%zu quiet_from=%" PRIu64 "\n", plan.faults.size(), plan.quiet_from);
  std::fflush(stdout);
}

void print_invariants(const std::vector<Invariant>& invariants) {
  for (const Invariant& i : invariants) {
    std::printf("invariant %-17s %s checks=%" PRIu64 " (%s)\n", i.name.c_str(), i.violations == 0 ? "ok" : "VIOLATED",
                i.checks, i.what.c_str());
  }
}

void print_stats(const char* head, const std::vector<std::string>& stats) {
  std::string line = head;
  for (const std::string& s : stats) line += " " + s;
  std::printf("%s\n", line.c_str());
}

void print_result(const RunResult& r) {
  print_invariants(r.invariants);
  print_stats("stats", r.stats);
  std::printf("%s\n", r.drops.c_str());
  std::printf("simulated_s=%.2f ticks=%" PRIu64 "\n", static_cast<double>(r.simulated_us) / 1e6, r.ticks_run);
  if (r.ok) {
    std::printf("result ok\n");
  } else {
    std::printf("result VIOLATION %s\n", r.violation.c_str());
  }
  std::fflush(stdout);
}

// One seed: the plan, the run, the result. True when every invariant held.
bool run_seed(uint64_t seed, const RunShape& shape, double& simulated_s, double& real_s) {
  const Plan plan = draw_plan(seed, shape);
  print_plan(plan, shape);
  const auto start = std::chrono::steady_clock::now();
  const RunResult result = run(plan, shape);
  real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  simulated_s = static_cast<double>(result.simulated_us) / 1e6;
  print_result(result);
  std::fprintf(stderr, "speed seed=%" PRIu64 " simulated_s_per_real_s=%.1f real_s=%.2f node_share=%.0f%%\n", seed,
               real_s > 0 ? simulated_s / real_s : 0.0, real_s, real_s > 0 ? 100.0 * result.node_real_s / real_s : 0.0);
  return result.ok;
}

void print_cluster_plan(const ClusterPlan& plan, const RunShape& shape) {
  std::printf("seed=%" PRIu64 " regions=%zu ticks=%" PRIu64
              " clients_per_region=%zu faults=%s node_clock_jump_ms=%" PRIu64 "\n",
              plan.seed, shape.regions, shape.ticks, shape.clients, describe(shape.faults).c_str(),
              shape.node_clock_jump_ms_max);
  for (size_t r = 0; r < plan.regions.size(); ++r) {
    const Plan& p = plan.regions[r];
    const strata::net::LinkConfig& l = p.link;
    std::printf("region%zu seed=%" PRIu64 " log_sync=%s link latency_us=%" PRIu64 " jitter_us=%" PRIu64
                " loss=%.3f duplicate=%.3f reorder=%.3f faults_drawn=%zu quiet_from=%" PRIu64 "\n",
                r + 1, p.seed, name(p.log_sync), l.latency_us, l.jitter_us, l.loss, l.duplicate, l.reorder,
                p.faults.size(), p.quiet_from);
    for (const Fault& f : p.faults) std::printf("region%zu %s\n", r + 1, describe(f).c_str());
  }
  const BusPlan& b = plan.bus;
  std::printf("bus latency_us=%" PRIu64 " ack_loss_per_mille=%u publish_loss_per_mille=%u delivery_loss_per_mille=%u\n",
              b.latency_us, b.ack_loss_per_mille, b.publish_loss_per_mille, b.delivery_loss_per_mille);
  for (const Fault& f : b.faults) std::printf("bus %s\n", describe(f).c_str());
  std::fflush(stdout);
}

bool run_cluster_seed(uint64_t seed, const RunShape& shape, double& simulated_s, double& real_s) {
  const ClusterPlan plan = draw_cluster_plan(seed, shape);
  print_cluster_plan(plan, shape);
  const auto start = std::chrono::steady_clock::now();
  const ClusterResult result = run_cluster(plan, shape);
  real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  simulated_s = static_cast<double>(result.simulated_us) / 1e6;
  for (size_t r = 0; r < result.regions.size(); ++r) {
    const RunResult& region = result.regions[r];
    std::printf("region%zu %s\n", r + 1, region.ok ? "ok" : ("VIOLATION " + region.violation).c_str());
    print_invariants(region.invariants);
    print_stats("stats", region.stats);
    std::printf("%s\n", region.drops.c_str());
  }
  std::printf("cluster\n");
  print_invariants(result.invariants);
  print_stats("bus", result.stats);
  std::printf("simulated_s=%.2f ticks=%" PRIu64 "\n", simulated_s, result.ticks_run);
  if (result.ok) {
    std::printf("result ok\n");
  } else {
    std::printf("result VIOLATION seed=%" PRIu64 " %s\n", seed, result.violation.c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "speed seed=%" PRIu64 " regions=%zu simulated_s_per_real_s=%.1f real_s=%.2f node_share=%.0f%%\n",
               seed, shape.regions, real_s > 0 ? simulated_s / real_s : 0.0, real_s,
               real_s > 0 ? 100.0 * result.node_real_s / real_s : 0.0);
  return result.ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-vopr: the regional node on simulated time under seeded faults"};
  uint64_t seed = 1;
  uint64_t count = 1;
  bool forever = false;
  std::string faults = "all";
  RunShape shape;
  // Without --seed: seed 1 (the sanitizer build runs the binary with no arguments).
  app.add_option("--seed", seed, "the run's seed (the first one with --count / --forever); default 1");
  app.add_option("--ticks", shape.ticks, "node ticks to run (20 Hz)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  app.add_option("--clients", shape.clients, "game clients")->check(CLI::Range(size_t{1}, size_t{5000}));
  app.add_option("--faults", faults,
                 "fault groups: all, none, or a list of net,partition,churn,hostile,crash,clock,log,store");
  app.add_option("--count", count, "seeds to run: seed, seed+1, ...")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}));
  app.add_option("--node-clock-jump-ms", shape.node_clock_jump_ms_max,
                 "largest step of the node's wall clock, either way (ms)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{3'600'000}));
  app.add_option("--regions", shape.regions, "regions replicating through the in-memory JetStream twin")
      ->check(CLI::Range(size_t{1}, size_t{8}));
  app.add_flag("--forever", forever, "keep drawing seeds until stopped (each from the previous one)");
  CLI11_PARSE(app, argc, argv);
  // The runtime's log lines (a log failure, the stop) go to stderr: stdout is the run's record,
  // the same bytes for the same seed.
  spdlog::set_default_logger(spdlog::stderr_logger_st("strata-vopr"));
  spdlog::set_level(spdlog::level::warn);
  std::string error;
  if (!parse_faults(faults, shape.faults, error)) {
    std::fprintf(stderr, "strata-vopr: %s\n", error.c_str());
    return 2;
  }
  uint64_t failed = 0;
  uint64_t runs = 0;
  double simulated = 0;
  double real = 0;
  for (uint64_t i = 0; forever || i < count; ++i) {
    const uint64_t s = forever ? (i == 0 ? seed : strata::sim::mix64(seed + i)) : seed + i;
    double sim_s = 0;
    double real_s = 0;
    const bool ok = shape.regions > 1 ? run_cluster_seed(s, shape, sim_s, real_s) : run_seed(s, shape, sim_s, real_s);
    failed += ok ? 0 : 1;
    runs += 1;
    simulated += sim_s;
    real += real_s;
    if (failed > 0 && forever) break;  // the failing seed is on the terminal
  }
  if (runs > 1) {
    std::printf("seeds_run=%" PRIu64 " seeds_failed=%" PRIu64 "\n", runs, failed);
    std::fprintf(stderr, "speed total simulated_s_per_real_s=%.1f seeds_per_minute=%.1f\n",
                 real > 0 ? simulated / real : 0.0, real > 0 ? 60.0 * static_cast<double>(runs) / real : 0.0);
  }
  return failed == 0 ? 0 : 1;
}
