// server/routes.cpp: see routes.h.
#include "server/routes.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>

#include "net/transport.h"
#include "server/edge_counters.h"
#include "server/login_http.h"
#include "server/region_report.h"
#include "server/storage_service.h"

namespace strata::server {
namespace {

// GET /api/sessions: every connected client with its transport, address and link statistics, and
// where its player stands (absent until its join tick).
std::string sessions_json(const RegionalNode::NetStats& stats, const std::vector<std::array<int64_t, 3>>& player_cells,
                          uint64_t now_us) {
  std::string out = "[";
  char item[512];
  for (const auto& s : stats.sessions) {
    const auto id = static_cast<int64_t>(s.client);
    auto p = std::lower_bound(player_cells.begin(), player_cells.end(), id,
                              [](const std::array<int64_t, 3>& p, int64_t id) { return p[0] < id; });
    const bool in_world = !s.observer && p != player_cells.end() && (*p)[0] == id;
    char position[96] = "null";
    if (in_world)
      std::snprintf(position, sizeof position, "{\"x\":%lld,\"y\":%lld}", static_cast<long long>((*p)[1]),
                    static_cast<long long>((*p)[2]));
    std::snprintf(item, sizeof item,
                  "%s{\"player\":%llu,\"role\":\"%s\",\"transport\":\"%s\",\"address\":\"%s\",\"connected_s\":%.1f,"
                  "\"rtt_ms\":%.2f,\"jitter_ms\":%.2f,\"packet_loss\":%.4f,\"sent_bytes_per_second\":%.0f,"
                  "\"received_bytes_per_second\":%.0f,\"in_world\":%s,\"cell\":%s}",
                  out.size() > 1 ? "," : "", static_cast<unsigned long long>(s.client),
                  s.observer ? "observer" : "player", s.transport == net::TransportKind::datagram ? "udp" : "tcp",
                  net::to_string(s.address).c_str(),
                  now_us > s.connected_us ? static_cast<double>(now_us - s.connected_us) / 1e6 : 0.0, s.stats.rtt_ms,
                  s.stats.jitter_ms, s.stats.packet_loss, s.stats.sent_bytes_per_second,
                  s.stats.received_bytes_per_second, in_world ? "true" : "false", position);
    out += item;
  }
  return out + "]";
}

}  // namespace

void add_public_routes(HttpServer& http, Status& status) {
  http.add_route(HttpMethod::get, "/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok\n", {}};
  });
  http.add_route(HttpMethod::get, "/readyz", [&status](const HttpRequest&) {
    // A degraded store keeps the node in rotation (the tick runs, writes queue): the body says it.
    const bool degraded = status.storage != nullptr && status.storage->degraded();
    std::lock_guard lock(status.mutex);
    if (!status.ready) return HttpResponse{503, "text/plain", "starting\n", {}};
    return HttpResponse{200, "text/plain", degraded ? "ready; degraded: storage\n" : "ready\n", {}};
  });
}

