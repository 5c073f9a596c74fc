// tests/net/endpoint_harness.h: one Server and N Clients on simulated time, joined by two seeded
// LinkSims (clients -> server and server -> clients). Clients get addresses 10.0.x.y:5000.
#pragma once

#include <memory>
#include <vector>

#include "net/client.h"
#include "net/link_sim.h"
#include "net/server.h"
#include "net/token.h"

namespace strata::net::test {

inline constexpr uint64_t test_protocol_id = 0x5354524154410001ull;
inline constexpr uint64_t start_unix_us = 1'700'000'000'000'000ull;

inline Address server_address() { return make_ipv4(10, 1, 1, 1, 40000); }
inline Address client_address(size_t i) {
  return make_ipv4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 5000);
}

class LinkSink : public DatagramSink {
 public:
  LinkSink(LinkSim& link, const Address& from, const uint64_t& now_us) : link_(link), from_(from), now_us_(now_us) {}
  void send_datagram(TransportKind, const Address& to, std::span<const uint8_t> data) override {
    ++count;
    max_size = std::max(max_size, data.size());
    if (!data.empty() && data[0] != static_cast<uint8_t>(PacketType::data)) {
      ++handshake_count;
      max_handshake_size = std::max(max_handshake_size, data.size());
    }
    link_.send(now_us_, from_, to, data);
  }
  size_t count = 0;
  size_t max_size = 0;
  size_t handshake_count = 0;  // challenges and denied packets
  size_t max_handshake_size = 0;

 private:
  LinkSim& link_;
  Address from_;
  const uint64_t& now_us_;
};

class World {
 public:
  World(const ServerConfig& server_config, const LinkConfig& link, uint64_t seed)
      : now_us_(start_unix_us),
        random_(seed),
        server_(server_config, random_),
        up_(link, seed),
        down_(link, seed * 31 + 7),
        server_sink_(down_, server_address(), now_us_) {}

  static ServerConfig default_config(const Key& private_key) {
    ServerConfig config = default_server_config();
    config.protocol_id = test_protocol_id;
    config.public_address = server_address();
    config.private_key = private_key;
    return config;
  }

  ConnectToken mint(const Key& private_key, ClientId id, uint32_t timeout_s = 10, uint32_t expire_s = 60) {
    ConnectTokenParams params;
    params.protocol_id = test_protocol_id;
    params.client_id = id;
    params.timeout_seconds = timeout_s;
    params.expire_seconds = expire_s;
    params.server_addresses = {server_address()};
    params.user_data[0] = static_cast<uint8_t>(static_cast<uint64_t>(id));
    return *mint_connect_token(params, private_key, now_us_ / 1'000'000, random_);
  }

  size_t add_client(const ClientConfig& config = default_client_config()) {
    clients_.push_back(std::make_unique<Client>(config));
    sinks_.push_back(std::make_unique<LinkSink>(up_, client_address(clients_.size() - 1), now_us_));
    return clients_.size() - 1;
  }

  void step(uint64_t step_us) {
    now_us_ += step_us;
    SimDatagram d;
    while (up_.receive(now_us_, d)) server_.receive(TransportKind::datagram, d.from, d.data, now_us_, server_sink_);
    while (down_.receive(now_us_, d)) {
      const size_t index = static_cast<size_t>(d.to.ip[2]) << 8 | d.to.ip[3];
      if (index < clients_.size()) clients_[index]->receive(d.from, d.data, now_us_);
    }
    server_.update(now_us_);
    server_.send_packets(now_us_, server_sink_);
    for (size_t i = 0; i < clients_.size(); ++i) {
      clients_[i]->update(now_us_);
      clients_[i]->send_packets(now_us_, *sinks_[i]);
    }
  }

  Server& server() { return server_; }
  Client& client(size_t i) { return *clients_[i]; }
  LinkSim& up() { return up_; }
  LinkSink& server_sink() { return server_sink_; }
  uint64_t& now_us() { return now_us_; }

 private:
  uint64_t now_us_;
  DeterministicRandom random_;  // the server's and the tokens': a seed repeats a run byte for byte
  Server server_;
  LinkSim up_;
  LinkSim down_;
  LinkSink server_sink_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::unique_ptr<LinkSink>> sinks_;
};

}  // namespace strata::net::test
