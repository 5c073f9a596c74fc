// server/login.cpp — see login.h.
#include "server/login.h"

namespace strata::server {

namespace {
bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

LoginResult Login::login(const std::string& name, uint64_t now_unix_s, bool observer) {
  LoginResult result;
  std::lock_guard lock(mutex_);
  if (!valid_name(name)) {
    refused_ += 1;
    result.error = "a name is 1 to 32 characters of A-Z a-z 0-9 _ -";
    return result;
  }
  auto it = ids_.find(name);
  if (it == ids_.end()) {
    if (ids_.size() >= config_.players_max) {
      refused_ += 1;
      result.error = "no more player ids";
      return result;
    }
    it = ids_.emplace(name, static_cast<uint32_t>(ids_.size() + 1)).first;
  }
  net::ConnectTokenParams params;
  params.protocol_id = config_.protocol_id;
  params.client_id = net::ClientId{it->second};
  params.expire_seconds = config_.token_ttl_s;
  params.timeout_seconds = config_.connection_timeout_s;
  params.server_addresses = config_.server_addresses;
  params.user_data[0] = observer ? observer_flag : 0;
  auto token = net::mint_connect_token(params, config_.private_key, now_unix_s);
  if (!token) {
    refused_ += 1;
    result.error = "token could not be minted";
    return result;
  }
  result.player = it->second;
  result.token = *token;
  return result;
}

uint64_t Login::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

}  // namespace strata::server
