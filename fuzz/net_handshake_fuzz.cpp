// fuzz/net_handshake_fuzz.cpp: the server and client endpoints on arbitrary datagrams. The first
// input byte picks a mutation base (raw bytes, a valid request, a valid response, a valid data
// packet) so the fuzzer reaches past the MAC checks; the rest mutates or replaces it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/client.h"
#include "net/server.h"
#include "net/token.h"

using namespace strata::net;

namespace {

struct Capture : DatagramSink {
  void send_datagram(TransportKind, const Address&, std::span<const uint8_t> data) override {
    if (data.size() > connection_request_size && data[0] != static_cast<uint8_t>(PacketType::data)) __builtin_trap();
    packets.emplace_back(data.begin(), data.end());
  }
  std::vector<std::vector<uint8_t>> packets;
};

constexpr uint64_t now_us = 1'700'000'000'000'000ull;

struct Setup {
  Setup() {
    config.protocol_id = 7;
    config.public_address = make_ipv4(127, 0, 0, 1, 40000);
    config.private_key.fill(3);
    ConnectTokenParams params;
    params.protocol_id = 7;
    params.client_id = ClientId{1};
    params.server_addresses = {config.public_address};
    DeterministicRandom random(2);
    token = *mint_connect_token(params, config.private_key, now_us / 1'000'000, random);
  }
  ServerConfig config = default_server_config();
  ConnectToken token;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup setup;
  if (size == 0) return 0;
  const Address client_address = make_ipv4(127, 0, 0, 1, 50000);
  DeterministicRandom random(1);  // the same challenge key for the same input: a finding reproduces
  Server server(setup.config, random);
  Client client(default_client_config());
  client.connect(setup.token, now_us);
  Capture to_server, to_client;
  // Drive a real handshake as far as the first byte says, collecting valid packets as bases.
  const int stage = data[0] % 4;
  std::vector<uint8_t> base;
  client.send_packets(now_us, to_server);
  if (stage >= 1) base = to_server.packets.back();
  if (stage >= 2) {
    if (to_server.packets.empty()) return 0;
    server.receive(TransportKind::datagram, client_address, to_server.packets.back(), now_us, to_client);
    if (to_client.packets.empty()) return 0;
    client.receive(setup.config.public_address, to_client.packets.back(), now_us);
    client.send_packets(now_us, to_server);
    base = to_server.packets.back();
  }
  if (stage >= 3) {
    server.receive(TransportKind::datagram, client_address, base, now_us, to_client);
    server.send_packets(now_us, to_client);
    if (to_client.packets.empty()) return 0;
    client.receive(setup.config.public_address, to_client.packets.back(), now_us);
    (void)client.send(Channel::reliable_ordered, std::vector<uint8_t>{1, 2, 3});
    client.send_packets(now_us + 1, to_server);
    base = to_server.packets.back();
  }
  // Mutation: bytes 1.. are XORed over the base (or are the datagram when there is no base).
  std::vector<uint8_t> datagram(data + 1, data + size);
  if (!base.empty()) {
    for (size_t i = 0; i < datagram.size() && i < base.size(); ++i) base[i] ^= datagram[i];
    datagram = base;
  }
  server.receive(TransportKind::datagram, client_address, datagram, now_us + 2, to_client);
  server.update(now_us + 3);
  server.send_packets(now_us + 3, to_client);
  client.receive(setup.config.public_address, datagram, now_us + 2);
  client.update(now_us + 3);
  client.send_packets(now_us + 3, to_server);
  return 0;
}