void add_admin_routes(HttpServer& admin, const Login& login, bool admin_open, Status& status, const HttpServer& http,
                      uint32_t region) {
  auto admin_refused = [&login, admin_open](const HttpRequest& request) {
    return refuse_admin_request(login, admin_open, request);
  };
  admin.add_route(HttpMethod::get, "/api/sessions", [&status, admin_refused](const HttpRequest& request) {
    if (auto refused = admin_refused(request)) return *refused;
    std::lock_guard lock(status.mutex);
    return HttpResponse{
        200, "application/json", sessions_json(status.net_stats, status.player_cells, net::system_now_us()) + "\n", {}};
  });
  // Who is near a point: on the admin listener, because it names every player's position, which the
  // snapshots hide from whoever cannot see them (AOI, indoors).
  admin.add_deferred_route(HttpMethod::get, "/api/players/near",
                           [&status, admin_refused](const HttpRequest& request, HttpReply reply) {
                             if (auto refused = admin_refused(request)) return reply(std::move(*refused));
                             if (status.storage == nullptr)
                               return reply(HttpResponse{503, "text/plain", "no storage\n", {}});
                             status.storage->near(request.query, std::move(reply));
                           });
  // GET /api/regions: this region's bus and what it knows of its peers (region_report.h).
  admin.add_route(HttpMethod::get, "/api/regions", [&status, admin_refused](const HttpRequest& request) {
    if (auto refused = admin_refused(request)) return *refused;
    if (status.link == nullptr) {
      return HttpResponse{404, "application/json", "{\"error\":\"this region has no bus (bus.url is empty)\"}\n", {}};
    }
    return HttpResponse{200, "application/json", regions_json(status.link->status()) + "\n", {}};
  });
  admin.add_route(
      HttpMethod::get, "/api/world/status",
      [&status, &login, &http, &admin, admin_refused, region](const HttpRequest& request) {
        if (auto refused = admin_refused(request)) return *refused;
        const std::string logins = login_counters_json(login);
        std::lock_guard lock(status.mutex);
        auto phases_json = [](const std::array<std::array<double, 3>, tick_phase_count>& stats) {
          std::string json = "{";
          for (size_t i = 0; i < tick_phase_count; ++i) {
            char part[128];
            const auto& [mean, p99, max] = stats[i];
            std::snprintf(part, sizeof part, "%s\"%s\":{\"mean\":%.3f,\"p99\":%.3f,\"max\":%.3f}", i == 0 ? "" : ",",
                          name(static_cast<TickPhase>(i)), mean, p99, max);
            json += part;
          }
          return json + "}";
        };
        const std::string phases = phases_json(status.phase_cpu_ms);
        const std::string wall_phases = phases_json(status.phase_wall_ms);
        // (snapshots.{sent,not_sent,bytes}, net_bytes and net_packets: shorthands kept for the tools
        // that read them; every counter is under "edge.node" and "net", from its list.)
        const NodeCounters& node = status.counters.node;
        const net::HandshakeCounters& traffic = status.counters.net;
        // What the builders made (cumulative sums; a reader takes differences over its own window).
        const SnapshotBuilderCounters& sb = status.builders;
        char built[1024];
        std::snprintf(
            built, sizeof built,
            "\"frames_cut\":%llu,\"fulls\":%llu,\"fulls_evicted\":%llu,\"fulls_too_old\":%llu,\"full_bytes\":%"
            "llu,\"deltas\":%llu,\"delta_bytes\":%llu,"
            "\"delta_age_ticks\":%llu,\"delta_entities\":%llu,\"delta_fresh_entities\":%llu,"
            "\"delta_chunks\":%llu,\"lag_us\":%llu,\"acks_posted\":%llu,\"acks_advanced\":%llu,\"acks_dropped\":%llu",
            static_cast<unsigned long long>(sb.frames_cut), static_cast<unsigned long long>(sb.fulls_built),
            static_cast<unsigned long long>(sb.fulls_evicted), static_cast<unsigned long long>(sb.fulls_too_old),
            static_cast<unsigned long long>(sb.full_bytes), static_cast<unsigned long long>(sb.deltas_built),
            static_cast<unsigned long long>(sb.delta_bytes), static_cast<unsigned long long>(sb.delta_age_ticks),
            static_cast<unsigned long long>(sb.delta_entities),
            static_cast<unsigned long long>(sb.delta_fresh_entities), static_cast<unsigned long long>(sb.delta_chunks),
            static_cast<unsigned long long>(sb.lag_us), static_cast<unsigned long long>(sb.acks_posted),
            static_cast<unsigned long long>(sb.acks_advanced), static_cast<unsigned long long>(sb.acks_dropped));
        char body[6144];
        std::snprintf(
            body, sizeof body,
            "{\"region\":%u,\"tick\":%llu,\"quick_hash\":\"%016llx\",\"players\":%zu,\"sessions\":%zu,"
            "\"tick_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
            "\"tick_cpu_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
            "\"tick_phase_cpu_ms\":%s,\"tick_phase_ms\":%s,"
            "\"snapshots\":{\"built\":%llu,\"sent\":%llu,\"not_sent\":%llu,\"frames\":%llu,"
            "\"frames_skipped\":%llu,\"fulls_deferred\":%llu,\"build_ms_max\":%.3f,\"bytes\":%llu,%s},"
            "\"net_bytes\":{\"in\":%llu,\"out\":%llu},\"net_packets\":{\"in\":%llu,\"out\":%llu},\"logins\":%s}\n",
            region, static_cast<unsigned long long>(status.tick), static_cast<unsigned long long>(status.quick_hash),
            status.players, status.sessions, status.tick_p50_ms, status.tick_p99_ms, status.tick_max_ms,
            status.tick_cpu_p50_ms, status.tick_cpu_p99_ms, status.tick_cpu_max_ms, phases.c_str(), wall_phases.c_str(),
            static_cast<unsigned long long>(status.builders.snapshots_built),
            static_cast<unsigned long long>(node.snapshots_sent),
            static_cast<unsigned long long>(node.snapshots_not_sent),
            static_cast<unsigned long long>(status.builders.frames),
            static_cast<unsigned long long>(status.builders.frames_skipped),
            static_cast<unsigned long long>(status.builders.fulls_deferred),
            static_cast<double>(status.builders.build_us_max) / 1e3,
            static_cast<unsigned long long>(node.snapshot_bytes), built,
            static_cast<unsigned long long>(traffic.bytes_received),
            static_cast<unsigned long long>(traffic.bytes_sent),
            static_cast<unsigned long long>(traffic.datagrams_received),
            static_cast<unsigned long long>(traffic.datagrams_sent), logins.c_str());
        // The edge's counters (server/edge_counters.h), and how far the disk holds the log.
        std::string json(body);
        json.resize(json.rfind('}'));
        json += ",\"log\":{\"durable_tick\":" + std::to_string(status.durable_tick) +
                "},\"net\":" + net::counters_json(net_samples(status.counters)) +
                ",\"edge\":{\"tcp\":" + counts_json(tcp_event_counts(status.tcp_stats)) +
                ",\"http_public\":" + counts_json(http_event_counts(http.counters())) +
                ",\"http_admin\":" + counts_json(http_event_counts(admin.counters())) +
                ",\"node\":" + net::counters_json(node_samples(status.counters)) + "}}\n";
        return HttpResponse{200, "application/json", json, {}};
      });
}

