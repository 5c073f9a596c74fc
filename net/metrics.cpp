// net/metrics.cpp: the metric walk. Names follow Prometheus conventions: *_total for counters, base
// units (seconds, bytes).
#include "net/metrics.h"

#include <cstdio>

namespace strata::net {

void for_each_metric(const Server& server, bool per_client, const std::function<void(const MetricSample&)>& visit) {
  const DropCounters drops = server.total_drops();
  for (size_t i = 0; i < drop_reason_count; ++i) {
    visit(MetricSample{"strata_net_dropped_total", "Packets or messages dropped, by reason", MetricType::counter,
                       "reason", std::string(name(static_cast<DropReason>(i))),
                       static_cast<double>(drops.by_reason[i])});
  }
  const HandshakeCounters& h = server.handshake_counters();
  const auto counter = [&](std::string_view metric, std::string_view help, uint64_t v) {
    visit(MetricSample{metric, help, MetricType::counter, {}, {}, static_cast<double>(v)});
  };
  counter("strata_net_connection_requests_total", "Connection requests received", h.requests_received);
  counter("strata_net_challenges_sent_total", "Challenges sent", h.challenges_sent);
  counter("strata_net_challenge_responses_total", "Challenge responses received", h.responses_received);
  counter("strata_net_connections_accepted_total", "Connections accepted", h.connections_accepted);
  counter("strata_net_denied_sent_total", "Connections denied (server full)", h.denied_sent);
  counter("strata_net_datagrams_received_total", "Datagrams or frames received", h.datagrams_received);
  counter("strata_net_datagrams_sent_total", "Datagrams or frames sent", h.datagrams_sent);
  counter("strata_net_received_bytes_total", "Bytes received (netchannel layer)", h.bytes_received);
  counter("strata_net_sent_bytes_total", "Bytes sent (netchannel layer)", h.bytes_sent);
  visit(MetricSample{"strata_net_connected_clients",
                     "Connected clients",
                     MetricType::gauge,
                     {},
                     {},
                     static_cast<double>(server.connected_count())});
  if (!per_client) return;
  for (ClientId client : server.clients()) {
    const ConnectionStats* s = server.client_stats(client);
    if (s == nullptr) continue;
    const std::string label = std::to_string(static_cast<uint64_t>(client));
    const auto gauge = [&](std::string_view metric, std::string_view help, double v) {
      visit(MetricSample{metric, help, MetricType::gauge, "client", label, v});
    };
    gauge("strata_net_client_rtt_seconds", "Smoothed round-trip time", s->rtt_ms / 1000.0);
    gauge("strata_net_client_jitter_seconds", "Smoothed RTT deviation", s->jitter_ms / 1000.0);
    gauge("strata_net_client_packet_loss_ratio", "Smoothed fraction of packets never acked", s->packet_loss);
    gauge("strata_net_client_sent_bytes_per_second", "Bytes sent per second", s->sent_bytes_per_second);
    gauge("strata_net_client_received_bytes_per_second", "Bytes received per second", s->received_bytes_per_second);
    gauge("strata_net_client_sent_packets_per_second", "Packets sent per second", s->sent_packets_per_second);
    gauge("strata_net_client_received_packets_per_second", "Packets received per second",
          s->received_packets_per_second);
  }
}

std::string prometheus_text(const Server& server, bool per_client) {
  std::string out;
  std::string last_name;
  for_each_metric(server, per_client, [&](const MetricSample& m) {
    if (m.name != last_name) {
      last_name.assign(m.name);
      out.append("# HELP ").append(m.name).append(" ").append(m.help).append("\n");
      out.append("# TYPE ").append(m.name).append(m.type == MetricType::counter ? " counter\n" : " gauge\n");
    }
    out.append(m.name);
    if (!m.label_name.empty()) out.append("{").append(m.label_name).append("=\"").append(m.label_value).append("\"}");
    char value[64];
    std::snprintf(value, sizeof value, " %.17g\n", m.value);
    out.append(value);
  });
  return out;
}

}  // namespace strata::net
