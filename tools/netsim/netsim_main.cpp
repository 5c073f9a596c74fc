// tools/netsim/netsim_main.cpp: strata-netsim, a UDP relay that puts a seeded bad network (latency,
// jitter, loss, duplicates, reordering: net/link_sim.h) between any UDP client and server on
// loopback. Clients send to --listen; each client source address gets its own upstream socket, so
// the server sees one address per client. Bounded: at most --sessions clients, idle ones expire.
//
//   strata-netsim --listen 127.0.0.1:40001 --server 127.0.0.1:40000 --latency-ms 50 --loss 0.05
//
// With a netchannel server behind it, the connect token must list the relay's --listen address
// (the address clients reach the server on) and the server's public_address must be that address.
#include <utility>  // before Asio (Boost 1.74 + GCC 12 + C++20)

#include <poll.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <unordered_map>
#include <vector>

#include "net/link_sim.h"
#include "net/transport.h"

using namespace strata::net;

namespace {

volatile std::sig_atomic_t stop_requested = 0;

// Relays any UDP protocol up to a typical Ethernet MTU (ENet sends 1400-byte datagrams).
constexpr size_t relay_datagram_max = 1500;

bool parse_address(const std::string& text, Address& out) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  unsigned a, b, c, d, port;
  if (std::sscanf(text.c_str(), "%u.%u.%u.%u:%u", &a, &b, &c, &d, &port) != 5 || a > 255 || b > 255 || c > 255 ||
      d > 255 || port > 65535) {
    return false;
  }
  out = make_ipv4(static_cast<uint8_t>(a), static_cast<uint8_t>(b), static_cast<uint8_t>(c), static_cast<uint8_t>(d),
                  static_cast<uint16_t>(port));
  return true;
}

struct Session {
  std::unique_ptr<UdpSocket> upstream;
  uint64_t last_active_us = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-netsim: UDP relay through a seeded simulated bad network"};
  std::string listen_text = "127.0.0.1:40001", server_text = "127.0.0.1:40000";
  double latency_ms = 0, jitter_ms = 0, loss = 0, duplicate = 0, reorder = 0, reorder_ms = 0;
  uint64_t seed = 1;
  double duration_s = 0;
  size_t sessions_max = 1024;
  double idle_s = 60;
  double report_s = 0;
  app.add_option("--listen", listen_text, "address clients send to (ip:port)");
  app.add_option("--server", server_text, "address of the real server (ip:port)");
  app.add_option("--latency-ms", latency_ms, "one-way latency added in each direction");
  app.add_option("--jitter-ms", jitter_ms, "uniform +- jitter on the latency");
  app.add_option("--loss", loss, "probability a datagram is dropped (each direction)");
  app.add_option("--duplicate", duplicate, "probability a datagram is delivered twice");
  app.add_option("--reorder", reorder, "probability a datagram is held back --reorder-ms");
  app.add_option("--reorder-ms", reorder_ms, "extra delay of reordered datagrams");
  app.add_option("--seed", seed, "seed of the link simulator (upstream uses seed, downstream seed+1)");
  app.add_option("--duration-s", duration_s, "stop after this long (0 = until SIGINT/SIGTERM)");
  app.add_option("--sessions", sessions_max, "client addresses relayed at once");
  app.add_option("--idle-s", idle_s, "forget a client after this long without traffic");
  app.add_option("--report-s", report_s, "print counters every this many seconds (0 = at exit only)");
  CLI11_PARSE(app, argc, argv);

  Address listen_address, server_address;
  if (!parse_address(listen_text, listen_address) || !parse_address(server_text, server_address)) {
    std::fprintf(stderr, "strata-netsim: addresses must be IPv4 ip:port\n");
    return 2;
  }
  LinkConfig link;
  link.latency_us = static_cast<uint64_t>(latency_ms * 1000);
  link.jitter_us = static_cast<uint64_t>(jitter_ms * 1000);
  link.loss = loss;
  link.duplicate = duplicate;
  link.reorder = reorder;
  link.reorder_delay_us = static_cast<uint64_t>(reorder_ms * 1000);
  LinkSim up(link, seed), down(link, seed + 1);

