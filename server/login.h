// server/login.h — the login behind POST /api/login: a body {"name", "password" | "ticket", "role"}
// becomes a persistent player id and a connect token for this region's game server, or a refusal
// with a reason code, an HTTP status and a counter.
//
// Modes (auth.mode):
//   dev     open: any valid name logs in. Only when every listener is on loopback (the server refuses
//           to start otherwise, and each request's peer must be loopback too). New names are capped
//           per address per minute and in total, so made-up names cannot fill the id space.
//   static  an accounts file: name -> crypto_pwhash_str hash (server/accounts.h). Verifying costs
//           ~64 MiB and ~0.1 s on purpose, so it runs on a small pool of verifier threads with a
//           bounded queue, at most login_verifications_per_address_max of it per peer address (a
//           flood is answered 429/503; it never stalls the HTTP thread or takes more than
//           auth.verify_threads cores).
//   ticket  a ticket signed by the game's backend (server/ticket.h): forged, expired, too long-lived
//           and replayed tickets are refused.
// Observers (the whole world and every input) need the admin credential (auth.admin_token, sent as
// "Authorization: Bearer <token>", compared in constant time) and log in on the admin listener only.
// An observer named N is account "@N": never a player's name, never a player's id.
//
// Ids: a name's id comes from the AccountRegistry (storage/), assigned only when a login succeeds,
// kept across restarts. Every attempt, refused or not, first passes a per-address token bucket.
//
// A second login of a player who is online succeeds: the newer login wins (a fresh token is minted;
// the netchannel lets the valid newer connection take over and the node kicks the older session,
// RegionalNode::handle_events). A player who lost a device or a connection can always come back;
// someone holding the same credentials could also kick them, which is what a password change is for.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/rate_limit.h"
#include "net/token.h"
#include "server/accounts.h"
#include "server/limits.h"
#include "server/ticket.h"
#include "storage/account_registry.h"

namespace strata::server {

enum class AuthMode : uint8_t { dev, static_accounts, ticket };
[[nodiscard]] std::optional<AuthMode> parse_auth_mode(std::string_view text);

// Why a login was refused (ok: it was not). Each has an HTTP status (login_status) and a counter.
enum class LoginReason : uint8_t {
  ok,
  malformed,             // 400: the body is not {"name":"...",...} (login_body.h)
  bad_name,              // 400: not 1..32 of [A-Za-z0-9_-]
  bad_role,              // 400: a role other than "observer"
  missing_credential,    // 400: no password (static) or no ticket (ticket)
  wrong_password,        // 401: unknown name or wrong password (the same answer for both)
  forged_ticket,         // 401: undecodable ticket or wrong MAC
  expired_ticket,        // 401
  ticket_too_long,       // 401: expiry further ahead than auth.ticket_lifetime_max_s
  replayed_ticket,       // 401: this ticket was used already
  ticket_name_mismatch,  // 401: the body names someone else than the ticket
  observer_needs_admin,  // 403: no or wrong admin credential
  observer_admin_only,   // 403: an observer login on the public listener
  dev_not_loopback,      // 403: dev mode and the peer is not on loopback
  rate_limited,          // 429: too many attempts from this address
  new_names_limited,     // 429: dev mode, too many new names from this address this minute
  busy,                  // 503: the password verifiers' queue (or the ticket replay set) is full
  names_full,            // 503: dev mode's cap on names, or every player id, is taken
  store_error,           // 500: the account registry failed
  token_error,           // 500: the connect token could not be minted
  count
};
inline constexpr size_t login_reason_count = static_cast<size_t>(LoginReason::count);
[[nodiscard]] const char* name(LoginReason reason);
[[nodiscard]] uint16_t login_status(LoginReason reason);

struct LoginConfig {
  uint64_t protocol_id = 0;
  net::Key private_key{};                      // shared with the netchannel server
  std::vector<net::Address> server_addresses;  // where the token may be used
  uint32_t token_ttl_s = 30;
  uint32_t connection_timeout_s = 10;
  AuthMode mode = AuthMode::dev;
  std::shared_ptr<const AccountsFile> accounts;  // static mode
  std::optional<TicketKey> ticket_key;           // ticket mode
  uint32_t ticket_lifetime_max_s = 300;
  std::string admin_token;  // empty: no observer can log in
  // Per-address token bucket over every attempt (refill per second, capacity).
  uint32_t attempts_per_address_per_s = 20;
  uint32_t attempts_burst_per_address = 40;
  // Dev mode: new names per address per minute, and names in the registry at most.
  uint32_t dev_new_names_per_address_per_min = 1000;
  uint64_t dev_names_max = 100'000;
  // Password verifiers (static mode): threads, and requests waiting for one at most.
  uint32_t verify_threads = 1;
  uint32_t verify_queue_max = limits::verify_queue_default;
};

// The login's bounds (server/limits.h): addresses tracked, the admin token's length, verifications
// per peer address.
using limits::admin_token_bytes_min;
using limits::login_addresses_max;
using limits::login_verifications_per_address_max;

struct LoginRequest {
  std::string_view body;
  std::string_view address;        // the peer's IP address, as text
  std::string_view authorization;  // the Authorization header ("Bearer <admin token>"), may be empty
  bool admin_listener = false;     // arrived on the admin listener
  uint64_t now_us = 0;             // unix time
};

struct LoginResult {
  LoginReason reason = LoginReason::ok;
  uint32_t player = 0;
  bool observer = false;
  net::ConnectToken token{};
};

class Login {
 public:
  // `random` draws the connect tokens' keys and nonces, from the threads that finish logins (the
  // caller of login(), the verifier threads of submit()): OsRandom in production; a DeterministicRandom
  // only when logins run on one thread (login(), not submit()).
  Login(LoginConfig config, storage::AccountRegistry& registry, net::Random& random);
  ~Login();  // stops the verifiers
  Login(const Login&) = delete;
  Login& operator=(const Login&) = delete;

