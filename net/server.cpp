// net/server.cpp: the server endpoint. Order of checks on every datagram: size, type, then the cheap
// checks (protocol, expiry, rate, replay window) before any decryption, then authentication, then
// state. Each refusal bumps exactly one DropCounters reason.
#include "net/server.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "net/handshake.h"
#include "sim/assert.h"

namespace strata::net {

struct Server::Client {
  Client(const ConnectionConfig& config, ConnectionId id, uint64_t now_us) : connection(config, id, now_us) {}
  Connection connection;
  ClientId client_id{};
  Address address;
  TransportKind transport = TransportKind::datagram;
  Key client_to_server_key{};
  Key server_to_client_key{};
  UserData user_data{};
  ReplayWindow replay;
  uint64_t send_sequence = 0;
  uint64_t first_sequence = 0;
  TokenBucket packet_budget;
  TokenBucket byte_budget;
  bool announced_disconnect = false;
  // Its transport failed (transport_closed): nothing more is written to it; it is removed at the
  // next safe point (update or send_packets), never while the server may be writing to it.
  bool transport_failed = false;
  bool due = false;                // in Server::due_
  bool readable = false;           // in Server::readable_
  uint64_t timer_us = UINT64_MAX;  // its live entry in Server::timers_
};

ServerConfig default_server_config() { return ServerConfig{}; }

size_t Server::TokenIdHash::operator()(const TokenId& id) const noexcept {
  uint64_t h;
  std::memcpy(&h, id.data(), sizeof h);  // a MAC: already uniformly distributed
  return static_cast<size_t>(h);
}

Server::Server(const ServerConfig& config, Random& random)
    : config_(config),
      random_(random),
      request_budget_{config.connection_request_burst, 0},
      address_request_budgets_(config.request_address_table_size, config.requests_per_second_per_address,
                               config.request_burst_per_address) {
  STRATA_REQUIRE(config.max_clients > 0 && config.max_clients <= clients_max, config.max_clients);
  const bool ready = crypto_init();
  STRATA_ASSERT(ready, "libsodium initialises");
  challenge_key_ = random_.key();
  slots_.resize(config.max_clients);
  for (size_t i = config.max_clients; i > 0; --i) free_slots_.push_back(i - 1);
  payload_.reserve(packet_payload_max);
}

Server::~Server() = default;

void Server::emit(DatagramSink& sink, TransportKind kind, const Address& to, std::span<const uint8_t> data) {
  ++handshake_.datagrams_sent;
  handshake_.bytes_sent += data.size();
  sink.send_datagram(kind, to, data);
}

void Server::receive(TransportKind kind, const Address& from, std::span<const uint8_t> datagram, uint64_t now_us,
                     DatagramSink& sink) {
  ++handshake_.datagrams_received;
  handshake_.bytes_received += datagram.size();
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
    case PacketType::connection_request: receive_request(kind, from, datagram, now_us, sink); return;
    case PacketType::connection_response: receive_response(kind, from, datagram, now_us, sink); return;
    case PacketType::data: receive_data(kind, from, datagram, now_us); return;
    case PacketType::connection_denied:
    case PacketType::connection_challenge:
      drops_.bump(DropReason::wrong_state);  // server-to-client packets sent to a server
      return;
  }
}

