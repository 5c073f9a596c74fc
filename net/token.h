// net/token.h: connect tokens. The server's HTTP login mints one per login with
// mint_connect_token(); the client passes it to Client::connect(); the game server opens its private
// part. Layouts are written at the top of token.cpp.
//
// Security properties: the private part is encrypted and authenticated (XChaCha20-Poly1305) with a
// key shared only by the login endpoint and the game servers; it expires; it is bound to the
// protocol id and to the list of server addresses it may be used on; the server remembers its MAC
// once used (single use).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "net/address.h"
#include "net/crypto.h"
#include "net/limits.h"
#include "net/random.h"

namespace strata::net {

enum class ClientId : uint64_t {};

using ConnectToken = std::array<uint8_t, connect_token_size>;
using UserData = std::array<uint8_t, user_data_size>;
using TokenId = std::array<uint8_t, mac_size>;  // the MAC of the private part: unique per token

struct ConnectTokenParams {
  // Which protocol (and version) the token is for; servers of another protocol refuse it.
  uint64_t protocol_id = 0;
  // Identity of the player, as the login endpoint authenticated it.
  ClientId client_id{};
  // Token lifetime from `now_unix_s`.
  uint32_t expire_seconds = 30;
  // Connection timeout the server and client will use.
  uint32_t timeout_seconds = 10;
  // Game servers the token is valid on (1..server_addresses_max), in the order the client tries them.
  std::vector<Address> server_addresses;
  // Opaque application data delivered to the server with the connection (e.g. session ticket).
  UserData user_data{};
};

// Mints a token (its keys and nonce drawn from `random`); nullopt if params are invalid (no or too
// many addresses).
[[nodiscard]] std::optional<ConnectToken> mint_connect_token(const ConnectTokenParams& params, const Key& private_key,
                                                             uint64_t now_unix_s, Random& random);

// The public part, readable by the client.
struct ConnectTokenPublic {
  uint64_t protocol_id = 0;
  uint64_t create_unix_s = 0;
  uint64_t expire_unix_s = 0;
  std::array<uint8_t, xnonce_size> nonce{};
  std::array<uint8_t, private_token_size> private_data{};
  uint32_t timeout_seconds = 0;
  std::vector<Address> server_addresses;
  Key client_to_server_key{};
  Key server_to_client_key{};
};

[[nodiscard]] std::optional<ConnectTokenPublic> read_connect_token(std::span<const uint8_t> token);

// The private part, readable only with the private key.
struct ConnectTokenPrivate {
  ClientId client_id{};
  uint32_t timeout_seconds = 0;
  std::vector<Address> server_addresses;
  Key client_to_server_key{};
  Key server_to_client_key{};
  UserData user_data{};
};

enum class TokenError : uint8_t { none, malformed, forged };

// Decrypts and parses the private part bound to (protocol id, expiry).
[[nodiscard]] TokenError open_private_token(std::span<const uint8_t, private_token_size> sealed,
                                            std::span<const uint8_t, xnonce_size> nonce, uint64_t protocol_id,
                                            uint64_t expire_unix_s, const Key& private_key, ConnectTokenPrivate& out);

}  // namespace strata::net
