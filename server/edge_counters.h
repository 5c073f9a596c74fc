// server/edge_counters.h — the refusal and drop counters of the edge (the TCP listener, the HTTP
// listeners, the node's own bounds), each listed once as (name, value) pairs from which both the
// JSON of /api/world/status ("edge") and the Prometheus families are written, so a counter cannot be
// in one and missing from the other. Names are fixed strings from this file, never client data.
//   strata_tcp_events_total{event}            accepted, refused_<why>, closed_<why>, malformed frames, ...
//   strata_http_events_total{listener,event}  refused connections, timeouts, 4xx by reason, ...
//   strata_node_events_total{event}           scheduler deferrals, chat and observer bounds, reports refused
// Threads: the values are copies taken by their owner threads; these functions only format.
#pragma once

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
[[nodiscard]] NamedCounts node_event_counts(const NodeCounters& counters, const DeferralCounters& deferrals);

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