void Server::receive_request(TransportKind kind, const Address& from, std::span<const uint8_t> packet, uint64_t now_us,
                             DatagramSink& sink) {
  ++handshake_.requests_received;
  ConnectionRequest request;
  const HandshakeError error = read_connection_request(packet, request);
  if (error != HandshakeError::none) {
    drops_.bump(error == HandshakeError::wrong_protocol ? DropReason::wrong_protocol : DropReason::bad_header);
    return;
  }
  if (request.protocol_id != config_.protocol_id) {
    drops_.bump(DropReason::wrong_protocol);
    return;
  }
  if (request.expire_unix_s <= wall_us_.value_or(now_us) / 1'000'000) {
    drops_.bump(DropReason::token_expired);
    return;
  }
  // Token buckets: decrypting tokens is the expensive step a flood would target. The sender's IP
  // first, so one host's junk cannot drain the global budget every host shares.
  if (!address_request_budgets_.take(from, now_us)) {
    drops_.bump(DropReason::address_rate_limit);
    return;
  }
  if (!request_budget_.take(1.0, config_.connection_requests_per_second, config_.connection_request_burst, now_us)) {
    drops_.bump(DropReason::rate_limit);
    return;
  }
  ConnectTokenPrivate token;
  if (open_private_token(request.private_data, request.nonce, request.protocol_id, request.expire_unix_s,
                         config_.private_key, token) != TokenError::none) {
    drops_.bump(DropReason::token_invalid);
    return;
  }
  if (std::find(token.server_addresses.begin(), token.server_addresses.end(), config_.public_address) ==
      token.server_addresses.end()) {
    drops_.bump(DropReason::token_wrong_server);
    return;
  }
  TokenId token_id;
  std::memcpy(token_id.data(), request.private_data.data() + private_token_size - mac_size, mac_size);
  if (used_tokens_.contains(token_id)) {
    drops_.bump(DropReason::token_reused);
    return;
  }
  if (by_address_[static_cast<int>(kind)].contains(from)) {
    drops_.bump(DropReason::already_connected);
    return;
  }
  ChallengeToken challenge;
  challenge.client_id = token.client_id;
  challenge.connection_id = ConnectionId{static_cast<uint32_t>(random_.u64())};
  challenge.timeout_seconds = token.timeout_seconds;
  challenge.token_id = token_id;
  challenge.token_expire_unix_s = request.expire_unix_s;
  challenge.challenge_expire_us = now_us + config_.challenge_lifetime_us;
  challenge.client_to_server_key = token.client_to_server_key;
  challenge.server_to_client_key = token.server_to_client_key;
  challenge.user_data = token.user_data;
  const uint64_t sequence = challenge_sequence_++;
  SealedChallengeToken sealed;
  seal_challenge_token(challenge, challenge_key_, sequence, from, config_.protocol_id, sealed);
  std::array<uint8_t, challenge_packet_size> out;
  write_challenge_packet(PacketType::connection_challenge, sequence, challenge.connection_id, sealed,
                         token.server_to_client_key, config_.protocol_id, out);
  ++handshake_.challenges_sent;
  emit(sink, kind, from, out);
}

void Server::receive_response(TransportKind kind, const Address& from, std::span<const uint8_t> packet, uint64_t now_us,
                              DatagramSink& sink) {
  ++handshake_.responses_received;
  const auto parsed = parse_challenge_packet(PacketType::connection_response, packet);
  if (!parsed) {
    drops_.bump(DropReason::bad_header);
    return;
  }
  ChallengeToken challenge;
  if (!open_challenge_token(parsed->token, challenge_key_, parsed->sequence, from, config_.protocol_id, challenge) ||
      challenge.connection_id != parsed->connection_id ||
      !verify_challenge_packet(PacketType::connection_response, packet, challenge.client_to_server_key,
                               config_.protocol_id)) {
    drops_.bump(DropReason::bad_mac);
    return;
  }
  if (challenge.challenge_expire_us <= now_us) {
    drops_.bump(DropReason::token_expired);
    deny(kind, from, DisconnectReason::timeout, challenge.server_to_client_key, sink);
    return;
  }
  // Authenticated from here on: every refusal is answered with its reason, except a resend.
  auto& by_address = by_address_[static_cast<int>(kind)];
  const auto at_address = by_address.find(from);
  const auto same_client = by_client_.find(static_cast<uint64_t>(challenge.client_id));
  if (used_tokens_.contains(challenge.token_id)) {
    if (at_address != by_address.end() && same_client != by_client_.end() &&
        at_address->second == same_client->second) {
      drops_.bump(DropReason::already_connected);  // a resent response of the client it connected
      return;
    }
    drops_.bump(DropReason::token_reused);
    deny(kind, from, DisconnectReason::token_reused, challenge.server_to_client_key, sink);
    return;
  }
  if (by_connection_id_.contains(static_cast<uint32_t>(challenge.connection_id))) {
    drops_.bump(DropReason::already_connected);  // a 32-bit id clash: the client retries with a new one
    deny(kind, from, DisconnectReason::refused, challenge.server_to_client_key, sink);
    return;
  }
  // A fresh token for a client connected elsewhere (a newer login), or from an address that holds
  // another connection (its socket now speaks a new handshake): the older connection gives way.
  const bool replacing = at_address != by_address.end() || same_client != by_client_.end();
  if (free_slots_.empty() && !replacing) {
    drops_.bump(DropReason::server_full);
    deny(kind, from, DisconnectReason::server_full, challenge.server_to_client_key, sink);
    return;
  }
  if (!remember_token(challenge.token_id, challenge.token_expire_unix_s, now_us)) {
    drops_.bump(DropReason::used_token_table_full);
    deny(kind, from, DisconnectReason::refused, challenge.server_to_client_key, sink);
    return;
  }
  if (same_client != by_client_.end()) replace(same_client->second, now_us, sink);
  if (const auto again = by_address.find(from); again != by_address.end()) replace(again->second, now_us, sink);
  const size_t slot = free_slots_.back();
  free_slots_.pop_back();
  ConnectionConfig connection = config_.connection;
  connection.timeout_us = static_cast<uint64_t>(challenge.timeout_seconds) * 1'000'000;
  connection.stream_transport = kind == TransportKind::stream;
  auto client = std::make_unique<Client>(connection, challenge.connection_id, now_us);
  client->client_id = challenge.client_id;
  client->address = from;
  client->transport = kind;
  client->client_to_server_key = challenge.client_to_server_key;
  client->server_to_client_key = challenge.server_to_client_key;
  client->user_data = challenge.user_data;
  client->send_sequence = connection.first_sequence;
  client->first_sequence = connection.first_sequence;
  client->packet_budget = TokenBucket{config_.packet_burst_per_client, now_us};
  client->byte_budget = TokenBucket{config_.byte_burst_per_client, now_us};
  client->connection.request_packet();  // confirms the connection to the client at once
  slots_[slot] = std::move(client);
  mark_due(slot);
  by_address.emplace(from, slot);
  by_client_.emplace(static_cast<uint64_t>(challenge.client_id), slot);
  by_connection_id_.emplace(static_cast<uint32_t>(challenge.connection_id), slot);
  ++handshake_.connections_accepted;
  if (events_.size() == server_events_max) events_.pop_front();
  events_.push_back(ServerEvent{ServerEvent::Kind::connected, challenge.client_id, DisconnectReason::none, from, kind});
}

