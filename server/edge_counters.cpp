// server/edge_counters.cpp — see edge_counters.h.
#include "server/edge_counters.h"

#include <cinttypes>
#include <cstdio>

namespace strata::server {

NamedCounts tcp_event_counts(const net::TransportStats& s) {
  NamedCounts out = {{"accepted", s.streams_accepted},
                     {"accept_errors", s.accept_errors},
                     {"accept_backoffs", s.accept_backoffs},
                     {"frames_malformed", s.frames_malformed},
                     {"send_dropped", s.send_dropped}};
  static constexpr const char* refusals[] = {"refused_streams_max", "refused_address_max",
                                             "refused_address_pending_max", "refused_descriptors", "refused_no_peer"};
  static_assert(std::size(refusals) == net::stream_refusal_count);
  for (size_t i = 0; i < net::stream_refusal_count; ++i) out.push_back({refusals[i], s.streams_refused_by[i]});
  for (size_t i = 0; i < net::stream_close_count; ++i)
    out.push_back({"closed_" + std::string(net::name(static_cast<net::StreamClose>(i))), s.streams_closed_by[i]});
  return out;
}

NamedCounts http_event_counts(const HttpCounters& c) {
  const auto v = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {{"connections_accepted", v(c.connections_accepted)},
          {"connections_refused", v(c.connections_refused)},
          {"requests_handled", v(c.requests_handled)},
          {"malformed", v(c.malformed)},
          {"too_large", v(c.too_large)},
          {"not_found", v(c.not_found)},
          {"method_not_allowed", v(c.method_not_allowed)},
          {"handler_errors", v(c.handler_errors)},
          {"read_timeouts", v(c.read_timeouts)},
          {"write_timeouts", v(c.write_timeouts)},
          {"truncated", v(c.truncated)}};
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
