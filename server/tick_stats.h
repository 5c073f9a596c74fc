// server/tick_stats.h: the sim thread's tick timings over the last minute (wall and CPU time of
// each tick, and of each of its phases, server::TickPhase) in rings, and their percentiles as the
// HTTP threads read them in Status (server/status.h). Sim thread only; no locks here.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "server/node.h"
#include "server/status.h"

namespace strata::server {

using PhaseStats = std::array<std::array<double, 3>, tick_phase_count>;  // mean, p99, max of each phase

struct TickSummary {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double cpu_p50_ms = 0, cpu_p99_ms = 0, cpu_max_ms = 0;
  PhaseStats phase_cpu_ms{};
  PhaseStats phase_wall_ms{};
};

class TickStats {
 public:
  static constexpr size_t window = limits::tick_stats_window;  // one minute at 20 Hz
  TickStats();
  // One tick: its wall and CPU time on the sim thread, and its phases' times.
  void record(double wall_ms, double cpu_ms, const TickPhaseTimes& phases);
  // Over the last `window` ticks; none before the first.
  [[nodiscard]] std::optional<TickSummary> summary() const;

 private:
  size_t samples_ = 0;
  std::vector<double> tick_ms_;
  std::vector<double> tick_cpu_ms_;
  std::array<std::vector<double>, tick_phase_count> phase_ms_, phase_wall_ms_;
};

// Copies a summary into the status (the caller holds status.mutex).
void publish(const TickSummary& summary, Status& status);

}  // namespace strata::server
