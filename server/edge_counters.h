// server/edge_counters.h — the counters of the edge (the TCP listener, the HTTP listeners) and of
// the node, each listed once, from which both the JSON of /api/world/status and the Prometheus
// families are written, so a counter cannot be in one and missing from the other. Names are fixed
// strings from the lists, never client data.
//   strata_tcp_events_total{event}            accepted, refused_<why>, closed_<why>, malformed frames, ...
//   strata_http_events_total{listener,event}  refused connections, timeouts, 4xx by reason, ...
//   the node's lists (NodeCounters, DeferralCounters: X-macros in node.h and input_scheduler.h; the
//   scheduler's verdicts): strata_node_events_total{event} and the families they name.
// Threads: the values are copies taken by their owner threads; these functions only format.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/transport.h"
#include "server/http.h"
#include "server/input_scheduler.h"
#include "server/node.h"

namespace strata::server {

struct NamedCount {
  std::string name;  // a fixed identifier: [a-z0-9_]
  uint64_t value = 0;
};
using NamedCounts = std::vector<NamedCount>;

[[nodiscard]] NamedCounts tcp_event_counts(const net::TransportStats& stats);
[[nodiscard]] NamedCounts http_event_counts(const HttpCounters& counters);

// The node's counter lists as samples (net/counters.h).
void append_samples(const NodeCounters& counters, net::CounterSamples& out);
void append_samples(const DeferralCounters& counters, net::CounterSamples& out);
using VerdictCounters = std::array<uint64_t, input_verdict_count>;
void append_verdict_samples(const VerdictCounters& counters, net::CounterSamples& out);  // strata_inputs_total{verdict}

// {"name":value,...}
[[nodiscard]] std::string counts_json(std::span<const NamedCount> counts);
// One Prometheus counter family (HELP and TYPE once) with a series per count:
// family{<fixed_labels,>event="name"} value. fixed_labels is empty or `key="value"` pairs.
[[nodiscard]] std::string counts_prometheus(std::string_view family, std::string_view help,
                                            std::span<const NamedCount> counts);
// Series only (no HELP/TYPE), for a family that takes several label sets.
[[nodiscard]] std::string counts_prometheus_series(std::string_view family, std::string_view fixed_labels,
                                                   std::span<const NamedCount> counts);

}  // namespace strata::server