void Server::deny(TransportKind kind, const Address& to, DisconnectReason reason, const Key& key, DatagramSink& sink) {
  std::array<uint8_t, denied_packet_size> out;
  write_denied_packet(denied_sequence_++, static_cast<uint8_t>(reason), key, config_.protocol_id, out);
  ++handshake_.denied_sent;
  emit(sink, kind, to, out);
}

void Server::replace(size_t slot, uint64_t now_us, DatagramSink& sink) {
  Client& client = *slots_[slot];
  client.connection.disconnect(DisconnectReason::replaced, now_us);
  write_packets(client, now_us, sink);  // its disconnect copies, now: the slot is reused at once
  client.connection.abort(DisconnectReason::replaced);
  remove(slot);
}

void Server::write_packets(Client& client, uint64_t now_us, DatagramSink& sink) {
  PacketHeader header;
  // The sink may report this client's transport closed from inside emit() (a TCP stream whose
  // send queue overflowed): transport_closed() only marks it, and the caller removes it later.
  while (!client.transport_failed && client.connection.write_packet(now_us, header, payload_)) {
    STRATA_ASSERT(static_cast<uint16_t>(client.send_sequence) == header.sequence, client.send_sequence,
                  header.sequence);
    const size_t n = seal_data_packet(header, payload_, client.server_to_client_key, client.send_sequence++,
                                      config_.protocol_id, packet_buffer_);
    emit(sink, client.transport, client.address, std::span<const uint8_t>(packet_buffer_.data(), n));
  }
}

bool Server::remember_token(const TokenId& id, uint64_t expire_unix_s, uint64_t now_us) {
  if (used_tokens_.size() >= used_token_table_max) {
    const uint64_t now_s = wall_us_.value_or(now_us) / 1'000'000;
    std::erase_if(used_tokens_, [now_s](const auto& entry) { return entry.second <= now_s; });
    if (used_tokens_.size() >= used_token_table_max) return false;
  }
  used_tokens_.emplace(id, expire_unix_s);
  return true;
}

