// net/sdk/login_client.h — the client side of POST /api/login: a player name in, the player id and
// the connect token out. A blocking HTTP/1.1 exchange with a bounded response (64 KiB).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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

// observer: log in as an observer of the region (receives its input stream, does not play).
[[nodiscard]] std::optional<LoginReply> http_login(const std::string& host, uint16_t port, const std::string& name,
                                                   std::string& error, bool observer = false);

}  // namespace strata::sdk
