// tools/netsim/netsoak_main.cpp: strata-netsoak, the long soak of the netchannel on simulated time:
// one server, N clients, a seeded bad link both ways, random-size messages on both channels, for
// as long as asked. Checks every reliable message arrives exactly once and in order, and that the
// unreliable channel never goes backwards; exits 1 on the first violation. (The suite runs a
// bounded version: tests/net/soak_test.cpp.)
//
//   strata-netsoak --clients 64 --seconds 600 --loss 0.25 --duplicate 0.25 --latency-ms 250 --jitter-ms 100
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <vector>

#include "net/client.h"
#include "net/link_sim.h"
#include "net/server.h"

using namespace strata::net;

namespace {

struct LinkSink : DatagramSink {
  LinkSink(LinkSim& l, Address f, const uint64_t& n) : link(l), from(f), now(n) {}
  void send_datagram(TransportKind, const Address& to, std::span<const uint8_t> data) override {
    link.send(now, from, to, data);
  }
  LinkSim& link;
  Address from;
  const uint64_t& now;
};

std::vector<uint8_t> message(uint64_t stream, uint64_t index, size_t size) {
  std::vector<uint8_t> data(std::max<size_t>(size, 16));
  for (int i = 0; i < 8; ++i) data[i] = static_cast<uint8_t>(stream >> (8 * i));
  for (int i = 0; i < 8; ++i) data[8 + i] = static_cast<uint8_t>(index >> (8 * i));
  for (size_t i = 16; i < data.size(); ++i) data[i] = static_cast<uint8_t>(index * 31 + i);
  return data;
}

uint64_t read_u64(const std::vector<uint8_t>& d, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(d[at + i]) << (8 * i);
  return v;
}

struct Flow {
  uint64_t sent = 0, received = 0, unreliable_sent = 0;
  int64_t unreliable_last = -1;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-netsoak: long netchannel soak on simulated time"};
  size_t clients = 64;
  double seconds = 600, loss = 0.25, duplicate = 0.25, latency_ms = 250, jitter_ms = 100;
  uint64_t seed = 1;
  size_t max_size = 6000;
  app.add_option("--clients", clients, "clients connected to the one server");
  app.add_option("--seconds", seconds, "simulated seconds to run");
  app.add_option("--loss", loss, "datagram loss probability, each direction");
  app.add_option("--duplicate", duplicate, "datagram duplicate probability");
  app.add_option("--latency-ms", latency_ms, "one-way latency");
  app.add_option("--jitter-ms", jitter_ms, "uniform +- jitter");
  app.add_option("--seed", seed, "seed of links and message sizes");
  app.add_option("--max-size", max_size, "largest message (fragmented above 1191 bytes)");
  CLI11_PARSE(app, argc, argv);
  if (clients == 0 || clients > 60000 || max_size > message_size_max) {
    std::fprintf(stderr, "strata-netsoak: bad --clients or --max-size\n");
    return 2;
  }
  uint64_t now = 1'700'000'000'000'000ull;
  LinkConfig link;
  link.loss = loss;
  link.duplicate = duplicate;
  link.latency_us = static_cast<uint64_t>(latency_ms * 1000);
  link.jitter_us = static_cast<uint64_t>(jitter_ms * 1000);
  link.in_flight_max = 1 << 22;
  LinkSim up(link, seed), down(link, seed * 7 + 1);
  SeededRandom random(seed);
  const Address server_address = make_ipv4(10, 255, 0, 1, 40000);
  ServerConfig server_config = default_server_config();
  server_config.protocol_id = 99;
  server_config.public_address = server_address;
  server_config.private_key = random_key();
  server_config.max_clients = clients;
  Server server(server_config, os_random());
  LinkSink server_sink(down, server_address, now);
  std::vector<std::unique_ptr<Client>> client_list;
  std::vector<std::unique_ptr<LinkSink>> sinks;
  std::vector<Flow> upf(clients), downf(clients);
  const auto address_of = [](size_t i) {
    return make_ipv4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 5000);
  };
  for (size_t i = 0; i < clients; ++i) {
    ConnectTokenParams params;
    params.protocol_id = 99;
    params.client_id = ClientId{i};
    params.timeout_seconds = 30;
    params.expire_seconds = 120;
    params.server_addresses = {server_address};
    const auto token = mint_connect_token(params, server_config.private_key, now / 1'000'000, os_random());
    client_list.push_back(std::make_unique<Client>(default_client_config()));
    client_list.back()->connect(*token, now);
    sinks.push_back(std::make_unique<LinkSink>(up, address_of(i), now));
  }
  const auto size = [&]() { return 16 + random.below(random.below(8) == 0 ? max_size : 300); };
  const auto check = [&](Flow& f, const Message& m, size_t i, const char* dir) {
    if (read_u64(m.data, 0) != i) {
      std::fprintf(stderr, "VIOLATION %s client %zu: message of stream %llu\n", dir, i,
                   static_cast<unsigned long long>(read_u64(m.data, 0)));
      return false;
    }
    const uint64_t index = read_u64(m.data, 8);
    if (m.channel == Channel::reliable_ordered) {
      if (index != f.received) {
        std::fprintf(stderr, "VIOLATION %s client %zu: reliable %llu, expected %llu\n", dir, i,
                     static_cast<unsigned long long>(index), static_cast<unsigned long long>(f.received));
        return false;
      }
      ++f.received;
    } else {
      if (static_cast<int64_t>(index) <= f.unreliable_last) {
        std::fprintf(stderr, "VIOLATION %s client %zu: unreliable went backwards\n", dir, i);
        return false;
      }
      f.unreliable_last = static_cast<int64_t>(index);
    }
    return true;
  };
  const uint64_t steps = static_cast<uint64_t>(seconds * 100);
  for (uint64_t step = 0; step < steps; ++step) {
    now += 10'000;
    SimDatagram d;
    while (up.receive(now, d)) server.receive(TransportKind::datagram, d.from, d.data, now, server_sink);
    while (down.receive(now, d)) {
      const size_t i = static_cast<size_t>(d.to.ip[1]) << 16 | static_cast<size_t>(d.to.ip[2]) << 8 | d.to.ip[3];
      if (i < clients) client_list[i]->receive(d.from, d.data, now);
    }
    server.update(now);
    for (size_t i = 0; i < clients; ++i) {
      Client& c = *client_list[i];
      c.update(now);
      if (c.state() == ClientState::failed || c.state() == ClientState::disconnected) {
        std::fprintf(stderr, "VIOLATION client %zu lost its connection (state %d)\n", i, static_cast<int>(c.state()));
        return 1;
      }
      if (c.state() == ClientState::connected) {
        const ClientId id{i};
        for (int k = 0; k < 4; ++k) {
          if (c.send(Channel::reliable_ordered, message(i, upf[i].sent, size())) == SendResult::ok) ++upf[i].sent;
          if (server.send(id, Channel::reliable_ordered, message(i, downf[i].sent, size())) == SendResult::ok)
            ++downf[i].sent;
        }
        if (step % 5 == 0) {
          (void)c.send(Channel::unreliable_sequenced, message(i, upf[i].unreliable_sent++, 40));
          (void)server.send(id, Channel::unreliable_sequenced, message(i, downf[i].unreliable_sent++, 40));
        }
        Message m;
        while (c.pop_message(m)) {
          if (!check(downf[i], m, i, "down")) return 1;
        }
        while (server.pop_message(id, m)) {
          if (!check(upf[i], m, i, "up")) return 1;
        }
      }
      c.send_packets(now, *sinks[i]);
    }
    server.send_packets(now, server_sink);
    if ((step + 1) % 6000 == 0 || step + 1 == steps) {
      uint64_t delivered = 0;
      for (size_t i = 0; i < clients; ++i) delivered += upf[i].received + downf[i].received;
      const DropCounters drops = server.total_drops();
      std::printf(
          "t=%.0fs clients=%zu reliable_delivered=%llu server_drops: replay=%llu bad_mac=%llu stale=%llu total=%llu\n",
          static_cast<double>(step + 1) / 100, server.connected_count(), static_cast<unsigned long long>(delivered),
          static_cast<unsigned long long>(drops[DropReason::replay]),
          static_cast<unsigned long long>(drops[DropReason::bad_mac]),
          static_cast<unsigned long long>(drops[DropReason::stale_message]),
          static_cast<unsigned long long>(drops.total()));
      std::fflush(stdout);
    }
  }
  std::printf("OK: no loss, no reordering, no duplicates on the reliable channel; unreliable never went backwards\n");
  return 0;
}
