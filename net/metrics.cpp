// net/metrics.cpp: the metric walk. Names follow Prometheus conventions: *_total for counters, base
// units (seconds, bytes).
#include "net/metrics.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace strata::net {

void add_counter(CounterSamples& out, std::string_view name, std::string_view series, std::string_view default_family,
                 std::string_view default_help, std::string_view help, uint64_t value) {
  if (series.empty()) {
    out.push_back(CounterSample{name, {}, default_family, "event", name, default_help, value});
    return;
  }
  const size_t brace = series.find('{');
  if (brace == std::string_view::npos) {
    out.push_back(CounterSample{name, {}, series, {}, {}, help, value});
    return;
  }
  const size_t equals = series.find('=', brace);
  out.push_back(CounterSample{name,
                              {},
                              series.substr(0, brace),
                              series.substr(brace + 1, equals - brace - 1),
                              series.substr(equals + 1, series.size() - equals - 2),
                              help,
                              value});
}

std::string counters_json(std::span<const CounterSample> samples) {
  std::string out = "{";
  std::string_view open_group;
  char value[32];
  for (const CounterSample& s : samples) {
    if (s.group != open_group) {
      if (!open_group.empty()) out += '}';
      if (out.size() > 1) out += ',';
      if (!s.group.empty()) out.append("\"").append(s.group).append("\":{");
      open_group = s.group;
    } else if (out.back() != '{') {
      out += ',';
    }
    std::snprintf(value, sizeof value, "%" PRIu64, s.value);
    out.append("\"").append(s.name).append("\":").append(value);
  }
  if (!open_group.empty()) out += '}';
  return out + "}";
}

std::string counters_prometheus(std::span<const CounterSample> samples) {
  std::vector<std::string_view> families;
  for (const CounterSample& s : samples) {
    if (std::find(families.begin(), families.end(), s.family) == families.end()) families.push_back(s.family);
  }
  std::string out;
  char value[32];
  for (const std::string_view family : families) {
    bool first = true;
    for (const CounterSample& s : samples) {
      if (s.family != family) continue;
      if (first) {
        out.append("# HELP ").append(family).append(" ").append(s.help).append("\n");
        out.append("# TYPE ").append(family).append(" counter\n");
        first = false;
      }
      out.append(family);
      if (!s.label_key.empty()) out.append("{").append(s.label_key).append("=\"").append(s.label_value).append("\"}");
      std::snprintf(value, sizeof value, " %" PRIu64 "\n", s.value);
      out.append(value);
    }
  }
  return out;
}

void append_samples(const HandshakeCounters& c, CounterSamples& out) {
  constexpr std::string_view family, family_help;  // every member names its own family
  STRATA_NET_HANDSHAKE_COUNTERS(STRATA_COUNTER_SAMPLE_)
}

void append_samples(const DropCounters& c, CounterSamples& out) {
  add_indexed(out, "dropped", "strata_net_dropped_total{reason}", "Netchannel packets or messages dropped, by reason",
              c.by_reason, 0, [](size_t i) { return name(static_cast<DropReason>(i)); });
}

void for_each_metric(const Server& server, bool per_client, const std::function<void(const MetricSample&)>& visit) {
  CounterSamples samples;
  append_samples(server.total_drops(), samples);
  append_samples(server.handshake_counters(), samples);
  for (const CounterSample& s : samples) {
    visit(MetricSample{s.family, s.help, MetricType::counter, s.label_key, std::string(s.label_value),
                       static_cast<double>(s.value)});
  }
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
