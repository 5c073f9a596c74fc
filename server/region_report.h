// server/region_report.h — what a region says about its bus and its peers: GET /api/regions (admin
// listener) and the strata_bus_* Prometheus families, both written from one RegionLinkStatus.
#pragma once

#include <string>

#include "server/region_link.h"

namespace strata::server {

// map_hash: the health points' hash, the map's cell sum (sim::map_cell_sum), not sim::map_hash.
// {"region":R,"tick":T,"map_hash":"<hex>","applied":[{"origin":O,"seq":S}],"own_acked_seq":S,
//  "world_held":N,"inbound_waiting":N,"bus":{"state":..,"counters":{..},"outbox":{..}},
//  "link":{..counters..,"refused_decode":{reason:n}},"map_history":{"ticks_recorded":n,
//  "ticks_trimmed_for_size":n,"restarts":n,"entries":n,"entries_high":n,"sum_mismatches":n},
//  "publish_latency_us":{"count":n,"sum":s},
//  "peers":[{"region":O,"last_seq":S,"applied_seq":S,"reported_seq":S,"lag":N,"health_tick":T,
//            "map_hash":"<hex>","agreement":"agree|disagree|unknown"}]}
[[nodiscard]] std::string regions_json(const RegionLinkStatus& status);
[[nodiscard]] std::string regions_prometheus(const RegionLinkStatus& status);

}  // namespace strata::server
