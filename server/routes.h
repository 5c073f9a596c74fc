// server/routes.h: the node's HTTP routes and their JSON, reading the Status the node's threads
// publish (server/status.h): /healthz and /readyz on the public listener, /api/sessions and
// /api/world/status on the admin listener (refused off loopback without the admin credential),
// /metrics (the Prometheus families, the login's and the edge's counters) on the metrics listener.
// Every argument is held by reference: it must outlive the listener's threads.
#pragma once

#include <cstdint>

#include "server/http.h"
#include "server/login.h"
#include "server/metrics.h"
#include "server/status.h"

namespace strata::server {

void add_public_routes(HttpServer& http, Status& status);
// `admin_open`: the admin listener is on loopback (no credential needed).
void add_admin_routes(HttpServer& admin, const Login& login, bool admin_open, Status& status, const HttpServer& http,
                      uint32_t region);
void add_metrics_route(HttpServer& metrics_http, Metrics& metrics, const Login& login, Status& status,
                       const HttpServer& http, const HttpServer& admin);

}  // namespace strata::server
