// net/handshake.cpp: the handshake packets. All integers little endian.
//
// Connection request (type 0, client -> server, cleartext, exactly 1073 bytes):
//   0   1    prefix 0x00
//   1   8    magic "STRATA01"
//   9   8    protocol id
//   17  8    token expire time (unix seconds)
//   25  24   token nonce
//   49  1024 sealed private token (opaque to the client)
// The request is the largest handshake packet: the server's answers (challenge 413 bytes, denied 26)
// are smaller, so a spoofed source address cannot be used to amplify traffic.
//
// Challenge (type 2, server -> client) and response (type 3, client -> server), 413 bytes:
//   0   1    prefix 0x02 / 0x03
//   1   8    challenge sequence (server counter; nonce of the challenge token)
//   9   4    connection id the server will use
//   13  384  challenge token, sealed under the server's private challenge key (see below)
//   397 16   MAC over bytes 0..396 + protocol id (empty plaintext), key = server->client key for a
//            challenge (nonce domain 2), client->server key for a response (domain 3)
//
// Challenge token plaintext (368 bytes), sealed with nonce (domain 1, challenge sequence) and
// additional data = client address (19 bytes) + protocol id:
//   0   8    client id
//   8   4    connection id
//   12  4    timeout seconds
//   16  16   token id (MAC of the connect token's private part: single use is keyed on it)
//   32  8    token expire (unix seconds)
//   40  8    challenge expire (microseconds, server clock)
//   48  32   client -> server key
//   80  32   server -> client key
//   112 256  user data
//
// Denied (type 1, server -> client), 26 bytes:
//   0   1    prefix 0x01
//   1   8    sequence (nonce, domain 4)
//   9   1    reason (DisconnectReason)
//   10  16   MAC over bytes 0..9 + protocol id, server->client key
//
// Data packets (type 4): see packet.cpp.
#include "net/handshake.h"

#include <cstring>

#include "net/wire.h"

namespace strata::net {

namespace {

constexpr uint8_t magic[8] = {'S', 'T', 'R', 'A', 'T', 'A', '0', '1'};
constexpr size_t challenge_plain_size = challenge_token_size - mac_size;
static_assert(challenge_plain_size == 368);
static_assert(challenge_packet_size == 413);
static_assert(connection_request_size == 1073);
static_assert(denied_packet_size == 26);

template <size_t N>
std::array<uint8_t, N + 8> with_protocol(std::span<const uint8_t> bytes, uint64_t protocol_id) {
  std::array<uint8_t, N + 8> ad{};
  ByteWriter w(ad);
  w.bytes(bytes.first(N));
  w.u64(protocol_id);
  return ad;
}

}  // namespace

void write_connection_request(const ConnectionRequest& request, std::span<uint8_t, connection_request_size> out) {
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(PacketType::connection_request));
  w.bytes(magic);
  w.u64(request.protocol_id);
  w.u64(request.expire_unix_s);
  w.bytes(request.nonce);
  w.bytes(request.private_data);
}

HandshakeError read_connection_request(std::span<const uint8_t> packet, ConnectionRequest& out) {
  if (packet.size() != connection_request_size) return HandshakeError::bad_header;
  ByteReader r(packet);
  if (r.u8() != static_cast<uint8_t>(PacketType::connection_request)) return HandshakeError::bad_header;
  auto m = r.bytes(8);
  if (!r.ok() || std::memcmp(m.data(), magic, 8) != 0) return HandshakeError::wrong_protocol;
  out.protocol_id = r.u64();
  out.expire_unix_s = r.u64();
  auto nonce = r.bytes(xnonce_size);
  auto data = r.bytes(private_token_size);
  if (!r.ok()) return HandshakeError::bad_header;
  std::memcpy(out.nonce.data(), nonce.data(), xnonce_size);
  std::memcpy(out.private_data.data(), data.data(), private_token_size);
  return HandshakeError::none;
}

void seal_challenge_token(const ChallengeToken& token, const Key& challenge_key, uint64_t sequence,
                          const Address& client, uint64_t protocol_id, SealedChallengeToken& out) {
  std::array<uint8_t, challenge_plain_size> plain{};
  ByteWriter w(plain);
  w.u64(static_cast<uint64_t>(token.client_id));
  w.u32(static_cast<uint32_t>(token.connection_id));
  w.u32(token.timeout_seconds);
  w.bytes(token.token_id);
  w.u64(token.token_expire_unix_s);
  w.u64(token.challenge_expire_us);
  w.bytes(token.client_to_server_key);
  w.bytes(token.server_to_client_key);
  w.bytes(token.user_data);
  std::array<uint8_t, address_wire_size + 8> ad{};
  write_address(client, ad.data());
  ByteWriter a(std::span<uint8_t>(ad).subspan(address_wire_size));
  a.u64(protocol_id);
  seal(challenge_key, NonceDomain::challenge_token, sequence, ad, plain, out.data());
}

