// server/region_report.h — what a region says about its bus and its peers: GET /api/regions (admin
// listener) and the strata_bus_* Prometheus families, both written from one RegionLinkStatus.
#pragma once

#include <string>

#include "server/region_link.h"

namespace strata::server {

// {"region":R,"tick":T,"map_hash":"<hex>","applied":[{"origin":O,"seq":S}],"own_acked_seq":S,
//  "world_held":N,"inbound_waiting":N,"bus":{"state":..,"counters":{..},"outbox":{..}},
//  "link":{..counters..,"refused_decode":{reason:n}},"publish_latency_us":{"count":n,"sum":s},
//  "peers":[{"region":O,"last_seq":S,"applied_seq":S,"reported_seq":S,"lag":N,"health_tick":T,
//            "map_hash":"<hex>","agreement":"agree|disagree|unknown"}]}
[[nodiscard]] std::string regions_json(const RegionLinkStatus& status);
[[nodiscard]] std::string regions_prometheus(const RegionLinkStatus& status);

}  // namespace strata::server
