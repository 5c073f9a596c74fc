// server/metrics.cpp — the families behind Metrics, created up front (exported before the first tick).
#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>

namespace strata::server {

struct Metrics::Families {
  prometheus::Registry registry;
  prometheus::Histogram* tick_duration = nullptr;
  prometheus::Counter* tick_overruns = nullptr;
  prometheus::Gauge* tick = nullptr;
  prometheus::Gauge* players = nullptr;
};

namespace {

prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry, const std::string& name,
                                                        const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Gauge* single_gauge(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

std::string check_config(const MetricsConfig& config) {
  const auto& buckets = config.tick_duration_buckets_seconds;
  if (buckets.empty() || buckets.size() > metrics_tick_buckets_max) {
    return "metrics: 1.." + std::to_string(metrics_tick_buckets_max) + " tick duration buckets";
  }
  if (!(buckets.front() > 0)) return "metrics: tick duration buckets must be positive";
  if (std::adjacent_find(buckets.begin(), buckets.end(), [](double a, double b) { return !(a < b); }) !=
      buckets.end()) {
    return "metrics: tick duration buckets must be strictly increasing";
  }
  return {};
}

}  // namespace

MetricsConfig default_metrics_config() { return MetricsConfig{}; }

std::unique_ptr<Metrics> Metrics::create(const MetricsConfig& config, std::string& error) {
  error = check_config(config);
  if (!error.empty()) return nullptr;
  return std::unique_ptr<Metrics>(new Metrics(config));
}

Metrics::Metrics(const MetricsConfig& config) : families_(std::make_unique<Families>()) {
  Families& f = *families_;
  auto& registry = f.registry;
  f.tick_duration = &prometheus::BuildHistogram()
                         .Name("strata_tick_duration_seconds")
                         .Help("Wall time of one simulation tick (input build, log append, step, checksum)")
                         .Register(registry)
                         .Add({}, config.tick_duration_buckets_seconds);
  f.tick_overruns = &counter_family(registry, "strata_tick_overruns_total", "Ticks that missed their deadline").Add({});
  f.tick = single_gauge(registry, "strata_tick", "Last completed simulation tick");
  f.players = single_gauge(registry, "strata_players_connected", "Players connected to this node");
}

Metrics::~Metrics() = default;

void Metrics::observe_tick(double seconds, bool overrun) {
  families_->tick_duration->Observe(seconds);
  if (overrun) families_->tick_overruns->Increment();
}

void Metrics::set_tick(uint64_t tick) { families_->tick->Set(static_cast<double>(tick)); }

void Metrics::set_players(uint64_t connected) { families_->players->Set(static_cast<double>(connected)); }

std::string Metrics::render() const { return prometheus::TextSerializer().Serialize(families_->registry.Collect()); }

}  // namespace strata::server