bool open_challenge_token(std::span<const uint8_t, challenge_token_size> sealed, const Key& challenge_key,
                          uint64_t sequence, const Address& client, uint64_t protocol_id, ChallengeToken& out) {
  std::array<uint8_t, address_wire_size + 8> ad{};
  write_address(client, ad.data());
  ByteWriter a(std::span<uint8_t>(ad).subspan(address_wire_size));
  a.u64(protocol_id);
  std::array<uint8_t, challenge_plain_size> plain;
  if (!open(challenge_key, NonceDomain::challenge_token, sequence, ad, sealed, plain.data())) return false;
  ByteReader r(plain);
  out.client_id = ClientId{r.u64()};
  out.connection_id = ConnectionId{r.u32()};
  out.timeout_seconds = r.u32();
  auto id = r.bytes(mac_size);
  out.token_expire_unix_s = r.u64();
  out.challenge_expire_us = r.u64();
  auto c2s = r.bytes(key_size);
  auto s2c = r.bytes(key_size);
  auto user = r.bytes(user_data_size);
  if (!r.ok()) return false;
  std::memcpy(out.token_id.data(), id.data(), mac_size);
  std::memcpy(out.client_to_server_key.data(), c2s.data(), key_size);
  std::memcpy(out.server_to_client_key.data(), s2c.data(), key_size);
  std::memcpy(out.user_data.data(), user.data(), user_data_size);
  return true;
}

void write_challenge_packet(PacketType type, uint64_t sequence, ConnectionId connection_id,
                            std::span<const uint8_t, challenge_token_size> token, const Key& key, uint64_t protocol_id,
                            std::span<uint8_t, challenge_packet_size> out) {
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(type));
  w.u64(sequence);
  w.u32(static_cast<uint32_t>(connection_id));
  w.bytes(token);
  constexpr size_t body = challenge_packet_size - mac_size;
  const auto ad = with_protocol<body>(out, protocol_id);
  const NonceDomain domain = type == PacketType::connection_challenge ? NonceDomain::challenge : NonceDomain::response;
  seal(key, domain, sequence, ad, {}, out.data() + body);
}

std::optional<ChallengePacket> parse_challenge_packet(PacketType type, std::span<const uint8_t> packet) {
  if (packet.size() != challenge_packet_size || packet[0] != static_cast<uint8_t>(type)) return std::nullopt;
  ByteReader r(packet);
  r.u8();
  const uint64_t sequence = r.u64();
  const uint32_t connection_id = r.u32();
  auto token = r.bytes(challenge_token_size);
  if (!r.ok()) return std::nullopt;
  return ChallengePacket{sequence, ConnectionId{connection_id},
                         std::span<const uint8_t, challenge_token_size>(token.data(), challenge_token_size)};
}

bool verify_challenge_packet(PacketType type, std::span<const uint8_t> packet, const Key& key, uint64_t protocol_id) {
  auto parsed = parse_challenge_packet(type, packet);
  if (!parsed) return false;
  constexpr size_t body = challenge_packet_size - mac_size;
  const auto ad = with_protocol<body>(packet, protocol_id);
  const NonceDomain domain = type == PacketType::connection_challenge ? NonceDomain::challenge : NonceDomain::response;
  return open(key, domain, parsed->sequence, ad, packet.subspan(body), nullptr);
}

void write_denied_packet(uint64_t sequence, uint8_t reason, const Key& key, uint64_t protocol_id,
                         std::span<uint8_t, denied_packet_size> out) {
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(PacketType::connection_denied));
  w.u64(sequence);
  w.u8(reason);
  constexpr size_t body = denied_packet_size - mac_size;
  const auto ad = with_protocol<body>(out, protocol_id);
  seal(key, NonceDomain::denied, sequence, ad, {}, out.data() + body);
}

std::optional<uint8_t> read_denied_packet(std::span<const uint8_t> packet, const Key& key, uint64_t protocol_id) {
  if (packet.size() != denied_packet_size || packet[0] != static_cast<uint8_t>(PacketType::connection_denied)) {
    return std::nullopt;
  }
  ByteReader r(packet);
  r.u8();
  const uint64_t sequence = r.u64();
  const uint8_t reason = r.u8();
  constexpr size_t body = denied_packet_size - mac_size;
  const auto ad = with_protocol<body>(packet, protocol_id);
  if (!open(key, NonceDomain::denied, sequence, ad, packet.subspan(body), nullptr)) return std::nullopt;
  return reason;
}

size_t seal_data_packet(const PacketHeader& header, std::span<const uint8_t> payload, const Key& key, uint64_t sequence,
                        uint64_t protocol_id, std::span<uint8_t, data_packet_size_max> out) {
  write_packet_header(header, out.first<packet_header_size>());
  const auto ad = with_protocol<packet_header_size>(out, protocol_id);
  seal(key, NonceDomain::data, sequence, ad, payload, out.data() + packet_header_size);
  return packet_header_size + payload.size() + mac_size;
}

bool open_data_packet(std::span<const uint8_t> packet, const Key& key, uint64_t sequence, uint64_t protocol_id,
                      std::span<uint8_t, packet_payload_max> payload, size_t& payload_size) {
  if (packet.size() < packet_header_size + mac_size || packet.size() > data_packet_size_max) return false;
  const auto ad = with_protocol<packet_header_size>(packet, protocol_id);
  payload_size = packet.size() - packet_header_size - mac_size;
  return open(key, NonceDomain::data, sequence, ad, packet.subspan(packet_header_size), payload.data());
}

}  // namespace strata::net
