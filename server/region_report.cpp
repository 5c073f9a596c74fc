// server/region_report.cpp — see region_report.h.
#include "server/region_report.h"

#include <cstdio>

namespace strata::server {

namespace {

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::string vector_json(const std::vector<schema::BusAppliedSeq>& applied) {
  std::string out = "[";
  for (const schema::BusAppliedSeq& entry : applied) {
    if (out.size() > 1) out += ',';
    out += "{\"origin\":" + std::to_string(sim::raw(entry.origin)) + ",\"seq\":" + std::to_string(entry.seq) + "}";
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

template <class ForEach, class Counters>
std::string object_json(ForEach for_each, const Counters& counters) {
  std::string out = "{";
  for_each(counters, [&out](const char* name, const char*, uint64_t value) {
    if (out.size() > 1) out += ',';
    out += "\"" + std::string(name) + "\":" + std::to_string(value);
  });
  return out + "}";
}

}  // namespace

const char* name(BusState state) {
  switch (state) {
    case BusState::connecting: return "connecting";
    case BusState::connected: return "connected";
    case BusState::reconnecting: return "reconnecting";
    case BusState::closed: return "closed";
  }
  return "unknown";
}

std::string regions_json(const RegionLinkStatus& s) {
  std::string out = "{\"region\":" + std::to_string(sim::raw(s.region)) + ",\"tick\":" + std::to_string(s.tick) +
                    ",\"map_hash\":\"" + hex(s.map_hash) + "\",\"applied\":" + vector_json(s.applied) +
                    ",\"own_acked_seq\":" + std::to_string(s.own_acked_seq) +
                    ",\"world_held\":" + std::to_string(s.world_held) +
                    ",\"inbound_waiting\":" + std::to_string(s.inbound_waiting) + ",\"bus\":{\"state\":\"" +
                    name(s.bus_state) + "\",\"counters\":" + object_json(for_each_bus_counter<>, s.bus) +
                    ",\"outbox\":" + object_json(for_each_outbox_counter<>, s.outbox) + "},\"link\":";
  std::string link = object_json(for_each_link_counter<>, s.counters);
  link.pop_back();
  link += ",\"refused_decode\":{";
  for (size_t i = 1; i < s.counters.refused_decode.size(); ++i) {
    if (i > 1) link += ',';
    link += "\"" + std::string(schema::name(static_cast<schema::BusDecodeError>(i))) +
            "\":" + std::to_string(s.counters.refused_decode[i]);
  }
  out += link + "}}";
  out += ",\"publish_latency_us\":{\"count\":" + std::to_string(s.publish_latency.count) +
         ",\"sum\":" + std::to_string(s.publish_latency.sum_us) + "},\"peers\":[";
  for (size_t i = 0; i < s.peers.size(); ++i) {
    const PeerStatus& p = s.peers[i];
    if (i > 0) out += ',';
    out += "{\"region\":" + std::to_string(sim::raw(p.region)) + ",\"last_seq\":" + std::to_string(p.last_seq) +
           ",\"applied_seq\":" + std::to_string(p.applied_seq) + ",\"reported_seq\":" + std::to_string(p.reported_seq) +
           ",\"lag\":" + std::to_string(p.lag) + ",\"health_tick\":" + std::to_string(p.health_tick) +
           ",\"map_hash\":\"" + hex(p.health_map_hash) + "\",\"applied\":" + vector_json(p.health_applied) +
           ",\"agreement\":\"" + name(p.agreement) + "\"}";
  }
  return out + "]}";
}

std::string regions_prometheus(const RegionLinkStatus& s) {
  std::string out;
  auto family = [&out](const std::string& name, const char* help, const char* type) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  family("strata_bus_events_total", "Region event bus: the bus port's events", "counter");
  for_each_bus_counter(s.bus, [&out](const char* name, const char*, uint64_t value) {
    out += "strata_bus_events_total{event=\"" + std::string(name) + "\"} " + std::to_string(value) + "\n";
  });
  family("strata_bus_outbox_total", "Region event bus: world batches and samples through the outbox", "counter");
  for_each_outbox_counter(s.outbox, [&out](const char* name, const char*, uint64_t value) {
    out += "strata_bus_outbox_total{event=\"" + std::string(name) + "\"} " + std::to_string(value) + "\n";
  });
  family("strata_bus_link_total", "Region event bus: published, consumed, duplicate and desync events", "counter");
  for_each_link_counter(s.counters, [&out](const char* name, const char*, uint64_t value) {
    out += "strata_bus_link_total{event=\"" + std::string(name) + "\"} " + std::to_string(value) + "\n";
  });
  family("strata_bus_refused_total", "Region event bus: messages refused by the decoder, by reason", "counter");
  for (size_t i = 1; i < s.counters.refused_decode.size(); ++i) {
    out += "strata_bus_refused_total{reason=\"" + std::string(schema::name(static_cast<schema::BusDecodeError>(i))) +
           "\"} " + std::to_string(s.counters.refused_decode[i]) + "\n";
  }
  out += "strata_bus_refused_total{reason=\"clock_ahead\"} " + std::to_string(s.counters.refused_clock_ahead) + "\n";
  out += "strata_bus_refused_total{reason=\"wrong_channel\"} " + std::to_string(s.counters.refused_wrong_channel) + "\n";
  family("strata_bus_publish_latency_seconds", "Region event bus: world batch hand-over to stored ack", "histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < publish_latency_buckets_us.size(); ++i) {
    cumulative += s.publish_latency.counts[i];
    out += "strata_bus_publish_latency_seconds_bucket{le=\"" +
           std::to_string(static_cast<double>(publish_latency_buckets_us[i]) / 1e6) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += "strata_bus_publish_latency_seconds_bucket{le=\"+Inf\"} " + std::to_string(s.publish_latency.count) + "\n";
  out += "strata_bus_publish_latency_seconds_sum " + std::to_string(static_cast<double>(s.publish_latency.sum_us) / 1e6) +
         "\n";
  out += "strata_bus_publish_latency_seconds_count " + std::to_string(s.publish_latency.count) + "\n";
  family("strata_bus_connected", "Region event bus: 1 while connected", "gauge");
  out += "strata_bus_connected " + std::string(s.bus_state == BusState::connected ? "1" : "0") + "\n";
  family("strata_bus_world_held", "Region event bus: own world batches not yet acknowledged", "gauge");
  out += "strata_bus_world_held " + std::to_string(s.world_held) + "\n";
  family("strata_bus_consumer_lag", "Region event bus: a peer's last world batch sequence minus the one applied here",
         "gauge");
  for (const PeerStatus& p : s.peers) {
    out += "strata_bus_consumer_lag{peer=\"" + std::to_string(sim::raw(p.region)) + "\"} " + std::to_string(p.lag) + "\n";
  }
  family("strata_bus_peer_agreement", "Region event bus: 1 agree, -1 disagree (desync), 0 unknown", "gauge");
  for (const PeerStatus& p : s.peers) {
    const int value = p.agreement == Agreement::agree ? 1 : p.agreement == Agreement::disagree ? -1 : 0;
    out += "strata_bus_peer_agreement{peer=\"" + std::to_string(sim::raw(p.region)) + "\"} " + std::to_string(value) +
           "\n";
  }
  return out;
}

}  // namespace strata::server