  // An observer does not play: it receives the region's whole input stream (token user data byte 0
  // is observer_flag).
  static constexpr uint8_t observer_flag = 1;

  // The whole login on the caller's thread (password verification included).
  [[nodiscard]] LoginResult login(const LoginRequest& request);
  // The same, but a password verification runs on a verifier thread: `done` is called exactly once,
  // on this thread or on a verifier thread (with busy when the queue is full or the login stops).
  void submit(const LoginRequest& request, std::function<void(LoginResult)> done);
  // Stops the verifiers; requests still queued are answered busy. Idempotent.
  void stop();

  [[nodiscard]] std::array<uint64_t, login_reason_count> counters() const;
  [[nodiscard]] const LoginConfig& config() const { return config_; }
  // True when `authorization` is "Bearer <the admin token>" (constant-time comparison).
  [[nodiscard]] bool admin_request_ok(std::string_view authorization) const;

 private:
  struct Pending;  // a login waiting for its password verification
  using Bucket = net::TokenBucket;
  std::optional<LoginResult> prepare(const LoginRequest& request, Pending& pending);
  LoginResult verify_and_finish(const Pending& pending);
  LoginResult finish(const std::string& account, bool observer, const std::string& address, uint64_t now_us);
  LoginResult count(LoginResult result);
  LoginResult refuse(LoginReason reason) { return count(LoginResult{reason, 0, false, {}}); }
  bool take_token(std::map<std::string, Bucket, std::less<>>& buckets, std::string_view address, double per_s,
                  double capacity, uint64_t now_us);
  void verifier_loop();

  LoginConfig config_;
  storage::AccountRegistry& registry_;
  net::Random& random_;
  std::optional<TicketVerifier> tickets_;
  std::array<std::atomic<uint64_t>, login_reason_count> counters_{};

  std::mutex limits_mutex_;  // the buckets (held briefly: the HTTP thread takes it on every attempt)
  std::mutex names_mutex_;   // new-name decisions (find, check caps, create: a registry write)
  std::map<std::string, Bucket, std::less<>> attempts_;
  std::map<std::string, Bucket, std::less<>> new_names_;

  std::mutex queue_mutex_;
  std::condition_variable queue_wake_;
  std::deque<std::unique_ptr<Pending>> queue_;
  std::map<std::string, uint32_t, std::less<>> verifying_;  // per address: queued or running
  bool stopping_ = false;
  std::vector<std::thread> verifiers_;
};

}  // namespace strata::server
