// net/client.h: the client endpoint of the netchannel (no sockets, no clock). Connects with a
// connect token from the HTTP login: request -> challenge -> response -> connected, then exchanges
// authenticated data packets. Same loop as the server: receive(), update(now), send_packets().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "net/connection.h"
#include "net/crypto.h"
#include "net/endpoint.h"
#include "net/token.h"

namespace strata::net {

struct ClientConfig {
  // Interval between resends of the request and of the response while handshaking.
  uint64_t handshake_resend_us = 100'000;
  // Give up the handshake with one server after this long.
  uint64_t handshake_timeout_us = 5'000'000;
  // Datagrams (UDP) or a stream (TCP): over a stream reliable messages are never resent.
  TransportKind transport = TransportKind::datagram;
  // Protocol settings of the connection (its timeout comes from the token).
  ConnectionConfig connection = default_connection_config();
};

[[nodiscard]] ClientConfig default_client_config();

enum class ClientState : uint8_t {
  idle,
  sending_request,
  sending_response,
  connected,
  disconnected,  // see disconnect_reason()
  failed,        // see failure()
};

enum class ClientFailure : uint8_t {
  none,
  token_invalid,
  token_expired,
  denied,
  handshake_timeout,
  wrong_transport,  // connect() over a stream, or connect_stream() over datagrams
};

class Client {
 public:
  explicit Client(const ClientConfig& config);

  // Starts connecting to the token's server_index-th address over datagrams (UDP). False (and
  // failure()) if the token is unreadable, expired or has no such address.
  bool connect(std::span<const uint8_t> connect_token, uint64_t now_us, size_t server_index = 0);
  // The same over a stream (ClientConfig::transport == stream) to `stream_peer`, the far end of
  // the caller's TCP stream: the handshake still names the token's server_index-th address (the
  // token is bound to it), but packets are accepted only from `stream_peer`, where they come from.
  bool connect_stream(std::span<const uint8_t> connect_token, const Address& stream_peer, uint64_t now_us,
                      size_t server_index = 0);
  void receive(const Address& from, std::span<const uint8_t> datagram, uint64_t now_us);
  void update(uint64_t now_us);
  void send_packets(uint64_t now_us, DatagramSink& sink);

  [[nodiscard]] SendResult send(Channel channel, std::span<const uint8_t> data);
  bool pop_message(Message& out);
  void disconnect(DisconnectReason reason, uint64_t now_us);

  [[nodiscard]] ClientState state() const { return state_; }
  [[nodiscard]] ClientFailure failure() const { return failure_; }
  // Whether the server answered this connection attempt (an authentic challenge arrived): a
  // handshake that timed out after that did not fail because the transport is blocked.
  [[nodiscard]] bool heard_from_server() const { return heard_from_server_; }
  // disconnected: why (from the server's disconnect packet, or timeout); failed with
  // ClientFailure::denied: the reason the server gave (server_full, token_reused, refused, timeout).
  [[nodiscard]] DisconnectReason disconnect_reason() const;
  // The token's address of the server (its identity in the handshake).
  [[nodiscard]] const Address& server_address() const { return server_address_; }
  // Where packets go to and are accepted from: server_address(), or the stream's far end.
  [[nodiscard]] const Address& peer_address() const { return peer_address_; }
  [[nodiscard]] size_t server_count() const { return token_ ? token_->server_addresses.size() : 0; }
  [[nodiscard]] const DropCounters& endpoint_drops() const { return drops_; }
  [[nodiscard]] const ConnectionStats* stats() const { return connection_ ? &connection_->stats() : nullptr; }
  [[nodiscard]] const Connection* connection() const { return connection_.get(); }

 private:
  void fail(ClientFailure failure);
  bool start(std::span<const uint8_t> connect_token, uint64_t now_us, size_t server_index, const Address* stream_peer);
  void receive_challenge(std::span<const uint8_t> packet, uint64_t now_us);
  void receive_data(std::span<const uint8_t> packet, uint64_t now_us);

  ClientConfig config_;
  ClientState state_ = ClientState::idle;
  ClientFailure failure_ = ClientFailure::none;
  DisconnectReason denied_reason_ = DisconnectReason::none;
  std::optional<ConnectTokenPublic> token_;
  Address server_address_;
  Address peer_address_;
  uint64_t handshake_start_us_ = 0;
  uint64_t last_handshake_send_us_ = 0;
  bool handshake_send_due_ = false;
  bool heard_from_server_ = false;
  std::array<uint8_t, challenge_packet_size> response_{};
  std::unique_ptr<Connection> connection_;
  ReplayWindow replay_;
  uint64_t send_sequence_ = 0;
  DropCounters drops_;
  std::vector<uint8_t> payload_;
  std::array<uint8_t, data_packet_size_max> packet_buffer_{};
};

}  // namespace strata::net
