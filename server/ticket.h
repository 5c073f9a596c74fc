// server/ticket.h — login tickets of `auth.mode: ticket`: the game's backend, having logged the
// player in its own way (a platform login, its own accounts), signs a short-lived ticket with a key
// it shares with the region; the client hands the ticket to POST /api/login {"ticket":"..."}.
//
// Ticket layout (then base64url without padding, sodium_base64_VARIANT_URLSAFE_NO_PADDING):
//   [0]       version (1)
//   [1..9)    expiry, unix seconds, uint64 little-endian
//   [9..25)   nonce, 16 random bytes (a ticket is single use: its nonce is remembered until expiry)
//   [25]      name length n (1..32)
//   [26..26+n) name (a login name: [A-Za-z0-9_-])
//   [26+n..)  HMAC-SHA512-256 (libsodium crypto_auth, 32 bytes) over every byte before it
// A backend mints one with `strata-server --mint-ticket NAME` or by copying mint_ticket() below.
//
// The verifier refuses, each with its reason: a text that does not decode or a wrong MAC (forged),
// an expiry in the past (expired), an expiry further ahead than the configured lifetime (too long:
// a leaked backend key cannot mint eternal tickets), and a nonce it has seen (replayed). The set of
// seen nonces is bounded (entries expire with their tickets); when it is full of live tickets a new
// ticket is refused as busy rather than remembered partially.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "net/random.h"

namespace strata::server {

inline constexpr size_t ticket_key_bytes = 32;  // crypto_auth_KEYBYTES
inline constexpr size_t ticket_nonce_bytes = 16;
inline constexpr size_t ticket_mac_bytes = 32;  // crypto_auth_BYTES
inline constexpr size_t ticket_name_bytes_max = 32;
inline constexpr size_t ticket_bytes_max = 26 + ticket_name_bytes_max + ticket_mac_bytes;
inline constexpr size_t ticket_text_bytes_max = 128;  // base64url of ticket_bytes_max, rounded up
static_assert(ticket_text_bytes_max >= (ticket_bytes_max * 4 + 2) / 3);
// Remembered nonces at most. At the per-address login rate a single host cannot fill it within a
// ticket's lifetime; a flood of valid tickets means a leaked key, and is refused (busy), not let in.
inline constexpr size_t ticket_replay_entries_max = size_t{1} << 17;

using TicketKey = std::array<uint8_t, ticket_key_bytes>;

enum class TicketVerdict : uint8_t { ok, forged, expired, too_long, replayed, busy };

struct TicketCheck {
  TicketVerdict verdict = TicketVerdict::forged;
  std::string name;  // set when ok
};

// Mints a ticket for `name` valid until now + ttl (for tests, the CLI and backends to copy). Empty
// when the name is not a login name.
// Its nonce is drawn from `random`.
[[nodiscard]] std::string mint_ticket(const TicketKey& key, std::string_view name, uint64_t now_unix_s, uint32_t ttl_s,
                                      net::Random& random);

// A key from 64 hex digits (surrounding whitespace ignored).
[[nodiscard]] std::optional<TicketKey> parse_ticket_key(std::string_view hex);

class TicketVerifier {
 public:
  TicketVerifier(const TicketKey& key, uint32_t lifetime_max_s) : key_(key), lifetime_max_s_(lifetime_max_s) {}
  // Thread-safe. A ticket that passes is remembered: the same ticket is refused as replayed until it expires.
  [[nodiscard]] TicketCheck verify(std::string_view text, uint64_t now_unix_s);
  [[nodiscard]] size_t remembered() const;

 private:
  TicketKey key_;
  uint32_t lifetime_max_s_;
  mutable std::mutex mutex_;
  std::multimap<uint64_t, std::string> by_expiry_;  // expiry -> nonce, for pruning
  std::unordered_set<std::string> nonces_;
};

}  // namespace strata::server
