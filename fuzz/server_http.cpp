// fuzz/server_http.cpp — any bytes as what a client sends on one HTTP connection: the server's own
// parse+route step (Beast's request parser under the default limits, then the route table), repeated
// over pipelined requests as a kept-alive connection would. Every outcome is an answer with one
// counted reason or a wait for more bytes; never a crash, an assertion or unbounded work.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/http.h"

namespace {

using strata::server::HttpCounters;
using strata::server::HttpExchange;
using strata::server::HttpMethod;
using strata::server::HttpRequest;
using strata::server::HttpResponse;
using strata::server::HttpRoutes;

// Requests one connection may pipeline here; each consumes at least one byte, so this only bounds work.
constexpr int requests_max = 64;

HttpRoutes make_routes() {
  HttpRoutes routes;
  routes.add(HttpMethod::get, "/health", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok", ""}; });
  routes.add(HttpMethod::post, "/echo", [](const HttpRequest& request) {
    return HttpResponse{200, "text/plain", request.query + std::string(request.header("content-type")) + request.body,
                        ""};
  });
  routes.add(HttpMethod::get, "/throw", [](const HttpRequest&) -> HttpResponse { throw 1; });
  return routes;
}

uint64_t answered(const HttpCounters& c) {
  return c.requests_handled + c.malformed + c.too_large + c.not_found + c.method_not_allowed + c.handler_errors;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const HttpRoutes routes = make_routes();
  static const auto config = strata::server::default_http_config();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  HttpCounters counters;
  for (int i = 0; i < requests_max; ++i) {
    const uint64_t before = answered(counters);
    const HttpExchange exchange = strata::server::parse_and_route(bytes, config, routes, counters);
    if (exchange.outcome == HttpExchange::Outcome::incomplete) {
      if (answered(counters) != before) std::abort();
      break;
    }
    if (answered(counters) != before + 1) std::abort();
    if (exchange.response.status < 200 || exchange.response.status > 599) std::abort();
    if (exchange.consumed > bytes.size()) std::abort();
    if (!exchange.keep_alive || exchange.consumed == 0) break;
    bytes.remove_prefix(exchange.consumed);
  }
  return 0;
}
