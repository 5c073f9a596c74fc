// server/login.cpp — see login.h. The order of checks is the order of cost: the per-address bucket
// (a map lookup), the body parser (bounded, one pass), the mode's credential (a ticket's MAC, or a
// password hash on a verifier thread), then the registry (a RocksDB write only for a new name).
#include "server/login.h"

#include <sodium.h>

#include <algorithm>

#include "server/config.h"
#include "server/login_body.h"

namespace strata::server {

struct Login::Pending {
  std::string name;
  std::string password;
  std::string address;
  uint64_t now_us = 0;
  const std::string* hash = nullptr;  // null: an unknown name (verified against a dummy hash all the same)
  std::function<void(LoginResult)> done;
};

namespace {

constexpr double seconds_per_minute = 60.0;

// Verifying an unknown name against this costs what a real verification costs, so the answer's
// timing does not tell which names have accounts.
const std::string& dummy_hash() {
  static const std::string hash = hash_password("not a password: unknown names are verified against this");
  return hash;
}

}  // namespace

std::optional<AuthMode> parse_auth_mode(std::string_view text) {
  if (text == "dev") return AuthMode::dev;
  if (text == "static") return AuthMode::static_accounts;
  if (text == "ticket") return AuthMode::ticket;
  return std::nullopt;
}

const char* name(LoginReason reason) {
  switch (reason) {
    case LoginReason::ok: return "ok";
    case LoginReason::malformed: return "malformed";
    case LoginReason::bad_name: return "bad_name";
    case LoginReason::bad_role: return "bad_role";
    case LoginReason::missing_credential: return "missing_credential";
    case LoginReason::wrong_password: return "wrong_password";
    case LoginReason::forged_ticket: return "forged_ticket";
    case LoginReason::expired_ticket: return "expired_ticket";
    case LoginReason::ticket_too_long: return "ticket_too_long";
    case LoginReason::replayed_ticket: return "replayed_ticket";
    case LoginReason::ticket_name_mismatch: return "ticket_name_mismatch";
    case LoginReason::observer_needs_admin: return "observer_needs_admin";
    case LoginReason::observer_admin_only: return "observer_admin_only";
    case LoginReason::dev_not_loopback: return "dev_not_loopback";
    case LoginReason::rate_limited: return "rate_limited";
    case LoginReason::new_names_limited: return "new_names_limited";
    case LoginReason::busy: return "busy";
    case LoginReason::names_full: return "names_full";
    case LoginReason::store_error: return "store_error";
    case LoginReason::token_error: return "token_error";
    case LoginReason::count: break;
  }
  return "unknown";
}

uint16_t login_status(LoginReason reason) {
  switch (reason) {
    case LoginReason::ok: return 200;
    case LoginReason::malformed:
    case LoginReason::bad_name:
    case LoginReason::bad_role:
    case LoginReason::missing_credential: return 400;
    case LoginReason::wrong_password:
    case LoginReason::forged_ticket:
    case LoginReason::expired_ticket:
    case LoginReason::ticket_too_long:
    case LoginReason::replayed_ticket:
    case LoginReason::ticket_name_mismatch: return 401;
    case LoginReason::observer_needs_admin:
    case LoginReason::observer_admin_only:
    case LoginReason::dev_not_loopback: return 403;
    case LoginReason::rate_limited:
    case LoginReason::new_names_limited: return 429;
    case LoginReason::busy:
    case LoginReason::names_full: return 503;
    case LoginReason::store_error:
    case LoginReason::token_error:
    case LoginReason::count: break;
  }
  return 500;
}

Login::Login(LoginConfig config, storage::AccountRegistry& registry, net::Random& random)
    : config_(std::move(config)), registry_(registry), random_(random) {
  if (config_.ticket_key) tickets_.emplace(*config_.ticket_key, config_.ticket_lifetime_max_s);
  if (config_.mode == AuthMode::static_accounts) {
    (void)dummy_hash();  // made once here, not under the first login
    for (uint32_t i = 0; i < config_.verify_threads; ++i) verifiers_.emplace_back([this] { verifier_loop(); });
  }
}

Login::~Login() { stop(); }

void Login::stop() {
  std::deque<std::unique_ptr<Pending>> left;
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
    left.swap(queue_);
  }
  queue_wake_.notify_all();
  for (std::thread& thread : verifiers_) {
    if (thread.joinable()) thread.join();
  }
  for (auto& pending : left) pending->done(refuse(LoginReason::busy));
}

