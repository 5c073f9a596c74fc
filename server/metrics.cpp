// server/metrics.cpp — the families behind Metrics. Every labelled series is created up front (so it
// is exported as 0 before its first event and rate() works from the first scrape), and kept as a
// pointer indexed by the enum it counts; updates never look a label up by string at run time except
// add_input, which scans a 7-entry list.
#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>

namespace strata::server {

// Reasons 1..count-1 of sim::RejectReason (none is not a rejection).
constexpr size_t reject_series = sim::reject_reason_count - 1;

struct Metrics::Families {
  prometheus::Registry registry;
  prometheus::Histogram* tick_duration = nullptr;
  prometheus::Counter* tick_overruns = nullptr;
  prometheus::Gauge* tick = nullptr;
  prometheus::Gauge* players = nullptr;
  std::array<prometheus::Counter*, input_verdict_names.size()> inputs{};
  std::array<prometheus::Counter*, reject_series> rejected{};
  std::array<prometheus::Counter*, 2> net_bytes{};
  std::array<prometheus::Counter*, 2> net_packets{};
  std::array<prometheus::Counter*, net::drop_reason_count> net_dropped{};
  prometheus::Counter* snapshot_bytes = nullptr;
  prometheus::Counter* checksum_mismatches = nullptr;
  std::array<prometheus::Counter*, static_cast<size_t>(view::MessageError::count)> messages_refused{};
  prometheus::Counter* chat_relayed = nullptr;
  prometheus::Counter* chat_rate_limited = nullptr;
  prometheus::Counter* chat_deliveries = nullptr;
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

const char* direction_name(size_t i) { return i == 0 ? "in" : "out"; }

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

  auto& inputs = counter_family(registry, "strata_inputs_total", "Player, system and remote inputs by verdict");
  for (size_t i = 0; i < input_verdict_names.size(); ++i) {
    f.inputs[i] = &inputs.Add({{"verdict", std::string(input_verdict_names[i])}});
  }
  auto& rejected = counter_family(registry, "strata_commands_rejected_total", "Commands the rules rejected, by reason");
  for (size_t i = 0; i < reject_series; ++i) {
    f.rejected[i] = &rejected.Add({{"reason", std::string(sim::name(static_cast<sim::RejectReason>(i + 1)))}});
  }
  auto& bytes = counter_family(registry, "strata_net_bytes_total", "Netchannel bytes by direction");
  auto& packets = counter_family(registry, "strata_net_packets_total", "Netchannel datagrams or frames by direction");
  for (size_t i = 0; i < 2; ++i) {
    f.net_bytes[i] = &bytes.Add({{"direction", direction_name(i)}});
    f.net_packets[i] = &packets.Add({{"direction", direction_name(i)}});
  }
  auto& dropped = counter_family(registry, "strata_net_dropped_total", "Netchannel packets or messages dropped");
  for (size_t i = 0; i < net::drop_reason_count; ++i) {
    f.net_dropped[i] = &dropped.Add({{"reason", std::string(net::name(static_cast<net::DropReason>(i)))}});
  }
  f.snapshot_bytes =
      &counter_family(registry, "strata_snapshot_bytes_total", "Bytes of AOI snapshots sent to clients").Add({});
  f.checksum_mismatches =
      &counter_family(registry, "strata_checksum_mismatches_total", "AOI checksum mismatches reported by clients")
           .Add({});
  auto& refused =
      counter_family(registry, "strata_client_messages_refused_total", "Client messages the node refused, by reason");
  for (size_t i = 1; i < f.messages_refused.size(); ++i)
    f.messages_refused[i] = &refused.Add({{"reason", view::name(static_cast<view::MessageError>(i))}});
  auto& chat = counter_family(registry, "strata_chat_lines_total", "Chat lines from clients, by outcome");
  f.chat_relayed = &chat.Add({{"outcome", "relayed"}});
  f.chat_rate_limited = &chat.Add({{"outcome", "rate_limited"}});
  f.chat_deliveries =
      &counter_family(registry, "strata_chat_deliveries_total", "Chat lines delivered to hearers").Add({});
}

Metrics::~Metrics() = default;

void Metrics::observe_tick(double seconds, bool overrun) {
  families_->tick_duration->Observe(seconds);
  if (overrun) families_->tick_overruns->Increment();
}

void Metrics::set_tick(uint64_t tick) { families_->tick->Set(static_cast<double>(tick)); }

void Metrics::set_players(uint64_t connected) { families_->players->Set(static_cast<double>(connected)); }

bool Metrics::add_input(std::string_view verdict, uint64_t count) {
  const auto it = std::find(input_verdict_names.begin(), input_verdict_names.end(), verdict);
  if (it == input_verdict_names.end()) {
    unknown_label_values_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  families_->inputs[static_cast<size_t>(it - input_verdict_names.begin())]->Increment(static_cast<double>(count));
  return true;
}

bool Metrics::add_command_rejected(sim::RejectReason reason, uint64_t count) {
  const auto i = static_cast<size_t>(reason);
  if (i == 0 || i > reject_series) {
    unknown_label_values_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  families_->rejected[i - 1]->Increment(static_cast<double>(count));
  return true;
}

void Metrics::add_net_bytes(NetDirection direction, uint64_t bytes) {
  families_->net_bytes[direction == NetDirection::in ? 0 : 1]->Increment(static_cast<double>(bytes));
}

void Metrics::add_net_packets(NetDirection direction, uint64_t packets) {
  families_->net_packets[direction == NetDirection::in ? 0 : 1]->Increment(static_cast<double>(packets));
}

bool Metrics::add_net_dropped(net::DropReason reason, uint64_t count) {
  const auto i = static_cast<size_t>(reason);
  if (i >= net::drop_reason_count) {
    unknown_label_values_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  families_->net_dropped[i]->Increment(static_cast<double>(count));
  return true;
}

void Metrics::add_net_dropped(const net::DropCounters& delta) {
  for (size_t i = 0; i < net::drop_reason_count; ++i) {
    if (delta.by_reason[i] != 0) families_->net_dropped[i]->Increment(static_cast<double>(delta.by_reason[i]));
  }
}

void Metrics::add_snapshot_bytes(uint64_t bytes) { families_->snapshot_bytes->Increment(static_cast<double>(bytes)); }

bool Metrics::add_message_refused(view::MessageError reason, uint64_t count) {
  const auto i = static_cast<size_t>(reason);
  if (reason == view::MessageError::none || i >= families_->messages_refused.size()) {
    unknown_label_values_.fetch_add(1);
    return false;
  }
  families_->messages_refused[i]->Increment(static_cast<double>(count));
  return true;
}

void Metrics::add_chat(uint64_t relayed, uint64_t rate_limited, uint64_t deliveries) {
  families_->chat_relayed->Increment(static_cast<double>(relayed));
  families_->chat_rate_limited->Increment(static_cast<double>(rate_limited));
  families_->chat_deliveries->Increment(static_cast<double>(deliveries));
}

void Metrics::add_checksum_mismatches(uint64_t count) {
  families_->checksum_mismatches->Increment(static_cast<double>(count));
}

std::string Metrics::render() const { return prometheus::TextSerializer().Serialize(families_->registry.Collect()); }

}  // namespace strata::server
