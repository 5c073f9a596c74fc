// server/edge_counters.cpp — see edge_counters.h.
#include "server/edge_counters.h"

#include <cinttypes>
#include <cstdio>

namespace strata::server {

NamedCounts tcp_event_counts(const net::TransportStats& s) {
  NamedCounts out;
#define STRATA_TCP_EVENT_(member, event, help) \
  if (std::string_view(event).size() > 0) out.push_back({event, s.member});
  STRATA_TRANSPORT_COUNTERS(STRATA_TCP_EVENT_)
#undef STRATA_TCP_EVENT_
  for (size_t i = 0; i < net::stream_refusal_count; ++i)
    out.push_back({"refused_" + std::string(net::name(static_cast<net::StreamRefusal>(i))), s.streams_refused_by[i]});
  for (size_t i = 0; i < net::stream_close_count; ++i)
    out.push_back({"closed_" + std::string(net::name(static_cast<net::StreamClose>(i))), s.streams_closed_by[i]});
  return out;
}

NamedCounts http_event_counts(const HttpCounters& c) {
  NamedCounts out;
#define STRATA_HTTP_EVENT_(member, help) out.push_back({#member, c.member.load(std::memory_order_relaxed)});
  STRATA_HTTP_COUNTERS(STRATA_HTTP_EVENT_)
#undef STRATA_HTTP_EVENT_
  return out;
}

namespace {
constexpr std::string_view node_events_family = "strata_node_events_total";
constexpr std::string_view node_events_help =
    "The node's events and bounds: ticks, joins, inputs deferred, chat, observers and reports refused, failed sends";
}  // namespace

void append_samples(const NodeCounters& c, net::CounterSamples& out) {
  constexpr std::string_view family = node_events_family, family_help = node_events_help;
  STRATA_NODE_COUNTERS(STRATA_COUNTER_SAMPLE_, STRATA_COUNTER_ARRAY_SAMPLE_)
}

void append_samples(const DeferralCounters& c, net::CounterSamples& out) {
#define STRATA_DEFERRAL_SAMPLE_(member, event, help) \
  net::add_counter(out, #event, "", node_events_family, node_events_help, help, c.member);
  STRATA_DEFERRAL_COUNTERS(STRATA_DEFERRAL_SAMPLE_)
#undef STRATA_DEFERRAL_SAMPLE_
}

void append_verdict_samples(const VerdictCounters& c, net::CounterSamples& out) {
  net::add_indexed(out, "inputs", "strata_inputs_total{verdict}", "Player, system and remote inputs by verdict", c, 0,
                   [](size_t i) { return std::string_view(name(static_cast<InputVerdict>(i))); });
}

std::string counts_json(std::span<const NamedCount> counts) {
  std::string out = "{";
  char value[32];
  for (const NamedCount& c : counts) {
    if (out.size() > 1) out += ',';
    std::snprintf(value, sizeof value, "%" PRIu64, c.value);
    out += '"' + c.name + "\":" + value;
  }
  return out + "}";
}

std::string counts_prometheus_series(std::string_view family, std::string_view fixed_labels,
                                     std::span<const NamedCount> counts) {
  std::string out;
  char value[32];
  for (const NamedCount& c : counts) {
    std::snprintf(value, sizeof value, "%" PRIu64, c.value);
    out.append(family).append("{");
    if (!fixed_labels.empty()) out.append(fixed_labels).append(",");
    out.append("event=\"").append(c.name).append("\"} ").append(value).append("\n");
  }
  return out;
}

std::string counts_prometheus(std::string_view family, std::string_view help, std::span<const NamedCount> counts) {
  std::string out =
      "# HELP " + std::string(family) + " " + std::string(help) + "\n# TYPE " + std::string(family) + " counter\n";
  return out + counts_prometheus_series(family, {}, counts);
}

}  // namespace strata::server
