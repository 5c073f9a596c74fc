// server/login_http.cpp — see login_http.h.
#include "server/login_http.h"

#include <sodium.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace strata::server {
namespace {

constexpr size_t secret_file_bytes_max = 4096;

std::string base64(std::span<const uint8_t> bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

const char* message(LoginReason reason) {
  switch (reason) {
    case LoginReason::malformed: return "the body must be a JSON object of strings: name, password, ticket, role";
    case LoginReason::bad_name: return "a name is 1 to 32 characters of A-Z a-z 0-9 _ -";
    case LoginReason::bad_role: return "the only role is observer";
    case LoginReason::missing_credential: return "this server needs a password (static) or a ticket (ticket)";
    case LoginReason::wrong_password: return "wrong name or password";
    case LoginReason::forged_ticket: return "the ticket is not valid";
    case LoginReason::expired_ticket: return "the ticket has expired";
    case LoginReason::ticket_too_long: return "the ticket's lifetime is longer than this server accepts";
    case LoginReason::replayed_ticket: return "the ticket was used already";
    case LoginReason::ticket_name_mismatch: return "the ticket is for another name";
    case LoginReason::observer_needs_admin: return "an observer needs the admin credential";
    case LoginReason::observer_admin_only: return "observers log in on the admin listener";
    case LoginReason::dev_not_loopback: return "open (dev) logins are served on loopback only";
    case LoginReason::rate_limited: return "too many login attempts from this address: retry later";
    case LoginReason::new_names_limited: return "too many new names from this address: retry later";
    case LoginReason::busy: return "the server is busy: retry later";
    case LoginReason::names_full: return "no more names can be registered";
    case LoginReason::store_error: return "the account store failed";
    case LoginReason::token_error: return "the connect token could not be made";
    case LoginReason::ok:
    case LoginReason::count: break;
  }
  return "";
}

}  // namespace

bool read_small_file(const std::string& path, size_t bytes_max, std::string& out) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  out.assign(bytes_max + 1, '\0');
  file.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(file.gcount()));
  return out.size() <= bytes_max;
}

bool configure_login(const ServerConfig& config, LoginConfig& login, std::string& error) {
  const AuthSettings& auth = config.auth;
  const auto mode = parse_auth_mode(auth.mode);
  if (!mode) {
    error = "auth.mode: expected dev, static or ticket";
    return false;
  }
  login.mode = *mode;
  login.token_ttl_s = config.connect_token_ttl_s;
  login.ticket_lifetime_max_s = auth.ticket_lifetime_max_s;
  login.attempts_per_address_per_s = auth.attempts_per_address_per_s;
  login.attempts_burst_per_address = auth.attempts_burst_per_address;
  login.dev_new_names_per_address_per_min = auth.dev_new_names_per_address_per_min;
  login.dev_names_max = auth.dev_names_max;
  login.verify_threads = auth.verify_threads;
  login.verify_queue_max = auth.verify_queue_max;
  login.admin_token = auth.admin_token;
  if (!auth.admin_token_file.empty()) {
    std::string text;
    if (!read_small_file(auth.admin_token_file, secret_file_bytes_max, text)) {
      error = "auth.admin_token_file: cannot read " + auth.admin_token_file;
      return false;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    login.admin_token = text;
  }
  if (!login.admin_token.empty() && login.admin_token.size() < admin_token_bytes_min) {
    error = "the admin token must have at least " + std::to_string(admin_token_bytes_min) + " characters";
    return false;
  }
  if (!auth.ticket_key_file.empty()) {
    std::string text;
    if (!read_small_file(auth.ticket_key_file, secret_file_bytes_max, text)) {
      error = "auth.ticket_key_file: cannot read " + auth.ticket_key_file;
      return false;
    }
    login.ticket_key = parse_ticket_key(text);
    if (!login.ticket_key) {
      error = "auth.ticket_key_file: expected 64 hex digits (strata-server --new-ticket-key makes one)";
      return false;
    }
  }
  if (login.mode == AuthMode::static_accounts) {
    std::string text;
    if (!read_small_file(auth.accounts_file, accounts_file_bytes_max, text)) {
      error = "auth.accounts_file: cannot read " + auth.accounts_file + " (or larger than " +
              std::to_string(accounts_file_bytes_max) + " bytes)";
      return false;
    }
    AccountsParse parsed = parse_accounts_file(text);
    if (!parsed.file) {
      error = "auth.accounts_file " + auth.accounts_file + ": " + parsed.error;
      return false;
    }
    login.accounts = std::make_shared<const AccountsFile>(std::move(*parsed.file));
  }
  return true;
}

HttpResponse login_response(const LoginResult& result, uint16_t tcp_port) {
  if (result.reason != LoginReason::ok) {
    return HttpResponse{
        login_status(result.reason),
        "application/json",
        std::string("{\"error\":\"") + name(result.reason) + "\",\"message\":\"" + message(result.reason) + "\"}\n",
        {}};
  }
  return HttpResponse{200,
                      "application/json",
                      "{\"player\":" + std::to_string(result.player) + ",\"token\":\"" + base64(result.token) +
                          "\",\"tcp_port\":" + std::to_string(tcp_port) + "}\n",
                      {}};
}

void add_login_route(HttpServer& http, Login& login, bool admin_listener, uint16_t tcp_port) {
  http.add_deferred_route(
      HttpMethod::post, "/api/login", [&login, admin_listener, tcp_port](const HttpRequest& request, HttpReply reply) {
        LoginRequest in;
        in.body = request.body;
        in.address = request.remote_address;
        in.authorization = request.header("Authorization");
        in.admin_listener = admin_listener;
        in.now_us = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count());
        login.submit(in, [reply = std::move(reply), tcp_port](LoginResult result) mutable {
          reply(login_response(result, tcp_port));
        });
      });
}

std::optional<HttpResponse> refuse_admin_request(const Login& login, bool admin_on_loopback,
                                                 const HttpRequest& request) {
  if (admin_on_loopback || login.admin_request_ok(request.header("Authorization"))) return std::nullopt;
  return HttpResponse{401, "application/json", "{\"error\":\"admin_credential\"}\n", {}};
}

std::string login_counters_json(const Login& login) {
  const auto counts = login.counters();
  std::string out = "{";
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    out += name(static_cast<LoginReason>(i));
    out += "\":";
    out += std::to_string(counts[i]);
  }
  return out + "}";
}

}  // namespace strata::server

namespace strata::server {

std::string login_metrics_text(const Login& login) {
  const auto counts = login.counters();
  std::string out =
      "# HELP strata_logins_total Logins answered, by outcome: ok, or the reason the login was refused.\n"
      "# TYPE strata_logins_total counter\n";
  for (size_t i = 0; i < counts.size(); ++i) {
    out += "strata_logins_total{reason=\"";
    out += name(static_cast<LoginReason>(i));
    out += "\"} ";
    out += std::to_string(counts[i]);
    out += '\n';
  }
  return out;
}

}  // namespace strata::server
