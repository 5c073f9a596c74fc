// tools/vopr/addresses.h — the simulated network's address plan: the second byte says who owns an
// address, so a datagram the down link delivers finds its endpoint without a lookup table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "net/address.h"

namespace strata::vopr {

enum AddressOwner : uint8_t { owner_client = 0, owner_server = 1, owner_observer = 2, owner_peer = 3 };

[[nodiscard]] inline net::Address server_address() { return net::make_ipv4(10, owner_server, 1, 1, 40000); }
[[nodiscard]] inline net::Address client_address(size_t i) {
  return net::make_ipv4(10, owner_client, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 5000);
}
[[nodiscard]] inline size_t client_index(const net::Address& a) { return static_cast<size_t>(a.ip[2]) << 8 | a.ip[3]; }
// The observer's n-th session gets an address of its own (an earlier session's datagrams go nowhere).
[[nodiscard]] inline net::Address observer_address(uint64_t n) {
  return net::make_ipv4(10, owner_observer, 0, static_cast<uint8_t>(n), 5000);
}
[[nodiscard]] inline net::Address peer_address(size_t i) {
  return net::make_ipv4(10, owner_peer, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 6000);
}
// Garbage comes from anywhere in 10.4.0.0/16; replayed packets also from one stranger.
[[nodiscard]] inline net::Address stranger_address(uint8_t c, uint8_t d, uint16_t port) {
  return net::make_ipv4(10, 4, c, d, port);
}
[[nodiscard]] inline net::Address foreign_address() { return net::make_ipv4(10, 5, 0, 1, 7000); }

}  // namespace strata::vopr
