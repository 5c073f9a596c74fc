// net/handshake.h: encoding of the handshake packets (layouts at the top of handshake.cpp): the
// connection request, the stateless challenge token, the challenge / response packets and the
// denied packet. Pure functions; every reader validates sizes and returns an error value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "net/address.h"
#include "net/crypto.h"
#include "net/packet.h"
#include "net/token.h"

namespace strata::net {

struct ConnectionRequest {
  uint64_t protocol_id = 0;
  uint64_t expire_unix_s = 0;
  std::array<uint8_t, xnonce_size> nonce{};
  std::array<uint8_t, private_token_size> private_data{};
};

enum class HandshakeError : uint8_t { none, bad_header, wrong_protocol };

void write_connection_request(const ConnectionRequest& request, std::span<uint8_t, connection_request_size> out);
[[nodiscard]] HandshakeError read_connection_request(std::span<const uint8_t> packet, ConnectionRequest& out);

// What the server needs to create the connection once the challenge is answered. It travels to the
// client and back sealed under the server's challenge key, so the server keeps nothing meanwhile.
struct ChallengeToken {
  ClientId client_id{};
  ConnectionId connection_id{};
  uint32_t timeout_seconds = 0;
  TokenId token_id{};
  uint64_t token_expire_unix_s = 0;
  uint64_t challenge_expire_us = 0;
  Key client_to_server_key{};
  Key server_to_client_key{};
  UserData user_data{};
};

using SealedChallengeToken = std::array<uint8_t, challenge_token_size>;

// Sealed with additional data = client address (19 bytes) + protocol id: bound to that address.
void seal_challenge_token(const ChallengeToken& token, const Key& challenge_key, uint64_t sequence,
                          const Address& client, uint64_t protocol_id, SealedChallengeToken& out);
[[nodiscard]] bool open_challenge_token(std::span<const uint8_t, challenge_token_size> sealed, const Key& challenge_key,
                                        uint64_t sequence, const Address& client, uint64_t protocol_id,
                                        ChallengeToken& out);

// Challenge (server -> client, type 2) and response (client -> server, type 3) share one layout.
struct ChallengePacket {
  uint64_t sequence = 0;
  ConnectionId connection_id{};
  std::span<const uint8_t, challenge_token_size> token;
};

void write_challenge_packet(PacketType type, uint64_t sequence, ConnectionId connection_id,
                            std::span<const uint8_t, challenge_token_size> token, const Key& key, uint64_t protocol_id,
                            std::span<uint8_t, challenge_packet_size> out);
// Structure only (the MAC needs a key the reader may only learn from the token).
[[nodiscard]] std::optional<ChallengePacket> parse_challenge_packet(PacketType type, std::span<const uint8_t> packet);
[[nodiscard]] bool verify_challenge_packet(PacketType type, std::span<const uint8_t> packet, const Key& key,
                                           uint64_t protocol_id);

void write_denied_packet(uint64_t sequence, uint8_t reason, const Key& key, uint64_t protocol_id,
                         std::span<uint8_t, denied_packet_size> out);
[[nodiscard]] std::optional<uint8_t> read_denied_packet(std::span<const uint8_t> packet, const Key& key,
                                                        uint64_t protocol_id);

// Data packets: header (15 bytes) + sealed payload. Additional data = header + protocol id.
// Returns bytes written to out (header + payload + MAC).
size_t seal_data_packet(const PacketHeader& header, std::span<const uint8_t> payload, const Key& key, uint64_t sequence,
                        uint64_t protocol_id, std::span<uint8_t, data_packet_size_max> out);
// Opens into `payload` (resized); false if forged.
[[nodiscard]] bool open_data_packet(std::span<const uint8_t> packet, const Key& key, uint64_t sequence,
                                    uint64_t protocol_id, std::span<uint8_t, packet_payload_max> payload,
                                    size_t& payload_size);

}  // namespace strata::net