void Server::receive_data(TransportKind kind, const Address& from, std::span<const uint8_t> packet, uint64_t now_us) {
  const auto header = read_packet_header(packet);
  if (!header || packet.size() < packet_header_size + mac_size) {
    drops_.bump(DropReason::bad_header);
    return;
  }
  if (packet.size() > data_packet_size_max) {
    drops_.bump(DropReason::too_large);
    return;
  }
  // By connection id (a cheap integer key), then the address and transport must match too.
  const auto it = by_connection_id_.find(static_cast<uint32_t>(header->connection_id));
  if (it == by_connection_id_.end()) {
    drops_.bump(DropReason::unknown_connection);
    return;
  }
  Client& client = *slots_[it->second];
  if (client.transport != kind || client.address != from) {
    drops_.bump(DropReason::unknown_connection);
    return;
  }
  const uint64_t expected = client.replay.any() ? client.replay.highest() + 1 : client.first_sequence;
  const uint64_t sequence = extend_sequence(header->sequence, expected);
  if (client.replay.already_received(sequence)) {
    drops_.bump(DropReason::replay);
    return;
  }
  // Budgets before decryption: what a client can make the server decrypt and decode is bounded.
  const bool over_packets =
      config_.packets_per_second_per_client > 0 &&
      !client.packet_budget.take(1.0, config_.packets_per_second_per_client, config_.packet_burst_per_client, now_us);
  const bool over_bytes =
      !over_packets && config_.bytes_per_second_per_client > 0 &&
      !client.byte_budget.take(static_cast<double>(packet.size()), config_.bytes_per_second_per_client,
                               config_.byte_burst_per_client, now_us);
  if (over_packets || over_bytes) {
    drops_.bump(over_packets ? DropReason::packet_rate_limit : DropReason::byte_rate_limit);
    // Over datagrams the peer resends what mattered. Over a stream nothing is resent, so a dropped
    // packet would break its reliable channel for good: the connection ends instead.
    if (client.transport == TransportKind::stream) {
      client.connection.disconnect(DisconnectReason::rate_limited, now_us);
      mark_due(it->second);
    }
    return;
  }
  size_t payload_size = 0;
  std::array<uint8_t, packet_payload_max> payload;
  if (!open_data_packet(packet, client.client_to_server_key, sequence, config_.protocol_id, payload, payload_size)) {
    drops_.bump(DropReason::bad_mac);
    return;
  }
  client.replay.mark(sequence);
  client.connection.receive_packet(*header, std::span<const uint8_t>(payload.data(), payload_size), now_us);
  if (!client.readable && client.connection.has_message()) {
    client.readable = true;
    readable_.push_back(it->second);
  }
  // Most packets of an idle connection (keepalives) only push its deadlines later: no visit needed.
  if (!client.due && client.connection.next_deadline_us(now_us) < client.timer_us) mark_due(it->second);
}

void Server::mark_due(size_t slot) {
  Client& client = *slots_[slot];
  if (client.due) return;
  client.due = true;
  due_.push_back(slot);
}

void Server::reschedule(size_t slot, uint64_t now_us) {
  Client& client = *slots_[slot];
  // Whatever is due now was just done; what remains waits for the next loop at the earliest.
  const uint64_t deadline = std::max(client.connection.next_deadline_us(now_us), now_us + 1);
  if (deadline == client.timer_us) return;  // its entry is still live
  client.timer_us = deadline;
  timers_.emplace_back(deadline, slot);
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  if (timers_.size() > timer_heap_slack_factor * by_client_.size() + 1024) compact_timers();
}

void Server::compact_timers() {
  timers_.clear();
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot] && slots_[slot]->timer_us != UINT64_MAX) timers_.emplace_back(slots_[slot]->timer_us, slot);
  }
  std::make_heap(timers_.begin(), timers_.end(), std::greater<>());
}

void Server::collect_expired(uint64_t now_us) {
  while (!timers_.empty() && timers_.front().first <= now_us) {
    const auto [deadline, slot] = timers_.front();
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    timers_.pop_back();
    Client* client = slots_[slot].get();
    if (client == nullptr || client->timer_us != deadline) continue;  // stale
    client->timer_us = UINT64_MAX;
    mark_due(slot);
  }
}

void Server::update(uint64_t now_us) {
  collect_expired(now_us);
  for (size_t i = 0; i < due_.size(); ++i) {
    const size_t slot = due_[i];
    if (!slots_[slot]) continue;
    Client& client = *slots_[slot];
    client.connection.update(now_us);
    if (client.connection.state() == ConnectionState::disconnected) remove(slot);
  }
}

