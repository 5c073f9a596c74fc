// net/server.h: the server endpoint of the netchannel (no sockets, no clock): handshake, AEAD,
// replay protection, rate limits and the table of client connections.
//
// The caller feeds every received datagram (or TCP frame body) to receive(), calls update(now) and
// send_packets(now, sink) once per loop, and reads events, messages and counters.
// Nothing is allocated for a client before it answers the challenge: a connection request is
// answered from the request alone (stateless challenge), so spoofed requests cost no memory.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "net/connection.h"
#include "net/counters.h"
#include "net/crypto.h"
#include "net/endpoint.h"
#include "net/random.h"
#include "net/rate_limit.h"
#include "net/token.h"

namespace strata::net {

struct ServerConfig {
  // Protocol (and version) this server speaks; tokens and packets of another are refused.
  uint64_t protocol_id = 0;
  // The address clients reach this server on; a connect token must list it.
  Address public_address;
  // Shared with the HTTP login that mints connect tokens.
  Key private_key{};
  // Connected clients at most (<= clients_max); beyond it responses are denied.
  size_t max_clients = 256;
  // How long a challenge may be answered.
  uint64_t challenge_lifetime_us = 10'000'000;
  // Connection requests processed per second (token decryption costs CPU) and the burst allowed:
  // per sender IP (a bounded table; rate 0 = no per-IP limit), then in all (the backstop).
  double requests_per_second_per_address = requests_per_second_per_address_default;
  double request_burst_per_address = request_burst_per_address_default;
  size_t request_address_table_size = request_address_table_default;
  double connection_requests_per_second = 10'000;
  double connection_request_burst = 1'000;
  // Authenticated packets and bytes accepted per client per second, and their bursts (0 = no
  // limit). On by default; the figures and why are in limits.h.
  double packets_per_second_per_client = client_packets_per_second_default;
  double packet_burst_per_client = client_packet_burst_default;
  double bytes_per_second_per_client = client_bytes_per_second_default;
  double byte_burst_per_client = client_byte_burst_default;
  // Protocol settings of each connection (its timeout comes from the client's token).
  ConnectionConfig connection = default_connection_config();
};

[[nodiscard]] ServerConfig default_server_config();

struct ServerEvent {
  enum class Kind : uint8_t { connected, disconnected };
  Kind kind = Kind::connected;
  ClientId client{};
  DisconnectReason reason = DisconnectReason::none;
  Address address;
  TransportKind transport = TransportKind::datagram;
};

// (HandshakeCounters and DropCounters: net/counters.h.)

class Server {
 public:
  // `random` draws the challenge key and connection ids; it must outlive the server.
  Server(const ServerConfig& config, Random& random);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // A valid response for a client id already connected elsewhere (the same account logging in
  // again with a fresh token) takes over: the older connection ends with DisconnectReason::replaced
  // (told to its peer), then the newer one is accepted. Every other refusal of an authenticated
  // response is answered with a denied packet carrying the reason, except a resend of the
  // response that connected the client at the same address.
  void receive(TransportKind kind, const Address& from, std::span<const uint8_t> datagram, uint64_t now_us,
               DatagramSink& sink);
  void update(uint64_t now_us);
  // Connect tokens state their expiry in Unix seconds, so they are judged by the wall clock; every
  // other time (timeouts, challenge lifetime, rate budgets) is the `now_us` the calls are given,
  // which should be monotonic: a wall clock stepped back would keep dead connections (and their
  // addresses) alive, one stepped forward would time every client out at once. A caller with both
  // readings hands the wall one here before each turn; until it does, `now_us` serves as both.
  void set_wall_clock_us(uint64_t wall_us) { wall_us_ = wall_us; }
  void send_packets(uint64_t now_us, DatagramSink& sink);

  [[nodiscard]] SendResult send(ClientId client, Channel channel, std::span<const uint8_t> data);
  bool pop_message(ClientId client, Message& out);
  // The next delivered message of any client (`client` names it), clients in the order their first
  // waiting message arrived: costs O(messages), not O(clients), per call.
  bool pop_any_message(ClientId& client, Message& out);
  bool pop_event(ServerEvent& out);
  void disconnect(ClientId client, DisconnectReason reason, uint64_t now_us);
  // Drops a peer whose transport failed (the TCP connection closed). Safe from anywhere, the sink
  // inside send_packets() included: it only marks the client, which is removed (and its
  // disconnected event, reason transport_error, queued) at the next update() or send_packets().
  void transport_closed(TransportKind kind, const Address& address);

