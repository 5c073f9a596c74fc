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

NamedCounts node_event_counts(const NodeCounters& c, const DeferralCounters& d) {
  return {{"inputs_deferred_player_cap", d.player_cap},
          {"inputs_deferred_fair_share", d.fair_share},
          {"inputs_deferred_system_cap", d.system_cap},
          {"inputs_deferred_remote_cap", d.remote_cap},
          {"ticks_fair_shared", d.ticks_shared},
          {"tick_commands_refused", c.tick_commands_refused},
          {"checksum_reports_refused", c.checksum_reports_refused},
          {"chat_rate_limited", c.chat_rate_limited},
          {"chat_deferred", c.chat_deferred},
          {"chat_withheld", c.chat_withheld},
          {"observers_refused", c.observers_refused},
          {"observers_dropped_slow", c.observers_dropped_slow},
          {"reliable_send_failures", c.reliable_send_failures},
          {"snapshots_not_sent", c.snapshots_not_sent},
          {"inbox_overflow", c.inbox_overflow},
          {"log_failures", c.log_failures}};
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
