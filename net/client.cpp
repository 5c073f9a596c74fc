// net/client.cpp: the client endpoint's handshake and packet authentication. The client trusts only
// packets from its peer (the token's server address over UDP, the stream's far end over TCP),
// sealed with the token's server->client key.
#include "net/client.h"

#include <cstring>

#include "net/handshake.h"
#include "sim/assert.h"

namespace strata::net {

ClientConfig default_client_config() { return ClientConfig{}; }

Client::Client(const ClientConfig& config) : config_(config) {
  const bool ready = crypto_init();
  STRATA_ASSERT(ready, "libsodium initialises");
  payload_.reserve(packet_payload_max);
}

void Client::fail(ClientFailure failure) {
  state_ = ClientState::failed;
  failure_ = failure;
  connection_.reset();
}

bool Client::connect(std::span<const uint8_t> connect_token, uint64_t now_us, size_t server_index) {
  return start(connect_token, now_us, server_index, nullptr);
}

bool Client::connect_stream(std::span<const uint8_t> connect_token, const Address& stream_peer, uint64_t now_us,
                            size_t server_index) {
  return start(connect_token, now_us, server_index, &stream_peer);
}

bool Client::start(std::span<const uint8_t> connect_token, uint64_t now_us, size_t server_index,
                   const Address* stream_peer) {
  token_ = read_connect_token(connect_token);
  connection_.reset();
  replay_ = ReplayWindow();
  failure_ = ClientFailure::none;
  denied_reason_ = DisconnectReason::none;
  heard_from_server_ = false;
  if ((config_.transport == TransportKind::stream) != (stream_peer != nullptr)) {
    fail(ClientFailure::wrong_transport);
    return false;
  }
  if (!token_ || server_index >= token_->server_addresses.size()) {
    fail(ClientFailure::token_invalid);
    return false;
  }
  if (token_->expire_unix_s <= now_us / 1'000'000) {
    fail(ClientFailure::token_expired);
    return false;
  }
  server_address_ = token_->server_addresses[server_index];
  peer_address_ = stream_peer != nullptr ? *stream_peer : server_address_;
  state_ = ClientState::sending_request;
  handshake_start_us_ = now_us;
  handshake_send_due_ = true;
  return true;
}

void Client::receive(const Address& from, std::span<const uint8_t> datagram, uint64_t now_us) {
  if (from != peer_address_) {
    drops_.bump(DropReason::unknown_connection);
    return;
  }
  if (datagram.size() > datagram_size_max) {
    drops_.bump(DropReason::too_large);
    return;
  }
  const auto type = read_packet_type(datagram);
  if (!type) {
    drops_.bump(DropReason::bad_header);
    return;
  }
  switch (*type) {
    case PacketType::connection_challenge: receive_challenge(datagram, now_us); return;
    case PacketType::connection_denied:
      if (state_ != ClientState::sending_request && state_ != ClientState::sending_response) {
        drops_.bump(DropReason::wrong_state);
        return;
      }
      if (const auto reason = read_denied_packet(datagram, token_->server_to_client_key, token_->protocol_id)) {
        denied_reason_ = *reason <= static_cast<uint8_t>(disconnect_reason_last)
                             ? static_cast<DisconnectReason>(*reason)
                             : DisconnectReason::refused;
        fail(ClientFailure::denied);
        return;
      }
      drops_.bump(DropReason::bad_mac);
      return;
    case PacketType::data: receive_data(datagram, now_us); return;
    case PacketType::connection_request:
    case PacketType::connection_response: drops_.bump(DropReason::wrong_state); return;
  }
}

void Client::receive_challenge(std::span<const uint8_t> packet, uint64_t now_us) {
  if (state_ != ClientState::sending_request) {
    drops_.bump(DropReason::wrong_state);  // a duplicate challenge after we moved on
    return;
  }
  const auto parsed = parse_challenge_packet(PacketType::connection_challenge, packet);
  if (!parsed) {
    drops_.bump(DropReason::bad_header);
    return;
  }
  if (!verify_challenge_packet(PacketType::connection_challenge, packet, token_->server_to_client_key,
                               token_->protocol_id)) {
    drops_.bump(DropReason::bad_mac);
    return;
  }
  heard_from_server_ = true;
  write_challenge_packet(PacketType::connection_response, parsed->sequence, parsed->connection_id, parsed->token,
                         token_->client_to_server_key, token_->protocol_id, response_);
  ConnectionConfig connection = config_.connection;
  connection.timeout_us = static_cast<uint64_t>(token_->timeout_seconds) * 1'000'000;
  connection.stream_transport = config_.transport == TransportKind::stream;
  connection_ = std::make_unique<Connection>(connection, parsed->connection_id, now_us);
  send_sequence_ = connection.first_sequence;
  state_ = ClientState::sending_response;
  handshake_send_due_ = true;
}

void Client::receive_data(std::span<const uint8_t> packet, uint64_t now_us) {
  if (!connection_ || (state_ != ClientState::sending_response && state_ != ClientState::connected)) {
    drops_.bump(DropReason::wrong_state);
    return;
  }
  const auto header = read_packet_header(packet);
  if (!header || packet.size() < packet_header_size + mac_size) {
    drops_.bump(DropReason::bad_header);
    return;
  }
  if (packet.size() > data_packet_size_max) {
    drops_.bump(DropReason::too_large);
    return;
  }
  if (header->connection_id != connection_->id()) {
    drops_.bump(DropReason::unknown_connection);
    return;
  }
  const uint64_t expected = replay_.any() ? replay_.highest() + 1 : config_.connection.first_sequence;
  const uint64_t sequence = extend_sequence(header->sequence, expected);
  if (replay_.already_received(sequence)) {
    drops_.bump(DropReason::replay);
    return;
  }
  std::array<uint8_t, packet_payload_max> payload;
  size_t payload_size = 0;
  if (!open_data_packet(packet, token_->server_to_client_key, sequence, token_->protocol_id, payload, payload_size)) {
    drops_.bump(DropReason::bad_mac);
    return;
  }
  replay_.mark(sequence);
  if (state_ == ClientState::sending_response) state_ = ClientState::connected;
  connection_->receive_packet(*header, std::span<const uint8_t>(payload.data(), payload_size), now_us);
  if (connection_->state() == ConnectionState::disconnected) state_ = ClientState::disconnected;
}

void Client::update(uint64_t now_us) {
  if (state_ == ClientState::sending_request || state_ == ClientState::sending_response) {
    if (now_us - handshake_start_us_ >= config_.handshake_timeout_us) {
      fail(ClientFailure::handshake_timeout);
      return;
    }
    if (now_us - last_handshake_send_us_ >= config_.handshake_resend_us) handshake_send_due_ = true;
    return;
  }
  if (state_ == ClientState::connected && connection_) {
    connection_->update(now_us);
    if (connection_->state() == ConnectionState::disconnected) state_ = ClientState::disconnected;
  }
}

void Client::send_packets(uint64_t now_us, DatagramSink& sink) {
  if (handshake_send_due_ && state_ == ClientState::sending_request) {
    ConnectionRequest request;
    request.protocol_id = token_->protocol_id;
    request.expire_unix_s = token_->expire_unix_s;
    request.nonce = token_->nonce;
    request.private_data = token_->private_data;
    std::array<uint8_t, connection_request_size> out;
    write_connection_request(request, out);
    sink.send_datagram(config_.transport, peer_address_, out);
    last_handshake_send_us_ = now_us;
    handshake_send_due_ = false;
    return;
  }
  if (handshake_send_due_ && state_ == ClientState::sending_response) {
    sink.send_datagram(config_.transport, peer_address_, response_);
    last_handshake_send_us_ = now_us;
    handshake_send_due_ = false;
    return;
  }
  if (!connection_ || (state_ != ClientState::connected && connection_->state() != ConnectionState::disconnecting))
    return;
  PacketHeader header;
  while (connection_->write_packet(now_us, header, payload_)) {
    STRATA_ASSERT(static_cast<uint16_t>(send_sequence_) == header.sequence, send_sequence_, header.sequence);
    const size_t n = seal_data_packet(header, payload_, token_->client_to_server_key, send_sequence_++,
                                      token_->protocol_id, packet_buffer_);
    sink.send_datagram(config_.transport, peer_address_, std::span<const uint8_t>(packet_buffer_.data(), n));
  }
  if (connection_->state() == ConnectionState::disconnected) state_ = ClientState::disconnected;
}

SendResult Client::send(Channel channel, std::span<const uint8_t> data) {
  if (state_ != ClientState::connected || !connection_) return SendResult::not_connected;
  return connection_->send(channel, data);
}

bool Client::pop_message(Message& out) { return connection_ && connection_->pop_message(out); }

void Client::disconnect(DisconnectReason reason, uint64_t now_us) {
  if (state_ == ClientState::connected && connection_) {
    connection_->disconnect(reason, now_us);
  } else if (state_ == ClientState::sending_request || state_ == ClientState::sending_response) {
    state_ = ClientState::disconnected;
    connection_.reset();
  }
}

DisconnectReason Client::disconnect_reason() const {
  if (failure_ == ClientFailure::denied) return denied_reason_;
  return connection_ ? connection_->disconnect_reason() : DisconnectReason::none;
}

}  // namespace strata::net
