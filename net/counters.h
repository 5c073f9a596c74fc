// net/counters.h: the counter lists' machinery, and the netchannel's own lists: one counter per
// reason the netchannel drops input, and its handshake and traffic totals.
//
// A counter set is one list (an X-macro) that generates its struct, its sum (operator+=) and its
// samples; the samples are written to the JSON of /api/world/status and to the Prometheus families
// by the same two functions (counters_json, counters_prometheus), so adding a counter is one line
// and it cannot be in one output and missing from the other. Each list line is
//   X(member, series, help)   series: "family", "family{label=value}" (a family with several
//                             members, one label value each), or "" (the set's default family,
//                             {event="member"})
//   XA(member, Enum, first, series, help)   an array indexed by Enum (values first..count-1);
//                             series "family{label}": one series per value, labelled with name(Enum)
// Every name and label value is a fixed string from a list, never client data.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::net {

// The netchannel's drop reasons: X(reason, what it is).
#define STRATA_NET_DROP_REASONS(X)                                                                \
  X(bad_header, "truncated or malformed header, unknown packet type, bad entry encoding")         \
  X(bad_mac, "AEAD authentication failed (tampered, wrong key, forged)")                          \
  X(replay, "sequence already seen or older than the replay window")                              \
  X(too_large, "datagram, frame or message larger than its limit")                                \
  X(fragment_limits, "fragment index/count/size out of bounds, reassembly over its limit")        \
  X(unknown_connection, "data packet from an address with no connection")                         \
  X(rate_limit, "over the global connection-request budget")                                      \
  X(wrong_protocol, "protocol id or version magic differs")                                       \
  X(token_invalid, "connect token does not decrypt/verify")                                       \
  X(token_expired, "connect token or challenge past its expiry")                                  \
  X(token_reused, "connect token already used once")                                              \
  X(token_wrong_server, "this server's address is not in the token")                              \
  X(used_token_table_full, "cannot remember another single-use token: refuse rather than forget") \
  X(server_full, "no free client slot (answered with a denied packet)")                           \
  X(already_connected, "address or client id already has a connection")                           \
  X(stale_message, "duplicate or out-of-window message id, older unreliable sequence")            \
  X(wrong_state, "a packet type the endpoint does not expect in its current state")               \
  X(queue_full, "delivered messages not taken by the application (unreliable only)")              \
  X(address_rate_limit, "over the connection-request budget of the sender's IP")                  \
  X(packet_rate_limit, "over the connected client's packet budget")                               \
  X(byte_rate_limit, "over the connected client's byte budget")                                   \
  X(receive_buffer_full, "reliable messages held out of order over the connection's byte bound")

#define STRATA_NET_ENUMERATOR_(reason, what) reason,
enum class DropReason : uint8_t { STRATA_NET_DROP_REASONS(STRATA_NET_ENUMERATOR_) count };
#undef STRATA_NET_ENUMERATOR_

inline constexpr size_t drop_reason_count = static_cast<size_t>(DropReason::count);

[[nodiscard]] constexpr std::string_view name(DropReason reason) {
#define STRATA_NET_NAME_(reason, what) #reason,
  constexpr std::array<std::string_view, drop_reason_count> names = {STRATA_NET_DROP_REASONS(STRATA_NET_NAME_)};
#undef STRATA_NET_NAME_
  const auto i = static_cast<size_t>(reason);
  return i < names.size() ? names[i] : std::string_view("unknown");
}

// One counter as the exporters see it.
struct CounterSample {
  std::string_view name;         // its JSON key (within `group` for an indexed member's values)
  std::string_view group;        // an indexed member's name; empty for a plain counter
  std::string_view family;       // the Prometheus family
  std::string_view label_key;    // empty: the family's only series
  std::string_view label_value;  // a fixed string (a member's name or an enum value's)
  std::string_view help;         // the family's HELP text (its first sample's is used)
  uint64_t value = 0;
};
using CounterSamples = std::vector<CounterSample>;