void Server::send_packets(uint64_t now_us, DatagramSink& sink) {
  collect_expired(now_us);
  for (size_t i = 0; i < due_.size(); ++i) {
    const size_t slot = due_[i];
    if (!slots_[slot] || !slots_[slot]->due) continue;  // removed (or visited: a duplicate entry)
    Client& client = *slots_[slot];
    client.due = false;
    write_packets(client, now_us, sink);
    // A transport that failed meanwhile left the client marked, not freed: it is removed here.
    if (client.connection.state() == ConnectionState::disconnected) {
      remove(slot);
    } else {
      reschedule(slot, now_us);
    }
  }
  due_.clear();
}

void Server::remove(size_t slot) {
  Client& client = *slots_[slot];
  closed_connection_drops_ += client.connection.stats().drops;
  if (events_.size() == server_events_max) events_.pop_front();
  events_.push_back(ServerEvent{ServerEvent::Kind::disconnected, client.client_id,
                                client.connection.disconnect_reason(), client.address, client.transport});
  by_address_[static_cast<int>(client.transport)].erase(client.address);
  by_client_.erase(static_cast<uint64_t>(client.client_id));
  by_connection_id_.erase(static_cast<uint32_t>(client.connection.id()));
  slots_[slot].reset();
  free_slots_.push_back(slot);
}

Server::Client* Server::find(ClientId client) const {
  const auto it = by_client_.find(static_cast<uint64_t>(client));
  return it == by_client_.end() ? nullptr : slots_[it->second].get();
}

SendResult Server::send(ClientId client, Channel channel, std::span<const uint8_t> data) {
  Client* c = find(client);
  if (c == nullptr) return SendResult::not_connected;
  const SendResult result = c->connection.send(channel, data);
  if (result == SendResult::ok) mark_due(by_client_.find(static_cast<uint64_t>(client))->second);
  return result;
}

bool Server::pop_message(ClientId client, Message& out) {
  const auto it = by_client_.find(static_cast<uint64_t>(client));
  if (it == by_client_.end() || !slots_[it->second]->connection.pop_message(out)) return false;
  // Taking a message may release held reliable ones (and acks for them): visit it.
  mark_due(it->second);
  return true;
}

bool Server::pop_any_message(ClientId& client, Message& out) {
  while (readable_cursor_ < readable_.size()) {
    const size_t slot = readable_[readable_cursor_];
    // A removed slot may have been reused: its new client's messages are as good (and it may be
    // listed twice: the second visit finds nothing).
    if (Client* c = slots_[slot].get()) {
      if (c->connection.pop_message(out)) {
        client = c->client_id;
        mark_due(slot);  // as pop_message(client): held reliable messages (and acks) may follow
        return true;
      }
      c->readable = false;
    }
    ++readable_cursor_;
  }
  readable_.clear();
  readable_cursor_ = 0;
  return false;
}

bool Server::pop_event(ServerEvent& out) {
  if (events_.empty()) return false;
  out = events_.front();
  events_.pop_front();
  return true;
}

void Server::disconnect(ClientId client, DisconnectReason reason, uint64_t now_us) {
  const auto it = by_client_.find(static_cast<uint64_t>(client));
  if (it == by_client_.end()) return;
  slots_[it->second]->connection.disconnect(reason, now_us);
  mark_due(it->second);
}

void Server::transport_closed(TransportKind kind, const Address& address) {
  // May run from inside send_packets() (through the sink): mark only; the client is removed at the
  // next safe point (the end of its visit in send_packets, or update()).
  const auto& by_address = by_address_[static_cast<int>(kind)];
  const auto it = by_address.find(address);
  if (it == by_address.end()) return;
  const size_t slot = it->second;
  Client& client = *slots_[slot];
  client.transport_failed = true;
  client.connection.abort(DisconnectReason::transport_error);
  mark_due(slot);
}

std::vector<ClientId> Server::clients() const {
  std::vector<ClientId> out;
  out.reserve(by_client_.size());
  for (const auto& slot : slots_) {
    if (slot) out.push_back(slot->client_id);
  }
  return out;
}

const ConnectionStats* Server::client_stats(ClientId client) const {
  const Client* c = find(client);
  return c ? &c->connection.stats() : nullptr;
}

const UserData* Server::client_user_data(ClientId client) const {
  const Client* c = find(client);
  return c ? &c->user_data : nullptr;
}

DropCounters Server::total_drops() const {
  DropCounters total = drops_;
  total += closed_connection_drops_;
  for (const auto& slot : slots_) {
    if (slot) total += slot->connection.stats().drops;
  }
  return total;
}

}  // namespace strata::net