LoginResult Login::count(LoginResult result) {
  counters_[static_cast<size_t>(result.reason)].fetch_add(1, std::memory_order_relaxed);
  return result;
}

std::array<uint64_t, login_reason_count> Login::counters() const {
  std::array<uint64_t, login_reason_count> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = counters_[i].load(std::memory_order_relaxed);
  return out;
}

bool Login::take_token(std::map<std::string, Bucket, std::less<>>& buckets, std::string_view address, double per_s,
                       double capacity, uint64_t now_us) {
  auto it = buckets.find(address);
  if (it == buckets.end()) {
    if (buckets.size() >= login_addresses_max) {
      // A full bucket is the same as none: forget those, keep the active ones.
      for (auto entry = buckets.begin(); entry != buckets.end();) {
        (void)entry->second.take(0, per_s, capacity, now_us);  // refills only
        entry = entry->second.tokens >= capacity ? buckets.erase(entry) : std::next(entry);
      }
      if (buckets.size() >= login_addresses_max) return false;
    }
    it = buckets.emplace(std::string(address), Bucket{capacity, now_us}).first;
  }
  return it->second.take(1.0, per_s, capacity, now_us);
}

bool Login::admin_request_ok(std::string_view authorization) const {
  constexpr std::string_view scheme = "Bearer ";
  if (config_.admin_token.size() < admin_token_bytes_min || authorization.size() <= scheme.size() ||
      authorization.substr(0, scheme.size()) != scheme) {
    return false;
  }
  const std::string_view offered = authorization.substr(scheme.size());
  // Hash both sides to a fixed size, then compare in constant time: neither the length nor the
  // first differing byte of the real token shows in the timing.
  std::array<uint8_t, crypto_generichash_BYTES> a{}, b{};
  crypto_generichash(a.data(), a.size(), reinterpret_cast<const uint8_t*>(offered.data()), offered.size(), nullptr, 0);
  crypto_generichash(b.data(), b.size(), reinterpret_cast<const uint8_t*>(config_.admin_token.data()),
                     config_.admin_token.size(), nullptr, 0);
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The cheap part of a login: a result when it is decided here, nullopt when `pending` needs a
// password verification.
std::optional<LoginResult> Login::prepare(const LoginRequest& request, Pending& pending) {
  {
    std::lock_guard lock(limits_mutex_);
    if (!take_token(attempts_, request.address, config_.attempts_per_address_per_s, config_.attempts_burst_per_address,
                    request.now_us)) {
      return refuse(LoginReason::rate_limited);
    }
  }
  LoginBodyResult parsed = parse_login_body(request.body);
  if (!parsed.body) return refuse(LoginReason::malformed);
  LoginBody& body = *parsed.body;
  const std::string address(request.address);
  if (body.role) {
    if (*body.role != "observer") return refuse(LoginReason::bad_role);
    if (!request.admin_listener) return refuse(LoginReason::observer_admin_only);
    if (!admin_request_ok(request.authorization)) return refuse(LoginReason::observer_needs_admin);
    if (!body.name || !valid_login_name(*body.name)) return refuse(LoginReason::bad_name);
    return finish("@" + *body.name, true, address, request.now_us);
  }
  switch (config_.mode) {
    case AuthMode::dev:
      if (!is_loopback(request.address)) return refuse(LoginReason::dev_not_loopback);
      if (!body.name || !valid_login_name(*body.name)) return refuse(LoginReason::bad_name);
      return finish(*body.name, false, address, request.now_us);
    case AuthMode::static_accounts: {
      if (!body.name || !valid_login_name(*body.name)) return refuse(LoginReason::bad_name);
      if (!body.password) return refuse(LoginReason::missing_credential);
      if (body.password->size() > password_bytes_max) return refuse(LoginReason::wrong_password);
      pending.hash = nullptr;
      if (config_.accounts) {
        const auto it = config_.accounts->hashes.find(*body.name);
        if (it != config_.accounts->hashes.end()) pending.hash = &it->second;
      }
      pending.name = std::move(*body.name);
      pending.password = std::move(*body.password);
      pending.address = address;
      pending.now_us = request.now_us;
      return std::nullopt;
    }
    case AuthMode::ticket: {
      if (!body.ticket) return refuse(LoginReason::missing_credential);
      if (!tickets_) return refuse(LoginReason::forged_ticket);
      if (body.name && !valid_login_name(*body.name)) return refuse(LoginReason::bad_name);
      TicketCheck check = tickets_->verify(*body.ticket, request.now_us / 1'000'000);
      switch (check.verdict) {
        case TicketVerdict::ok: break;
        case TicketVerdict::forged: return refuse(LoginReason::forged_ticket);
        case TicketVerdict::expired: return refuse(LoginReason::expired_ticket);
        case TicketVerdict::too_long: return refuse(LoginReason::ticket_too_long);
        case TicketVerdict::replayed: return refuse(LoginReason::replayed_ticket);
        case TicketVerdict::busy: return refuse(LoginReason::busy);
      }
      if (body.name && *body.name != check.name) return refuse(LoginReason::ticket_name_mismatch);
      return finish(check.name, false, address, request.now_us);
    }
  }
  return refuse(LoginReason::malformed);
}

LoginResult Login::verify_and_finish(const Pending& pending) {
  const bool known = pending.hash != nullptr;
  const bool match = verify_password(known ? *pending.hash : dummy_hash(), pending.password);
  if (!known || !match) return refuse(LoginReason::wrong_password);
  return finish(pending.name, false, pending.address, pending.now_us);
}

// The credential is good: the account's id (a new one only now), then the connect token.
LoginResult Login::finish(const std::string& account, bool observer, const std::string& address, uint64_t now_us) {
  storage::Binding binding;
  {
    std::lock_guard names_lock(names_mutex_);  // find, check the caps, create: one decision at a time
    binding = registry_.bind(account, false);
    if (binding.status == storage::Binding::Status::not_found) {
      if (config_.mode == AuthMode::dev && !observer) {
        if (registry_.size() >= config_.dev_names_max) return refuse(LoginReason::names_full);
        const double per_min = config_.dev_new_names_per_address_per_min;
        std::lock_guard limits_lock(limits_mutex_);
        if (!take_token(new_names_, address, per_min / seconds_per_minute, per_min, now_us))
          return refuse(LoginReason::new_names_limited);
      }
      binding = registry_.bind(account, true);
    }
  }
  switch (binding.status) {
    case storage::Binding::Status::existing:
    case storage::Binding::Status::created: break;
    case storage::Binding::Status::full: return refuse(LoginReason::names_full);
    case storage::Binding::Status::not_found:
    case storage::Binding::Status::store_error: return refuse(LoginReason::store_error);
  }
  net::ConnectTokenParams params;
  params.protocol_id = config_.protocol_id;
  params.client_id = net::ClientId{binding.player};
  params.expire_seconds = config_.token_ttl_s;
  params.timeout_seconds = config_.connection_timeout_s;
  params.server_addresses = config_.server_addresses;
  params.user_data[0] = observer ? observer_flag : 0;
  auto token = net::mint_connect_token(params, config_.private_key, now_us / 1'000'000, random_);
  if (!token) return refuse(LoginReason::token_error);
  return count(LoginResult{LoginReason::ok, binding.player, observer, *token});
}

LoginResult Login::login(const LoginRequest& request) {
  Pending pending;
  if (auto decided = prepare(request, pending)) return *decided;
  return verify_and_finish(pending);
}

void Login::submit(const LoginRequest& request, std::function<void(LoginResult)> done) {
  auto pending = std::make_unique<Pending>();
  if (auto decided = prepare(request, *pending)) {
    done(*decided);
    return;
  }
  LoginReason refused = LoginReason::busy;
  {
    std::lock_guard lock(queue_mutex_);
    const auto mine = verifying_.find(pending->address);
    if (mine != verifying_.end() && mine->second >= login_verifications_per_address_max) {
      refused = LoginReason::rate_limited;
    } else if (!stopping_ && !verifiers_.empty() && queue_.size() < config_.verify_queue_max) {
      verifying_[pending->address] += 1;
      pending->done = std::move(done);
      queue_.push_back(std::move(pending));
      queue_wake_.notify_one();
      return;
    }
  }
  done(refuse(refused));
}

void Login::verifier_loop() {
  while (true) {
    std::unique_ptr<Pending> pending;
    {
      std::unique_lock lock(queue_mutex_);
      queue_wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      pending = std::move(queue_.front());
      queue_.pop_front();
    }
    LoginResult result = verify_and_finish(*pending);
    {
      std::lock_guard lock(queue_mutex_);
      if (auto mine = verifying_.find(pending->address); mine != verifying_.end() && --mine->second == 0)
        verifying_.erase(mine);
    }
    pending->done(std::move(result));
  }
}

}  // namespace strata::server
