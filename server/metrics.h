// server/metrics.h — the runtime's own Prometheus metrics: the tick duration histogram, overruns, the
// tick and the players connected, in one prometheus::Registry, and render() for the text exposition
// format (served by HttpServer on the metrics port; prometheus-cpp's own civetweb Exposer is not used).
// The counters (the node's, the netchannel's, the scheduler's) are not here: their lists write their
// families themselves from the values the runtime publishes (net/counters.h, server/edge_counters.h).
//
// Invariants: names follow the Prometheus conventions (strata_ prefix, base units, _total on
// counters); no label value comes from client data.
//
// Threads: every method may be called from any thread (prometheus-cpp metrics are atomic and the
// registry locks), so the tick thread updates while the HTTP thread renders.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/limits.h"

namespace strata::server {

struct MetricsConfig {
  // Upper bounds of strata_tick_duration_seconds, strictly increasing. The default spans 0.1 ms to
  // 100 ms: a 20 Hz tick has a 50 ms budget, so the top buckets show overruns.
  std::vector<double> tick_duration_buckets_seconds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                       0.01,   0.02,    0.03,   0.05,  0.075,  0.1};
};
[[nodiscard]] MetricsConfig default_metrics_config();

// Bucket count limit: every bucket is a series per scrape.
using limits::metrics_tick_buckets_max;

class Metrics {
 public:
  // Null (with the reason in `error`) when the config is invalid (buckets not strictly increasing,
  // not positive, or more than metrics_tick_buckets_max).
  [[nodiscard]] static std::unique_ptr<Metrics> create(const MetricsConfig& config, std::string& error);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One tick took `seconds` of wall time; `overrun` when it missed its deadline.
  void observe_tick(double seconds, bool overrun);
  void set_tick(uint64_t tick);  // the tick just completed
  void set_players(uint64_t connected);

  // The Prometheus text exposition (format 0.0.4) of every family.
  [[nodiscard]] std::string render() const;
  // Content-Type to serve render() with.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Families;
  explicit Metrics(const MetricsConfig& config);

  std::unique_ptr<Families> families_;
};

}  // namespace strata::server