void add_metrics_route(HttpServer& metrics_http, Metrics& metrics, const Login& login, Status& status,
                       const HttpServer& http, const HttpServer& admin) {
  metrics_http.add_route(HttpMethod::get, "/metrics", [&metrics, &login, &status, &http, &admin](const HttpRequest&) {
    std::string text = metrics.render() + login_metrics_text(login);
    {
      std::lock_guard lock(status.mutex);
      net::CounterSamples samples = net_samples(status.counters);
      const net::CounterSamples node = node_samples(status.counters);
      samples.insert(samples.end(), node.begin(), node.end());
      text += net::counters_prometheus(samples);
      text += counts_prometheus("strata_tcp_events_total",
                                "TCP listener: streams accepted, refused and closed by reason, frames refused",
                                tcp_event_counts(status.tcp_stats));
    }
    text +=
        "# HELP strata_http_events_total HTTP listeners: connections and requests, refusals by reason\n"
        "# TYPE strata_http_events_total counter\n";
    text +=
        counts_prometheus_series("strata_http_events_total", "listener=\"public\"", http_event_counts(http.counters()));
    text +=
        counts_prometheus_series("strata_http_events_total", "listener=\"admin\"", http_event_counts(admin.counters()));
    if (status.storage != nullptr) text += status.storage->prometheus();
    if (status.link != nullptr) text += regions_prometheus(status.link->status());
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", text, {}};
  });
}

}  // namespace strata::server
