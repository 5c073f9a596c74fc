// tests/net/loopback_harness.h: what the tests over real sockets on 127.0.0.1 share: a wall-clock
// deadline for their loops, and connect tokens for a server at a given address.
#pragma once

#include <chrono>
#include <cstdint>

#include "net/token.h"
#include "net/transport.h"

namespace strata::net::test {

inline constexpr uint64_t loopback_protocol_id = 0x1234;

struct Deadline {
  std::chrono::steady_clock::time_point end;
  explicit Deadline(int seconds = 20) : end(std::chrono::steady_clock::now() + std::chrono::seconds(seconds)) {}
  [[nodiscard]] bool passed() const { return std::chrono::steady_clock::now() > end; }
};

inline ConnectToken mint(const Key& key, const Address& server, ClientId id) {
  ConnectTokenParams params;
  params.protocol_id = loopback_protocol_id;
  params.client_id = id;
  params.server_addresses = {server};
  return *mint_connect_token(params, key, system_now_us() / 1'000'000, os_random());
}

}  // namespace strata::net::test
