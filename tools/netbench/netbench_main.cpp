// tools/netbench/netbench_main.cpp: strata-netbench, the netchannel side by side with ENet (1.3, the
// Debian package) in one run: one client to one server on loopback, reliable-ordered messages of
// --size bytes sent as fast as each library's flow control allows, counted at the server only when
// they arrive in order. Optionally through strata-netsim (spawned by this tool, killed at the end).
// Also: packets per second the server receives, bytes of overhead per packet, and the server
// thread's CPU per 1,000 idle connections. Prints figures; asserts nothing.
//
//   strata-netbench --seconds 5
//   strata-netbench --seconds 10 --netsim build/.../strata-netsim --latency-ms 50 --loss 0.05
//   strata-netbench --idle 1000 --seconds 10
#include <utility>  // before Asio (Boost 1.74 + GCC 12 + C++20)

#include <enet/enet.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/client.h"
#include "net/server.h"
#include "net/transport.h"

using namespace strata::net;

namespace {

constexpr uint64_t protocol_id = 0x4e455442454e4348ull;

struct Options {
  double seconds = 5;
  size_t size = 64;
  uint16_t server_port = 40100;
  uint16_t relay_port = 40101;
  std::string netsim;
  double latency_ms = 0, jitter_ms = 0, loss = 0;
  size_t idle = 0;
  size_t memory = 0;
  uint64_t process = 0;
  double tick_hz = 100;
  // Reliable messages in flight: the netchannel's reliable_window, and the same bound on ENet's
  // queued + unacknowledged reliable commands (ENet's own window, 64 kB of data, applies too).
  size_t window = reliable_window_default;
  // Idle mode: the netchannel's keepalive interval (ENet pings every 500 ms by default).
  double keepalive_ms = static_cast<double>(default_connection_config().keepalive_interval_us) / 1000.0;
};

struct Result {
  double seconds = 0;
  uint64_t delivered = 0;
  uint64_t out_of_order = 0;
  uint64_t server_packets = 0;
  uint64_t server_bytes = 0;
  uint64_t resends = 0;           // strata only: reliable messages sent again (timer or fast retransmit)
  uint64_t sent = 0;              // messages the client queued
  double server_cpu_seconds = 0;  // the server thread's CPU time while measuring
  bool connected = false;
};

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t read_index(const uint8_t* data) {
  uint64_t v;
  std::memcpy(&v, data, sizeof v);
  return v;
}

// --- strata ----------------------------------------------------------------------------------------

Result run_strata(const Options& o, uint16_t connect_port) {
  Result result;
  const Key key = random_key();
  const Address server_bind = make_ipv4(127, 0, 0, 1, o.server_port);
  const Address public_address = make_ipv4(127, 0, 0, 1, connect_port);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> delivered{0}, out_of_order{0}, server_packets{0}, server_bytes{0};
  std::atomic<double> server_cpu{0};
  double cpu_at_start = 0;
  std::atomic<bool> server_ready{false};
  std::thread server_thread([&] {
    pthread_setname_np(pthread_self(), "strata-server");  // perf --comm
    boost::asio::io_context io;
    std::string error;
    UdpConfig config = default_udp_config();
    config.bind = server_bind;
    auto socket = UdpSocket::open(io, config, error);
    if (!socket) {
      std::fprintf(stderr, "strata server: %s\n", error.c_str());
      stop = true;
      return;
    }
    ServerConfig sc = default_server_config();
    sc.protocol_id = protocol_id;
    sc.public_address = public_address;
    sc.private_key = key;
    sc.connection.reliable_window = o.window;
    sc.packets_per_second_per_client = 0;  // throughput of the protocol, not of the per-client budgets
    sc.bytes_per_second_per_client = 0;
    Server server(sc, os_random());
    server_ready = true;
    uint64_t expected = 0;
    Message m;
    while (!stop) {
      socket->wait_readable(1000);
      const uint64_t now = system_now_us();
      socket->receive([&](const Address& from, std::span<const uint8_t> d) {
        server.receive(TransportKind::datagram, from, d, now, *socket);
      });
      server.update(now);
      for (ClientId id : server.clients()) {
        while (server.pop_message(id, m)) {
          if (m.data.size() >= 8 && read_index(m.data.data()) == expected) {
            ++expected;
            delivered.store(expected, std::memory_order_relaxed);
          } else {
            out_of_order.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
      server.send_packets(now, *socket);
      socket->flush();
      server_packets.store(socket->stats().datagrams_received, std::memory_order_relaxed);
      server_bytes.store(socket->stats().bytes_received, std::memory_order_relaxed);
      server_cpu.store(thread_cpu_seconds(), std::memory_order_relaxed);
    }
  });
  while (!server_ready && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  boost::asio::io_context io;
  std::string error;
  auto socket = UdpSocket::open(io, default_udp_config(), error);
  ConnectTokenParams params;
  params.protocol_id = protocol_id;
  params.client_id = ClientId{1};
  params.server_addresses = {public_address};
  ClientConfig cc = default_client_config();
  cc.connection.reliable_window = o.window;
  Client client(cc);
  client.connect(*mint_connect_token(params, key, system_now_us() / 1'000'000, os_random()), system_now_us());
  std::vector<uint8_t> payload(o.size);
  uint64_t sent = 0;
  double start = 0, connect_deadline = wall_seconds() + 5;
  uint64_t delivered_at_start = 0, packets_at_start = 0, bytes_at_start = 0;
  while (!stop) {
    const uint64_t now = system_now_us();
    socket->receive([&](const Address& from, std::span<const uint8_t> d) { client.receive(from, d, now); });
    client.update(now);
    if (client.state() == ClientState::connected) {
      if (start == 0) {
        start = wall_seconds();
        delivered_at_start = delivered;
        packets_at_start = server_packets;
        bytes_at_start = server_bytes;
        cpu_at_start = server_cpu;
      }
      for (;;) {
        std::memcpy(payload.data(), &sent, std::min<size_t>(8, o.size));
        if (client.send(Channel::reliable_ordered, payload) != SendResult::ok) break;
        ++sent;
      }
      if (wall_seconds() - start >= o.seconds) break;
    } else if (client.state() == ClientState::failed || wall_seconds() > connect_deadline) {
      break;
    }
    client.send_packets(now, *socket);
    socket->flush();
    socket->wait_readable(200);
  }
  result.connected = start != 0;
  result.seconds = start != 0 ? wall_seconds() - start : 0;
  result.delivered = delivered - delivered_at_start;
  result.out_of_order = out_of_order;
  result.server_packets = server_packets - packets_at_start;
  result.server_bytes = server_bytes - bytes_at_start;
  result.server_cpu_seconds = server_cpu - cpu_at_start;
  result.resends = client.stats() ? client.stats()->reliable_resends : 0;
  result.sent = sent;
  stop = true;
  server_thread.join();
  return result;
}

// --- ENet ------------------------------------------------------------------------------------------

Result run_enet(const Options& o, uint16_t connect_port) {
  Result result;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> delivered{0}, out_of_order{0}, server_packets{0}, server_bytes{0};
  std::atomic<double> server_cpu{0};
  double cpu_at_start = 0;
  std::atomic<bool> server_ready{false};
  std::thread server_thread([&] {
    pthread_setname_np(pthread_self(), "enet-server");  // perf --comm
    ENetAddress address;
    enet_address_set_host(&address, "127.0.0.1");
    address.port = o.server_port;
    ENetHost* host = enet_host_create(&address, 4, 1, 0, 0);
    if (host == nullptr) {
      std::fprintf(stderr, "enet server: cannot bind port %u\n", o.server_port);
      stop = true;
      return;
    }
    server_ready = true;
    uint64_t expected = 0;
    ENetEvent event;
    while (!stop) {
      while (enet_host_service(host, &event, 1) > 0) {
        if (event.type == ENET_EVENT_TYPE_RECEIVE) {
          if (event.packet->dataLength >= 8 && read_index(event.packet->data) == expected) {
            ++expected;
            delivered.store(expected, std::memory_order_relaxed);
          } else {
            out_of_order.fetch_add(1, std::memory_order_relaxed);
          }
          enet_packet_destroy(event.packet);
        }
      }
      server_packets.store(host->totalReceivedPackets, std::memory_order_relaxed);
      server_bytes.store(host->totalReceivedData, std::memory_order_relaxed);
      server_cpu.store(thread_cpu_seconds(), std::memory_order_relaxed);
    }
    enet_host_destroy(host);
  });
  while (!server_ready && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ENetHost* client = enet_host_create(nullptr, 1, 1, 0, 0);
  ENetAddress address;
  enet_address_set_host(&address, "127.0.0.1");
  address.port = connect_port;
  ENetPeer* peer = enet_host_connect(client, &address, 1, 0);
  std::vector<uint8_t> payload(o.size);
  uint64_t sent = 0;
  double start = 0;
  const double connect_deadline = wall_seconds() + 5;
  uint64_t delivered_at_start = 0, packets_at_start = 0, bytes_at_start = 0;
  bool connected = false;
  ENetEvent event;
  while (!stop) {
    while (enet_host_service(client, &event, 0) > 0) {
      if (event.type == ENET_EVENT_TYPE_CONNECT) connected = true;
      if (event.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(event.packet);
    }
    if (connected) {
      if (start == 0) {
        start = wall_seconds();
        delivered_at_start = delivered;
        packets_at_start = server_packets;
        bytes_at_start = server_bytes;
        cpu_at_start = server_cpu;
      }
      // The same bound on unacknowledged reliable messages as the netchannel's window. enet_list_size
      // walks the list: count once per round, not once per message (O(window^2) at large windows).
      for (size_t queued = enet_list_size(&peer->outgoingCommands) + enet_list_size(&peer->sentReliableCommands);
           queued < o.window; ++queued) {
        std::memcpy(payload.data(), &sent, std::min<size_t>(8, o.size));
        ENetPacket* packet = enet_packet_create(payload.data(), payload.size(), ENET_PACKET_FLAG_RELIABLE);
        if (enet_peer_send(peer, 0, packet) != 0) {
          enet_packet_destroy(packet);
          break;
        }
        ++sent;
      }
      enet_host_flush(client);
      if (wall_seconds() - start >= o.seconds) break;
      if (enet_host_service(client, &event, 1) > 0) {
        if (event.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(event.packet);
      }
    } else {
      if (wall_seconds() > connect_deadline) break;
      enet_host_service(client, &event, 1);
      if (event.type == ENET_EVENT_TYPE_CONNECT) connected = true;
    }
  }
  result.connected = start != 0;
  result.seconds = start != 0 ? wall_seconds() - start : 0;
  result.delivered = delivered - delivered_at_start;
  result.out_of_order = out_of_order;
  result.server_packets = server_packets - packets_at_start;
  result.server_bytes = server_bytes - bytes_at_start;
  result.server_cpu_seconds = server_cpu - cpu_at_start;
  stop = true;
  server_thread.join();
  enet_peer_reset(peer);
  enet_host_destroy(client);
  return result;
}

// --- idle connections --------------------------------------------------------------------------------

// Server thread CPU with `count` idle clients (keepalives only), the server loop ticking at tick_hz.
double idle_strata(const Options& o) {
  const Key key = random_key();
  const Address server_address = make_ipv4(127, 0, 0, 1, o.server_port);
  std::atomic<bool> stop{false};
  std::atomic<size_t> connected{0};
  std::atomic<bool> measuring{false};
  double cpu = 0, wall = 0;
  std::thread server_thread([&] {
    pthread_setname_np(pthread_self(), "strata-idle");  // perf --comm
    boost::asio::io_context io;
    std::string error;
    UdpConfig config = default_udp_config();
    config.bind = server_address;
    auto socket = UdpSocket::open(io, config, error);
    ServerConfig sc = default_server_config();
    sc.protocol_id = protocol_id;
    sc.public_address = server_address;
    sc.private_key = key;
    sc.max_clients = o.idle;
    sc.connection.keepalive_interval_us = static_cast<uint64_t>(o.keepalive_ms * 1000);
    Server server(sc, os_random());
    const uint64_t tick_us = static_cast<uint64_t>(1e6 / o.tick_hz);
    uint64_t next_tick = system_now_us();
    double cpu_start = 0, wall_start = 0;
    bool started = false;
    while (!stop) {
      // Tick-driven like the game server: sleep to the tick, then drain the socket in batches.
      uint64_t now = system_now_us();
      if (now < next_tick) std::this_thread::sleep_for(std::chrono::microseconds(next_tick - now));
      now = system_now_us();
      next_tick += tick_us;
      socket->receive(
          [&](const Address& from, std::span<const uint8_t> d) {
            server.receive(TransportKind::datagram, from, d, now, *socket);
          },
          1024);
      server.update(now);
      server.send_packets(now, *socket);
      socket->flush();
      connected = server.connected_count();
      if (measuring && !started) {
        started = true;
        cpu_start = thread_cpu_seconds();
        wall_start = wall_seconds();
      }
    }
    cpu = thread_cpu_seconds() - cpu_start;
    wall = wall_seconds() - wall_start;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  boost::asio::io_context io;
  std::vector<std::unique_ptr<UdpSocket>> sockets;
  std::vector<std::unique_ptr<Client>> clients;
  std::string error;
  for (size_t i = 0; i < o.idle; ++i) {
    ConnectTokenParams params;
    params.protocol_id = protocol_id;
    params.client_id = ClientId{i + 1};
    params.server_addresses = {server_address};
    UdpConfig small = default_udp_config();
    small.batch = 4;  // a thousand client sockets: keep each one's buffers small
    small.receive_buffer_bytes = 0;
    small.send_buffer_bytes = 0;
    sockets.push_back(UdpSocket::open(io, small, error));
    if (!sockets.back()) {
      std::fprintf(stderr, "idle: socket %zu: %s\n", i, error.c_str());
      stop = true;
      server_thread.join();
      return -1;
    }
    ClientConfig cc = default_client_config();
    cc.connection.keepalive_interval_us = static_cast<uint64_t>(o.keepalive_ms * 1000);
    clients.push_back(std::make_unique<Client>(cc));
    clients.back()->connect(*mint_connect_token(params, key, system_now_us() / 1'000'000, os_random()),
                            system_now_us());
  }
  const auto client_round = [&] {
    const uint64_t now = system_now_us();
    for (size_t i = 0; i < clients.size(); ++i) {
      sockets[i]->receive([&](const Address& from, std::span<const uint8_t> d) { clients[i]->receive(from, d, now); });
      clients[i]->update(now);
      clients[i]->send_packets(now, *sockets[i]);
      sockets[i]->flush();
    }
  };
  const double connect_deadline = wall_seconds() + 20;
  while (connected < o.idle && wall_seconds() < connect_deadline) {
    client_round();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  measuring = true;
  const double end = wall_seconds() + o.seconds;
  while (wall_seconds() < end) {
    client_round();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  server_thread.join();
  std::printf(
      "strata idle (keepalive %.0f ms): %zu/%zu connected, server loop at %.0f Hz, server thread CPU %.3f s over %.2f "
      "s = %.2f %% of one core"
      " per %zu connections (%.2f %% per 1,000)\n",
      o.keepalive_ms, connected.load(), o.idle, o.tick_hz, cpu, wall, 100 * cpu / wall, o.idle,
      100 * cpu / wall * 1000.0 / static_cast<double>(o.idle));
  return cpu / wall;
}

double idle_enet(const Options& o) {
  std::atomic<bool> stop{false};
  std::atomic<size_t> connected{0};
  std::atomic<bool> measuring{false};
  double cpu = 0, wall = 0;
  std::thread server_thread([&] {
    pthread_setname_np(pthread_self(), "enet-idle");  // perf --comm
    ENetAddress address;
    enet_address_set_host(&address, "127.0.0.1");
    address.port = o.server_port;
    ENetHost* host = enet_host_create(&address, o.idle, 1, 0, 0);
    if (host == nullptr) return;
    double cpu_start = 0, wall_start = 0;
    bool started = false;
    ENetEvent event;
    const auto tick = std::chrono::microseconds(static_cast<int64_t>(1e6 / o.tick_hz));
    auto next_tick = std::chrono::steady_clock::now();
    while (!stop) {
      // Same tick-driven loop: sleep to the tick, then service until nothing is pending.
      std::this_thread::sleep_until(next_tick);
      next_tick += tick;
      while (enet_host_service(host, &event, 0) > 0) {
        if (event.type == ENET_EVENT_TYPE_CONNECT) ++connected;
        if (event.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(event.packet);
      }
      if (measuring && !started) {
        started = true;
        cpu_start = thread_cpu_seconds();
        wall_start = wall_seconds();
      }
    }
    cpu = thread_cpu_seconds() - cpu_start;
    wall = wall_seconds() - wall_start;
    enet_host_destroy(host);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<ENetHost*> hosts;
  ENetAddress address;
  enet_address_set_host(&address, "127.0.0.1");
  address.port = o.server_port;
  for (size_t i = 0; i < o.idle; ++i) {
    hosts.push_back(enet_host_create(nullptr, 1, 1, 0, 0));
    enet_host_connect(hosts.back(), &address, 1, 0);
  }
  const auto client_round = [&] {
    ENetEvent event;
    for (ENetHost* h : hosts) {
      while (enet_host_service(h, &event, 0) > 0) {
        if (event.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(event.packet);
      }
    }
  };
  const double connect_deadline = wall_seconds() + 20;
  while (connected < o.idle && wall_seconds() < connect_deadline) {
    client_round();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  measuring = true;
  const double end = wall_seconds() + o.seconds;
  while (wall_seconds() < end) {
    client_round();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  server_thread.join();
  for (ENetHost* h : hosts) enet_host_destroy(h);
  std::printf(
      "enet   idle (ping 500 ms): %zu/%zu connected, server loop at %.0f Hz, server thread CPU %.3f s over %.2f s = "
      "%.2f %% of one core"
      " per %zu connections (%.2f %% per 1,000)\n",
      connected.load(), o.idle, o.tick_hz, cpu, wall, 100 * cpu / wall, o.idle,
      100 * cpu / wall * 1000.0 / static_cast<double>(o.idle));
  return cpu / wall;
}

// --- memory per connection -------------------------------------------------------------------------

// Datagrams between the in-process endpoints of the memory mode, delivered at the next step.
struct Mailbox : DatagramSink {
  struct Datagram {
    Address from, to;
    std::vector<uint8_t> data;
  };
  explicit Mailbox(const Address& from) : from_(from) {}
  void send_datagram(TransportKind, const Address& to, std::span<const uint8_t> data) override {
    queue->push_back(Datagram{from_, to, std::vector<uint8_t>(data.begin(), data.end())});
  }
  std::vector<Datagram>* queue = nullptr;

 private:
  Address from_;
};

size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;  // large blocks are mmapped, outside uordblks
}

// Heap per connection on simulated time, no sockets: `count` clients connect to one server, stay idle
// (keepalives only), then are lightly used as a game client is (the server sends 20 snapshots/s of
// 400 bytes unreliable and one 64-byte reliable message per second; the client sends 30 inputs/s
// unreliable and one reliable message per second). The server's share is measured after the clients
// are destroyed.
void memory_mode(const Options& o) {
  const Key key = random_key();
  const Address server_address = make_ipv4(10, 1, 1, 1, 40000);
  uint64_t now = 1'700'000'000'000'000ull;
  std::vector<Mailbox::Datagram> to_server, to_clients, inbox;
  const size_t heap_start = heap_in_use();
  ServerConfig sc = default_server_config();
  sc.protocol_id = protocol_id;
  sc.public_address = server_address;
  sc.private_key = key;
  sc.max_clients = o.memory;
  sc.connection.reliable_window = o.window;
  auto server = std::make_unique<Server>(sc, os_random());
  Mailbox server_sink(server_address);
  server_sink.queue = &to_clients;
  const size_t heap_server = heap_in_use();
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::unique_ptr<Mailbox>> sinks;
  for (size_t i = 0; i < o.memory; ++i) {
    ClientConfig cc = default_client_config();
    cc.connection.reliable_window = o.window;
    clients.push_back(std::make_unique<Client>(cc));
    sinks.push_back(
        std::make_unique<Mailbox>(make_ipv4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 5000)));
    sinks.back()->queue = &to_server;
    ConnectTokenParams params;
    params.protocol_id = protocol_id;
    params.client_id = ClientId{i + 1};
    params.server_addresses = {server_address};
    clients.back()->connect(*mint_connect_token(params, key, now / 1'000'000, os_random()), now);
  }
  std::vector<uint8_t> snapshot(400, 7), input(24, 3), chat(64, 5);
  Message m;
  const auto step = [&](uint64_t step_us, bool light) {
    now += step_us;
    inbox.swap(to_server);
    for (const auto& d : inbox) server->receive(TransportKind::datagram, d.from, d.data, now, server_sink);
    inbox.clear();
    inbox.swap(to_clients);
    for (const auto& d : inbox) {
      const size_t index = static_cast<size_t>(d.to.ip[2]) << 8 | d.to.ip[3];
      clients[index]->receive(d.from, d.data, now);
    }
    inbox.clear();
    server->update(now);
    const uint64_t ms = now / 1000;
    for (ClientId id : server->clients()) {
      while (server->pop_message(id, m)) {
      }
      if (light && ms % 50 == 0) (void)server->send(id, Channel::unreliable_sequenced, snapshot);
      if (light && ms % 1000 == 0) (void)server->send(id, Channel::reliable_ordered, chat);
    }
    server->send_packets(now, server_sink);
    for (size_t i = 0; i < clients.size(); ++i) {
      clients[i]->update(now);
      while (clients[i]->pop_message(m)) {
      }
      if (light && clients[i]->state() == ClientState::connected) {
        if (ms % 33 == 0) (void)clients[i]->send(Channel::unreliable_sequenced, input);
        if (ms % 1000 == 500) (void)clients[i]->send(Channel::reliable_ordered, chat);
      }
      clients[i]->send_packets(now, *sinks[i]);
    }
  };
  for (int i = 0; i < 2000 && server->connected_count() < o.memory; ++i) step(1000, false);
  for (int i = 0; i < 2000; ++i) step(1000, false);  // 2 s idle
  const size_t heap_idle = heap_in_use();
  for (int i = 0; i < 5000; ++i) step(1000, true);  // 5 s lightly used
  const size_t heap_light = heap_in_use();
  for (int i = 0; i < 2000; ++i) step(1000, false);  // 2 s idle again
  const size_t heap_idle_after = heap_in_use();
  const size_t connected = server->connected_count();
  clients.clear();
  sinks.clear();
  to_server.clear();
  to_server.shrink_to_fit();
  const size_t heap_server_only = heap_in_use();
  const double n = static_cast<double>(o.memory);
  const auto per = [n](size_t a, size_t b) { return (static_cast<double>(a) - static_cast<double>(b)) / n; };
  std::printf("memory: %zu/%zu connected, reliable window %zu, heap bytes per connection (server + client)\n",
              connected, o.memory, o.window);
  std::printf("  idle (2 s of keepalives)            %.0f\n", per(heap_idle, heap_server));
  std::printf("  lightly used (20 snapshots/s, 5 s)  %.0f\n", per(heap_light, heap_server));
  std::printf("  idle again (2 s later)              %.0f\n", per(heap_idle_after, heap_server));
  std::printf("  server side only, at the end        %.0f   (empty server: %zu bytes)\n",
              per(heap_server_only, heap_server), heap_server - heap_start);
  server.reset();
}

// Server protocol cost without sockets: one in-process client queues 64-byte reliable messages as
// its window allows, its packets are captured, and the server's CPU time to receive them (decrypt,
// replay check, deliver, hand to the application) and to answer (acks) is measured alone. The
// kernel's share (about 1-2 us per datagram here) comes on top.
void process_mode(const Options& o) {
  const Key key = random_key();
  const Address server_address = make_ipv4(10, 1, 1, 1, 40000);
  uint64_t now = 1'700'000'000'000'000ull;
  std::vector<Mailbox::Datagram> to_server, to_client;
  ServerConfig sc = default_server_config();
  sc.protocol_id = protocol_id;
  sc.public_address = server_address;
  sc.private_key = key;
  sc.connection.reliable_window = o.window;
  sc.packets_per_second_per_client = 0;  // protocol cost per packet, not the per-client budgets
  sc.bytes_per_second_per_client = 0;
  Server server(sc, os_random());
  Mailbox server_sink(server_address);
  server_sink.queue = &to_client;
  ClientConfig cc = default_client_config();
  cc.connection.reliable_window = o.window;
  Client client(cc);
  Mailbox client_sink(make_ipv4(10, 0, 0, 1, 5000));
  client_sink.queue = &to_server;
  ConnectTokenParams params;
  params.protocol_id = protocol_id;
  params.client_id = ClientId{1};
  params.server_addresses = {server_address};
  client.connect(*mint_connect_token(params, key, now / 1'000'000, os_random()), now);
  std::vector<uint8_t> payload(o.size, 1);
  uint64_t packets = 0, messages = 0, sent = 0;
  double cpu = 0;
  Message m;
  for (int round = 0; round < 100'000 && packets < o.process; ++round) {
    now += 1000;
    if (client.state() == ClientState::connected) {
      while (client.send(Channel::reliable_ordered, payload) == SendResult::ok) ++sent;
    }
    client.update(now);
    client.send_packets(now, client_sink);
    const double start = thread_cpu_seconds();
    for (const auto& d : to_server) server.receive(TransportKind::datagram, d.from, d.data, now, server_sink);
    server.update(now);
    for (ClientId id : server.clients()) {
      while (server.pop_message(id, m)) ++messages;
    }
    server.send_packets(now, server_sink);
    cpu += thread_cpu_seconds() - start;
    if (client.state() == ClientState::connected) packets += to_server.size();
    to_server.clear();
    for (const auto& d : to_client) client.receive(d.from, d.data, now);
    to_client.clear();
    while (client.pop_message(m)) {
    }
  }
  std::printf(
      "server protocol cost (no sockets): %llu packets, %llu messages of %zu bytes, %.3f s CPU: %.2f us/packet, "
      "%.0f packets/s per core (%.1f messages/packet)\n",
      static_cast<unsigned long long>(packets), static_cast<unsigned long long>(messages), o.size, cpu,
      1e6 * cpu / static_cast<double>(packets), static_cast<double>(packets) / cpu,
      static_cast<double>(messages) / static_cast<double>(packets));
}

void print(const char* name, const Result& r, size_t size, double header_bytes) {
  const double rate = r.seconds > 0 ? static_cast<double>(r.delivered) / r.seconds : 0;
  const double pps = r.seconds > 0 ? static_cast<double>(r.server_packets) / r.seconds : 0;
  const double overhead = r.server_packets > 0
                              ? (static_cast<double>(r.server_bytes) - static_cast<double>(r.delivered * size)) /
                                    static_cast<double>(r.server_packets)
                              : 0;
  std::printf(
      "%-7s connected=%d seconds=%.2f delivered_in_order=%llu out_of_order=%llu messages/s=%.0f "
      "server_packets/s=%.0f messages/packet=%.1f overhead_bytes/packet=%.1f fixed_header_bytes=%.0f\n",
      name, r.connected ? 1 : 0, r.seconds, static_cast<unsigned long long>(r.delivered),
      static_cast<unsigned long long>(r.out_of_order), rate, pps,
      r.server_packets ? static_cast<double>(r.delivered) / static_cast<double>(r.server_packets) : 0.0, overhead,
      header_bytes);
  if (r.server_packets > 0 && r.server_cpu_seconds > 0) {
    // The sender is usually the bottleneck on two cores: the server's capacity is its packets per
    // second of its own CPU time (receive, authenticate, deliver, ack).
    const double packets = static_cast<double>(r.server_packets);
    std::printf("%-7s server thread CPU %.1f %% of a core, %.2f us/packet received, capacity %.0f packets/s per core\n",
                name, 100 * r.server_cpu_seconds / r.seconds, 1e6 * r.server_cpu_seconds / packets,
                packets / r.server_cpu_seconds);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-netbench: netchannel vs ENet, one client to one server on loopback"};
  Options o;
  app.add_option("--seconds", o.seconds, "measured seconds per library");
  app.add_option("--size", o.size, "message size in bytes (>= 8)");
  app.add_option("--server-port", o.server_port, "UDP port of the servers (127.0.0.1)");
  app.add_option("--relay-port", o.relay_port, "UDP port of the spawned strata-netsim");
  app.add_option("--netsim", o.netsim, "path of strata-netsim: run both libraries through it");
  app.add_option("--latency-ms", o.latency_ms, "netsim one-way latency");
  app.add_option("--jitter-ms", o.jitter_ms, "netsim jitter");
  app.add_option("--loss", o.loss, "netsim loss per direction");
  app.add_option("--idle", o.idle, "instead: CPU of the server thread with this many idle connections");
  app.add_option("--memory", o.memory, "instead: heap per connection with this many in-process clients");
  app.add_option("--process", o.process, "instead: server CPU per packet without sockets, over this many packets");
  app.add_option("--tick-hz", o.tick_hz, "idle mode: server loop rate");
  app.add_option("--keepalive-ms", o.keepalive_ms, "idle mode: netchannel keepalive interval");
  app.add_option("--window", o.window, "reliable messages in flight (power of two, 256..8192) for both libraries");
  CLI11_PARSE(app, argc, argv);
  if (o.size < 8 || o.size > unfragmented_size_max) {
    std::fprintf(stderr, "--size must be in [8, %zu]\n", unfragmented_size_max);
    return 2;
  }
  if (o.window < fragment_count_max || o.window > reliable_window_max || (o.window & (o.window - 1)) != 0) {
    std::fprintf(stderr, "--window must be a power of two in [%zu, %zu]\n", fragment_count_max, reliable_window_max);
    return 2;
  }
  if (enet_initialize() != 0 || !crypto_init()) return 1;
  if (o.process > 0) {
    process_mode(o);
    return 0;
  }
  if (o.memory > 0) {
    memory_mode(o);
    return 0;
  }
  if (o.idle > 0) {
    const double s = idle_strata(o);
    const double e = idle_enet(o);
    if (s > 0 && e > 0) std::printf("idle CPU ratio enet/strata = %.2f\n", e / s);
    enet_deinitialize();
    return 0;
  }
  pid_t relay = 0;
  uint16_t connect_port = o.server_port;
  if (!o.netsim.empty()) {
    const std::string listen = "127.0.0.1:" + std::to_string(o.relay_port);
    const std::string server = "127.0.0.1:" + std::to_string(o.server_port);
    const std::string latency = std::to_string(o.latency_ms), jitter = std::to_string(o.jitter_ms),
                      loss = std::to_string(o.loss);
    relay = fork();
    if (relay == 0) {
      execl(o.netsim.c_str(), o.netsim.c_str(), "--listen", listen.c_str(), "--server", server.c_str(), "--latency-ms",
            latency.c_str(), "--jitter-ms", jitter.c_str(), "--loss", loss.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    connect_port = o.relay_port;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::printf(
        "through strata-netsim: latency %.1f ms each way (RTT %.1f ms), jitter %.1f ms, loss %.1f %% each way\n",
        o.latency_ms, 2 * o.latency_ms, o.jitter_ms, 100 * o.loss);
  }
  std::printf(
      "one client -> one server, %zu-byte reliable-ordered messages, %.1f s each, in-flight bound %zu messages\n",
      o.size, o.seconds, o.window);
  const Result strata = run_strata(o, connect_port);
  print("strata", strata, o.size, static_cast<double>(packet_header_size + mac_size));
  std::printf("strata  client queued %llu messages, resent %llu (%.1f %%)\n",
              static_cast<unsigned long long>(strata.sent), static_cast<unsigned long long>(strata.resends),
              strata.sent ? 100.0 * static_cast<double>(strata.resends) / static_cast<double>(strata.sent) : 0.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Result enet = run_enet(o, connect_port);
  print("enet", enet, o.size, 4.0 + 12.0);  // ENet protocol header (peer id + sent time) + send-reliable command
  const double sr = strata.seconds > 0 ? static_cast<double>(strata.delivered) / strata.seconds : 0;
  const double er = enet.seconds > 0 ? static_cast<double>(enet.delivered) / enet.seconds : 0;
  if (er > 0) std::printf("ratio strata/enet messages/s = %.2f\n", sr / er);
  if (relay > 0) {
    kill(relay, SIGTERM);
    waitpid(relay, nullptr, 0);
  }
  enet_deinitialize();
  return 0;
}