  [[nodiscard]] size_t connected_count() const { return by_client_.size(); }
  // Whether a connected client is on `address` over `kind` (a TCP listener's handshake deadline).
  [[nodiscard]] bool connected_at(TransportKind kind, const Address& address) const {
    return by_address_[static_cast<int>(kind)].contains(address);
  }
  [[nodiscard]] std::vector<ClientId> clients() const;
  [[nodiscard]] const ConnectionStats* client_stats(ClientId client) const;
  [[nodiscard]] const UserData* client_user_data(ClientId client) const;
  // Drops before a connection exists (handshake, unknown peers, bad MACs, replays).
  [[nodiscard]] const DropCounters& endpoint_drops() const { return drops_; }
  // endpoint_drops + every connection's drops, current and closed: monotonic totals for metrics.
  [[nodiscard]] DropCounters total_drops() const;
  [[nodiscard]] const HandshakeCounters& handshake_counters() const { return handshake_; }
  [[nodiscard]] size_t used_token_count() const { return used_tokens_.size(); }
  // Sender IPs whose connection-request budget is remembered (at most request_address_table_size).
  [[nodiscard]] size_t request_addresses_tracked() const { return address_request_budgets_.size(); }
  [[nodiscard]] const ServerConfig& config() const { return config_; }

 private:
  struct Client;
  struct TokenIdHash {
    size_t operator()(const TokenId& id) const noexcept;
  };

  void receive_request(TransportKind kind, const Address& from, std::span<const uint8_t> packet, uint64_t now_us,
                       DatagramSink& sink);
  void receive_response(TransportKind kind, const Address& from, std::span<const uint8_t> packet, uint64_t now_us,
                        DatagramSink& sink);
  void receive_data(TransportKind kind, const Address& from, std::span<const uint8_t> packet, uint64_t now_us);
  bool remember_token(const TokenId& id, uint64_t expire_unix_s, uint64_t now_us);
  void deny(TransportKind kind, const Address& to, DisconnectReason reason, const Key& key, DatagramSink& sink);
  // Ends a connection at once in favour of a newer one: its disconnect packets go out now.
  void replace(size_t slot, uint64_t now_us, DatagramSink& sink);
  void write_packets(Client& client, uint64_t now_us, DatagramSink& sink);
  void emit(DatagramSink& sink, TransportKind kind, const Address& to, std::span<const uint8_t> data);
  Client* find(ClientId client) const;
  void remove(size_t slot);
  // Scheduling: a connection is visited only when due (in due_) or when its deadline expires.
  void mark_due(size_t slot);
  void reschedule(size_t slot, uint64_t now_us);
  void collect_expired(uint64_t now_us);
  void compact_timers();

  ServerConfig config_;
  Random& random_;
  Key challenge_key_;
  uint64_t challenge_sequence_ = 0;
  uint64_t denied_sequence_ = 0;
  TokenBucket request_budget_;
  AddressBudgets address_request_budgets_;

  std::vector<std::unique_ptr<Client>> slots_;
  std::vector<size_t> free_slots_;
  std::unordered_map<Address, size_t, AddressHash> by_address_[2];
  std::unordered_map<uint64_t, size_t> by_client_;
  std::unordered_map<uint32_t, size_t> by_connection_id_;
  std::unordered_map<TokenId, uint64_t, TokenIdHash> used_tokens_;  // token id -> expire (unix s)
  std::optional<uint64_t> wall_us_;  // set_wall_clock_us(); unset: now_us is the wall clock
  std::deque<ServerEvent> events_;
  // Min-heap of (deadline, slot); an entry is stale unless it equals its client's timer_us (lazy
  // deletion; compacted past timer_heap_slack_factor x clients). due_: slots to visit this loop.
  std::vector<std::pair<uint64_t, size_t>> timers_;
  std::vector<size_t> due_;
  // Slots that may hold delivered messages (flag Client::readable), drained by pop_any_message.
  std::vector<size_t> readable_;
  size_t readable_cursor_ = 0;

  DropCounters drops_;
  DropCounters closed_connection_drops_;
  HandshakeCounters handshake_;
  std::vector<uint8_t> payload_;
  std::array<uint8_t, data_packet_size_max> packet_buffer_{};
};

}  // namespace strata::net
