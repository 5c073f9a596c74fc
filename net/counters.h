// net/counters.h: one counter per reason the netchannel drops input, and the traffic totals.
// Every drop site bumps exactly one of these; the server publishes them as Prometheus metrics
// (see metrics.h for the name/help/value walk).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::net {

enum class DropReason : uint8_t {
  bad_header,             // truncated or malformed header, unknown packet type, bad entry encoding
  bad_mac,                // AEAD authentication failed (tampered, wrong key, forged)
  replay,                 // sequence already seen or older than the replay window
  too_large,              // datagram, frame or message larger than its limit
  fragment_limits,        // fragment index/count/size out of bounds, reassembly over its limit
  unknown_connection,     // data packet from an address with no connection
  rate_limit,             // over the global connection-request budget
  wrong_protocol,         // protocol id or version magic differs
  token_invalid,          // connect token does not decrypt/verify
  token_expired,          // connect token or challenge past its expiry
  token_reused,           // connect token already used once
  token_wrong_server,     // this server's address is not in the token
  used_token_table_full,  // cannot remember another single-use token: refuse rather than forget
  server_full,            // no free client slot (answered with a denied packet)
  already_connected,      // address or client id already has a connection
  stale_message,          // duplicate or out-of-window message id, older unreliable sequence
  wrong_state,            // a packet type the endpoint does not expect in its current state
  queue_full,             // delivered messages not taken by the application (unreliable only)
  address_rate_limit,     // over the connection-request budget of the sender's IP
  packet_rate_limit,      // over the connected client's packet budget
  byte_rate_limit,        // over the connected client's byte budget
  receive_buffer_full,    // reliable messages held out of order over the connection's byte bound
  count
};

inline constexpr size_t drop_reason_count = static_cast<size_t>(DropReason::count);

[[nodiscard]] constexpr std::string_view name(DropReason reason) {
  constexpr std::array<std::string_view, drop_reason_count> names = {"bad_header",
                                                                     "bad_mac",
                                                                     "replay",
                                                                     "too_large",
                                                                     "fragment_limits",
                                                                     "unknown_connection",
                                                                     "rate_limit",
                                                                     "wrong_protocol",
                                                                     "token_invalid",
                                                                     "token_expired",
                                                                     "token_reused",
                                                                     "token_wrong_server",
                                                                     "used_token_table_full",
                                                                     "server_full",
                                                                     "already_connected",
                                                                     "stale_message",
                                                                     "wrong_state",
                                                                     "queue_full",
                                                                     "address_rate_limit",
                                                                     "packet_rate_limit",
                                                                     "byte_rate_limit",
                                                                     "receive_buffer_full"};
  const auto i = static_cast<size_t>(reason);
  return i < names.size() ? names[i] : std::string_view("unknown");
}

struct DropCounters {
  std::array<uint64_t, drop_reason_count> by_reason{};

  void bump(DropReason reason) { ++by_reason[static_cast<size_t>(reason)]; }
  [[nodiscard]] uint64_t operator[](DropReason reason) const { return by_reason[static_cast<size_t>(reason)]; }
  [[nodiscard]] uint64_t total() const {
    uint64_t sum = 0;
    for (auto v : by_reason) sum += v;
    return sum;
  }
  DropCounters& operator+=(const DropCounters& other) {
    for (size_t i = 0; i < drop_reason_count; ++i) by_reason[i] += other.by_reason[i];
    return *this;
  }
};

}  // namespace strata::net
