// server/region_report.cpp — see region_report.h.
#include "server/region_report.h"

#include <cstdio>
#include <functional>
#include <string_view>

namespace strata::server {

namespace {

// Text by appends (GCC 12 -O3 reports false -Wrestrict on chains of operator+ with literals).
void put(std::string&) {}
template <class... Rest>
void put(std::string& out, std::string_view first, const Rest&... rest);
template <class... Rest>
void put(std::string& out, uint64_t first, const Rest&... rest) {
  out.append(std::to_string(first));
  put(out, rest...);
}
template <class... Rest>
void put(std::string& out, std::string_view first, const Rest&... rest) {
  out.append(first);
  put(out, rest...);
}

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string vector_json(const std::vector<schema::BusAppliedSeq>& applied) {
  std::string out = "[";
  for (const schema::BusAppliedSeq& entry : applied) {
    if (out.size() > 1) out += ',';
    put(out, "{\"origin\":", uint64_t{sim::raw(entry.origin)}, ",\"seq\":", entry.seq, "}");
  }
  return out + "]";
}

template <class Emit>
void for_each_bus_counter(const BusCounters& c, Emit emit) {
#define STRATA_BUS_EMIT(name, help) emit(#name, help, c.name);
  STRATA_BUS_COUNTERS(STRATA_BUS_EMIT)
#undef STRATA_BUS_EMIT
}
template <class Emit>
void for_each_outbox_counter(const BusOutboxCounters& c, Emit emit) {
#define STRATA_OUTBOX_EMIT(name, help) emit(#name, help, c.name);
  STRATA_BUS_OUTBOX_COUNTERS(STRATA_OUTBOX_EMIT)
#undef STRATA_OUTBOX_EMIT
}
template <class Emit>
void for_each_link_counter(const RegionLinkCounters& c, Emit emit) {
#define STRATA_LINK_EMIT(name, help) emit(#name, help, c.name);
  STRATA_REGION_LINK_COUNTERS(STRATA_LINK_EMIT)
#undef STRATA_LINK_EMIT
}

// Collects counters as a JSON object: {"name":value,...}.
struct JsonObject {
  std::string text = "{";
  void operator()(const char* name, const char*, uint64_t value) {
    if (text.size() > 1) text += ',';
    put(text, "\"", name, "\":", value);
  }
  [[nodiscard]] std::string done() const { return text + "}"; }
};
std::string object_json(const BusCounters& c) {
  JsonObject out;
  for_each_bus_counter(c, std::ref(out));
  return out.done();
}
std::string object_json(const BusOutboxCounters& c) {
  JsonObject out;
  for_each_outbox_counter(c, std::ref(out));
  return out.done();
}
std::string object_json(const RegionLinkCounters& c) {
  JsonObject out;
  for_each_link_counter(c, std::ref(out));
  return out.done();
}

}  // namespace

std::string regions_json(const RegionLinkStatus& s) {
  std::string out;
  put(out, "{\"region\":", uint64_t{sim::raw(s.region)}, ",\"tick\":", s.tick, ",\"map_hash\":\"", hex(s.map_hash),
      "\",\"applied\":", vector_json(s.applied), ",\"own_acked_seq\":", s.own_acked_seq,
      ",\"world_held\":", s.world_held, ",\"inbound_waiting\":", s.inbound_waiting, ",\"bus\":{\"state\":\"",
      name(s.bus_state), "\",\"counters\":", object_json(s.bus), ",\"outbox\":", object_json(s.outbox), "},\"link\":");
  std::string link = object_json(s.counters);
  link.pop_back();
  put(link, ",\"refused_decode\":{");
  for (size_t i = 1; i < s.counters.refused_decode.size(); ++i) {
    if (i > 1) link += ',';
    put(link, "\"", schema::name(static_cast<schema::BusDecodeError>(i)), "\":", s.counters.refused_decode[i]);
  }
  const MapHistoryCounters& h = s.history;
  put(out, link, "}}", ",\"map_history\":{\"ticks_recorded\":", h.ticks_recorded,
      ",\"ticks_trimmed_for_size\":", h.ticks_trimmed_for_size, ",\"restarts\":", h.restarts,
      ",\"entries\":", h.entries, ",\"entries_high\":", h.entries_high, ",\"sum_mismatches\":", h.sum_mismatches, "}",
      ",\"publish_latency_us\":{\"count\":", s.publish_latency.count, ",\"sum\":", s.publish_latency.sum_us,
      "},\"peers\":[");
  for (size_t i = 0; i < s.peers.size(); ++i) {
    const PeerStatus& p = s.peers[i];
    if (i > 0) out += ',';
    put(out, "{\"region\":", uint64_t{sim::raw(p.region)}, ",\"last_seq\":", p.last_seq,
        ",\"applied_seq\":", p.applied_seq, ",\"reported_seq\":", p.reported_seq, ",\"lag\":", p.lag,
        ",\"health_tick\":", p.health_tick, ",\"map_hash\":\"", hex(p.health_map_hash),
        "\",\"applied\":", vector_json(p.health_applied), ",\"agreement\":\"", name(p.agreement), "\"}");
  }
  out += "]}";
  return out;
}

std::string regions_prometheus(const RegionLinkStatus& s) {
  std::string out;
  auto family = [&out](std::string_view name, std::string_view help, std::string_view type) {
    put(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  };
  family("strata_bus_events_total", "Region event bus: the bus port's events", "counter");
  for_each_bus_counter(s.bus, [&out](const char* name, const char*, uint64_t value) {
    put(out, "strata_bus_events_total{event=\"", name, "\"} ", value, "\n");
  });
  family("strata_bus_outbox_total", "Region event bus: world batches and samples through the outbox", "counter");
  for_each_outbox_counter(s.outbox, [&out](const char* name, const char*, uint64_t value) {
    put(out, "strata_bus_outbox_total{event=\"", name, "\"} ", value, "\n");
  });
  family("strata_bus_link_total", "Region event bus: published, consumed, duplicate and desync events", "counter");
  for_each_link_counter(s.counters, [&out](const char* name, const char*, uint64_t value) {
    put(out, "strata_bus_link_total{event=\"", name, "\"} ", value, "\n");
  });
  family("strata_bus_refused_total", "Region event bus: messages and writes refused, by reason", "counter");
  for (size_t i = 1; i < s.counters.refused_decode.size(); ++i) {
    put(out, "strata_bus_refused_total{reason=\"", schema::name(static_cast<schema::BusDecodeError>(i)), "\"} ",
        s.counters.refused_decode[i], "\n");
  }
  put(out, "strata_bus_refused_total{reason=\"clock_ahead\"} ", s.counters.refused_clock_ahead, "\n");
  put(out, "strata_bus_refused_total{reason=\"wrong_channel\"} ", s.counters.refused_wrong_channel, "\n");
  family("strata_bus_publish_latency_seconds", "Region event bus: world batch hand-over to stored ack", "histogram");
  uint64_t cumulative = 0;
  char bound[32];
  for (size_t i = 0; i < publish_latency_buckets_us.size(); ++i) {
    cumulative += s.publish_latency.counts[i];
    std::snprintf(bound, sizeof bound, "%g", static_cast<double>(publish_latency_buckets_us[i]) / 1e6);
    put(out, "strata_bus_publish_latency_seconds_bucket{le=\"", bound, "\"} ", cumulative, "\n");
  }
  std::snprintf(bound, sizeof bound, "%.6f", static_cast<double>(s.publish_latency.sum_us) / 1e6);
  put(out, "strata_bus_publish_latency_seconds_bucket{le=\"+Inf\"} ", s.publish_latency.count, "\n",
      "strata_bus_publish_latency_seconds_sum ", bound, "\n", "strata_bus_publish_latency_seconds_count ",
      s.publish_latency.count, "\n");
  family("strata_bus_connected", "Region event bus: 1 while connected", "gauge");
  put(out, "strata_bus_connected ", uint64_t{s.bus_state == BusState::connected ? 1U : 0U}, "\n");
  family("strata_bus_world_held", "Region event bus: own world batches not yet acknowledged", "gauge");
  put(out, "strata_bus_world_held ", s.world_held, "\n");
  family("strata_bus_consumer_lag", "Region event bus: a peer's last world batch sequence minus the one applied here",
         "gauge");
  for (const PeerStatus& p : s.peers) {
    put(out, "strata_bus_consumer_lag{peer=\"", uint64_t{sim::raw(p.region)}, "\"} ", p.lag, "\n");
  }
  family("strata_bus_peer_agreement", "Region event bus: 1 agree, -1 disagree (desync), 0 unknown", "gauge");
  for (const PeerStatus& p : s.peers) {
    const char* value = p.agreement == Agreement::agree ? "1" : p.agreement == Agreement::disagree ? "-1" : "0";
    put(out, "strata_bus_peer_agreement{peer=\"", uint64_t{sim::raw(p.region)}, "\"} ", value, "\n");
  }
  return out;
}

}  // namespace strata::server
