// server/auth_tools.cpp: see auth_tools.h.
#include "server/auth_tools.h"

#include <sodium.h>

#include <cstdio>
#include <iostream>

#include "net/transport.h"
#include "server/login.h"
#include "server/login_http.h"
#include "server/ticket.h"

namespace strata::server {

int hash_password_tool(const std::string& name) {
  if (!valid_login_name(name)) {
    std::fprintf(stderr, "strata-server: a name is 1 to 32 characters of A-Z a-z 0-9 _ -\n");
    return 2;
  }
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty() || password.size() > password_bytes_max) {
    std::fprintf(stderr, "strata-server: the password (stdin) must be 1 to %zu bytes\n", password_bytes_max);
    return 2;
  }
  const std::string hash = hash_password(password);
  sodium_memzero(password.data(), password.size());
  if (hash.empty()) {
    std::fprintf(stderr, "strata-server: hashing failed (out of memory?)\n");
    return 1;
  }
  std::printf("%s %s\n", name.c_str(), hash.c_str());
  return 0;
}

int new_ticket_key_tool() {
  TicketKey key{};
  randombytes_buf(key.data(), key.size());
  char hex[2 * ticket_key_bytes + 1];
  sodium_bin2hex(hex, sizeof hex, key.data(), key.size());
  std::printf("%s\n", hex);
  return 0;
}

int mint_ticket_tool(const ServerConfig& config, const std::string& name, uint32_t ttl_s) {
  LoginConfig login;
  std::string error;
  if (config.auth.ticket_key_file.empty() || !configure_login(config, login, error) || !login.ticket_key) {
    std::fprintf(stderr, "strata-server: --mint-ticket needs auth.ticket_key_file %s\n", error.c_str());
    return 2;
  }
  const std::string ticket =
      mint_ticket(*login.ticket_key, name, net::system_now_us() / 1'000'000, ttl_s, net::os_random());
  if (ticket.empty()) {
    std::fprintf(stderr, "strata-server: a name is 1 to 32 characters of A-Z a-z 0-9 _ -\n");
    return 2;
  }
  std::printf("%s\n", ticket.c_str());
  return 0;
}

}  // namespace strata::server
