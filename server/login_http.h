// server/login_http.h — POST /api/login on the public and the admin listeners, the login's counters
// as JSON, and the login's wiring from the configuration (secrets read from their files, the
// accounts file parsed). The answers:
//   200 {"player":N,"token":"<base64>","tcp_port":P}
//   4xx/5xx {"error":"<reason code>","message":"<fixed text>"} with the status of login_status():
//   400 malformed/bad_name/bad_role/missing_credential, 401 wrong_password/*_ticket,
//   403 observer_needs_admin/observer_admin_only/dev_not_loopback, 429 rate_limited/new_names_limited
//   (with Retry-After semantics left to the client: retry after a second), 503 busy/names_full,
//   500 store_error/token_error. Nothing of the request is echoed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "server/config.h"
#include "server/http.h"
#include "server/login.h"

namespace strata::server {

// Fills the mode, secrets and limits of `login` from `config` (reads auth.accounts_file,
// auth.ticket_key_file, auth.admin_token_file). False with the reason in `error`.
[[nodiscard]] bool configure_login(const ServerConfig& config, LoginConfig& login, std::string& error);

// Adds POST /api/login. admin_listener: observers may log in here (with the admin credential).
void add_login_route(HttpServer& http, Login& login, bool admin_listener, uint16_t tcp_port);

// The admin listener's guard for its other routes: nullopt when the request may be served (the
// listener is on loopback, or the request carries the admin token), else the 401 answer.
[[nodiscard]] std::optional<HttpResponse> refuse_admin_request(const Login& login, bool admin_on_loopback,
                                                               const HttpRequest& request);

// {"ok":N,"malformed":N,...}: every reason's count.
[[nodiscard]] std::string login_counters_json(const Login& login);

// The same as a Prometheus family (text exposition), strata_logins_total{reason="..."}.
[[nodiscard]] std::string login_metrics_text(const Login& login);

// The JSON answer to one login (exposed for tests).
[[nodiscard]] HttpResponse login_response(const LoginResult& result, uint16_t tcp_port);

// Reads a whole (small) file; false when it cannot be read or is larger than bytes_max.
[[nodiscard]] bool read_small_file(const std::string& path, size_t bytes_max, std::string& out);

}  // namespace strata::server
