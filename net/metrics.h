// net/metrics.h: the netchannel's monitoring surface. One walk over everything a Server measures
// (drop counters by reason, handshake counters, per-connection RTT/jitter/loss/rates), so the
// server's Prometheus exporter cannot forget a counter. Also renders Prometheus text format.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "net/server.h"

namespace strata::net {

enum class MetricType : uint8_t { counter, gauge };

struct MetricSample {
  std::string_view name;  // e.g. "strata_net_dropped_total"
  std::string_view help;
  MetricType type = MetricType::counter;
  std::string_view label_name;  // empty, "reason" or "client"
  std::string label_value;
  double value = 0;
};

// Calls `visit` once per sample; per-client samples only when per_client is true (cardinality).
void for_each_metric(const Server& server, bool per_client, const std::function<void(const MetricSample&)>& visit);

// Prometheus text exposition format (HELP/TYPE once per metric name).
[[nodiscard]] std::string prometheus_text(const Server& server, bool per_client);

}  // namespace strata::net