  boost::asio::io_context io;
  std::string error;
  UdpConfig listen_config = default_udp_config();
  listen_config.bind = listen_address;
  listen_config.datagram_max = relay_datagram_max;
  auto listener = UdpSocket::open(io, listen_config, error);
  if (!listener) {
    std::fprintf(stderr, "strata-netsim: cannot bind %s: %s\n", listen_text.c_str(), error.c_str());
    return 1;
  }
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::fprintf(stderr,
               "strata-netsim: %s -> %s latency %.1f ms jitter %.1f ms loss %.3f dup %.3f reorder %.3f seed %llu\n",
               to_string(listener->local_address()).c_str(), server_text.c_str(), latency_ms, jitter_ms, loss,
               duplicate, reorder, static_cast<unsigned long long>(seed));

  std::unordered_map<Address, Session, AddressHash> sessions;
  uint64_t refused_sessions = 0;
  const uint64_t start_us = system_now_us();
  uint64_t next_report_us = start_us + static_cast<uint64_t>(report_s * 1e6);
  std::vector<pollfd> fds;
  std::vector<Address> fd_client;
  const auto report = [&](const char* when) {
    std::fprintf(stderr,
                 "strata-netsim %s: sessions %zu refused %llu | up sent %llu lost %llu dup %llu delivered %llu | "
                 "down sent %llu lost %llu dup %llu delivered %llu\n",
                 when, sessions.size(), static_cast<unsigned long long>(refused_sessions),
                 static_cast<unsigned long long>(up.stats().sent), static_cast<unsigned long long>(up.stats().lost),
                 static_cast<unsigned long long>(up.stats().duplicated),
                 static_cast<unsigned long long>(up.stats().delivered),
                 static_cast<unsigned long long>(down.stats().sent), static_cast<unsigned long long>(down.stats().lost),
                 static_cast<unsigned long long>(down.stats().duplicated),
                 static_cast<unsigned long long>(down.stats().delivered));
  };

  while (!stop_requested) {
    uint64_t now = system_now_us();
    if (duration_s > 0 && now - start_us >= static_cast<uint64_t>(duration_s * 1e6)) break;
    // Wait for traffic or the next due delivery (at most 1 ms so the clock keeps moving).
    fds.clear();
    fd_client.clear();
    fds.push_back(pollfd{listener->native_handle(), POLLIN, 0});
    fd_client.push_back(Address{});
    for (auto& [client, session] : sessions) {
      fds.push_back(pollfd{session.upstream->native_handle(), POLLIN, 0});
      fd_client.push_back(client);
    }
    const uint64_t next_due = std::min(up.next_delivery_us(), down.next_delivery_us());
    const uint64_t wait_us = next_due <= now ? 0 : std::min<uint64_t>(next_due - now, 1000);
    timespec ts{0, static_cast<long>(wait_us * 1000)};
    ::ppoll(fds.data(), fds.size(), &ts, nullptr);
    now = system_now_us();
    if (fds[0].revents & POLLIN) {
      listener->receive([&](const Address& from, std::span<const uint8_t> data) {
        auto it = sessions.find(from);
        if (it == sessions.end()) {
          if (sessions.size() >= sessions_max) {
            ++refused_sessions;
            return;
          }
          std::string e;
          UdpConfig upstream_config = default_udp_config();
          upstream_config.bind = make_ipv4(127, 0, 0, 1, 0);
          upstream_config.datagram_max = relay_datagram_max;
          upstream_config.batch = 16;  // many sessions: keep each socket's buffers small
          Session session;
          session.upstream = UdpSocket::open(io, upstream_config, e);
          if (!session.upstream) {
            ++refused_sessions;
            return;
          }
          it = sessions.emplace(from, std::move(session)).first;
        }
        it->second.last_active_us = now;
        up.send(now, from, server_address, data);
      });
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      const Address client = fd_client[i];
      sessions[client].upstream->receive([&](const Address& from, std::span<const uint8_t> data) {
        if (from == server_address) down.send(now, from, client, data);
      });
    }
    SimDatagram d;
    while (up.receive(now, d)) {
      auto it = sessions.find(d.from);
      if (it != sessions.end()) it->second.upstream->send_datagram(TransportKind::datagram, d.to, d.data);
    }
    while (down.receive(now, d)) listener->send_datagram(TransportKind::datagram, d.to, d.data);
    listener->flush();
    for (auto& [client, session] : sessions) session.upstream->flush();
    std::erase_if(sessions, [&](const auto& entry) {
      return now - entry.second.last_active_us > static_cast<uint64_t>(idle_s * 1e6);
    });
    if (report_s > 0 && now >= next_report_us) {
      report("report");
      next_report_us = now + static_cast<uint64_t>(report_s * 1e6);
    }
  }
  report("exit");
  return 0;
}
