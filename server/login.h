// server/login.h — the login behind POST /api/login: a player name becomes a player id and a
// connect token for this region's game server. Dev mode (the default) is open: any valid name may
// log in, and a name keeps its id for the life of the process. Thread-safe (HTTP threads call it).
// Names are untrusted: 1..32 characters of [A-Za-z0-9_-], else refused with a reason.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/token.h"

namespace strata::server {

struct LoginConfig {
  uint64_t protocol_id = 0;
  net::Key private_key{};                      // shared with the netchannel server
  std::vector<net::Address> server_addresses;  // where the token may be used
  uint32_t token_ttl_s = 30;
  uint32_t connection_timeout_s = 10;
  uint32_t players_max = 16384;  // ids handed out at most
};

struct LoginResult {
  uint32_t player = 0;
  net::ConnectToken token{};
  std::string error;  // set when refused
};

class Login {
 public:
  explicit Login(LoginConfig config) : config_(std::move(config)) {}
  // An observer does not play: it receives the region's whole input stream (token user data byte 0
  // is observer_flag).
  static constexpr uint8_t observer_flag = 1;
  [[nodiscard]] LoginResult login(const std::string& name, uint64_t now_unix_s, bool observer = false);
  [[nodiscard]] uint64_t refused() const;

 private:
  LoginConfig config_;
  mutable std::mutex mutex_;
  std::map<std::string, uint32_t> ids_;
  uint64_t refused_ = 0;
};

}  // namespace strata::server
