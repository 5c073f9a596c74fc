// net/sdk/login_client.h — the client side of POST /api/login: a player name and its credential
// (a password for a server in static mode, a ticket from the game's backend in ticket mode, nothing
// in dev mode) in, the player id and the connect token out. Observers log in on the server's admin
// listener with the admin token. Blocking HTTP/1.1 exchanges with a bounded response (64 KiB) and a
// bounded time (LoginClient::timeout_ms): a server that accepts and never answers cannot hang the
// caller. A refusal names the server's reason code and HTTP status in `error` (e.g. "401 wrong_password").
// LoginClient keeps its connection open between logins (keep-alive): a bot swarm logging in
// thousands of players through one connection each would exhaust the ephemeral ports (every closed
// connection sits in TIME_WAIT for a minute, and connect() then searches the port range).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"

namespace strata::sdk {

struct LoginReply {
  uint32_t player = 0;
  std::vector<uint8_t> token;
  // The server's TCP endpoint for clients behind a UDP block: the login host's address with the
  // "tcp_port" of the reply (port 0 when the server did not say).
  uint16_t tcp_port = 0;
  net::Address server_tcp;
};

struct LoginCredentials {
  std::string password;     // static mode
  std::string ticket;       // ticket mode (then the name may be empty: the ticket names the player)
  std::string admin_token;  // observers: sent as "Authorization: Bearer <admin_token>"
  bool observer = false;
};

// Largest login response read (headers and body): a bound on what a hostile server can make us buffer.
inline constexpr size_t login_response_bytes_max = size_t{64} * 1024;
// A login that has not completed in this long fails (connect, request and response together).
inline constexpr uint32_t login_timeout_ms_default = 10'000;

// Where an HTTP response read so far stands (the reply framing, separate from I/O so that it can
// be fuzzed: tools/fuzz sdk_login_reply).
struct ResponseFrame {
  bool complete = false;  // headers and Content-Length bytes of body are in
  bool failed = false;    // malformed or too long: `error` says why
  bool close = false;     // "Connection: close"
  size_t headers_bytes = 0;
  size_t body_bytes = 0;
  std::string error;
};
[[nodiscard]] ResponseFrame frame_response(std::string_view data);
// Reads a complete response (`head` its headers, `body` its body): a reply that is not a 200 with
// a player and a decodable token is refused with `error`. `peer_v4` is the server's IPv4 address
// (the reply's "tcp_port" is on it), if any.
[[nodiscard]] std::optional<LoginReply> parse_login_reply(std::string_view head, std::string_view body,
                                                          const std::optional<std::array<uint8_t, 4>>& peer_v4,
                                                          std::string& error);

// Logins over one kept-alive HTTP connection, reopened when the server closes it (it closes
// after a number of requests, or on a malformed one). Not thread safe: one per thread.
class LoginClient {
 public:
  LoginClient(std::string host, uint16_t port, uint32_t timeout_ms = login_timeout_ms_default);
  ~LoginClient();
  LoginClient(const LoginClient&) = delete;
  LoginClient& operator=(const LoginClient&) = delete;

  // observer: log in as an observer of the region (receives its input stream, does not play).
  [[nodiscard]] std::optional<LoginReply> login(const std::string& name, std::string& error, bool observer = false);
  [[nodiscard]] std::optional<LoginReply> login(const std::string& name, std::string& error,
                                                const LoginCredentials& credentials);
  // The HTTP status of the last answer (0: none, e.g. the connection failed).
  [[nodiscard]] uint16_t last_status() const { return last_status_; }
  [[nodiscard]] uint64_t connections_opened() const { return connections_opened_; }
  // For the next logins (a caller with a deadline of its own shortens it).
  void set_timeout_ms(uint32_t timeout_ms) { timeout_ms_ = timeout_ms; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t connections_opened_ = 0;
  uint16_t last_status_ = 0;
  uint32_t timeout_ms_ = login_timeout_ms_default;
};

// One login on a connection of its own.
[[nodiscard]] std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                                   std::string& error, bool observer = false,
                                                   uint32_t timeout_ms = login_timeout_ms_default);
[[nodiscard]] std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                                   std::string& error, const LoginCredentials& credentials,
                                                   uint32_t timeout_ms = login_timeout_ms_default);

}  // namespace strata::sdk