// A plain counter: `series` as in the lists above; "" means default_family{event="name"} with
// default_help.
void add_counter(CounterSamples& out, std::string_view name, std::string_view series, std::string_view default_family,
                 std::string_view default_help, std::string_view help, uint64_t value);
// An indexed member: values[first..] labelled with label_of(i). `series` is "family{label}".
template <class LabelOf>
void add_indexed(CounterSamples& out, std::string_view member, std::string_view series, std::string_view help,
                 std::span<const uint64_t> values, size_t first, LabelOf label_of) {
  const size_t brace = series.find('{');
  const std::string_view family = series.substr(0, brace);
  const std::string_view key = series.substr(brace + 1, series.size() - brace - 2);
  for (size_t i = first; i < values.size(); ++i) {
    const std::string_view label = label_of(i);
    out.push_back(CounterSample{label, member, family, key, label, help, values[i]});
  }
}
// {"name":value,...,"group":{"name":value,...}} (an indexed member's values in one object).
[[nodiscard]] std::string counters_json(std::span<const CounterSample> samples);
// The Prometheus text exposition of the samples: HELP and TYPE (counter) once per family, the
// families in the order they first appear.
[[nodiscard]] std::string counters_prometheus(std::span<const CounterSample> samples);

// Generators for a list's struct and sum (see the file comment for the list format).
#define STRATA_COUNTER_FIELD_(member, series, help) uint64_t member = 0;
#define STRATA_COUNTER_ARRAY_FIELD_(member, Enum, first, series, help) \
  std::array<uint64_t, static_cast<size_t>(Enum::count)> member{};
#define STRATA_COUNTER_ADD_(member, ...) member += other.member;
#define STRATA_COUNTER_ARRAY_ADD_(member, ...) \
  for (size_t i = 0; i < member.size(); ++i) member[i] += other.member[i];
#define STRATA_COUNTER_SAMPLE_(member, series, help) \
  ::strata::net::add_counter(out, #member, series, family, family_help, help, c.member);
#define STRATA_COUNTER_ARRAY_SAMPLE_(member, Enum, first, series, help)   \
  ::strata::net::add_indexed(out, #member, series, help, c.member, first, \
                             [](size_t i) { return std::string_view(name(static_cast<Enum>(i))); });
#define STRATA_COUNTER_NO_ARRAY_(...)

// The netchannel's handshake and traffic counters.
#define STRATA_NET_HANDSHAKE_COUNTERS(X)                                                                         \
  X(requests_received, "strata_net_connection_requests_total", "Connection requests received")                   \
  X(challenges_sent, "strata_net_challenges_sent_total", "Challenges sent")                                      \
  X(responses_received, "strata_net_challenge_responses_total", "Challenge responses received")                  \
  X(connections_accepted, "strata_net_connections_accepted_total", "Connections accepted")                       \
  X(denied_sent, "strata_net_denied_sent_total", "Connections denied (a denied packet sent)")                    \
  /* every datagram and frame, headers and MACs included; received: the dropped ones too */                      \
  X(bytes_received, "strata_net_bytes_total{direction=in}", "Netchannel bytes by direction")                     \
  X(bytes_sent, "strata_net_bytes_total{direction=out}", "Netchannel bytes by direction")                        \
  X(datagrams_received, "strata_net_packets_total{direction=in}", "Netchannel datagrams or frames by direction") \
  X(datagrams_sent, "strata_net_packets_total{direction=out}", "Netchannel datagrams or frames by direction")

struct HandshakeCounters {
  STRATA_NET_HANDSHAKE_COUNTERS(STRATA_COUNTER_FIELD_)
  HandshakeCounters& operator+=(const HandshakeCounters& other) {
    STRATA_NET_HANDSHAKE_COUNTERS(STRATA_COUNTER_ADD_)
    return *this;
  }
  bool operator==(const HandshakeCounters&) const = default;
};
void append_samples(const HandshakeCounters& counters, CounterSamples& out);

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
  bool operator==(const DropCounters&) const = default;
};
// strata_net_dropped_total{reason}; JSON {"reason":value,...}.
void append_samples(const DropCounters& counters, CounterSamples& out);

}  // namespace strata::net
