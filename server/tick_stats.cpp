// server/tick_stats.cpp: see tick_stats.h.
#include "server/tick_stats.h"

#include <algorithm>
#include <cstddef>
#include <numeric>

namespace strata::server {

TickStats::TickStats() : tick_ms_(window, 0.0), tick_cpu_ms_(window, 0.0) {
  for (auto& ring : phase_ms_) ring.assign(window, 0.0);
  for (auto& ring : phase_wall_ms_) ring.assign(window, 0.0);
}

void TickStats::record(double wall_ms, double cpu_ms, const TickPhaseTimes& phases) {
  tick_cpu_ms_[samples_ % window] = cpu_ms;
  for (size_t i = 0; i < tick_phase_count; ++i) {
    phase_ms_[i][samples_ % window] = static_cast<double>(phases.cpu_ns[i]) / 1e6;
    phase_wall_ms_[i][samples_ % window] = static_cast<double>(phases.wall_ns[i]) / 1e6;
  }
  tick_ms_[samples_++ % window] = wall_ms;
}

std::optional<TickSummary> TickStats::summary() const {
  const auto samples = static_cast<ptrdiff_t>(std::min(samples_, window));
  if (samples == 0) return std::nullopt;
  std::vector<double> sorted(tick_ms_.begin(), tick_ms_.begin() + samples);
  std::vector<double> sorted_cpu(tick_cpu_ms_.begin(), tick_cpu_ms_.begin() + samples);
  std::sort(sorted.begin(), sorted.end());
  std::sort(sorted_cpu.begin(), sorted_cpu.end());
  // mean, p99, max of each phase's ring
  auto phase_stats = [&](const std::array<std::vector<double>, tick_phase_count>& rings) {
    PhaseStats stats{};
    for (size_t i = 0; i < tick_phase_count && samples > 0; ++i) {
      std::vector<double> v(rings[i].begin(), rings[i].begin() + samples);
      const double sum = std::accumulate(v.begin(), v.end(), 0.0);
      const auto p99 = v.begin() + std::min<ptrdiff_t>(samples - 1, samples * 99 / 100);
      std::nth_element(v.begin(), p99, v.end());
      stats[i] = {sum / static_cast<double>(samples), *p99, *std::max_element(p99, v.end())};
    }
    return stats;
  };
  TickSummary s;
  s.p50_ms = sorted[sorted.size() / 2];
  s.p99_ms = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
  s.max_ms = sorted.back();
  s.cpu_p50_ms = sorted_cpu[sorted_cpu.size() / 2];
  s.cpu_p99_ms = sorted_cpu[std::min(sorted_cpu.size() - 1, sorted_cpu.size() * 99 / 100)];
  s.cpu_max_ms = sorted_cpu.back();
  s.phase_cpu_ms = phase_stats(phase_ms_);
  s.phase_wall_ms = phase_stats(phase_wall_ms_);
  return s;
}

void publish(const TickSummary& summary, Status& status) {
  status.tick_p50_ms = summary.p50_ms;
  status.tick_p99_ms = summary.p99_ms;
  status.tick_max_ms = summary.max_ms;
  status.tick_cpu_p50_ms = summary.cpu_p50_ms;
  status.tick_cpu_p99_ms = summary.cpu_p99_ms;
  status.tick_cpu_max_ms = summary.cpu_max_ms;
  status.phase_cpu_ms = summary.phase_cpu_ms;
  status.phase_wall_ms = summary.phase_wall_ms;
}

}  // namespace strata::server
