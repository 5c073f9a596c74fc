// net/sdk/login_client.h — the client side of POST /api/login: a player name in, the player id and
// the connect token out. A blocking HTTP/1.1 exchange with a bounded response (64 KiB).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::sdk {

struct LoginReply {
  uint32_t player = 0;
  std::vector<uint8_t> token;
};

[[nodiscard]] std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                                   std::string& error);

}  // namespace strata::sdk
