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

// observer: log in as an observer of the region (receives its input stream, does not play).
[[nodiscard]] std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                                   std::string& error, bool observer = false);

}  // namespace strata::sdk
